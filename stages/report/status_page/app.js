// edgepipe status page: polls /api/status every second and renders it. Every name and number
// goes into the DOM with textContent (or an SVG text node's textContent): strings from the
// outside world (source names, error messages, dead-letter bytes) are never parsed as markup.
// Chart history is kept here, in the page, for the last five minutes.
'use strict';

const POLL_MS = 1000;
const HISTORY_POINTS = 300;
const SVG_NS = 'http://www.w3.org/2000/svg';
const history = { t: [], records: [], sinks: {}, p50: [], p99: [] };
const SERIES_COLORS = ['#2f6fdf', '#1f9d55', '#d68a00', '#9b59b6', '#d64545', '#16a2b8'];

function $(id) { return document.getElementById(id); }
function setText(el, text) { if (el.textContent !== text) el.textContent = text; }
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function int(n) { return n === null || n === undefined ? '-' : Math.round(n).toLocaleString('en-US'); }
function rate(n) { return n === null || n === undefined ? '-' : (n >= 100 ? int(n) : n.toFixed(1)); }
function msText(v) { return v === null || v === undefined ? '-' : (v >= 100 ? int(v) : v.toFixed(v >= 10 ? 1 : 2)) + ' ms'; }
function bytes(n) {
  if (n === null || n === undefined) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i === 0 ? String(n) : n.toFixed(1)) + ' ' + units[i];
}
function duration(s) {
  if (s === null || s === undefined) return '-';
  if (s < 60) return s.toFixed(s < 10 ? 1 : 0) + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + Math.floor(s % 60) + ' s';
  return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
}
function clock(ms) { return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) + 'Z' : '-'; }
function health(state) {
  if (state === 'ok' || state === 'polling' || state === 'replaying' || state === 'running' ||
      state === 'streaming') return 'ok';
  if (state === 'failing' || state === 'stopped' || state === 'failed') return 'bad';
  if (state === 'finished' || state === 'idle' || state === 'starting') return 'idle';
  return 'warn';
}
function occupancyHealth(e) {
  if (!e.capacity) return e.records_per_s > 0 ? 'ok' : 'idle';
  const r = e.occupancy / e.capacity;
  return r >= 0.9 ? 'bad' : r >= 0.5 ? 'warn' : (e.records_per_s > 0 ? 'ok' : 'idle');
}
function problemText(p) {
  const e = p.last_error || p.last_warning;
  if (!e) return '';
  return (p.problem_is_recent ? '' : 'earlier: ') + e.message + ' (' + clock(e.unix_ms) + ')';
}
function problemClass(p) { return p.problem_is_recent ? 'err' : 'err old'; }

// A table body whose rows are keyed by name and whose cells are updated in place.
function syncRows(tbody, items, keyAttr, build) {
  const keep = new Set();
  items.forEach((item, i) => {
    const key = item.name;
    keep.add(key);
    let row = null;
    for (const r of tbody.rows) if (r.dataset[keyAttr] === key) row = r;
    if (!row) { row = document.createElement('tr'); row.dataset[keyAttr] = key; tbody.appendChild(row); }
    build(row, item, i);
  });
  for (const r of Array.from(tbody.rows)) if (!keep.has(r.dataset[keyAttr])) r.remove();
}
function cell(row, field, text, cls) {
  let td = row.querySelector('td[data-field="' + field + '"]');
  if (!td) { td = el('td'); td.dataset.field = field; row.appendChild(td); }
  if (cls !== undefined && td.className !== cls) td.className = cls;
  setText(td, text);
  return td;
}

function renderHeader(s) {
  const state = $('state');
  setText(state, s.state);
  state.className = 'badge ' + health(s.state);
  setText($('mode'), s.mode);
  setText($('uptime'), duration(s.uptime_s));
  setText($('version'), s.version);
  setText($('updated'), clock(s.now_unix_ms));
  setText($('t-payloads-rate'), rate(s.totals.payloads_per_s));
  setText($('t-records-rate'), rate(s.totals.records_per_s));
  setText($('t-records'), int(s.totals.records));
  setText($('t-rejected'), int(s.totals.rejected));
  setText($('t-dead'), int(s.totals.dead_letters));
  setText($('t-p99'), msText(s.latency_ms.last_10s.count ? s.latency_ms.last_10s.p99 : null));
}

