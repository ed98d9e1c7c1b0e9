// SPDX-License-Identifier: MIT
// bench/dashboard's measurements in chromium: medians of RUNS fresh loads
// of the fleet page (first-contentful-paint, all rows painted) and of a
// large directory in the snapshot browser. Prints a small table.
import { chromium } from 'playwright-core';

const U = process.env.ROOST_URL;
const RUNS = Number(process.env.RUNS || 5);
const HOSTS = Number(process.env.HOSTS);
const median = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };

const browser = await chromium.launch({ executablePath: '/usr/bin/chromium' });
const ctx = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1280, height: 800 } });
const page = await ctx.newPage();
await page.goto(`${U}/ui/login`);
await page.fill('input[name=name]', process.env.USER_NAME);
await page.fill('input[name=password]', process.env.USER_PASS);
await page.click('form#login button[type=submit]');
await page.waitForSelector('#fleet-body .frow');

async function load(url, mark, check) {
  await page.goto(`${U}${url}`, { waitUntil: 'commit' });
  await page.waitForFunction((m) => performance.getEntriesByName(m).length > 0, mark, { timeout: 60000 });
  const r = await page.evaluate((m) => ({
    fcp: (performance.getEntriesByName('first-contentful-paint')[0] || {}).startTime,
    at: performance.getEntriesByName(m)[0].startTime,
  }), mark);
  await check();
  return r;
}

const fleet = [];
const tree = [];
for (let i = 0; i <= RUNS; i++) { // the first of each is a warm-up
  const f = await load('/ui/', 'roost:fleet-painted', async () => {
    const n = await page.$$eval('#fleet-body .frow', (r) => r.length);
    if (n !== HOSTS) throw new Error(`fleet: ${n} rows, want ${HOSTS}`);
  });
  const t = await load(process.env.TREE_URL, 'roost:tree-painted', async () => {
    const c = await page.textContent('#count');
    if (!c.startsWith(Number(process.env.ENTRIES).toLocaleString('en'))) throw new Error(`tree: ${c}`);
  });
  if (i > 0) { fleet.push(f); tree.push(t); }
}
const rows = await page.evaluate(() => document.querySelectorAll('#rows .vrow').length);
const version = browser.version();
await browser.close();
const ms = (x) => `${x.toFixed(0)} ms`;
console.log(`\ndashboard: chromium ${version} headless, 1280x800, medians of ${RUNS} loads after a warm-up`);
console.log('| measure | median | runs |');
console.log('|---|---|---|');
console.log(`| fleet (${HOSTS} hosts): first-contentful-paint | ${ms(median(fleet.map((r) => r.fcp)))} | ${fleet.map((r) => r.fcp.toFixed(0)).join(' ')} |`);
console.log(`| fleet (${HOSTS} hosts): all rows painted | ${ms(median(fleet.map((r) => r.at)))} | ${fleet.map((r) => r.at.toFixed(0)).join(' ')} |`);
console.log(`| tree (${process.env.ENTRIES} entries): rows painted | ${ms(median(tree.map((r) => r.at)))} | ${tree.map((r) => r.at.toFixed(0)).join(' ')} |`);
console.log(`(rows in the DOM for the ${process.env.ENTRIES}-entry directory: ${rows})`);
