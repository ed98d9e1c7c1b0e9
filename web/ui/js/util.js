// SPDX-License-Identifier: MIT
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
