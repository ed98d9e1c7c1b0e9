// SPDX-License-Identifier: MIT
// /ui/hosts/{id}/snapshots/{snapshot}?path=/dir: one directory of a snapshot
// at a time (GET /v1/snapshots/{id}/tree), breadcrumbs, downloads, and a
// restore of what is selected. The listing is virtualized: however many
// entries a directory has, only the rows in view (and a few around them)
// are in the DOM, so a directory of 20,000 entries scrolls as one of 20.
import { get, post, can, prefetch as ask, takeEarly, html, put, $, bytes, stamp, toast } from './core.js';
import { navigate } from './app.js';

const ROW = 32;     // px, the row height in style.css (.vrow)
const SPARE = 12;   // rows rendered above and below the view

// Paths travel percent-encoded, segment by segment ("wire" form): a name
// that is not UTF-8 comes with name_raw (its bytes percent-encoded), which
// ?path= takes back as it is (docs/dashboard.md), so any name can be opened
// and downloaded. Restores take paths as JSON strings: UTF-8 names only.
function wireSegs(raw) {
  return raw.split(/\/|%2F/i).filter((x) => x !== '' && x !== '.');
}
function decodeSeg(seg) {
  try { return decodeURIComponent(seg); } catch { return null; }
}
const wireOf = (segs) => '/' + segs.join('/');
function wireName(e) {
  return e.name_raw || encodeURIComponent(e.name);
}

function perms(mode) {
  if (mode === undefined || mode === null) return '';
  const r = 'rwxrwxrwx';
  let s = '';
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? r[i] : '-';
  return s;
}


