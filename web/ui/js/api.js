// SPDX-License-Identifier: MIT
// The REST API from the page: JSON in and out, the session's CSRF token on
// every state change, errors as ApiError with the server's message.

export const session = { user: null, csrf: null, server: null };

export class ApiError extends Error {
  constructor(status, body, retryAfter) {
    const e = (body && body.error) || {};
    super(e.message || `HTTP ${status}`);
    this.status = status;
    this.code = e.code || '';
    this.field = e.field || '';
    this.retryAfter = retryAfter;
  }
}

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function api(method, path, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET' && method !== 'HEAD') {
    opt.headers['Content-Type'] = 'application/json';
    if (session.csrf) opt.headers['X-CSRF-Token'] = session.csrf;
    if (method !== 'DELETE' || body !== undefined) opt.body = JSON.stringify(body === undefined ? {} : body);
  }
  const r = await fetch(path, opt);
  let data = null;
  const text = await r.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!r.ok) {
    const err = new ApiError(r.status, data, r.headers.get('Retry-After'));
    if (r.status === 401 && path !== '/v1/login') onUnauthorized(err);
    throw err;
  }
  return data;
}

export const get = (p) => api('GET', p);
export const post = (p, b) => api('POST', p, b);
export const patch = (p, b) => api('PATCH', p, b);
export const del = (p) => api('DELETE', p);

// What a role may do (docs/dashboard.md, "Who may do what").
export function can(what) {
  const r = session.user && session.user.role;
  if (r === 'admin') return true;
  if (r === 'operator') return ['backup', 'restore', 'cancel', 'download'].includes(what);
  return false;
}

// The newest max stored events, newest first (the log is listed oldest
// first, a page of at most 1000 at a time).
export async function recentEvents(max = 500) {
  let after = 0;
  let keep = [];
  for (let page = 0; page < 100; page++) {
    const evs = await get(`/v1/events?after=${after}&limit=1000`);
    keep = keep.concat(evs);
    if (keep.length > max) keep = keep.slice(keep.length - max);
    if (evs.length < 1000) break;
    after = evs[evs.length - 1].id;
  }
  return keep.reverse();
}

// A GET asked for early (app.js, before the session is known), taken once
// by the page that wants it; null when there is none.
const early = new Map();
export function prefetch(path) {
  const p = get(path);
  p.catch(() => {}); // a refusal is the page's to see, when it takes it
  early.set(path, p);
}
export function takeEarly(path) {
  const p = early.get(path) || null;
  early.delete(path);
  return p;
}
// A login or a lost session makes what was asked for early stale.
export function clearEarly() {
  early.clear();
}
