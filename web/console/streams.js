// The Live tab's server-side streams: the list (GET /v1/streams, polled
// while the tab is on show), a form that starts one (POST /v1/streams),
// delete (admin keys only), and a viewer that shows one stream's annotated
// MJPEG frames next to its detections from the SSE events. console.js
// starts and stops the polling as the Live tab comes and goes, and closes
// the viewer at sign-out.

import { request, getJSON, sendJSON, describeError, sseEvents, multipartParts } from './api.js';
import { colorFor } from './draw.js';
import { $, h, showError, stateBadge } from './dom.js';
import { fmtMs, shortId } from './format.js';
import { S } from './state.js';

let timer = null;

// The list every 5 s while the Live tab is on show (not while the page is
// hidden): streams change state on their own.
export function startStreamPolling() {
  loadStreams();
  timer = setInterval(() => { if (!document.hidden) loadStreams(); }, 5000);
}

export function stopStreamPolling() {
  clearInterval(timer);
  timer = null;
}

async function loadStreams() {
  if (!S.scopes.detect) return;
  showError($('stream-error'), '');
  try {
    const j = await getJSON('/v1/streams');
    renderStreams(j.data || []);
  } catch (e) {
    showError($('stream-error'), describeError(e, 'Listing streams'));
  }
}

function renderStreams(list) {
  const rows = $('streams-rows');
  rows.replaceChildren();
  if (!list.length) rows.append(h('tr', {}, h('td', { colspan: '7', class: 'muted' }, 'No streams.')));
  for (const s of list) {
    const actions = h('td', {},
      h('button', { type: 'button', class: 'btn btn-small', onclick: () => viewStream(s) }, 'View'),
      S.scopes.admin ? h('button', { type: 'button', class: 'btn btn-small btn-danger', onclick: () => deleteStream(s.id),
                                     'aria-label': `Delete stream ${s.id}` }, 'Delete') : null);
    rows.append(h('tr', { 'data-testid': 'stream-row', dataset: { streamId: s.id } },
      h('td', { class: 'mono' }, shortId(s.id)),
      h('td', {}, s.source || ''),
      h('td', {}, s.model || ''),
      h('td', {}, stateBadge(s.state), s.last_error?.message ? h('div', { class: 'small muted' }, s.last_error.message) : null),
      h('td', { class: 'num' }, `${(s.fps?.in ?? 0).toFixed(1)} / ${(s.fps?.processed ?? 0).toFixed(1)}`),
      h('td', { class: 'num' }, s.latency_ms?.p50 != null ? fmtMs(s.latency_ms.p50) : '–'),
      actions));
  }
}

async function deleteStream(id) {
  try {
    await request(`/v1/streams/${encodeURIComponent(id)}`, { method: 'DELETE' });
    if (viewer.id === id) closeViewer();
  } catch (e) {
    showError($('stream-error'), describeError(e, 'Deleting the stream'));
  }
  loadStreams();
}

$('streams-refresh').addEventListener('click', loadStreams);
$('stream-create-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  showError($('stream-error'), '');
  const body = { source: $('stream-source').value.trim() };
  if ($('stream-model').value) body.model = $('stream-model').value;
  const fps = Number($('stream-fps').value);
  if (fps > 0) body.fps = fps;
  if ($('stream-confidence').value !== '') body.confidence = Number($('stream-confidence').value);
  if ($('stream-loop').checked) body.loop = true;
  const btn = ev.submitter || ev.target.querySelector('[type=submit]');
  btn.disabled = true;
  try {
    const s = await sendJSON('POST', '/v1/streams', body);
    await loadStreams();
    viewStream(s);
  } catch (e) {
    showError($('stream-error'), describeError(e, 'Starting the stream'));
  } finally {
    btn.disabled = false;
  }
});

const viewer = { id: null, ctrl: null, url: null };

export function closeViewer() {
  if (viewer.ctrl) viewer.ctrl.abort();
  if (viewer.url) URL.revokeObjectURL(viewer.url);
  Object.assign(viewer, { id: null, ctrl: null, url: null });
  $('stream-viewer').hidden = true;
  $('stream-img').removeAttribute('src');
  $('stream-objects').replaceChildren();
}

function viewStream(s) {
  closeViewer();
  const ctrl = new AbortController();
  Object.assign(viewer, { id: s.id, ctrl });
  $('stream-viewer').hidden = false;
  $('stream-viewer-title').textContent = `Stream ${shortId(s.id)}: ${s.source || ''}`;
  $('stream-info').textContent = 'Connecting…';
  const signal = ctrl.signal;
  const path = `/v1/streams/${encodeURIComponent(s.id)}`;
  (async () => {  // the annotated frames
    try {
      const res = await request(`${path}/mjpeg`, { signal });
      for await (const part of multipartParts(res)) {
        if (signal.aborted) break;
        const url = URL.createObjectURL(new Blob([part], { type: 'image/jpeg' }));
        const old = viewer.url;
        viewer.url = url;
        $('stream-img').src = url;
        if (old) URL.revokeObjectURL(old);
      }
    } catch (e) {
      if (!signal.aborted) $('stream-info').textContent = describeError(e, 'The video');
    }
  })();
  (async () => {  // the detections
    try {
      const res = await request(`${path}/events`, { signal });
      for await (const ev of sseEvents(res)) {
        if (signal.aborted) break;
        let j;
        try { j = JSON.parse(ev.data); } catch { continue; }
        if (ev.event === 'stream') { $('stream-info').textContent = `State: ${j.state}`; continue; }
        if (ev.event === 'end') { $('stream-info').textContent = `The stream ended (${j.state}${j.last_error?.message ? ': ' + j.last_error.message : ''}).`; break; }
        const dets = j.detections || [];
        $('stream-info').textContent = `Frame ${j.frame} · ${dets.length} object${dets.length === 1 ? '' : 's'} · latency ${fmtMs(j.timings?.latency_ms)}`;
        $('stream-objects').replaceChildren(...dets.map((d) => h('li', {},
          h('span', { class: 'swatch', style: `background:${colorFor(d.class_id)}`, 'aria-hidden': 'true' }),
          `#${d.track_id ?? '?'} ${d.label} ${(d.confidence * 100).toFixed(0)}%`)));
      }
    } catch (e) {
      if (!signal.aborted) $('stream-info').textContent = describeError(e, 'The stream events');
    }
  })();
}

$('stream-viewer-close').addEventListener('click', closeViewer);
