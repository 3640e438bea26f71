// The Detect tab: one image (dropped, pasted or chosen) sent to
// POST /v1/detect, drawn with its boxes, listed in a table, with the
// server's timings. Raising the confidence slider filters the last answer
// in the page; lowering it, or changing the IoU or the model, asks the
// server again (debounced). "Download" asks the server for its own
// annotated JPEG. Everything is wired when the module loads; console.js
// only calls resetDetect at sign-out.

import { request, describeError } from './api.js';
import { drawDetections, colorFor } from './draw.js';
import { $, h, showError, placeholder } from './dom.js';
import { fmtMs } from './format.js';
import { applyModelDefaults } from './models.js';
import { S } from './state.js';

const det = {
  file: null, img: null, imgUrl: null, result: null,
  reqConf: null, reqIou: null, timer: null, abort: null, roundTrip: null,
};

// Back to no image: cancels a pending or running request first.
export function resetDetect() {
  clearTimeout(det.timer);
  if (det.abort) det.abort.abort();
  if (det.imgUrl) URL.revokeObjectURL(det.imgUrl);
  Object.assign(det, { file: null, img: null, imgUrl: null, result: null, reqConf: null, reqIou: null, roundTrip: null });
  const c = $('detect-canvas');
  c.width = 640; c.height = 360;
  placeholder(c, 'No image yet: drop, paste or choose one');
  c.setAttribute('aria-label', 'No image yet');
  delete c.dataset.boxes;
  delete c.dataset.drawn;
  $('detect-rows').replaceChildren();
  $('detect-caption').textContent = 'Detections';
  $('detect-file-name').textContent = '';
  $('detect-run').disabled = true;
  $('detect-download').disabled = true;
  $('detect-status').textContent = '';
  showError($('detect-error'), '');
  $('detect-timings').replaceChildren(h('dt', {}, '—'), h('dd', {}, 'no request yet'));
}

placeholder($('detect-canvas'), 'No image yet: drop, paste or choose one');

async function setFile(file) {
  if (!file) return;
  showError($('detect-error'), '');
  if (file.type && !file.type.startsWith('image/')) {
    showError($('detect-error'), `“${file.name}” is not an image (${file.type}).`);
    return;
  }
  if (det.imgUrl) URL.revokeObjectURL(det.imgUrl);
  det.file = file;
  det.result = null;
  det.imgUrl = URL.createObjectURL(file);
  const img = new Image();
  img.src = det.imgUrl;
  try {
    await img.decode();
  } catch {
    showError($('detect-error'), `This browser cannot show “${file.name}”; the server may still read it.`);
  }
  det.img = img.naturalWidth ? img : null;
  $('detect-file-name').textContent = `${file.name || 'pasted image'} (${Math.round(file.size / 1024)} KiB)`;
  $('detect-run').disabled = false;
  renderDetect();
  runDetect();
}

function detectForm(confidence, iou) {
  const fd = new FormData();
  fd.append('image', det.file, det.file.name || 'image');
  const model = $('detect-model').value;
  if (model) fd.append('model', model);
  fd.append('confidence', confidence);
  fd.append('iou', iou);
  return fd;
}

async function runDetect() {
  clearTimeout(det.timer);
  if (!det.file) return;
  if (det.abort) det.abort.abort();
  const ctrl = new AbortController();
  det.abort = ctrl;
  const conf = $('detect-confidence').value;
  const iou = $('detect-iou').value;
  $('detect-status').textContent = 'Detecting…';
  showError($('detect-error'), '');
  const t0 = performance.now();
  try {
    const res = await request('/v1/detect', { method: 'POST', body: detectForm(conf, iou), signal: ctrl.signal });
    const json = await res.json();
    if (det.abort !== ctrl) return;
    det.result = json;
    det.reqConf = Number(conf);
    det.reqIou = Number(iou);
    det.roundTrip = performance.now() - t0;
    $('detect-download').disabled = false;
    renderDetect();
  } catch (e) {
    if (e.name === 'AbortError') return;
    $('detect-status').textContent = '';
    showError($('detect-error'), describeError(e, 'Detection'));
  } finally {
    if (det.abort === ctrl) det.abort = null;
  }
}

