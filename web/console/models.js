// Detection models: the lists in the Detect, Live and stream-form selects
// (shared, kept in S.models) and the admin table that loads, reloads and
// unloads them. console.js calls refreshModels when Detect or Live is shown
// and loadAdminModels when Admin is; signin hands fillModelSelects the list
// its probe fetched. Picking a model in Detect moves the sliders to that
// model's defaults (applyModelDefaults, also used by detect.js).

import { request, getJSON, describeError } from './api.js';
import { $, h, showError, stateBadge } from './dom.js';
import { fmtMs } from './format.js';
import { S } from './state.js';

export async function refreshModels() {
  if (!S.scopes.detect) return;
  try {
    const j = await getJSON('/v1/detection/models');
    S.models = j.data || [];
    fillModelSelects();
  } catch { /* keep the last list */ }
}

export function fillModelSelects() {
  for (const id of ['detect-model', 'live-model', 'stream-model']) {
    const sel = $(id);
    const keep = sel.value;
    sel.replaceChildren();
    for (const m of S.models) {
      const ok = m.state === 'available';
      sel.append(h('option', { value: m.name, disabled: !ok }, ok ? m.name : `${m.name} (${m.state})`));
    }
    if (!S.models.length) sel.append(h('option', { value: '' }, 'no models'));
    const avail = S.models.filter((m) => m.state === 'available').map((m) => m.name);
    if (avail.includes(keep)) sel.value = keep;
    else if (avail.length) {
      sel.value = avail[0];
      if (id === 'detect-model') applyModelDefaults();
    }
  }
}

function modelInfo(name) { return S.models.find((m) => m.name === name); }

export function applyModelDefaults() {
  const m = modelInfo($('detect-model').value);
  if (!m) return;
  if (typeof m.default_confidence === 'number' && m.default_confidence > 0) setSlider('detect-confidence', m.default_confidence);
  if (typeof m.default_iou === 'number' && m.default_iou > 0) setSlider('detect-iou', m.default_iou);
}

function setSlider(id, v) {
  const el = $(id);
  el.value = String(Math.round(v * 100) / 100);
  $(`${id}-value`).value = Number(el.value).toFixed(2);
}

// ---------------------------------------------------------------------------
// Admin: load, reload and unload

export async function loadAdminModels() {
  showError($('models-error'), '');
  try {
    const j = await getJSON('/v1/detection/models');
    S.models = j.data || [];
    fillModelSelects();
    renderAdminModels();
  } catch (e) {
    showError($('models-error'), describeError(e, 'Listing models'));
  }
}

// Unloaded models leave the server's list; the page remembers those it
// unloaded so that they can be loaded again with one click.
const unloaded = new Set();

function renderAdminModels() {
  const rows = $('models-rows');
  rows.replaceChildren();
  for (const m of S.models) unloaded.delete(m.name);
  const list = [...S.models, ...[...unloaded].map((name) => ({ name, state: 'unloaded' }))];
  if (!list.length) rows.append(h('tr', {}, h('td', { colspan: '7', class: 'muted' }, 'No models loaded.')));
  for (const m of list) {
    const loaded = m.state === 'available';
    const actions = h('td', {},
      h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'model-load', onclick: (ev) => modelAction(m.name, 'PUT', ev.target) },
        loaded ? 'Reload' : 'Load'),
      loaded ? h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-testid': 'model-unload',
                             'aria-label': `Unload ${m.name}`, onclick: () => {
          const confirm = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-testid': 'model-unload-confirm',
                                        onclick: (ev) => modelAction(m.name, 'DELETE', ev.target) }, `Unload ${m.name}`);
          const cancel = h('button', { type: 'button', class: 'btn btn-small', onclick: renderAdminModels }, 'Cancel');
          actions.replaceChildren(confirm, ' ', cancel);
          confirm.focus();
        } }, 'Unload') : null);
    rows.append(h('tr', { 'data-testid': 'model-row', dataset: { model: m.name, state: m.state } },
      h('td', {}, m.name, m.path ? h('div', { class: 'small muted' }, m.path) : null),
      h('td', {}, stateBadge(m.state), m.reason ? h('div', { class: 'small muted' }, m.reason) : null),
      h('td', {}, [m.engine, m.format, m.family].filter(Boolean).join(' · ')),
      h('td', { class: 'num' }, m.input_width ? `${m.input_width}×${m.input_height}` : '–'),
      h('td', { class: 'num' }, m.classes ? String(m.classes.length) : '–'),
      h('td', { class: 'small' }, m.load_ms != null ? fmtMs(m.load_ms) : '', m.loaded_at ? h('div', { class: 'muted' }, m.loaded_at) : null),
      actions));
  }
}

$('model-load-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const name = $('model-load-name').value.trim();
  if (name) modelAction(name, 'PUT', ev.submitter || ev.target.querySelector('button')).then(() => { $('model-load-name').value = ''; });
});

async function modelAction(name, method, btn) {
  btn.disabled = true;
  showError($('models-error'), '');
  $('models-status').textContent = method === 'PUT' ? `Loading ${name}…` : `Unloading ${name}…`;
  try {
    await request(`/v1/detection/models/${encodeURIComponent(name)}`, { method });
    if (method === 'DELETE') unloaded.add(name);
    $('models-status').textContent = method === 'PUT' ? `${name} loaded.` : `${name} unloaded.`;
  } catch (e) {
    $('models-status').textContent = '';
    showError($('models-error'), describeError(e, method === 'PUT' ? `Loading ${name}` : `Unloading ${name}`));
  }
  btn.disabled = false;
  await loadAdminModels();
}
