// SPDX-License-Identifier: MIT
// /ui/: every host in one table, from one GET /v1/fleet rendered in one
// pass; then kept current from the event stream, row by row.
import {
  get, post, can, prefetch as ask, takeEarly, html, put, $, when, toast, FINAL, reasonText, live,
} from './core.js';
import { jobSummary, track } from './jobview.js';

const HEALTH = ['failing', 'overdue', 'unseen', 'never', 'ok'];
const plural = (n, w) => `${n.toLocaleString('en')} ${w}${n === 1 ? '' : 's'}`;

function healthCell(h) {
  return html`<span class="h h-${h.health}" data-health="${h.health}">${h.health}</span>${
    h.health_reason ? html`<div class="sub reason">${reasonText(h.health_reason)}</div>` : ''}`;
}

function seenCell(h) {
  return h.online ? html`<span class="on">online</span>`
    : html`<span class="off">offline</span><div class="sub">seen ${when(h.last_seen_at)}</div>`;
}

function schedCell(h) {
  if (!h.schedules || !h.schedules.length) return html`<span class="muted">no schedules</span>`;
  return h.schedules.map((s) => html`<div class="sched${s.enabled ? '' : ' disabled'}">
    <b>${s.name}</b> <span class="sub">last ✓ ${when(s.last_success_at)} · next ${
    s.enabled ? when(s.next_at) : 'disabled'}</span></div>`);
}

function actionsCell(h) {
  if (!can('backup')) return '';
  if (!h.groups || !h.groups.length) return html`<span class="muted">no groups</span>`;
  const busy = h.current_job && !FINAL.has(h.current_job.status) && h.current_job.status !== 'deferred';
  return h.groups.map((g) => html`<button type="button" class="small" data-backup="${h.id}"
    data-group="${g.id}"${busy ? html` disabled` : ''}>⟳ ${g.name}</button>`);
}

// A row is a grid of cells, not a table row: rows out of view skip layout
// and paint (content-visibility in style.css), so 500 hosts paint as fast
// as the first screenful.
function row(h) {
  const ops = can('backup');
  return html`<div class="frow" id="host-${h.id}" data-host="${h.id}" data-name="${h.name}">
<div class="hn"><a href="/ui/hosts/${h.id}">${h.name}</a><div class="sub">${h.hostname}${h.os ? html` · ${h.os}` : ''}</div></div>
<div class="health">${healthCell(h)}</div><div class="seen">${seenCell(h)}</div><div>${h.mode}</div>
<div class="scheds">${schedCell(h)}</div><div class="cur">${jobSummary(h.current_job)}</div>${
  ops ? html`<div class="acts">${actionsCell(h)}</div>` : ''}</div>`;
}

function counts(hosts) {
  const c = {};
  for (const h of hosts) c[h.health] = (c[h.health] || 0) + 1;
  return HEALTH.filter((k) => c[k]).map((k) => html`<span class="h h-${k}">${c[k]} ${k}</span> `);
}

// app.js: the fleet, asked for beside the session at the first load
export function prefetch() {
  ask('/v1/fleet');
}

