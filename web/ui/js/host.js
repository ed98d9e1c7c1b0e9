// SPDX-License-Identifier: MIT
// /ui/hosts/{id}: a host's groups, schedules (the cron editable by admins,
// with the next five fire times previewed as it is typed), jobs, snapshots
// and settings.
import {
  get, post, patch, can, html, put, $, $$, when, stamp, bytes, num, debounce, toast, FINAL,
  reasonText, live,
} from './core.js';
import { statusBadge, jobSummary, track } from './jobview.js';

function jobRow(j) {
  const s = j.stats || {};
  return html`<tr id="job-${j.id}" data-job="${j.id}">
    <td data-label="Job"><a href="/ui/jobs/${j.id}">#${j.id}</a></td>
    <td data-label="Kind">${j.kind} <span class="sub">${j.trigger}</span></td>
    <td data-label="Status" class="jst">${statusBadge(j.status)}${j.error ? html` <span class="error">${j.error}</span>` : ''}</td>
    <td data-label="Created">${when(j.created_at)}</td>
    <td data-label="Finished">${when(j.finished_at)}</td>
    <td data-label="Files" class="num">${num(s.files)}</td>
    <td data-label="Bytes" class="num">${bytes(s.bytes)}</td></tr>`;
}

function scheduleRow(s, groups, admin) {
  const gnames = s.group_ids.map((g) => (groups.find((x) => x.id === g) || { name: `#${g}` }).name).join(', ');
  return html`<div class="schedule card" data-schedule="${s.id}">
    <div class="sh"><b>${s.name}</b> <span class="sub">groups: ${gnames || '–'}</span>
      <label class="en">${admin ? html`<input type="checkbox" class="sched-enabled" ${s.enabled ? 'checked' : ''}>`
    : ''} ${admin ? 'enabled' : (s.enabled ? 'enabled' : 'disabled')}</label></div>
    <div class="cronrow">${admin
    ? html`<label>cron <input class="cron" value="${s.cron}" spellcheck="false" autocomplete="off"
        aria-label="cron expression of ${s.name}"></label>
        <button type="button" class="small save-cron" disabled>Save</button>`
    : html`<code>${s.cron}</code>`}
      <span class="sub">next ${s.enabled ? when(s.next_at) : 'disabled'} · last ✓ ${when(s.last_success_at)}</span></div>
    <p class="error cron-error" hidden></p>
    <ol class="preview" hidden></ol>
  </div>`;
}

