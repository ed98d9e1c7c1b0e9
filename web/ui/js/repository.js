// SPDX-License-Identifier: MIT
// /ui/repository: size, counts, deduplication, the last check and the
// maintenance runs; admins may start one.
import { get, post, can, html, put, $, bytes, num, stamp, toast, live } from './core.js';

function runRow(m) {
  return html`<tr><td data-label="Run">#${m.id}</td><td data-label="Trigger">${m.trigger}${m.dry_run ? ' (dry run)' : ''}</td>
    <td data-label="Status"><span class="st st-${m.status}">${m.status}</span></td>
    <td data-label="Started">${stamp(m.started_at)}</td><td data-label="Finished">${stamp(m.finished_at)}</td>
    <td data-label="Snapshots removed" class="num">${num(m.snapshots_removed)}</td>
    <td data-label="Packs removed" class="num">${num(m.packs_removed)}</td>
    <td data-label="Freed" class="num">${bytes(m.bytes_freed)}</td>
    <td data-label="Check">${m.check && m.check.status ? m.check.status : '–'}${m.error ? html` <span class="error">${m.error}</span>` : ''}</td></tr>`;
}

async function draw(main, stale) {
  const [r, runs] = await Promise.all([get('/v1/repository'), get('/v1/maintenance')]);
  if (stale()) return;
  runs.sort((a, b) => b.id - a.id);
  const lc = r.last_check;
  put(main, html`<div class="bar"><h1>Repository</h1>
    ${can('admin') ? html`<button type="button" id="maint">Run maintenance</button>` : ''}</div>
  <dl class="facts grid">
    <dt>Size</dt><dd>${bytes(r.size_bytes)}</dd>
    <dt>Snapshots</dt><dd>${num(r.snapshots)}</dd>
    <dt>Packs</dt><dd>${num(r.packs)}</dd>
    <dt>Blobs</dt><dd>${num(r.blobs)}</dd>
    <dt>Dedup ratio</dt><dd>${r.dedup_ratio ? r.dedup_ratio.toFixed(2) + '×' : '–'}${r.measured_at ? html` <span class="sub">measured ${stamp(r.measured_at)}</span>` : ''}</dd>
    <dt>Last check</dt><dd>${lc ? html`<span class="st st-${lc.status}">${lc.status}</span> ${stamp(lc.at)}` : 'never'}</dd>
  </dl>
  <section><h2>Maintenance</h2>${runs.length ? html`<div class="tablewrap"><table class="list"><thead><tr><th>Run</th><th>Trigger</th>
    <th>Status</th><th>Started</th><th>Finished</th><th>Snapshots removed</th><th>Packs removed</th><th>Freed</th><th>Check</th></tr></thead>
    <tbody>${runs.map(runRow)}</tbody></table></div>` : html`<p class="muted">No maintenance yet.</p>`}</section>`);
  const b = $('#maint');
  if (b) {
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        const m = await post('/v1/maintenance', {});
        toast(`Maintenance #${m.id} started`);
        await draw(main, stale);
      } catch (ex) { toast(ex.message, true); b.disabled = false; }
    });
  }
}

export async function render(main, _args, stale) {
  document.title = 'roost: repository';
  await draw(main, stale);
  return live.on((type) => {
    if (type.startsWith('maintenance.') || type === 'check.failed') draw(main, stale).catch(() => {});
  });
}
