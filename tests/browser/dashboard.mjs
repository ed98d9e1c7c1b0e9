// SPDX-License-Identifier: MIT
// The dashboard in Debian's chromium, driven by playwright-core, against a
// real roostd with two real agents (tests/integration/test_dashboard.sh sets
// it up and passes what it made in the environment). Prints one TAP line
// per check ("ok - ..." / "not ok - ..."); exit 1 when any failed.
import { chromium } from 'playwright-core';
import { execFileSync } from 'node:child_process';
import { readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

const URL0 = process.env.ROOST_URL;
const SRC = process.env.SRC;
const TMP = process.env.TMP;
const SHOTS = process.env.ROOST_SHOTS || join(TMP, 'shots');
const hosts = JSON.parse(process.env.HOSTS_JSON);
const users = Object.fromEntries(process.env.USERS.split(' ').map((s) => s.split(':')));
const [ADMIN, OPER, VIEW] = Object.keys(users);
const alpha = hosts.find((h) => h.name === 'alpha');
const beta = hosts.find((h) => h.name === 'beta');
mkdirSync(SHOTS, { recursive: true });

let failed = 0;
function ok(what) { console.log(`ok - ${what}`); }
function bad(what) { failed++; console.log(`not ok - ${what}`); }
function check(cond, what, detail = '') { if (cond) ok(what); else bad(detail ? `${what}: ${detail}` : what); }
// runs a step; an exception fails it (and the steps that need it say so)
async function step(what, fn) {
  try { return await fn(); } catch (e) { bad(`${what}: ${String(e.message || e).split('\n')[0]}`); return undefined; }
}

const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };
const browser = await chromium.launch({
  executablePath: process.env.ROOST_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-dev-shm-usage'],
});
async function newPage(viewport) {
  const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport, acceptDownloads: true });
  const page = await ctx.newPage();
  page.setDefaultTimeout(20000);
  page.on('pageerror', (e) => bad(`no script error in the page: ${e.message}`));
  page.on('console', (m) => {
    if (/Content.Security.Policy/i.test(m.text())) bad(`nothing the CSP refuses: ${m.text().slice(0, 200)}`);
  });
  return page;
}
async function shot(page, name) {
  await page.waitForTimeout(150);
  await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}
async function login(page, name, password) {
  await page.goto(`${URL0}/ui/login`);
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', password);
  await page.click('form#login button[type=submit]');
}
const api = (page, method, path, body, csrf) => page.evaluate(async ([m, p, b, c]) => {
  const h = { 'Content-Type': 'application/json' };
  if (c) h['X-CSRF-Token'] = c;
  const r = await fetch(p, { method: m, headers: h, body: b === null ? undefined : JSON.stringify(b) });
  return { status: r.status, body: await r.text() };
}, [method, path, body === undefined ? null : body, csrf || null]);
// the snapshot browser shows the listing of dir (not the rows of the page before)
const listed = (page, dir) => page.waitForFunction((d) => {
  const c = document.getElementById('count');
  return c && c.textContent.endsWith(` in ${d}`) && document.querySelector('#rows .vrow');
}, dir);
const csrfOf = async (page) => JSON.parse((await api(page, 'GET', '/v1/session')).body).csrf;

// ---------------------------------------------------------------- admin, desktop
const page = await newPage(DESKTOP);
await step('login page', async () => {
  await page.goto(`${URL0}/`);
  await page.waitForURL(/\/ui\/login/);
  ok('/ redirects to the login page when not logged in');
  await shot(page, 'login-desktop');
  await login(page, ADMIN, users[ADMIN]);
  await page.waitForURL(`${URL0}/ui/`);
  await page.waitForSelector('#fleet-body .frow');
  ok('admin logs in and lands on the fleet');
});