function renderSources(s) {
  const r = s.replay;
  $('replay').hidden = !r;
  if (r) {
    setText($('replay-trace'), r.trace);
    setText($('replay-speed'), typeof r.speed === 'number' ? r.speed + 'x' : r.speed);
    setText($('replay-state'), r.state);
    $('replay-progress').value = r.progress;
    setText($('replay-percent'), (r.progress * 100).toFixed(1) + ' %');
    setText($('replay-position'), clock(r.position_unix_ms));
  }
  syncRows($('sources').tBodies[0], s.sources, 'source', (row, src) => {
    const h = src.http;
    cell(row, 'name', src.name);
    cell(row, 'state', src.state.replace('_', ' '), 'state ' + health(src.state));
    cell(row, 'last_status', h ? (h.last_status ? String(h.last_status) : '-') : '-', 'num');
    cell(row, 'last_latency', h && h.polls ? msText(h.last_latency_ms) : '-', 'num');
    const c = src.postgres_cdc;  // a CDC source: its WAL lag instead of a next poll
    cell(row, 'next_poll', c ? 'lag ' + bytes(c.lag_bytes) + ' · slot ' + c.slot
      : h && h.next_poll_in_s !== null ? 'in ' + duration(h.next_poll_in_s) : '-');
    cell(row, 'payloads', int(src.payloads), 'num');
    cell(row, 'records', int(src.records), 'num');
    cell(row, 'rejected', int(src.rejected), 'num');
    cell(row, 'records_per_s', rate(src.records_per_s), 'num');
    cell(row, 'errors', int(src.errors), 'num');
    cell(row, 'last_error', problemText(src), problemClass(src));
  });
}

function renderSinks(s) {
  syncRows($('sinks').tBodies[0], s.sinks, 'sink', (row, k) => {
    cell(row, 'name', k.name);
    cell(row, 'type', k.type);
    cell(row, 'state', k.state + (k.retrying ? ' (retrying)' : ''), 'state ' + health(k.state));
    cell(row, 'delivered', int(k.delivered), 'num');
    cell(row, 'delivered_per_s', rate(k.delivered_per_s), 'num');
    cell(row, 'failed', int(k.failed), 'num');
    cell(row, 'retried', int(k.retried), 'num');
    cell(row, 'in_flight', int(k.in_flight), 'num');
    cell(row, 'backlog', int(k.backlog.records), 'num');
    cell(row, 'backlog_bytes', bytes(k.backlog.bytes), 'num');
    const age = k.backlog.oldest_age_s;
    cell(row, 'oldest_age', age === null ? '-' : (k.backlog.records ? (k.backlog.age_is_lower_bound ? '≥ ' : '') + duration(age) : '-'), 'num');
    cell(row, 'last_error', problemText(k), problemClass(k));
  });
}

function renderSpool(s) {
  const sp = s.spool;
  $('spool').hidden = !sp;
  $('spool-none').hidden = !!sp;
  if (!sp) return;
  const fill = $('spool-used');
  fill.style.width = Math.min(100, sp.used_ratio * 100).toFixed(1) + '%';
  fill.className = 'fill ' + (sp.used_ratio >= 0.9 ? 'bad' : sp.used_ratio >= 0.6 ? 'warn' : '');
  setText($('spool-bytes'), bytes(sp.bytes) + ' (' + (sp.used_ratio * 100).toFixed(1) + ' %)');
  setText($('spool-max'), bytes(sp.max_bytes));
  setText($('spool-segments'), int(sp.segments));
  setText($('spool-rate'), rate(sp.appended_per_s));
  setText($('spool-fsync'), sp.fsync_ms.count ? msText(sp.fsync_ms.p50) + ' / ' + msText(sp.fsync_ms.p99) : '-');
  setText($('spool-policy'), sp.on_full + ', fsync ' + sp.fsync);
  setText($('spool-dropped'), int(sp.dropped_records));
  setText($('spool-blocked'), sp.blocked ? 'yes: waiting for the sinks' : 'no');
}

