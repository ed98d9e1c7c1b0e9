// SPDX-License-Identifier: MIT
// /ui/login: name and password; the server's own message on failure
// (401 invalid_login, 429 throttled with how long to wait).
import { api, session, html, put, $ } from './core.js';
import { navigate, loggedIn } from './app.js';

export async function render(main) {
  document.title = 'roost: log in';
  const next = new URLSearchParams(location.search).get('next');
  const target = next && next.startsWith('/ui/') && !next.startsWith('/ui/login') ? next : '/ui/';
  if (session.user) { navigate(target, true); return null; }
  put(main, html`
    <form id="login" class="login card" autocomplete="on">
      <h1>roost</h1>
      <label>Name <input name="name" autocomplete="username" required maxlength="64" autofocus></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required></label>
      <p id="login-error" class="error" role="alert" hidden></p>
      <button type="submit">Log in</button>
    </form>`);
  const form = $('#login');
  const err = $('#login-error');
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    const btn = form.querySelector('button');
    btn.disabled = true;
    try {
      const s = await api('POST', '/v1/login', {
        name: form.elements.name.value, password: form.elements.password.value,
      });
      loggedIn(s);
      // the server's fingerprint and version come with the session
      try { Object.assign(session, { server: (await api('GET', '/v1/session')).server }); } catch { /* later */ }
      navigate(target, true);
    } catch (ex) {
      let msg = ex.message;
      if (ex.status === 429) {
        const wait = ex.retryAfter ? ` Try again in ${ex.retryAfter} s.` : '';
        msg = `Too many failed logins: ${ex.message}.${wait}`;
      } else if (ex.status === 401) {
        msg = `Login failed: ${ex.message}`;
      }
      err.textContent = msg;
      err.dataset.status = String(ex.status || '');
      err.hidden = false;
      form.elements.password.select();
    } finally {
      btn.disabled = false;
    }
  });
  return null;
}