await step('fleet', async () => {
  const rows = await page.$$eval('#fleet-body .frow', (trs) => trs.map((t) => ({
    name: t.dataset.name, health: t.querySelector('[data-health]').dataset.health,
  })));
  check(rows.length === 2, 'the fleet shows two hosts', JSON.stringify(rows));
  check((rows.find((x) => x.name === 'alpha') || {}).health === 'ok', 'alpha (backed up) is ok', JSON.stringify(rows));
  // each row's health is the API's (a change meanwhile reaches the row by the stream)
  let last = '';
  const same = await page.waitForFunction(async () => {
    const api = await (await fetch('/v1/hosts')).json();
    const dom = api.map((h) => {
      const el = document.querySelector(`#host-${h.id} [data-health]`);
      return `${h.name}:${h.health}/${el ? el.dataset.health : 'missing'}`;
    });
    window.__healths = dom.join(' ');
    return dom.every((x) => x.split(':')[1].split('/')[0] === x.split('/')[1]);
  }, null, { polling: 500, timeout: 15000 }).then(() => true, () => false);
  last = await page.evaluate(() => window.__healths);
  check(same, 'every host\'s health in the fleet is the API\'s', last);
  check((await page.textContent('#top')).includes(ADMIN) && (await page.textContent('#who-role')) === 'admin',
    'the header names the user and the role');
});

// a backup from the fleet page, followed live to "succeeded"
await step('backup from the fleet page', async () => {
  await page.evaluate(() => {
    window.__marker = 'same document';
    window.__seen = [];
    const note = () => {
      for (const el of document.querySelectorAll('#fleet-body .cur [data-status]')) {
        const v = `${el.closest('.frow').dataset.name}:${el.dataset.status}`;
        if (window.__seen[window.__seen.length - 1] !== v) window.__seen.push(v);
      }
    };
    new MutationObserver(note).observe(document.getElementById('fleet-body'), { subtree: true, childList: true });
  });
  let navs = 0;
  page.on('framenavigated', (f) => { if (f === page.mainFrame()) navs++; });
  const before = page.url();
  await page.click(`#host-${alpha.id} button[data-backup]`);
  await page.waitForSelector(`#host-${alpha.id} .cur [data-status=succeeded]`, { timeout: 180000 });
  const seen = await page.evaluate(() => window.__seen);
  const mine = seen.filter((s) => s.startsWith('alpha:'));
  check(mine.some((s) => /:(queued|running)$/.test(s)), 'the job showed queued/running first', mine.join(' '));
  check(mine[mine.length - 1] === 'alpha:succeeded', 'its progress reached "succeeded" in the row', mine.join(' '));
  check(await page.evaluate(() => window.__marker) === 'same document' && navs === 0 && page.url() === before,
    'without a reload or a navigation');
  const bytes = Number(await page.getAttribute(`#host-${alpha.id} .cur .prog`, 'data-bytes'));
  check(bytes >= 24000000, 'the row shows the bytes backed up', String(bytes));
  await shot(page, 'fleet-desktop');
});

// the host page and the cron preview
await step('host page and cron preview', async () => {
  await page.click(`#host-${alpha.id} .hn a`);
  await page.waitForURL(`${URL0}/ui/hosts/${alpha.id}`);
  await page.waitForSelector('input.cron');
  await page.fill('input.cron', '*/15 * * * *');
  await page.waitForFunction(() => document.querySelectorAll('.preview:not([hidden]) li').length === 5);
  const times = await page.$$eval('.preview li time', (ts) => ts.map((t) => t.getAttribute('datetime')));
  check(times.length === 5 && times.every((t) => /:(00|15|30|45):00Z$/.test(t)), 'the cron preview shows five times',
    times.join(' '));
  await page.fill('input.cron', '61 * * * *');
  await page.waitForSelector('.cron-error:not([hidden])');
  const msg = await page.textContent('.cron-error');
  check(/minute/i.test(msg), 'an invalid cron shows the server\'s message', msg);
  check(await page.isDisabled('.save-cron'), 'and it can not be saved');
  await page.fill('input.cron', '0 3 * * *');
  await page.waitForSelector('.cron-error', { state: 'hidden' });
  await shot(page, 'host-desktop');
});