function renderDeadLetters(s) {
  setText($('dead-total'), int(s.dead_letters.total));
  const tbody = $('dead').tBodies[0];
  const items = s.dead_letters.last.map((d) => Object.assign({ name: String(d.number) }, d));
  syncRows(tbody, items, 'number', (row, d) => {
    cell(row, 'number', int(d.number), 'num');
    cell(row, 'received_at', d.received_at);
    cell(row, 'source', d.source);
    cell(row, 'reason', d.reason);
    cell(row, 'http_status', d.http_status ? String(d.http_status) : '-', 'num');
    cell(row, 'size', bytes(d.size) + (d.truncated ? ' (cut)' : ''), 'num');
    let td = row.querySelector('td[data-field="preview"]');
    if (!td) { td = el('td'); td.dataset.field = 'preview'; td.appendChild(el('pre', 'payload')); row.appendChild(td); }
    setText(td.firstChild, d.preview);
  });
  // Newest first.
  const rows = Array.from(tbody.rows).sort((a, b) => Number(b.dataset.number) - Number(a.dataset.number));
  rows.forEach((r) => tbody.appendChild(r));
}

// ---- pipeline diagram (SVG, rebuilt when the shape changes, updated in place otherwise)
function svg(tag, attrs, text) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text !== undefined) e.textContent = text;
  return e;
}
let diagramShape = '';
function renderDiagram(s) {
  const sources = s.sources.map((x) => x.name);
  const sinks = s.sinks.map((x) => x.name);
  const spooled = !!s.spool;
  const shape = JSON.stringify([sources, sinks, spooled]);
  const root = $('diagram');
  const W = 200, H = 54, GAP = 90, ROW = 70;
  const rows = Math.max(sources.length, sinks.length, 1);
  const cols = spooled ? 4 : 3;
  const height = rows * ROW + 10;
  const colX = (c) => 10 + c * (W + GAP);
  const rowY = (i, n) => 5 + (height - 10 - n * ROW) / 2 + i * ROW + (ROW - H) / 2;
  if (shape !== diagramShape) {
    diagramShape = shape;
    root.replaceChildren();
    const g = svg('svg', { width: colX(cols - 1) + W + 10, height: height, role: 'img', 'aria-label': 'pipeline diagram' });
    const node = (id, x, y, title) => {
      const n = svg('g', { class: 'node idle', 'data-node': id, transform: 'translate(' + x + ',' + y + ')' });
      n.appendChild(svg('rect', { width: W, height: H }));
      n.appendChild(svg('text', { x: 10, y: 20 }, title));
      n.appendChild(svg('text', { x: 10, y: 40, class: 'sub' }, ''));
      g.appendChild(n);
    };
    // Labels sit at the end of the edge that has one node per row (sources, sinks), so the
    // edges that meet at the transform do not stack their labels.
    const edge = (id, x1, y1, x2, y2, at) => {
      const e = svg('g', { class: 'edge', 'data-edge': id });
      e.appendChild(svg('line', { x1: x1, y1: y1, x2: x2, y2: y2, class: 'idle' }));
      const lx = at === 'start' ? x1 + 4 : at === 'end' ? x2 - 84 : (x1 + x2) / 2 - 40;
      const ly = at === 'start' ? y1 : at === 'end' ? y2 : (y1 + y2) / 2;
      e.appendChild(svg('text', { x: lx, y: ly - 6 }, ''));
      e.appendChild(svg('text', { x: lx, y: ly + 14 }, ''));
      g.appendChild(e);
    };
    const ty = rowY(0, 1) + H / 2;
    sources.forEach((name, i) => {
      const y = rowY(i, sources.length);
      edge('src:' + name, colX(0) + W, y + H / 2, colX(1), ty, sources.length > 1 ? 'start' : 'mid');
    });
    let last = 1;
    if (spooled) { edge('transform->spool', colX(1) + W, ty, colX(2), ty); last = 2; }
    sinks.forEach((name, i) => {
      const y = rowY(i, sinks.length);
      edge('sink:' + name, colX(last) + W, ty, colX(last + 1), y + H / 2, sinks.length > 1 ? 'end' : 'mid');
    });
    sources.forEach((name, i) => node('src:' + name, colX(0), rowY(i, sources.length), 'source ' + name));
    node('transform', colX(1), rowY(0, 1), 'transform');
    if (spooled) node('spool', colX(2), rowY(0, 1), 'spool');
    sinks.forEach((name, i) => node('sink:' + name, colX(last + 1), rowY(i, sinks.length), 'sink ' + name));
    root.appendChild(g);
  }
  const setNode = (id, cls, sub) => {
    const n = root.querySelector('g[data-node="' + CSS.escape(id) + '"]');
    if (!n) return;
    n.setAttribute('class', 'node ' + cls);
    setText(n.querySelectorAll('text')[1], sub);
  };
  const setEdge = (id, cls, top, bottom) => {
    const e = root.querySelector('g[data-edge="' + CSS.escape(id) + '"]');
    if (!e) return;
    e.querySelector('line').setAttribute('class', cls);
    const t = e.querySelectorAll('text');
    setText(t[0], top);
    setText(t[1], bottom);
  };
  const edges = {};
  for (const e of s.edges) edges[e.from + '->' + e.to] = e;
  const ringText = (e) => e && e.capacity ? 'ring ' + e.occupancy + '/' + e.capacity : '';
  for (const src of s.sources) {
    setNode('src:' + src.name, health(src.state), src.state.replace('_', ' ') + ' · ' + rate(src.payloads_per_s) + ' payloads/s');
    const e = edges[(src.kind === 'http' ? 'http' : 'replay') + '->transform'];
    setEdge('src:' + src.name, src.payloads_per_s > 0 ? (e ? occupancyHealth(e) : 'ok') : 'idle',
      rate(src.records_per_s) + ' rec/s', ringText(e));
  }
  setNode('transform', s.totals.rejected > 0 && s.transform.records_per_s === 0 ? 'warn' : (s.transform.records_per_s > 0 ? 'ok' : 'idle'),
    rate(s.transform.records_per_s) + ' rec/s · ' + int(s.transform.rejected) + ' rejected');
  if (s.spool) {
    const e = edges['transform->spool'];
    setEdge('transform->spool', occupancyHealth(e), rate(e.records_per_s) + ' rec/s', ringText(e));
    setNode('spool', s.spool.blocked || s.spool.used_ratio >= 0.9 ? 'bad' : s.spool.used_ratio >= 0.6 ? 'warn' : 'ok',
      bytes(s.spool.bytes) + ' of ' + bytes(s.spool.max_bytes));
  }
  for (const k of s.sinks) {
    const e = edges[(s.spool ? 'spool' : 'transform') + '->sink:' + k.name];
    const cls = k.state === 'failing' ? 'bad' : k.state === 'stalled' ? 'warn' : (e ? occupancyHealth(e) : 'ok');
    setEdge('sink:' + k.name, cls, rate(k.delivered_per_s) + ' rec/s',
      s.spool ? 'backlog ' + int(k.backlog.records) : ringText(e));
    setNode('sink:' + k.name, health(k.state), k.state + ' · ' + int(k.delivered) + ' delivered');
  }
}

