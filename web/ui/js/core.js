// SPDX-License-Identifier: MIT
// What every page shares, in one module so that the first page waits for
// two files (app.js and this), not four: the HTML helpers, the REST API, the
// event stream. Sections in that order.

// ---- HTML and formatting ----
// Shared helpers: HTML built from tagged templates that escape every value
// (text from the API never becomes markup), formatting of sizes and times.

class Safe {
  constructor(s) { this.s = s; }
  toString() { return this.s; }
}

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ESC[c]);
}

function part(v) {
  if (v instanceof Safe) return v.s;
  if (Array.isArray(v)) return v.map(part).join('');
  if (v === null || v === undefined || v === false) return '';
  return esc(v);
}

// html`<td>${name}</td>`: every interpolated value is escaped, except the
// results of html`` itself (and arrays of them).
export function html(strings, ...vals) {
  let out = strings[0];
  for (let i = 0; i < vals.length; i++) out += part(vals[i]) + strings[i + 1];
  return new Safe(out);
}

// Replaces el's content with the markup in one pass.
export function put(el, markup) {
  el.innerHTML = part(markup);
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

export function bytes(n) {
  if (n === null || n === undefined) return '–';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let i = 0;
  let x = Number(n);
  while (x >= 1024 && i < u.length - 1) { x /= 1024; i++; }
  return (i === 0 ? String(x) : x.toFixed(x < 10 ? 1 : 0)) + ' ' + u[i];
}

export function num(n) {
  return n === null || n === undefined ? '–' : Number(n).toLocaleString('en');
}

// "3 min ago", "in 2 h"; the exact time in the title attribute (when()).
export function ago(iso, now = Date.now()) {
  if (!iso) return 'never';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return String(iso);
  let d = Math.round((now - t) / 1000);
  const future = d < 0;
  d = Math.abs(d);
  let s;
  if (d < 45) s = d + ' s';
  else if (d < 2700) s = Math.round(d / 60) + ' min';
  else if (d < 129600) s = Math.round(d / 3600) + ' h';
  else s = Math.round(d / 86400) + ' d';
  return future ? 'in ' + s : s + ' ago';
}

export function when(iso) {
  if (!iso) return html`<span class="muted">never</span>`;
  return html`<time datetime="${iso}">${ago(iso)}</time>`;
}

export function stamp(iso) {
  if (!iso) return '–';
  return String(iso).replace('T', ' ').replace('Z', ' UTC');
}

export function debounce(fn, ms) {
  let t = null;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

export function toast(msg, bad = false) {
  const t = document.getElementById('toast');
  t.textContent = msg;
  t.className = bad ? 'bad' : '';
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.hidden = true; }, 5000);
}

export const FINAL = new Set(['succeeded', 'failed', 'canceled', 'interrupted']);

// A host's health_reason ({why, since, ...}: docs/server.md, "Health") as
// a line of text; '' when there is none.
export function reasonText(r) {
  if (!r || typeof r !== 'object') return r ? String(r) : '';
  switch (r.why) {
    case 'never': return `no backup yet${r.since ? ` (enrolled ${ago(r.since)})` : ''}`;
    case 'overdue': {
      const on = r.online_s ? `, online ${Math.round(r.online_s / 60)} min since` : '';
      return `${r.schedule || 'schedule'}/${r.group || 'group'} missed ${ago(r.missed_at)}${on}`;
    }
    case 'unseen': return `not seen since ${ago(r.last_seen_at)}`;
    case 'failing': return `last ${r.failed_in_a_row || 3} backups failed`;
    default: return `${r.why || ''}${r.since ? ` since ${ago(r.since)}` : ''}`;
  }
}

// ---- the REST API ----
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
  // newest first, in one request (the log's newest `max`, max <= 1000)
  return get(`/v1/events?before=${Number.MAX_SAFE_INTEGER}&limit=${Math.min(max, 1000)}`);
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

// ---- the event stream ----
// The one live source: /v1/events/stream (Server-Sent Events). Stored events
// and the live-only job.queued / job.running / job.progress reach every
// listener as (type, data); pages update in place from them, nothing polls.

const TYPES = [
  'job.queued', 'job.deferred', 'job.running', 'job.progress',
  'job.succeeded', 'job.failed', 'job.interrupted', 'job.canceled',
  'host.enrolled', 'host.overdue', 'host.unseen', 'host.failing', 'host.recovered',
  'maintenance.finished', 'maintenance.failed', 'check.failed',
  'webhook.test', 'webhook.dropped',
];

const listeners = new Set();
let source = null;

function deliver(type, raw, id) {
  let data;
  try { data = JSON.parse(raw); } catch { return; }
  for (const fn of listeners) {
    try { fn(type, data, id); } catch (e) { console.error('live listener', e); }
  }
}

function start() {
  if (source) return;
  source = new EventSource('/v1/events/stream');
  for (const t of TYPES) source.addEventListener(t, (e) => deliver(t, e.data, e.lastEventId));
  source.onmessage = (e) => {
    let d;
    try { d = JSON.parse(e.data); } catch { return; }
    if (d && d.type) deliver(d.type, e.data, e.lastEventId);
  };
  source.onopen = () => document.body.classList.remove('offline');
  source.onerror = () => document.body.classList.add('offline');
}

function stop() {
  if (source) source.close();
  source = null;
}

// fn(type, data, id) for every event until the returned function is called.
function on(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// The job an event is about: {job} of a live-only event, or a stored
// event's job.
function jobOf(data) {
  return (data && data.job) || null;
}

// live.start(), live.stop(), live.on(fn), live.jobOf(data)
export const live = { start, stop, on, jobOf };