// back to the fleet inside the page: one click, one job (no handler of the
// host page left behind)
await step('one backup per click after other pages', async () => {
  await page.click('#nav a:text-is("Fleet")');
  await page.waitForURL(`${URL0}/ui/`);
  await page.waitForSelector(`#host-${beta.id} button[data-backup]:not([disabled])`);
  const before = JSON.parse((await api(page, 'GET', `/v1/jobs?host=${beta.id}`)).body).map((j) => j.id);
  const posts = [];
  const onReq = (r) => { if (r.method() === 'POST') posts.push(r.url().replace(URL0, '')); };
  page.on('request', onReq);
  await page.click(`#host-${beta.id} button[data-backup]`);
  await page.waitForFunction(([id, old]) => {
    const el = document.querySelector(`#host-${id} .cur [data-job]`);
    return el && !old.includes(Number(el.dataset.job)) && el.querySelector('[data-status=succeeded]');
  }, [beta.id, before], { timeout: 180000 });
  const made = JSON.parse((await api(page, 'GET', `/v1/jobs?host=${beta.id}`)).body)
    .filter((j) => !before.includes(j.id) && j.trigger === 'manual');
  page.off('request', onReq);
  check(posts.length === 1 && posts[0] === `/v1/hosts/${beta.id}/backup`, 'a click on "Back up now" sends one request',
    posts.join(' '));
  check(made.length === 1, 'and makes one job', JSON.stringify(made.map((j) => j.id)));
  check(Number(await page.getAttribute(`#host-${beta.id} .cur [data-job]`, 'data-job')) === made[0].id,
    'the row shows that job');
  await page.goBack();
  await page.waitForURL(`${URL0}/ui/hosts/${alpha.id}`);
  await page.waitForSelector('#snaps a.snap');
  ok('Back returns to the host page');
});

// the snapshot browser, a download, a restore
let jobUrl = null;
await step('snapshot browser', async () => {
  await page.click('#snaps a.snap');
  await page.waitForURL(/\/snapshots\/[0-9a-f]+/);
  await page.click(`.facts a:has-text("${SRC}")`);
  await page.waitForFunction((src) => new URLSearchParams(location.search).get('path') === src, SRC);
  await listed(page, SRC);
  const names = await page.$$eval('#rows .vrow .nm', (ns) => ns.map((n) => n.textContent.trim()));
  check(['data.bin', 'many', 'sub'].every((n) => names.some((x) => x.startsWith(n))), 'the source directory lists its entries',
    names.join(','));
  const markup = '<img src=x onerror=window.__xss=1>.txt';
  check(names.includes(markup) && await page.$$eval('#rows img', (i) => i.length) === 0 &&
    await page.evaluate(() => window.__xss === undefined), 'a file name that is markup is shown as text');
  await page.click('#rows .vrow a.dir:text-is("sub")');
  await listed(page, `${SRC}/sub`);
  await page.waitForSelector('#rows .vrow a.dir:text-is("deeper")');
  const crumbs = await page.textContent('#path');
  check(crumbs.includes('sub') && crumbs.includes('src-alpha'), 'breadcrumbs show the path', crumbs);
  await page.click(`#path a:text-is("src-alpha")`);
  await listed(page, SRC);
  await page.waitForSelector('#rows .vrow a.dlink');
  ok('breadcrumbs lead back up');
  const [dl] = await Promise.all([
    page.waitForEvent('download'),
    page.click('#rows .vrow:has(.nm:text-is("data.bin")) a.dlink'),
  ]);
  const to = join(TMP, 'downloaded.bin');
  await dl.saveAs(to);
  check(Buffer.compare(readFileSync(to), readFileSync(join(SRC, 'data.bin'))) === 0,
    'a downloaded file has the source file\'s bytes');
  await shot(page, 'browse-desktop');
  // restore the directory "sub" to a new target
  await page.check(`#rows input[data-path="${SRC}/sub"]`);
  check((await page.textContent('#selcount')) === '1 selected', 'a directory is selected');
  await page.fill('#target', `${TMP}/restored-ui`);
  await page.click('#restore-btn');
  await page.waitForURL(/\/ui\/jobs\/\d+$/);
  jobUrl = page.url();
  await page.waitForSelector('#job-status [data-status=succeeded]', { timeout: 180000 });
  ok('the restore job reached succeeded on its page');
  try {
    execFileSync('python3', [process.env.TREECMP, `${SRC}/sub`, `${TMP}/restored-ui${SRC}/sub`, '--no-owner'],
      { stdio: 'pipe' });
    ok('the restored directory equals the source (treecmp)');
  } catch (e) {
    bad(`the restored directory equals the source (treecmp): ${String(e.stdout || e.message).slice(0, 400)}`);
  }
  const others = execFileSync('ls', ['-A', `${TMP}/restored-ui${SRC}`]).toString().trim();
  check(others === 'sub', 'only the selected directory was restored', others);
  const log = await page.textContent('#log');
  check(log.includes('job.succeeded'), 'the job log has its job.succeeded event', log.slice(0, 300));
  await shot(page, 'job-desktop');
});

