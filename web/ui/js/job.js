// SPDX-License-Identifier: MIT
// /ui/jobs/{id}: a job's status and live progress, its log (the stored
// events about it, then the live ones), Cancel for operators and admins.
import { get, post, can, recentEvents, html, put, $, bytes, num, stamp, toast, FINAL, live } from './core.js';
import { statusBadge, track, rateOf } from './jobview.js';

function logLine(type, at, job, data) {
  const d = data && data.data ? data.data : null;
  const s = job && job.stats ? job.stats : {};
  return html`<li data-type="${type}"><time>${stamp(at)}</time> <b>${type}</b>
    ${job ? html`<span>${job.status}</span> · ${num(s.files)} files · ${bytes(s.bytes)}` : ''}
    ${job && job.error ? html` <span class="error">${job.error}</span>` : ''}
    ${d && Object.keys(d).length ? html` <code>${JSON.stringify(d)}</code>` : ''}</li>`;
}

function facts(j) {
  const s = j.stats || {};
  const rate = j.status === 'running' ? rateOf(j) : null;
  return html`<dl class="facts grid">
    <dt>Status</dt><dd id="job-status">${statusBadge(j.status)}</dd>
    <dt>Kind</dt><dd>${j.kind} (${j.trigger})</dd>
    <dt>Files</dt><dd id="job-files">${num(s.files)}</dd>
    <dt>Bytes</dt><dd id="job-bytes">${bytes(s.bytes)}${j.kind === 'backup' && s.bytes_new !== undefined ? html` <span class="sub">${bytes(s.bytes_new)} new</span>` : ''}</dd>
    <dt>Rate</dt><dd id="job-rate">${rate !== null ? html`${bytes(Math.round(rate))}/s` : '–'}</dd>
    <dt>Created</dt><dd>${stamp(j.created_at)}</dd>
    <dt>Started</dt><dd>${stamp(j.started_at)}</dd>
    <dt>Finished</dt><dd>${stamp(j.finished_at)}</dd>
    ${j.snapshot_id ? html`<dt>Snapshot</dt><dd><a href="/ui/hosts/${j.host_id}/snapshots/${j.snapshot_id}"><code>${j.snapshot_id.slice(0, 12)}</code></a></dd>` : ''}
    ${j.params && j.params.target ? html`<dt>Target</dt><dd><code>${j.params.target}</code></dd>` : ''}
    ${j.error ? html`<dt>Error</dt><dd class="error">${j.error}</dd>` : ''}
  </dl>`;
}

export async function render(main, [id], stale) {
  const jid = Number(id);
  let job = await get(`/v1/jobs/${jid}`);
  if (stale()) return null;
  const host = await get(`/v1/hosts/${job.host_id}`).catch(() => ({ name: `host ${job.host_id}` }));
  document.title = `roost: job ${jid}`;
  track(job);
  put(main, html`
  <nav class="crumbs"><a href="/ui/">Fleet</a> › <a href="/ui/hosts/${job.host_id}">${host.name}</a> › <span>job ${jid}</span></nav>
  <div class="bar"><h1>Job #${jid} <span class="muted">${job.kind} on ${host.name}</span></h1>
    ${can('cancel') ? html`<button type="button" id="cancel" class="danger"${FINAL.has(job.status) ? html` hidden` : ''}>Cancel</button>` : ''}</div>
  <div id="facts">${facts(job)}</div>
  <section><h2>Log</h2><ol id="log" class="log"></ol></section>`);
  const log = $('#log');
  const add = (m) => log.insertAdjacentHTML('beforeend', m.toString());
  add(logLine('job.created', job.created_at, null, null));
  if (job.started_at) add(logLine('job.started', job.started_at, null, null));
  const logged = new Set(); // stored events shown, by id: the list and the stream may both bring one
  recentEvents(1000).then((evs) => {
    if (stale()) return;
    for (const ev of evs.reverse()) {
      if (!ev.job || ev.job.id !== jid || logged.has(ev.id)) continue;
      logged.add(ev.id);
      add(logLine(ev.type, ev.at, ev.job, ev));
    }
  }).catch(() => {});

  const cancel = $('#cancel');
  if (cancel) {
    cancel.addEventListener('click', async () => {
      cancel.disabled = true;
      try {
        await post(`/v1/jobs/${jid}/cancel`);
        toast('Cancel requested');
      } catch (ex) { toast(ex.message, true); cancel.disabled = false; }
    });
  }

  let lastStatus = job.status;
  const off = live.on((type, data) => {
    const j = live.jobOf(data);
    if (!j || j.id !== jid) return;
    if (FINAL.has(job.status) && !FINAL.has(j.status)) return; // a late live event
    track(j);
    job = j;
    put($('#facts'), facts(j));
    if (typeof data.id === 'number') {
      if (logged.has(data.id)) return;
      logged.add(data.id);
    }
    if (type !== 'job.progress' || j.status !== lastStatus) {
      add(logLine(type, data.at || new Date().toISOString(), j, data));
      lastStatus = j.status;
    }
    if (cancel && FINAL.has(j.status)) cancel.hidden = true;
  });
  return off;
}
