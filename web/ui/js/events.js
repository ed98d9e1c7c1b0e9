// SPDX-License-Identifier: MIT
// /ui/events: the event log, newest first; new events arrive at the top.
import { recentEvents, html, put, $, stamp, live } from './core.js';

function evRow(ev) {
  const d = ev.data && Object.keys(ev.data).length ? JSON.stringify(ev.data) : '';
  return html`<tr data-event="${ev.id}"><td data-label="#" class="num">${ev.id}</td>
    <td data-label="At">${stamp(ev.at)}</td><td data-label="Type"><span class="ev ev-${ev.type.split('.')[0]}">${ev.type}</span></td>
    <td data-label="Host">${ev.host ? html`<a href="/ui/hosts/${ev.host.id}">${ev.host.name}</a>` : '–'}</td>
    <td data-label="Job">${ev.job ? html`<a href="/ui/jobs/${ev.job.id}">#${ev.job.id}</a> ${ev.job.status}` : '–'}</td>
    <td data-label="Data"><code>${d}</code></td></tr>`;
}

export async function render(main, _args, stale) {
  document.title = 'roost: events';
  const evs = await recentEvents(500);
  if (stale()) return null;
  put(main, html`<h1>Events</h1><div class="tablewrap"><table class="list events"><thead><tr><th>#</th><th>At</th>
    <th>Type</th><th>Host</th><th>Job</th><th>Data</th></tr></thead><tbody id="evs">${evs.map(evRow)}</tbody></table></div>
    ${evs.length ? '' : html`<p class="muted" id="none">No events yet.</p>`}`);
  const body = $('#evs');
  let top = evs.length ? evs[0].id : 0;
  return live.on((type, data) => {
    if (!data || typeof data.id !== 'number' || data.id <= top) return; // live-only job events have no id
    top = data.id;
    body.insertAdjacentHTML('afterbegin', evRow(data).toString());
    const none = $('#none');
    if (none) none.remove();
  });
}
