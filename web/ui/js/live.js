// SPDX-License-Identifier: MIT
// The one live source: /v1/events/stream (Server-Sent Events). Stored events
// and the live-only job.queued / job.running / job.progress reach every
// listener as (type, data); pages update in place from them, nothing polls.

const TYPES = [
  'job.queued', 'job.running', 'job.progress',
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

export function start() {
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

export function stop() {
  if (source) source.close();
  source = null;
}

// fn(type, data, id) for every event until the returned function is called.
export function on(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// The job an event is about: {job} of a live-only event, or a stored
// event's job.
export function jobOf(data) {
  return (data && data.job) || null;
}