// ---- charts (canvas; the numbers are also in the legends, as DOM text)
function drawChart(canvas, series, unit) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || canvas.width, h = canvas.clientHeight || canvas.height;
  if (canvas.width !== Math.round(w * dpr)) { canvas.width = Math.round(w * dpr); canvas.height = Math.round(h * dpr); }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, w, h);
  let max = 0;
  for (const s of series) for (const v of s.values) if (v !== null && v > max) max = v;
  max = max > 0 ? max * 1.15 : 1;
  const left = 48, bottom = h - 16, top = 8, right = w - 6;
  const styles = getComputedStyle(document.body);
  ctx.strokeStyle = styles.getPropertyValue('--line') || '#ccc';
  ctx.fillStyle = styles.getPropertyValue('--muted') || '#666';
  ctx.font = '11px system-ui, sans-serif';
  ctx.lineWidth = 1;
  for (let i = 0; i <= 3; i++) {
    const y = bottom - (bottom - top) * i / 3;
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(right, y); ctx.stroke();
    const v = max * i / 3;
    ctx.fillText(v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toFixed(1), 2, y + 4);
  }
  ctx.fillText('-5 min', left, h - 3);
  ctx.fillText('now' + (unit ? ' (' + unit + ')' : ''), right - 60, h - 3);
  const n = HISTORY_POINTS;
  series.forEach((s) => {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    let started = false;
    const off = n - s.values.length;
    s.values.forEach((v, i) => {
      if (v === null) { started = false; return; }
      const x = left + (right - left) * (off + i) / (n - 1);
      const y = bottom - (bottom - top) * v / max;
      if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y);
    });
    ctx.stroke();
  });
}
function legend(root, series, fmt) {
  const keep = new Set(series.map((s) => s.name));
  series.forEach((s) => {
    let item = null;
    for (const c of root.children) if (c.dataset.series === s.name) item = c;
    if (!item) {
      item = el('span');
      item.dataset.series = s.name;
      const sw = el('span', 'swatch');
      sw.style.background = s.color;
      item.appendChild(sw);
      item.appendChild(el('span', null, s.name + ' '));
      item.appendChild(el('b'));
      root.appendChild(item);
    }
    const last = s.values.length ? s.values[s.values.length - 1] : null;
    setText(item.querySelector('b'), fmt(last));
  });
  for (const c of Array.from(root.children)) if (!keep.has(c.dataset.series)) c.remove();
}
function push(arr, v) { arr.push(v); if (arr.length > HISTORY_POINTS) arr.shift(); }
function renderCharts(s) {
  push(history.t, s.now_unix_ms);
  push(history.records, s.totals.records_per_s);
  for (const k of s.sinks) {
    if (!history.sinks[k.name]) history.sinks[k.name] = new Array(history.t.length - 1).fill(null);
  }
  for (const name in history.sinks) {
    const k = s.sinks.find((x) => x.name === name);
    push(history.sinks[name], k ? k.delivered_per_s : null);
  }
  const l = s.latency_ms.last_10s;
  push(history.p50, l.count ? l.p50 : null);
  push(history.p99, l.count ? l.p99 : null);
  const tput = [{ name: 'transform', color: SERIES_COLORS[0], values: history.records }];
  Object.keys(history.sinks).forEach((name, i) => tput.push({
    name: 'sink ' + name, color: SERIES_COLORS[(i + 1) % SERIES_COLORS.length], values: history.sinks[name] }));
  drawChart($('chart-throughput'), tput, 'rec/s');
  legend($('legend-throughput'), tput, rate);
  const lat = [{ name: 'p50', color: SERIES_COLORS[1], values: history.p50 },
    { name: 'p99', color: SERIES_COLORS[4], values: history.p99 }];
  drawChart($('chart-latency'), lat, 'ms');
  legend($('legend-latency'), lat, msText);
}

function render(s) {
  renderHeader(s);
  renderDiagram(s);
  renderSources(s);
  renderSinks(s);
  renderSpool(s);
  renderDeadLetters(s);
  renderCharts(s);
  document.body.dataset.renderedAt = String(s.now_unix_ms);
}

async function poll() {
  const started = Date.now();
  try {
    const r = await fetch('/api/status', { cache: 'no-store', credentials: 'same-origin' });
    if (!r.ok) throw new Error('HTTP ' + r.status);
    const s = await r.json();
    $('conn').hidden = true;
    render(s);
  } catch (e) {
    const c = $('conn');
    c.hidden = false;
    setText(c, 'cannot reach the daemon (' + String(e.message || e) + '); retrying');
    const st = $('state');
    setText(st, 'unreachable');
    st.className = 'badge bad';
  }
  setTimeout(poll, Math.max(0, POLL_MS - (Date.now() - started)));
}

poll();
