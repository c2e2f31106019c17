// The dashboard in a real browser (headless Chromium driven by
// playwright-core): events arrive through EventSource; every SSE
// connection is cut on the server side while orders are published, and
// the page reconnects by itself with Last-Event-ID and shows every order
// exactly once; the whole process restarts, and the page sees the reset
// and reloads its state over REST; a report job submitted from the page
// shows its result. A screenshot is saved.
//
//   node dashboard.mjs <dashboard-binary> <screenshot.png>
import { chromium } from 'playwright-core';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [bin, shot] = process.argv.slice(2);
const dir = mkdtempSync(join(tmpdir(), 'courier-dashboard-'));
const portFile = join(dir, 'port');
let server = null;
let port = 0;
// The admin routes exist only with a token.
const adminToken = 'browser-test';

function check(cond, what) {
  if (!cond) {
    throw new Error('FAIL ' + what);
  }
  console.log('ok   ' + what);
}

// Polls `f` (async) until it returns a truthy value or `ms` passes.
async function until(f, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v) {
      return v;
    }
    if (Date.now() > end) {
      throw new Error('FAIL timed out waiting for ' + what);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function start(portArg) {
  const args = ['--port', String(portArg), '--port-file', portFile,
                '--simulate', '5', '--token', adminToken];
  server = spawn(bin, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  server.stdout.on('data', () => {});
  const exited = new Promise((r) => server.once('exit', r));
  server.exited = exited;
  const p = await until(async () => {
    if (!existsSync(portFile)) return 0;
    const t = readFileSync(portFile, 'utf8').trim();
    return t ? Number(t) : 0;
  }, 20000, 'the dashboard to listen');
  return p;
}

async function stop() {
  server.kill('SIGINT');
  const code = await server.exited;
  return code;
}

async function rest(path, init) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, init);
  return { status: r.status, body: await r.text() };
}

async function metric(name) {
  const m = (await rest('/metrics')).body;
  const line = m.split('\n').find((l) => l.startsWith(name + ' '));
  return line ? Number(line.split(' ')[1]) : NaN;
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu',
         '--disable-background-networking'],
});
try {
  port = await start(0);
  const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
  page.on('pageerror', (e) => console.log('page error: ' + e.message));
  await page.goto(`http://127.0.0.1:${port}/`);

  // 1. Events arrive through EventSource.
  await until(() => page.evaluate(() =>
    window.dashboard && window.dashboard.connected &&
    window.dashboard.events >= 3), 20000, 'three SSE events');
  check(true, 'the page receives events through EventSource');

  // 2. Cut every SSE connection server-side while orders flow.
  const before = await page.evaluate(() => window.dashboard.events);
  const resumedBefore = await metric('courier_sse_streams_resumed_total');
  check((await rest('/admin/drop-streams', {
    method: 'POST',
    headers: { Authorization: 'Bearer ' + adminToken },
  })).status === 202,
        'the edge drops every SSE stream');
  await until(async () => (await metric('courier_sse_streams_resumed_total')) >
      resumedBefore, 20000, 'the page to reconnect with Last-Event-ID');
  check(true, 'the page reconnected by itself with Last-Event-ID');
  await until(() => page.evaluate((n) => window.dashboard.events >= n + 5,
      before), 20000, 'events after the reconnect');
  // Every order the server has, up to the newest the page saw, is shown
  // exactly once.
  const seen = await page.evaluate(() => {
    const rows = [...document.querySelectorAll('#orders [data-id]')]
      .map((e) => Number(e.dataset.id));
    return { rows, ids: [...window.dashboard.orders.keys()].map(Number) };
  });
  const all = JSON.parse((await rest('/orders')).body).map((o) => o.id);
  const newest = Math.max(...seen.ids);
  const want = all.filter((id) => id <= newest);
  const have = new Set(seen.ids);
  check(want.every((id) => have.has(id)), `no order lost across the cut (${want.length} orders)`);
  check(new Set(seen.rows).size === seen.rows.length, 'no order shown twice');
  check(seen.ids.length === have.size, 'no order counted twice');

  // 3. Restart the whole process: the page sees the reset and reloads.
  const resets = await page.evaluate(() => window.dashboard.resets);
  const exitCode = await stop();
  check(exitCode === 0, 'the dashboard exits cleanly on SIGINT');
  port = await start(port);
  await until(() => page.evaluate((r) => window.dashboard.resets > r, resets),
              30000, 'the reset after the restart');
  check(true, 'the page saw the reset from the new epoch');
  await until(async () => {
    const server = new Map(JSON.parse((await rest('/orders')).body)
      .map((o) => [o.id, o.item + '/' + o.quantity]));
    const shown = await page.evaluate(() => ({
      rows: [...document.querySelectorAll('#orders [data-id]')]
        .map((e) => Number(e.dataset.id)),
      orders: [...window.dashboard.orders.values()]
        .map((o) => [o.id, o.item + '/' + o.quantity]),
    }));
    // The page shows the new process's orders (what the server has, up
    // to the newest), never the old ones, and each once.
    return shown.orders.length > 0 &&
      shown.orders.every(([id, what]) => server.get(id) === what) &&
      new Set(shown.rows).size === shown.rows.length;
  }, 20000, 'the page to show the new state');
  check(true, 'the page reloaded its state over REST (no stale, no duplicate)');

  // 4. A report job from the page; its result arrives by long polling.
  await page.click('#run-report');
  await until(() => page.evaluate(() => {
    const e = document.querySelector('#report-result');
    return e && e.textContent.trim().length > 0 && !/pending|running/i.test(e.textContent);
  }), 30000, 'the report result');
  check(true, 'the report job result arrived in the page');

  await page.screenshot({ path: shot });
  check(existsSync(shot), 'screenshot saved to ' + shot);
  await stop();
} finally {
  await browser.close();
  if (server && server.exitCode === null) {
    server.kill('SIGKILL');
  }
}
