// The Usage tab: totals, bar charts per day and per model, and the latest
// requests, from GET /v1/usage for a range of days (and, for admin keys,
// one key). Every key may read its own usage. console.js calls loadUsage
// when the tab is shown and resetUsage at sign-out; keys.js refills the
// key filter (fillUsageKeys) when the admin key list changes.

import { getJSON, describeError } from './api.js';
import { barChart, destroyChart } from './charts.js';
import { $, h, showError } from './dom.js';
import { fmtInt, fmtUsd, fmtMs, shortId } from './format.js';
import { S } from './state.js';

const usage = { byDay: null, byModel: null };

export function fillUsageKeys() {
  const sel = $('usage-key');
  const keep = sel.value;
  sel.replaceChildren(h('option', { value: '' }, 'All keys'),
    ...S.keys.map((k) => h('option', { value: k.id }, `${k.name || '(no name)'} · ${k.display}`)));
  if ([...sel.options].some((o) => o.value === keep)) sel.value = keep;
}

function utcDay(d) { return d.toISOString().slice(0, 10); }

function usageParams() {
  const p = new URLSearchParams();
  const range = $('usage-range').value;
  const now = new Date();
  if (range === 'today') p.set('from', utcDay(now));
  else if (range !== 'month') p.set('from', utcDay(new Date(now.getTime() - (Number(range) - 1) * 86400000)));
  if (S.scopes.admin && $('usage-key').value) p.set('key_id', $('usage-key').value);
  return p;
}

export async function loadUsage() {
  showError($('usage-error'), '');
  const p = usageParams();
  try {
    const [byDay, byModel] = await Promise.all([
      getJSON(`/v1/usage?${p}&group_by=day&limit=50`),
      getJSON(`/v1/usage?${p}&group_by=model&limit=0`),
    ]);
    usage.byDay = byDay;
    usage.byModel = byModel;
    renderUsage();
  } catch (e) {
    showError($('usage-error'), describeError(e, 'Reading usage'));
  }
}

const METRICS = {
  requests: { label: 'Requests', fmt: fmtInt },
  images: { label: 'Images', fmt: fmtInt },
  total_tokens: { label: 'Tokens', fmt: fmtInt },
  cost_usd: { label: 'Cost (USD)', fmt: fmtUsd },
};

// Days with no records still get a (zero) bar, from the range's start to today.
function fillDays(groups, fromUnix) {
  const byDay = new Map(groups.map((g) => [g.day, g]));
  const start = new Date(Math.min(fromUnix * 1000, ...groups.map((g) => Date.parse(g.day + 'T00:00:00Z')).filter(Number.isFinite)));
  const end = new Date(Math.max(Date.now(), ...groups.map((g) => Date.parse(g.day + 'T00:00:00Z')).filter(Number.isFinite)));
  const out = [];
  for (let d = new Date(Date.UTC(start.getUTCFullYear(), start.getUTCMonth(), start.getUTCDate())); d <= end && out.length < 400; d = new Date(d.getTime() + 86400000)) {
    const k = utcDay(d);
    out.push(byDay.get(k) || { day: k, requests: 0, images: 0, prompt_tokens: 0, completion_tokens: 0, total_tokens: 0, cost_usd: 0 });
  }
  return out.length ? out : groups;
}

function usageTable(table, firstCol, rows) {
  table.replaceChildren(
    h('thead', {}, h('tr', {}, ...[firstCol, 'Requests', 'Images', 'Prompt tokens', 'Completion tokens', 'Cost'].map((c) => h('th', { scope: 'col' }, c)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {},
      h('th', { scope: 'row' }, r.day ?? (r.model || '(none)')),
      h('td', { class: 'num' }, fmtInt(r.requests)), h('td', { class: 'num' }, fmtInt(r.images)),
      h('td', { class: 'num' }, fmtInt(r.prompt_tokens)), h('td', { class: 'num' }, fmtInt(r.completion_tokens)),
      h('td', { class: 'num' }, fmtUsd(r.cost_usd))))));
}

function renderUsage() {
  const { byDay, byModel } = usage;
  if (!byDay || !byModel) return;
  const t = byDay.totals || {};
  $('usage-totals').replaceChildren(...[
    ['Requests', fmtInt(t.requests)], ['Images', fmtInt(t.images)], ['Prompt tokens', fmtInt(t.prompt_tokens)],
    ['Completion tokens', fmtInt(t.completion_tokens)], ['Cost', fmtUsd(t.cost_usd)],
  ].map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', { 'data-testid': `usage-total-${k.toLowerCase().replace(/ /g, '-')}` }, v))));

  const metric = $('usage-metric').value;
  const m = METRICS[metric];
  const days = fillDays(byDay.groups || [], byDay.from);
  const models = byModel.groups || [];
  $('usage-day-title').textContent = `${m.label} per day (UTC)`;
  $('usage-model-title').textContent = `${m.label} per model`;
  barChart($('usage-chart-day'), days.map((g) => g.day.slice(5)), days.map((g) => Number(g[metric]) || 0), { series: m.label, format: m.fmt, xLabel: 'Day' });
  barChart($('usage-chart-model'), models.map((g) => g.model || '(none)'), models.map((g) => Number(g[metric]) || 0), { series: m.label, format: m.fmt, xLabel: 'Model' });
  usageTable($('usage-day-table'), 'Day', (byDay.groups || []));
  usageTable($('usage-model-table'), 'Model', models);

  const rows = $('usage-records');
  rows.replaceChildren();
  const recs = byDay.data || [];
  if (!recs.length) rows.append(h('tr', {}, h('td', { colspan: '9', class: 'muted' }, 'No requests in this period.')));
  for (const r of recs) {
    rows.append(h('tr', { 'data-testid': 'usage-record', dataset: { route: r.route, requestId: r.request_id } },
      h('td', {}, new Date(r.time * 1000).toLocaleString()),
      h('td', { class: 'mono' }, `${r.method} ${r.route}`),
      h('td', {}, r.model || ''),
      h('td', { class: 'num' }, String(r.status)),
      h('td', { class: 'num' }, fmtMs(r.latency_ms)),
      h('td', { class: 'num' }, fmtInt(r.images)),
      h('td', { class: 'num' }, fmtInt((r.prompt_tokens || 0) + (r.completion_tokens || 0))),
      h('td', { class: 'num' }, fmtUsd(r.cost_usd)),
      h('td', { class: 'mono' }, shortId(r.key_id))));
  }
}

$('usage-form').addEventListener('submit', (ev) => { ev.preventDefault(); loadUsage(); });
$('usage-range').addEventListener('change', loadUsage);
$('usage-key').addEventListener('change', loadUsage);
$('usage-metric').addEventListener('change', renderUsage);

// Sign-out: no rows or charts of the last key left behind.
export function resetUsage() {
  $('usage-records').replaceChildren();
  destroyChart($('usage-chart-day'));
  destroyChart($('usage-chart-model'));
}