await step('a long directory is virtualized', async () => {
  await page.goto(`${URL0}/ui/hosts/${alpha.id}`);
  await page.click('#snaps a.snap');
  await page.waitForURL(/\/snapshots\//);
  const base = new URL(page.url()).pathname;
  await page.goto(`${URL0}${base}?path=${encodeURIComponent(SRC + '/many')}`);
  await listed(page, `${SRC}/many`);
  const n = await page.$$eval('#rows .vrow', (r) => r.length);
  check(n > 0 && n < 100, 'only the visible rows of 300 are in the DOM', String(n));
  await page.$eval('#view', (v) => { v.scrollTop = v.scrollHeight; });
  await page.waitForSelector('#rows .nm:text-is("n0300")');
  ok('scrolling to the end shows the last entry');
});

// CSRF: a state change without the token is refused
await step('CSRF', async () => {
  await page.goto(`${URL0}/ui/events`);
  await page.waitForSelector('table.events');
  const csrf = await csrfOf(page);
  const no = await api(page, 'POST', '/v1/enroll-tokens', { ttl: 60 });
  check(no.status === 403 && no.body.includes('csrf'), 'a POST without X-CSRF-Token: 403 csrf', `${no.status} ${no.body}`);
  const wrong = await api(page, 'POST', '/v1/enroll-tokens', { ttl: 60 }, 'not-the-token');
  check(wrong.status === 403, 'a POST with another token: 403', `${wrong.status}`);
  const yes = await api(page, 'POST', '/v1/enroll-tokens', { ttl: 60 }, csrf);
  check(yes.status === 201, 'the same POST with the token: 201', `${yes.status} ${yes.body}`);
  const evs = await page.$$eval('#evs tr', (r) => r.length);
  check(evs > 0, 'the event log lists events', String(evs));
  await shot(page, 'events-desktop');
});

await step('other pages', async () => {
  await page.click('#nav a:text-is("Enroll")');
  await page.waitForURL(`${URL0}/ui/enroll`);
  await page.click('#enroll button[type=submit]');
  await page.waitForSelector('#result:not([hidden])');
  const cmd = await page.textContent('#cmd');
  const fp = readFileSync(join(TMP, 'server', 'fingerprint'), 'utf8').trim();
  check(cmd.startsWith(`roost-agent enroll --server ${URL0} --token `) && cmd.includes(`--fingerprint ${fp}`) &&
    cmd.endsWith('--state /var/lib/roost-agent'), 'the enroll page gives the ready command', cmd);
  await shot(page, 'enroll-desktop');
  await page.click('#nav a:text-is("Repository")');
  await page.waitForSelector('dl.facts');
  check(/Snapshots\s*[1-9]/.test(await page.textContent('dl.facts')), 'the repository page counts snapshots');
  await shot(page, 'repository-desktop');
  await page.click('#nav a:text-is("Users")');
  await page.waitForSelector('tr[data-user]');
  const names = await page.$$eval('tr[data-user] td:first-child', (t) => t.map((x) => x.textContent));
  check([ADMIN, OPER, VIEW].every((n) => names.includes(n)), 'the users page lists the users', names.join(','));
  await shot(page, 'users-desktop');
});

// ---------------------------------------------------------------- phone width
await step('phone', async () => {
  const ph = await newPage(PHONE);
  await login(ph, OPER, users[OPER]);
  await ph.waitForSelector('#fleet-body .frow');
  const wide = await ph.evaluate(() => document.documentElement.scrollWidth);
  check(wide <= PHONE.width, 'the fleet fits a phone\'s width (no sideways scrolling)', String(wide));
  await shot(ph, 'fleet-phone');
  await ph.click(`#host-${alpha.id} .hn a`);
  await ph.waitForSelector('#jobs tr');
  await shot(ph, 'host-phone');
  await ph.click('#snaps a.snap');
  await ph.waitForSelector('.facts a');
  await ph.click('.facts a');
  await listed(ph, SRC);
  const wide2 = await ph.evaluate(() => document.documentElement.scrollWidth);
  check(wide2 <= PHONE.width, 'the snapshot browser fits a phone\'s width', String(wide2));
  await shot(ph, 'browse-phone');
  if (jobUrl) {
    await ph.goto(jobUrl);
    await ph.waitForSelector('#job-status');
    await shot(ph, 'job-phone');
  }
  await ph.goto(`${URL0}/ui/login`);
  await ph.context().close();
});

// ---------------------------------------------------------------- viewer
await step('viewer', async () => {
  const v = await newPage(DESKTOP);
  await login(v, VIEW, users[VIEW]);
  await v.waitForSelector('#fleet-body .frow');
  check(await v.$$eval('main button', (b) => b.length) === 0, 'a viewer sees no buttons on the fleet');
  const nav = await v.textContent('#nav');
  check(!nav.includes('Users') && !nav.includes('Enroll'), 'nor admin pages in the menu', nav);
  await v.click(`#host-${alpha.id} .hn a`);
  await v.waitForSelector('#jobs tr');
  check(await v.$$eval('main button, main input, main select', (b) => b.length) === 0,
    'a viewer sees no buttons or fields on the host page');
  await v.click('#snaps a.snap');
  await v.waitForSelector('.facts a');
  await v.click('.facts a');
  await listed(v, SRC);
  check(await v.$$eval('main button, #rows input, a.dlink', (b) => b.length) === 0,
    'a viewer sees no restore, selection or download in the browser');
  const j = JSON.parse((await api(v, 'GET', `/v1/jobs?host=${alpha.id}&limit=1`)).body)[0];
  await v.goto(`${URL0}/ui/jobs/${j.id}`);
  await v.waitForSelector('#job-status');
  check(await v.$$eval('main button', (b) => b.length) === 0, 'a viewer sees no Cancel on a job');
  const csrf = await csrfOf(v);
  const r = await api(v, 'POST', `/v1/hosts/${alpha.id}/backup`, { group_id: 1 }, csrf);
  check(r.status === 403, 'a viewer\'s backup request (with the CSRF token): 403', `${r.status} ${r.body}`);
  const u = await api(v, 'GET', '/v1/users');
  check(u.status === 403, 'a viewer may not list users: 403', String(u.status));
  await v.context().close();
});

// ---------------------------------------------------------------- wrong password, throttled
// last: once throttled, this address may not log in for a while
await step('wrong password and throttling', async () => {
  const w = await newPage(DESKTOP);
  await login(w, OPER, 'not-the-password');
  await w.waitForSelector('#login-error:not([hidden])');
  const first = await w.textContent('#login-error');
  check((await w.getAttribute('#login-error', 'data-status')) === '401' && first.length > 14,
    'a wrong password shows the server\'s error', first);
  await shot(w, 'login-error-desktop');
  let text = '';
  for (let i = 0; i < 8; i++) {
    await w.fill('input[name=password]', `wrong-${i}`);
    await w.click('form#login button[type=submit]');
    await w.waitForFunction(() => !document.querySelector('form#login button').disabled);
    if ((await w.getAttribute('#login-error', 'data-status')) === '429') { text = await w.textContent('#login-error'); break; }
  }
  check(/Too many failed logins/.test(text) && /Try again in \d+ s/.test(text),
    'repeated failures are throttled: 429 with the wait shown', text);
  await w.context().close();
});

await browser.close();
console.log(`# screenshots: ${SHOTS}`);
process.exit(failed ? 1 : 0);