export async function render(main, _args, stale) {
  document.title = 'roost: fleet';
  const hosts = await (takeEarly('/v1/fleet') || get('/v1/fleet'));
  if (stale()) return null;
  const byId = new Map(hosts.map((h) => [h.id, h]));
  for (const h of hosts) if (h.current_job) track(h.current_job);
  const ops = can('backup');
  put(main, html`<div class="bar"><h1 class="tight">Fleet <span class="muted" id="nhosts">${plural(hosts.length, 'host')}</span></h1>
    <div id="counts">${counts(hosts)}</div>
    <input id="filter" type="search" placeholder="Filter hosts" aria-label="Filter hosts"></div>
  <div class="fleet${ops ? ' ops' : ''}" id="fleet" aria-label="Hosts">
  <div class="frow fhead"><span>Host</span><span>Health</span><span>Seen</span><span>Mode</span><span>Schedules</span>
    <span>Current job</span>${ops ? html`<span>Back up now</span>` : ''}</div>
  <div id="fleet-body">${hosts.map(row)}</div></div>
  ${hosts.length ? '' : html`<p class="muted">No hosts yet.${can('admin') ? html` <a href="/ui/enroll">Enroll one</a>.` : ''}</p>`}`);
  const tbody = $('#fleet-body');
  // bench/dashboard reads these: the DOM built, and the frame after it painted
  performance.mark('roost:fleet-rendered');
  requestAnimationFrame(() => setTimeout(() => performance.mark('roost:fleet-painted'), 0));

  const cell = (id, cls) => $(`#host-${id} > .${cls}`, tbody);
  function refresh(h, parts) {
    for (const p of parts) {
      const el = cell(h.id, p);
      if (!el) continue;
      if (p === 'cur') put(el, jobSummary(h.current_job));
      else if (p === 'acts') put(el, actionsCell(h));
      else if (p === 'scheds') put(el, schedCell(h));
      else if (p === 'health') put(el, healthCell(h));
      else if (p === 'seen') put(el, seenCell(h));
    }
  }

  $('#filter').addEventListener('input', (e) => {
    const q = e.target.value.trim().toLowerCase();
    for (const tr of tbody.children) tr.hidden = q !== '' && !tr.dataset.name.toLowerCase().includes(q);
  });

  tbody.addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-backup]');
    if (!b) return;
    b.disabled = true;
    const hid = Number(b.dataset.backup);
    try {
      const job = await post(`/v1/hosts/${hid}/backup`, { group_id: Number(b.dataset.group) });
      const h = byId.get(hid);
      if (h && job && (!h.current_job || job.id >= h.current_job.id)) {
        h.current_job = job;
        refresh(h, ['cur', 'acts']);
      }
      toast(`Backup of ${h ? h.name : 'host'} queued (job ${job.id})`);
    } catch (ex) {
      b.disabled = false;
      toast(ex.message, true);
    }
  });

  const refetching = new Set();
  async function refetchHost(id) {
    if (refetching.has(id)) return;
    refetching.add(id);
    try {
      const fresh = await get(`/v1/hosts/${id}`);
      const h = byId.get(id);
      if (h && !stale()) {
        Object.assign(h, fresh, { groups: h.groups, schedules: h.schedules, current_job: h.current_job });
        refresh(h, ['health', 'seen']);
        put($('#counts'), counts(hosts));
      }
    } catch { /* the next event tries again */ } finally { refetching.delete(id); }
  }

  // a new host: the fleet once more, and rows for the hosts not shown yet
  async function addNew() {
    let all;
    try { all = await get('/v1/fleet'); } catch { return; }
    if (stale()) return;
    for (const h of all) {
      if (byId.has(h.id)) continue;
      hosts.push(h);
      byId.set(h.id, h);
      tbody.insertAdjacentHTML('beforeend', row(h).toString());
    }
    put($('#counts'), counts(hosts));
    $('#nhosts').textContent = plural(hosts.length, 'host');
  }

  const off = live.on((type, data) => {
    const job = live.jobOf(data);
    if (type.startsWith('job.') && job) {
      const h = byId.get(job.host_id);
      if (!h) return;
      track(job);
      const cur = h.current_job;
      if (!cur || job.id >= cur.id || (cur.id === job.id)) {
        if (cur && cur.id === job.id && FINAL.has(cur.status) && !FINAL.has(job.status)) return;
        h.current_job = job;
        refresh(h, ['cur', 'acts']);
      }
      if (job.status === 'succeeded' && job.schedule_id && h.schedules) {
        const s = h.schedules.find((x) => x.id === job.schedule_id);
        if (s) { s.last_success_at = job.finished_at; refresh(h, ['scheds']); }
      }
      if (FINAL.has(job.status)) refetchHost(h.id);
    } else if (type === 'host.enrolled') {
      addNew();
    } else if (type.startsWith('host.') && data.host) {
      refetchHost(data.host.id);
    }
  });
  return off;
}
