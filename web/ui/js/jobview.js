// SPDX-License-Identifier: MIT
// A job's status and progress as shown in the fleet and on the job page,
// and the transfer rate worked out from successive progress events.
import { html, bytes, num, FINAL } from './core.js';

const seen = new Map(); // job id -> {t, bytes, rate}

// Notes a job's stats as they arrive; returns bytes per second or null.
export function track(job) {
  if (!job || !job.stats) return null;
  const now = performance.now();
  const b = job.stats.bytes || 0;
  const prev = seen.get(job.id);
  let rate = prev ? prev.rate : null;
  if (prev && now > prev.t + 200 && b >= prev.bytes) {
    const r = ((b - prev.bytes) * 1000) / (now - prev.t);
    rate = rate === null ? r : 0.5 * rate + 0.5 * r;
  } else if (!prev && job.started_at && job.status === 'running') {
    const el = (Date.now() - Date.parse(job.started_at)) / 1000;
    if (el > 1) rate = b / el;
  }
  if (!prev || now > prev.t + 200) seen.set(job.id, { t: now, bytes: b, rate });
  if (FINAL.has(job.status)) seen.delete(job.id);
  return rate;
}

export function rateOf(job) {
  const s = seen.get(job.id);
  return s ? s.rate : null;
}

export function statusBadge(status) {
  return html`<span class="st st-${status}" data-status="${status}">${status}</span>`;
}

// One line: status, files, bytes, rate (while running), the error.
export function jobSummary(job) {
  if (!job) return html`<span class="muted">idle</span>`;
  const s = job.stats || {};
  const rate = job.status === 'running' ? rateOf(job) : null;
  return html`<a class="job" href="/ui/jobs/${job.id}" data-job="${job.id}">${statusBadge(job.status)}
    <span class="jk">${job.kind || 'backup'} #${job.id}</span></a>
    <span class="prog" data-files="${s.files || 0}" data-bytes="${s.bytes || 0}">${num(s.files || 0)} files · ${bytes(s.bytes || 0)}${
  rate !== null ? html` · <span class="rate">${bytes(Math.round(rate))}/s</span>` : ''}</span>${
  job.error ? html` <span class="error">${job.error}</span>` : ''}`;
}
