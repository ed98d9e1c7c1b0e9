// SPDX-License-Identifier: MIT
// /ui/enroll (admin): an enrollment token and the command that enrolls a
// host with it, pinned to this server's certificate.
import { post, session, get, html, put, $, stamp, toast } from './core.js';

export async function render(main) {
  document.title = 'roost: enroll a host';
  if (!session.server) {
    try { session.server = (await get('/v1/session')).server; } catch { /* shown below */ }
  }
  const fp = session.server && session.server.fingerprint;
  put(main, html`<h1>Enroll a host</h1>
  <form id="enroll" class="card inline">
    <label>Valid for <select name="ttl"><option value="3600">1 hour</option><option value="86400">1 day</option>
      <option value="604800">7 days</option></select></label>
    <label>Uses <input name="uses" type="number" min="1" max="100000" value="1"></label>
    <button type="submit">Create token</button></form>
  <div id="result" hidden class="card"><p>Run this on the host (token valid until <span id="exp"></span>):</p>
    <pre id="cmd" class="cmd"></pre><button type="button" id="copy">Copy</button></div>
  ${fp ? '' : html`<p class="error">The server's fingerprint is unknown (GET /v1/session gave none).</p>`}`);
  $('#enroll').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = e.target.elements;
    try {
      const r = await post('/v1/enroll-tokens', { ttl: Number(f.ttl.value), uses: Number(f.uses.value) });
      const cmd = `roost-agent enroll --server ${location.origin} --token ${r.token}` +
        `${fp ? ` --fingerprint ${fp}` : ''} --state /var/lib/roost-agent`;
      $('#cmd').textContent = cmd;
      $('#exp').textContent = stamp(r.expires_at);
      $('#result').hidden = false;
    } catch (ex) { toast(ex.message, true); }
  });
  $('#copy').addEventListener('click', async () => {
    const text = $('#cmd').textContent;
    try {
      await navigator.clipboard.writeText(text);
      toast('Copied');
    } catch {
      const r = document.createRange();
      r.selectNodeContents($('#cmd'));
      const s = getSelection();
      s.removeAllRanges();
      s.addRange(r);
      toast('Selected: copy it with Ctrl+C');
    }
  });
  return null;
}
