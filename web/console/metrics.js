// Admin: live server metrics. While the Admin tab is on show, /metrics
// (Prometheus text) is read every 5 s: counters in tiles, requests per
// second and requests in flight in a rolling chart of the last 120 reads.
// console.js calls startMetrics when the tab is shown, stopMetrics when it
// is left or at sign-out, and resetMetrics at sign-out.

import { request, describeError } from './api.js';
import { timeChart, destroyChart } from './charts.js';
import { $, showError } from './dom.js';
import { fmtInt } from './format.js';
import { S } from './state.js';

const metrics = { timer: null, chart: null, prev: null, xs: [], rps: [], inflight: [] };

function parseProm(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = Number(m[3]);
    if (!Number.isFinite(v)) continue;
    if (!out.has(m[1])) out.set(m[1], []);
    out.get(m[1]).push({ labels: m[2] || '', value: v });
  }
  return out;
}
const sumOf = (map, name) => (map.get(name) || []).reduce((s, x) => s + x.value, 0);
const has = (map, name) => map.has(name);

async function pollMetrics() {
  if (document.hidden) return;
  try {
    const res = await request('/metrics');
    const m = parseProm(await res.text());
    showError($('metrics-error'), '');
    const requests = sumOf(m, 'osprey_http_requests_total');
    const inflight = sumOf(m, 'osprey_requests_in_flight');
    const set = (id, name, fmt = fmtInt) => { $(id).textContent = has(m, name) ? fmt(sumOf(m, name)) : '–'; };
    set('metric-requests', 'osprey_http_requests_total');
    set('metric-inflight', 'osprey_requests_in_flight');
    set('metric-connections', 'osprey_open_connections');
    set('metric-upstream', 'osprey_upstream_requests_total');
    set('metric-upstream-errors', 'osprey_upstream_errors_total');
    set('metric-limited', 'osprey_rate_limited_total');
    set('metric-tokens', 'osprey_tokens_total');
    const now = Date.now() / 1000;
    let rps = null;
    if (metrics.prev && now > metrics.prev.t) rps = Math.max(0, (requests - metrics.prev.requests) / (now - metrics.prev.t));
    metrics.prev = { t: now, requests };
    metrics.xs.push(now);
    metrics.rps.push(rps === null ? null : Math.round(rps * 100) / 100);
    metrics.inflight.push(inflight);
    while (metrics.xs.length > 120) { metrics.xs.shift(); metrics.rps.shift(); metrics.inflight.shift(); }
    if (!metrics.chart) metrics.chart = timeChart($('metrics-chart'), ['requests/s', 'in flight'], { format: (v) => String(Math.round(v * 100) / 100) });
    metrics.chart?.setData([metrics.xs, metrics.rps, metrics.inflight]);
    $('metrics-updated').textContent = `updated ${new Date().toLocaleTimeString()}`;
  } catch (e) {
    showError($('metrics-error'), describeError(e, 'Reading /metrics'));
  }
}

export function startMetrics() {
  if (!S.scopes.admin || metrics.timer) return;
  pollMetrics();
  metrics.timer = setInterval(pollMetrics, 5000);
}

export function stopMetrics() {
  clearInterval(metrics.timer);
  metrics.timer = null;
}

// Sign-out: the chart goes; the next admin sign-in draws a new one.
export function resetMetrics() {
  destroyChart($('metrics-chart'));
  metrics.chart = null;
}
