// SPDX-License-Identifier: MIT
// The dashboard's entry point: the session, the header, and the router.
// Pages have stable URLs under /ui/ (docs/dashboard.md, "Pages"); links
// inside the page move with history.pushState, so the event stream and the
// state of the page survive navigation.
import { api, session, setUnauthorizedHandler, can, clearEarly, html, put, $, live } from './core.js';

const routes = [
  [/^\/ui\/login$/, () => import('./login.js'), { public: true }],
  [/^\/ui\/?$/, () => import('./fleet.js')],
  [/^\/ui\/hosts\/(\d+)$/, () => import('./host.js')],
  [/^\/ui\/hosts\/(\d+)\/snapshots\/([0-9a-f]+)$/, () => import('./browse.js')],
  [/^\/ui\/jobs\/(\d+)$/, () => import('./job.js')],
  [/^\/ui\/enroll$/, () => import('./enroll.js'), { admin: true }],
  [/^\/ui\/repository$/, () => import('./repository.js')],
  [/^\/ui\/events$/, () => import('./events.js')],
  [/^\/ui\/users$/, () => import('./users.js'), { admin: true }],
];

let leave = null; // the current page's clean-up
let seq = 0;      // a navigation superseded by a newer one renders nothing

export function navigate(url, replace = false) {
  if (replace) history.replaceState(null, '', url);
  else history.pushState(null, '', url);
  route();
}

function header() {
  const top = $('#top');
  if (!session.user) { top.hidden = true; return; }
  top.hidden = false;
  const links = [['/ui/', 'Fleet'], ['/ui/events', 'Events'], ['/ui/repository', 'Repository']];
  if (can('admin')) links.push(['/ui/enroll', 'Enroll'], ['/ui/users', 'Users']);
  const here = location.pathname;
  put($('#nav'), links.map(([href, label]) => {
    const cur = href === '/ui/' ? (here === '/ui/' || here === '/ui') : here.startsWith(href);
    return html`<a href="${href}"${cur ? html` aria-current="page"` : ''}>${label}</a>`;
  }));
  $('#who-name').textContent = session.user.name;
  $('#who-role').textContent = session.user.role;
}

async function loadSession() {
  try {
    const s = await api('GET', '/v1/session');
    session.user = s.user;
    session.csrf = s.csrf;
    session.server = s.server || null;
    return true;
  } catch (e) {
    if (e.status === 401) return false;
    throw e;
  }
}

export async function route() {
  const my = ++seq;
  if (leave) { try { leave(); } catch (e) { console.error(e); } leave = null; }
  const path = location.pathname;
  let found = null;
  let m = null;
  for (const r of routes) {
    m = path.match(r[0]);
    if (m) { found = r; break; }
  }
  const main = $('#main');
  if (!found) {
    header();
    put(main, html`<h1>Not found</h1><p>No page at ${path}. <a href="/ui/">Back to the fleet</a></p>`);
    return;
  }
  const opts = found[2] || {};
  if (!opts.public && !session.user) {
    navigate('/ui/login?next=' + encodeURIComponent(path + location.search), true);
    return;
  }
  if (opts.admin && !can('admin')) {
    header();
    put(main, html`<h1>Not allowed</h1><p>This page is for admins.</p>`);
    return;
  }
  header();
  const mod = await found[1]();
  if (my !== seq) return;
  main.setAttribute('aria-busy', 'true');
  try {
    const cleanup = await mod.render(main, m.slice(1), () => my !== seq);
    if (my !== seq) { if (cleanup) cleanup(); return; }
    leave = cleanup || null;
  } catch (e) {
    if (my !== seq) return;
    if (e.status === 401) return; // the unauthorized handler moved to the login
    put(main, html`<h1>Error</h1><p class="error">${e.message}</p>`);
  } finally {
    main.removeAttribute('aria-busy');
  }
}

// after a login: the session is known, the stream starts
export function loggedIn(s) {
  clearEarly();
  session.user = s.user;
  session.csrf = s.csrf;
  if (s.server) session.server = s.server;
  live.start();
}

document.addEventListener('click', (e) => {
  const a = e.target.closest('a');
  if (!a || a.hasAttribute('download') || a.target || e.defaultPrevented || e.button !== 0 ||
      e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const u = new URL(a.href, location.href);
  if (u.origin !== location.origin || !u.pathname.startsWith('/ui')) return;
  e.preventDefault();
  if (u.pathname + u.search !== location.pathname + location.search) navigate(u.pathname + u.search);
});
window.addEventListener('popstate', route);

$('#logout').addEventListener('click', async () => {
  try { await api('POST', '/v1/logout'); } catch (e) { /* the session may be gone already */ }
  live.stop();
  session.user = null;
  session.csrf = null;
  navigate('/ui/login');
});

setUnauthorizedHandler(() => {
  if (!session.user) return;
  session.user = null;
  live.stop();
  navigate('/ui/login?next=' + encodeURIComponent(location.pathname + location.search), true);
});

// The first page's module, and what it reads first (its prefetch()), are
// asked for beside the session, not after it.
{
  const first = routes.find((r) => r[0].test(location.pathname));
  if (first && !(first[2] || {}).public) {
    first[1]().then((mod) => {
      if (mod.prefetch) mod.prefetch(location.pathname.match(first[0]).slice(1));
    }).catch(() => {});
  }
}

(async () => {
  try {
    if (await loadSession()) live.start();
    else clearEarly();
  } catch (e) {
    put($('#main'), html`<h1>roostd did not answer</h1><p class="error">${e.message}</p>`);
    return;
  }
  route();
})();