export async function render(main, [id], stale) {
  const hid = Number(id);
  const [h, groups, scheds, jobs, snaps] = await Promise.all([
    get(`/v1/hosts/${hid}`), get(`/v1/hosts/${hid}/groups`), get(`/v1/hosts/${hid}/schedules`),
    get(`/v1/jobs?host=${hid}&limit=50`), get(`/v1/snapshots?host=${hid}`),
  ]);
  if (stale()) return null;
  document.title = `roost: ${h.name}`;
  const admin = can('admin');
  const ops = can('backup');
  // GET .../schedules has no last_success_at (GET /v1/fleet has): the same
  // rule from the jobs at hand, the start of the newest succeeded backup of
  // one of its groups
  for (const s of scheds) {
    if (s.last_success_at !== undefined) continue;
    const j = jobs.find((x) => x.kind === 'backup' && x.status === 'succeeded' && s.group_ids.includes(x.group_id));
    s.last_success_at = j ? j.started_at : null;
  }
  snaps.sort((a, b) => (a.time < b.time ? 1 : -1));
  put(main, html`
  <nav class="crumbs"><a href="/ui/">Fleet</a> › <span>${h.name}</span></nav>
  <h1>${h.name} <span class="h h-${h.health}" data-health="${h.health}">${h.health}</span>
    ${h.health_reason ? html`<span class="sub">${reasonText(h.health_reason)}</span>` : ''}</h1>
  <p class="facts">${h.hostname} · ${h.os || 'unknown OS'} · ${h.online ? html`<span class="on">online</span>`
    : html`<span class="off">offline</span>, seen ${when(h.last_seen_at)}`} · last backup ${when(h.last_backup_at)}
    ${h.tz ? html` · zone ${h.tz}` : ''}</p>
  <section><h2>Current job</h2><div id="cur">${jobSummary(null)}</div></section>
  <section><h2>Settings</h2>
    ${admin ? html`<form id="settings" class="inline"><label>Mode <select name="mode">
      <option value="always-on"${h.mode === 'always-on' ? html` selected` : ''}>always-on</option>
      <option value="intermittent"${h.mode === 'intermittent' ? html` selected` : ''}>intermittent</option>
      </select></label> <button type="submit" class="small">Save</button></form>`
    : html`<p>Mode: ${h.mode}</p>`}</section>
  <section id="groups"><h2>Groups</h2>${groups.length ? html`<div class="tablewrap"><table class="list"><thead><tr>
    <th>Name</th><th>Paths</th><th>Excludes</th>${ops ? html`<th></th>` : ''}</tr></thead><tbody>${groups.map((g) => html`<tr>
    <td data-label="Name"><b>${g.name}</b>${g.dedup === 'host' ? html` <span class="sub">dedup host</span>` : ''}</td>
    <td data-label="Paths">${g.paths.map((p) => html`<code>${p}</code> `)}</td>
    <td data-label="Excludes">${(g.excludes || []).map((p) => html`<code>${p}</code> `)}</td>
    ${ops ? html`<td><button type="button" class="small" data-backup="${g.id}">Back up now</button></td>` : ''}</tr>`)}
    </tbody></table></div>` : html`<p class="muted">No groups.</p>`}</section>
  <section><h2>Schedules</h2><div id="scheds">${scheds.length ? scheds.map((s) => scheduleRow(s, groups, admin))
    : html`<p class="muted">No schedules.</p>`}</div></section>
  <section><h2>Jobs</h2><div class="tablewrap"><table class="list"><thead><tr><th>Job</th><th>Kind</th><th>Status</th>
    <th>Created</th><th>Finished</th><th>Files</th><th>Bytes</th></tr></thead>
    <tbody id="jobs">${jobs.map(jobRow)}</tbody></table></div></section>
  <section><h2>Snapshots</h2>${snaps.length ? html`<div class="tablewrap"><table class="list"><thead><tr>
    <th>Time</th><th>Snapshot</th><th>Paths</th><th>Files</th><th>Size</th></tr></thead><tbody id="snaps">${
  snaps.map((s) => html`<tr><td data-label="Time">${stamp(s.time)}</td>
    <td data-label="Snapshot"><a href="/ui/hosts/${hid}/snapshots/${s.id}" class="snap">${s.id.slice(0, 12)}</a></td>
    <td data-label="Paths">${s.paths.map((p) => html`<code>${p}</code> `)}</td>
    <td data-label="Files" class="num">${num(s.summary && s.summary.files)}</td>
    <td data-label="Size" class="num">${bytes(s.summary && s.summary.bytes)}</td></tr>`)}</tbody></table></div>`
    : html`<p class="muted">No snapshots yet.</p>`}</section>`);

  const jobsBody = $('#jobs');
  const known = new Map(jobs.map((j) => [j.id, j]));
  const curJob = jobs.find((j) => !FINAL.has(j.status)) || null;
  if (curJob) { track(curJob); put($('#cur'), jobSummary(curJob)); }

  // groups: back up now (on this page's own element: main outlives the page)
  $('#groups').addEventListener('click', async (e) => {
    const b = e.target.closest('button[data-backup]');
    if (!b) return;
    b.disabled = true;
    try {
      const job = await post(`/v1/hosts/${hid}/backup`, { group_id: Number(b.dataset.backup) });
      showJob(job);
      toast(`Backup queued (job ${job.id})`);
    } catch (ex) { toast(ex.message, true); } finally { b.disabled = false; }
  });

  if (admin) {
    $('#settings').addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await patch(`/v1/hosts/${hid}`, { mode: e.target.elements.mode.value });
        toast('Mode saved');
      } catch (ex) { toast(ex.message, true); }
    });
    for (const card of $$('.schedule', main)) wireSchedule(card, scheds.find((s) => s.id === Number(card.dataset.schedule)), h);
  }

  function showJob(j) {
    track(j);
    const old = known.get(j.id);
    if (old && FINAL.has(old.status) && !FINAL.has(j.status)) return; // a late live event
    known.set(j.id, j);
    const tr = $(`#job-${j.id}`, jobsBody);
    if (tr) tr.outerHTML = jobRow(j).toString();
    else jobsBody.insertAdjacentHTML('afterbegin', jobRow(j).toString());
    put($("#cur"), jobSummary(j));
  }

  const off = live.on((type, data) => {
    const j = live.jobOf(data);
    if (type.startsWith('job.') && j && j.host_id === hid) showJob(j);
  });
  return off;
}

// An admin's cron field: the next five fire times as it is typed (debounced
// GET /v1/cron/next, in the host's zone), the invalid_cron message, Save.
function wireSchedule(card, s, h) {
  const input = $('.cron', card);
  const save = $('.save-cron', card);
  const err = $('.cron-error', card);
  const list = $('.preview', card);
  let asked = 0;
  const preview = debounce(async () => {
    const expr = input.value.trim();
    const my = ++asked;
    save.disabled = expr === s.cron;
    if (!expr) { list.hidden = true; err.hidden = true; return; }
    const tz = h.tz ? `&tz=${encodeURIComponent(h.tz)}` : '';
    try {
      const r = await get(`/v1/cron/next?expr=${encodeURIComponent(expr)}&count=5${tz}`);
      if (my !== asked) return;
      err.hidden = true;
      put(list, (r.next || []).map((t) => html`<li><time datetime="${t}">${stamp(t)}</time></li>`));
      list.hidden = false;
    } catch (ex) {
      if (my !== asked) return;
      list.hidden = true;
      err.textContent = ex.message;
      err.dataset.code = ex.code;
      err.hidden = false;
      save.disabled = true;
    }
  }, 250);
  input.addEventListener('input', preview);
  input.addEventListener('focus', preview);
  save.addEventListener('click', async () => {
    save.disabled = true;
    try {
      const ns = await patch(`/v1/hosts/${h.id}/schedules/${s.id}`, { cron: input.value.trim() });
      s.cron = ns.cron;
      toast(`Schedule ${s.name} saved`);
    } catch (ex) {
      err.textContent = ex.message;
      err.hidden = false;
      save.disabled = false;
    }
  });
  const en = $('.sched-enabled', card);
  en.addEventListener('change', async () => {
    try {
      await patch(`/v1/hosts/${h.id}/schedules/${s.id}`, { enabled: en.checked });
      s.enabled = en.checked;
      toast(`Schedule ${s.name} ${en.checked ? 'enabled' : 'disabled'}`);
    } catch (ex) { en.checked = !en.checked; toast(ex.message, true); }
  });
}
