#pragma once

// The dashboard's page, served at GET /: HTML, CSS and plain JavaScript in
// one string, so the binary needs no files and the page no network beyond
// the dashboard itself. It shows the three ways a browser gets data from
// courier:
//   REST           GET /orders at start and after a reset, POST /orders
//   SSE            EventSource('/sse/orders.>') and '/sse/inventory.>';
//                  the browser resumes with Last-Event-ID by itself, and a
//                  `reset` event (the server restarted) makes the page
//                  reload its state over REST
//   long polling   POST /reports, then GET /poll/jobs.{id}?since=...
//                  until the job is done
// For tests, window.dashboard holds the page's state.

#include <string_view>

inline constexpr std::string_view dashboard_page = R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>courier dashboard</title>
<link rel="icon" href="data:,">
<style>
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI",
         sans-serif; background: #f3f4f6; color: #1f2937; }
  header { display: flex; align-items: center; gap: 1rem;
           padding: .7rem 1.4rem; background: #111827; color: #f9fafb; }
  header h1 { font-size: 1.15rem; margin: 0; font-weight: 600; }
  header nav { margin-left: auto; display: flex; gap: 1rem; }
  header a { color: #9ca3af; text-decoration: none; }
  header a:hover { color: #f9fafb; }
  #status { padding: .1rem .7rem; border-radius: 1rem; font-size: .8rem;
            background: #b91c1c; }
  #status.live { background: #15803d; }
  #status.syncing { background: #b45309; }
  main { display: grid; grid-template-columns: minmax(0, 2fr) minmax(0, 1fr);
         gap: 1rem; padding: 1rem 1.4rem; }
  section { background: #fff; border-radius: 10px; padding: .9rem 1.1rem;
            box-shadow: 0 1px 3px rgba(0, 0, 0, .08); }
  h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .06em;
       color: #6b7280; margin: 0 0 .6rem; }
  .col { display: flex; flex-direction: column; gap: 1rem; min-width: 0; }
  .counters { display: grid; grid-template-columns: repeat(4, 1fr);
              gap: 1rem; }
  .counter b { display: block; font-size: 1.9rem; font-weight: 650;
               font-variant-numeric: tabular-nums; }
  .counter span { color: #6b7280; font-size: .8rem; }
  canvas { width: 100%; height: 150px; display: block; }
  #orders { list-style: none; margin: 0; padding: 0; max-height: 420px;
            overflow-y: auto; }
  #orders li { display: grid; grid-template-columns: 4.5rem 1fr 3.5rem 6rem;
               padding: .3rem .2rem; border-bottom: 1px solid #f3f4f6;
               font-variant-numeric: tabular-nums; }
  #orders li.fresh { animation: fresh 1.2s ease-out; }
  @keyframes fresh { from { background: #fef3c7; } to { background: none; } }
  .badge { font-size: .75rem; padding: 0 .5rem; border-radius: 1rem;
           justify-self: start; }
  .badge.created { background: #fef3c7; color: #92400e; }
  .badge.shipped { background: #dcfce7; color: #166534; }
  form, .row { display: flex; gap: .5rem; flex-wrap: wrap; }
  select, input, button { font: inherit; padding: .35rem .6rem;
                          border: 1px solid #d1d5db; border-radius: 6px; }
  input { width: 5rem; }
  button { background: #1d4ed8; color: #fff; border-color: #1d4ed8;
           cursor: pointer; }
  .note { color: #6b7280; font-size: .85rem; margin-top: .5rem;
          min-height: 1.2em; }
  #report-result { margin-top: .6rem; }
  table { border-collapse: collapse; width: 100%; }
  td { padding: .2rem 0; } td.n { text-align: right;
                                   font-variant-numeric: tabular-nums; }
  .bar { height: .45rem; background: #93c5fd; border-radius: 3px; }
  .low .bar { background: #fca5a5; }
</style>
</head>
<body>
<header>
  <h1>courier dashboard</h1>
  <span id="status">connecting</span>
  <nav>
    <a href="/orders">/orders</a><a href="/analytics">/analytics</a>
    <a href="/inventory">/inventory</a><a href="/metrics">/metrics</a>
  </nav>
</header>
<main>
  <div class="col">
    <section class="counters">
      <div class="counter"><b id="count">0</b><span>orders</span></div>
      <div class="counter"><b id="items">0</b><span>items</span></div>
      <div class="counter"><b id="shipped">0</b><span>shipped</span></div>
      <div class="counter"><b id="rate">0</b><span>orders/s (10 s)</span></div>
    </section>
    <section>
      <h2>Orders per second, last 60 s</h2>
      <canvas id="chart" width="720" height="150"></canvas>
    </section>
    <section>
      <h2>Live orders (SSE, newest first)</h2>
      <ul id="orders"></ul>
    </section>
  </div>
  <div class="col">
    <section>
      <h2>New order (REST)</h2>
      <form id="order-form">
        <select id="item"><option>widget</option></select>
        <input id="quantity" type="number" min="1" max="1000" value="1">
        <button id="create" type="submit">Create order</button>
      </form>
      <div id="order-result" class="note"></div>
    </section>
    <section>
      <h2>Sales report (async job, long polling)</h2>
      <button id="run-report" type="button">Run report</button>
      <div id="report-result"></div>
    </section>
    <section>
      <h2>Stock (polled, pushed over SSE)</h2>
      <table id="stock"></table>
    </section>
  </div>
</main>
<script>
'use strict';
const D = window.dashboard = {
  orders: new Map(),  // id -> order, each order once
  events: 0,          // SSE order events handled
  resets: 0,          // `reset` events seen
  eventIds: [],       // the ids of the last events
  connected: false,
  reports: {},        // job id -> the job's last state
  stock: {},
};
const $ = (id) => document.getElementById(id);
const perSecond = new Map();  // unix second -> orders created then
const fresh = new Set();      // ids to highlight in the next render
let lastId = '';              // the newest event id seen
let buffer = null;            // events that arrive while a reload runs
let syncs = 0;
let loaded = false;

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function showStatus() {
  const s = $('status');
  s.className = !D.connected ? '' : buffer ? 'syncing' : 'live';
  s.textContent = !D.connected ? 'reconnecting' : buffer ? 'reloading' : 'live';
}

// One event; a created order is added once, a shipped one updates it.
function apply(type, o) {
  const known = D.orders.get(o.id);
  if (type === 'orders.created' && !known) {
    D.orders.set(o.id, o);
    const s = Math.floor(Date.now() / 1000);
    perSecond.set(s, (perSecond.get(s) || 0) + 1);
    fresh.add(o.id);
  } else if (type === 'orders.shipped') {
    D.orders.set(o.id, Object.assign(known || {}, o));
  }
}

function onOrderEvent(e) {
  D.events++;
  lastId = e.lastEventId;
  D.eventIds.push(e.lastEventId);
  if (D.eventIds.length > 200) D.eventIds.shift();
  const o = JSON.parse(e.data);
  if (buffer) {
    buffer.push([e.type, o]);
  } else {
    apply(e.type, o);
    render();
  }
}

// Replaces the page's orders with GET /orders, then applies the events
// that came meanwhile: nothing lost, nothing twice.
function sync() {
  const mine = ++syncs;
  buffer = buffer || [];
  showStatus();
  fetch('/orders')
    .then((r) => { if (!r.ok) throw new Error(r.status); return r.json(); })
    .then((list) => {
      if (mine !== syncs) return;
      D.orders = new Map(list.map((o) => [o.id, o]));
      const held = buffer;
      buffer = null;
      loaded = true;
      for (const [type, o] of held) apply(type, o);
      showStatus();
      render();
    })
    .catch(() => { if (mine === syncs) setTimeout(sync, 1000); });
}

function connect() {
  // The browser reconnects by itself with Last-Event-ID; only a stream
  // that failed for good is opened again here, with ?since=.
  const since = lastId ? '?since=' + encodeURIComponent(lastId) : '';
  const es = new EventSource('/sse/orders.>' + since);
  es.onopen = () => {
    D.connected = true;
    showStatus();
    // Load once the stream is live: what happens from now on arrives as
    // events, what happened before is in GET /orders.
    if (!loaded && !buffer) sync();
  };
  es.onerror = () => {
    D.connected = false;
    showStatus();
    if (es.readyState === EventSource.CLOSED) setTimeout(connect, 2000);
  };
  es.addEventListener('orders.created', onOrderEvent);
  es.addEventListener('orders.shipped', onOrderEvent);
  // The server's history does not reach back to our last event (it
  // restarted): start over from REST.
  es.addEventListener('reset', (e) => {
    D.resets++;
    lastId = e.lastEventId;
    sync();
  });
}

let renderQueued = false;
function render() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(draw, 100);
}

function draw() {
  renderQueued = false;
  const all = [...D.orders.values()].sort((a, b) => b.id - a.id);
  let items = 0;
  let shipped = 0;
  for (const o of all) {
    items += o.quantity;
    if (o.status === 'shipped') shipped++;
  }
  $('count').textContent = all.length;
  $('items').textContent = items;
  $('shipped').textContent = shipped;
  $('orders').replaceChildren(...all.slice(0, 60).map((o) => {
    const li = el('li', fresh.has(o.id) ? 'fresh' : '');
    li.dataset.id = o.id;
    li.append(el('span', '', '#' + o.id), el('span', '', o.item),
              el('span', '', '\u00d7' + o.quantity),
              el('span', 'badge ' + o.status, o.status));
    return li;
  }));
  fresh.clear();
}

function drawChart() {
  const c = $('chart');
  const g = c.getContext('2d');
  const now = Math.floor(Date.now() / 1000);
  const counts = [];
  for (let s = now - 59; s <= now; s++) counts.push(perSecond.get(s) || 0);
  for (const s of perSecond.keys()) if (s < now - 60) perSecond.delete(s);
  let lastTen = 0;
  for (let i = 49; i < 59; i++) lastTen += counts[i];
  $('rate').textContent = (lastTen / 10).toFixed(1);
  const top = Math.max(5, ...counts);
  const w = c.width / 60;
  g.clearRect(0, 0, c.width, c.height);
  g.strokeStyle = '#e5e7eb';
  g.fillStyle = '#9ca3af';
  g.font = '11px system-ui, sans-serif';
  for (let y = 0; y <= top; y += Math.ceil(top / 4)) {
    const py = c.height - 16 - (c.height - 24) * y / top;
    g.beginPath(); g.moveTo(24, py); g.lineTo(c.width, py); g.stroke();
    g.fillText(String(y), 2, py + 4);
  }
  g.fillText('-60 s', 24, c.height - 2);
  g.fillText('now', c.width - 22, c.height - 2);
  g.fillStyle = '#3b82f6';
  counts.forEach((n, i) => {
    const h = (c.height - 24) * n / top;
    g.fillRect(24 + i * (c.width - 24) / 60 + 1, c.height - 16 - h,
               w - 3, h);
  });
}

// Stock levels: GET /inventory, then each change over a second stream.
function drawStock() {
  const rows = Object.entries(D.stock).map(([item, n]) => {
    const tr = el('tr', n < 30 ? 'low' : '');
    const bar = el('td');
    const b = el('div', 'bar');
    b.style.width = Math.min(100, n / 2) + '%';
    bar.append(b);
    tr.append(el('td', '', item), el('td', 'n', String(n)), bar);
    return tr;
  });
  $('stock').replaceChildren(...rows);
}

function loadStock() {
  return fetch('/inventory').then((r) => r.json()).then((levels) => {
    D.stock = levels;
    drawStock();
    return levels;
  });
}

function followStock() {
  loadStock().then((levels) => {
    const select = $('item');
    select.replaceChildren(...Object.keys(levels).map((i) => el('option', '', i)));
    const es = new EventSource('/sse/inventory.>');
    for (const item of Object.keys(levels)) {
      es.addEventListener('inventory.' + item, (e) => {
        const s = JSON.parse(e.data);
        D.stock[s.item] = s.stock;
        drawStock();
      });
    }
    es.addEventListener('reset', () => { loadStock().catch(() => {}); });
  }).catch(() => setTimeout(followStock, 2000));
}

$('order-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const note = $('order-result');
  const body = { item: $('item').value, quantity: Number($('quantity').value) };
  try {
    const r = await fetch('/orders', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body) });
    const j = await r.json();
    note.textContent = r.status === 201
      ? 'created order #' + j.id + ' (' + r.headers.get('Location') + ')'
      : 'error ' + r.status + ': ' + j.error.message;
  } catch (e) {
    note.textContent = 'error: ' + e.message;
  }
});

function reportText(job) {
  const r = job.result || {};
  if (job.status === 'done') {
    return 'report #' + job.job + ' (worker ' + job.worker + ', ' +
      r.took_ms + ' ms): ' + r.orders + ' orders, ' + r.quantity +
      ' items, ' + r.shipped + ' shipped; top item: ' + (r.top_item || '-');
  }
  if (job.status === 'failed') {
    return 'report #' + job.job + ' failed: ' + r.error;
  }
  return 'report #' + job.job + ': ' +
    (job.status === 'running' ? 'running on worker ' + job.worker : 'pending') +
    '\u2026';
}

// POST /reports answers 202 at once; the result comes by long polling
// /poll/jobs.{id}, from the cursor the 202 gave, until the job is done.
$('run-report').addEventListener('click', async () => {
  const out = $('report-result');
  out.textContent = 'pending\u2026';
  try {
    const r = await fetch('/reports', {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ kind: 'sales' }) });
    if (r.status !== 202) throw new Error('HTTP ' + r.status);
    const ticket = await r.json();
    let job = D.reports[ticket.job] = { job: ticket.job, status: 'queued' };
    out.textContent = reportText(job);
    let since = ticket.since;
    while (job.status !== 'done' && job.status !== 'failed') {
      const p = await fetch('/poll/jobs.' + ticket.job + '?timeout=25&since=' +
                            encodeURIComponent(since));
      if (!p.ok) throw new Error('poll: HTTP ' + p.status);
      const answer = await p.json();
      since = answer.next;
      for (const e of answer.events) job = D.reports[ticket.job] = e.data;
      if (answer.reset) {  // the server restarted: ask it directly
        const g = await fetch('/reports/' + ticket.job);
        if (!g.ok) throw new Error('the server lost the job');
        job = D.reports[ticket.job] = await g.json();
      }
      out.textContent = reportText(job);
    }
  } catch (e) {
    out.textContent = 'report failed: ' + e.message;
  }
});

connect();
followStock();
drawChart();
setInterval(drawChart, 1000);
</script>
</body>
</html>
)html";