// The directory the page's URL names, in wire form.
function wireHere() {
  const m = location.search.match(/[?&]path=([^&#]*)/);
  return wireSegs(m ? m[1].replace(/\+/g, '%20') : '');
}
const treeUrl = (snap, wire) => `/v1/snapshots/${encodeURIComponent(snap)}/tree?path=${wire}`;

// app.js: the listing, asked for beside the session at the first load
export function prefetch([, snap]) {
  ask(treeUrl(snap, wireOf(wireHere())));
}

export async function render(main, [hostId, snap], stale) {
  const hid = Number(hostId);
  const segs = wireHere();
  const wire = wireOf(segs);
  const names = segs.map(decodeSeg);
  const plain = names.every((n) => n !== null); // the directory's path as text exists
  const path = plain ? '/' + names.join('/') : null;
  const shownPath = '/' + segs.map((s, i) => (names[i] === null ? s : names[i])).join('/');
  const base = `/ui/hosts/${hid}/snapshots/${encodeURIComponent(snap)}`;
  const [host, entries, snaps] = await Promise.all([
    get(`/v1/hosts/${hid}`).catch(() => ({ name: `host ${hid}` })),
    (takeEarly(treeUrl(snap, wire)) || get(treeUrl(snap, wire))).catch((e) => e),
    get(`/v1/snapshots?host=${hid}`).catch(() => []),
  ]);
  if (stale()) return null;
  const meta = snaps.find((s) => s.id.startsWith(snap)) || null;
  document.title = `roost: ${host.name} ${snap.slice(0, 8)} ${shownPath}`;
  const crumbs = [html`<a href="${base}?path=%2F">/</a>`];
  segs.forEach((s, i) => {
    const label = names[i] === null ? s : names[i];
    crumbs.push(i === segs.length - 1 ? html`<span>${label}</span>`
      : html`<a href="${base}?path=${wireOf(segs.slice(0, i + 1))}">${label}</a>`);
  });
  const ops = can('restore');
  const dl = can('download');
  put(main, html`
  <nav class="crumbs"><a href="/ui/">Fleet</a> › <a href="/ui/hosts/${hid}">${host.name}</a> ›
    <span>snapshot ${snap.slice(0, 12)}</span></nav>
  <h1>Snapshot <code>${snap.slice(0, 12)}</code>${meta ? html` <span class="muted">${stamp(meta.time)}</span>` : ''}</h1>
  ${meta ? html`<p class="facts">Paths: ${meta.paths.map((p) => html`<a href="${base}?path=${encodeURIComponent(p)}"><code>${p}</code></a> `)}</p>` : ''}
  <nav class="path" id="path" aria-label="Path">${crumbs.map((c, i) => (i > 1 ? html` / ${c}` : html` ${c}`))}</nav>
  <div class="bar tools"><span id="count" class="muted"></span>
    ${ops ? html`<span id="selcount" class="muted">0 selected</span>
    <form id="restore" class="inline"><label>Restore to <input name="target" id="target" required
      placeholder="/absolute/target/dir" spellcheck="false"></label>
    <button type="submit" id="restore-btn" disabled>Restore selected</button></form>` : ''}</div>
  <div class="vhead${dl ? ' dl' : ''}"><span>${ops ? html`<input type="checkbox" id="selall" aria-label="Select all">` : ''}</span>
    <span>Name</span><span class="num">Size</span><span class="mt">Modified</span><span class="md">Mode</span><span></span></div>
  <div id="view" class="vview" tabindex="0"><div id="spacer" class="vspacer"><div id="rows" class="vrows"></div></div></div>
  <p id="tree-error" class="error" hidden></p>`);

  const view = $('#view');
  if (entries instanceof Error) {
    view.hidden = true;
    const err = $('#tree-error');
    err.textContent = entries.message;
    err.hidden = false;
    return null;
  }
  $('#count').textContent = `${entries.length.toLocaleString('en')} entries in ${shownPath}`;
  const spacer = $('#spacer');
  const rows = $('#rows');
  spacer.style.height = entries.length * ROW + 'px';
  const selected = browse.selected(snap);

  const childWire = (e) => wireOf(segs.concat([wireName(e)]));
  // the path as restore's include takes it, or null (not UTF-8)
  const fullOf = (e) => (plain && !e.name_raw ? (path === '/' ? '/' : path + '/') + e.name : null);

  function rowHtml(e, i) {
    const full = fullOf(e);
    const name = e.type === 'dir'
      ? html`<a href="${base}?path=${childWire(e)}" class="nm dir">${e.name}</a>`
      : html`<span class="nm" title="${e.type === 'symlink' ? '→ ' + (e.target || '') : ''}">${e.name}${
        e.type === 'symlink' ? html` <span class="sub">→ ${e.target || ''}</span>` : ''}</span>`;
    return html`<div class="vrow${dl ? ' dl' : ''}" data-i="${i}" role="row">
      <span>${ops && full !== null ? html`<input type="checkbox" data-path="${full}"${selected.has(full) ? html` checked` : ''} aria-label="select ${e.name}">` : ''}</span>
      <span class="nmc"><span class="ic ic-${e.type}" aria-hidden="true"></span>${name}</span>
      <span class="num">${e.type === 'file' ? bytes(e.size) : ''}</span>
      <span class="mt">${stamp(e.mtime)}</span><span class="md"><code>${perms(e.mode)}</code></span>
      <span>${dl && e.type === 'file' ? html`<a class="dlink" href="/v1/snapshots/${encodeURIComponent(snap)}/file?path=${
  childWire(e)}" download="${e.name}">Download</a>` : ''}</span></div>`;
  }

  let shown = [-1, -1];
  function paint() {
    const h = view.clientHeight || 600;
    const first = Math.max(0, Math.floor(view.scrollTop / ROW) - SPARE);
    const last = Math.min(entries.length, Math.ceil((view.scrollTop + h) / ROW) + SPARE);
    if (first === shown[0] && last === shown[1]) return;
    shown = [first, last];
    rows.style.transform = `translateY(${first * ROW}px)`;
    const parts = [];
    for (let i = first; i < last; i++) parts.push(rowHtml(entries[i], i));
    put(rows, parts);
  }
  let pending = false;
  view.addEventListener('scroll', () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; paint(); });
  }, { passive: true });
  const onResize = () => { shown = [-1, -1]; paint(); };
  window.addEventListener('resize', onResize);
  paint();
  // bench/dashboard reads these: the DOM built, and the frame after it painted
  performance.mark('roost:tree-rendered');
  requestAnimationFrame(() => setTimeout(() => performance.mark('roost:tree-painted'), 0));

  if (ops) {
    const btn = $('#restore-btn');
    const selAll = $('#selall');
    const update = () => {
      $('#selcount').textContent = `${selected.size} selected`;
      btn.disabled = selected.size === 0;
      selAll.checked = entries.length > 0 && entries.every((e) => fullOf(e) === null || selected.has(fullOf(e)));
    };
    update();
    rows.addEventListener('change', (e) => {
      const cb = e.target;
      if (!cb.matches('input[type=checkbox][data-path]')) return;
      if (cb.checked) selected.add(cb.dataset.path);
      else selected.delete(cb.dataset.path);
      update();
    });
    selAll.addEventListener('change', () => {
      for (const e of entries) {
        const f = fullOf(e);
        if (f === null) continue;
        if (selAll.checked) selected.add(f); else selected.delete(f);
      }
      shown = [-1, -1];
      paint();
      update();
    });
    $('#restore').addEventListener('submit', async (e) => {
      e.preventDefault();
      const target = $('#target').value.trim();
      btn.disabled = true;
      try {
        const job = await post(`/v1/hosts/${hid}/restore`, {
          snapshot_id: meta ? meta.id : snap, target, include: Array.from(selected).sort(),
        });
        selected.clear();
        navigate(`/ui/jobs/${job.id}`);
      } catch (ex) {
        toast(ex.message, true);
        btn.disabled = false;
      }
    });
  }
  return () => window.removeEventListener('resize', onResize);
}

// The selection lives as long as the page does, across directories of
// one snapshot.
const browse = {
  snap: null,
  set: new Set(),
  selected(snap) {
    if (this.snap !== snap) { this.snap = snap; this.set = new Set(); }
    return this.set;
  },
};