function renderDetect() {
  const canvas = $('detect-canvas');
  const ctx = canvas.getContext('2d');
  const r = det.result;
  const w = det.img?.naturalWidth || r?.image?.width || 640;
  const hgt = det.img?.naturalHeight || r?.image?.height || 360;
  if (canvas.width !== w) canvas.width = w;
  if (canvas.height !== hgt) canvas.height = hgt;
  ctx.fillStyle = '#0c0f14';
  ctx.fillRect(0, 0, w, hgt);
  if (det.img) ctx.drawImage(det.img, 0, 0, w, hgt);
  const rows = $('detect-rows');
  rows.replaceChildren();
  if (!r) {
    canvas.setAttribute('aria-label', det.file ? `${det.file.name}: waiting for detections` : 'No image yet');
    delete canvas.dataset.boxes;
    canvas.dataset.drawn = '0';
    return;
  }
  const minConf = Number($('detect-confidence').value);
  const shown = r.detections.filter((d) => d.confidence >= minConf).sort((a, b) => b.confidence - a.confidence);
  const sx = r.image?.width ? w / r.image.width : 1;
  const sy = r.image?.height ? hgt / r.image.height : 1;
  const drawn = drawDetections(ctx, shown, { sx, sy });
  canvas.dataset.boxes = JSON.stringify(drawn);
  canvas.dataset.drawn = String(drawn.length);
  canvas.dataset.requestConfidence = String(det.reqConf);
  const summary = shown.map((d) => `${d.label} ${(d.confidence * 100).toFixed(0)}%`).join(', ');
  canvas.setAttribute('aria-label', `${det.file?.name || 'image'} with ${shown.length} detection${shown.length === 1 ? '' : 's'}${summary ? ': ' + summary : ''}`);

  shown.forEach((d, i) => {
    const b = d.box;
    rows.append(h('tr', { 'data-testid': 'detection-row', dataset: { label: d.label, confidence: String(d.confidence) } },
      h('td', {}, h('span', { class: 'swatch', style: `background:${colorFor(d.class_id)}`, 'aria-hidden': 'true' }), String(i + 1)),
      h('td', { 'data-testid': 'detection-label' }, d.label),
      h('td', { class: 'num' }, `${(d.confidence * 100).toFixed(1)}%`),
      h('td', { class: 'mono' }, `${Math.round(b.x1)}, ${Math.round(b.y1)}, ${Math.round(b.x2)}, ${Math.round(b.y2)}`)));
  });
  if (!shown.length) rows.append(h('tr', {}, h('td', { colspan: '4', class: 'muted' }, 'Nothing found at this confidence.')));
  $('detect-caption').textContent =
    `Detections: ${shown.length} of ${r.detections.length} at confidence ≥ ${minConf.toFixed(2)} (requested at ${det.reqConf.toFixed(2)})`;
  $('detect-status').textContent =
    `${shown.length} object${shown.length === 1 ? '' : 's'} · model ${r.model} · ${r.image.width}×${r.image.height}`;

  const t = r.timings || {};
  const server = ['decode_ms', 'queue_ms', 'preprocess_ms', 'inference_ms', 'postprocess_ms'].reduce((s, k) => s + (t[k] || 0), 0);
  const items = [['Decode', t.decode_ms], ['Queue', t.queue_ms], ['Preprocess', t.preprocess_ms], ['Inference', t.inference_ms],
    ['Postprocess', t.postprocess_ms], ['Server total', server], ['Round trip', det.roundTrip]];
  $('detect-timings').replaceChildren(...items.flatMap(([k, v]) => [h('dt', {}, k), h('dd', { 'data-testid': `timing-${k.toLowerCase().replace(/ /g, '-')}` }, fmtMs(v))]));
}

function scheduleDetect(ms = 300) {
  clearTimeout(det.timer);
  if (det.file) det.timer = setTimeout(runDetect, ms);
}

$('detect-file').addEventListener('change', (ev) => setFile(ev.target.files[0]));
$('detect-run').addEventListener('click', () => runDetect());
$('detect-model').addEventListener('change', () => {
  applyModelDefaults();
  scheduleDetect(0);
});
$('detect-confidence').addEventListener('input', (ev) => {
  const v = Number(ev.target.value);
  $('detect-confidence-value').value = v.toFixed(2);
  if (!det.result) return;
  if (v >= det.reqConf) {
    // The last answer holds every box at or above this: filter here.
    clearTimeout(det.timer);
    renderDetect();
  } else {
    renderDetect();
    scheduleDetect();
  }
});
$('detect-iou').addEventListener('input', (ev) => {
  $('detect-iou-value').value = Number(ev.target.value).toFixed(2);
  if (det.result) scheduleDetect();
});

const zone = $('dropzone');
zone.addEventListener('dragover', (ev) => { ev.preventDefault(); zone.classList.add('dragover'); });
zone.addEventListener('dragleave', () => zone.classList.remove('dragover'));
zone.addEventListener('drop', (ev) => {
  ev.preventDefault();
  zone.classList.remove('dragover');
  const f = ev.dataTransfer?.files?.[0];
  if (f) setFile(f);
});
zone.addEventListener('click', (ev) => {
  if (ev.target === zone) $('detect-file').click();
});
document.addEventListener('paste', (ev) => {
  if (S.activeTab !== 'detect' || $('app').hidden) return;
  const f = [...(ev.clipboardData?.files || [])].find((x) => x.type.startsWith('image/'));
  if (f) setFile(f);
});

$('detect-download').addEventListener('click', async () => {
  if (!det.file) return;
  const btn = $('detect-download');
  btn.disabled = true;
  try {
    const res = await request('/v1/detect?format=jpeg', {
      method: 'POST', body: detectForm($('detect-confidence').value, $('detect-iou').value),
    });
    const blob = await res.blob();
    const url = URL.createObjectURL(blob);
    const base = (det.file.name || 'image').replace(/\.[^.]+$/, '');
    const a = h('a', { href: url, download: `${base}-annotated.jpg` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 30000);
  } catch (e) {
    showError($('detect-error'), describeError(e, 'The annotated image'));
  } finally {
    btn.disabled = false;
  }
});
