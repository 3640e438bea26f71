// The Live tab's webcam: frames from the camera, as JPEG, over the
// WebSocket /v1/detect/ws (the key travels as an "osprey.key.<key>"
// subprotocol, since a browser WebSocket cannot send headers), and the
// tracked detections drawn over the video as they come back. At most
// MAX_IN_FLIGHT frames wait for an answer and at most ~16 go out a second,
// so a slow server drops frames instead of falling behind. The buttons are
// wired when the module loads; console.js calls stopLive at sign-out.

import { getKey } from './api.js';
import { drawDetections } from './draw.js';
import { $, showError, placeholder } from './dom.js';
import { fmtInt } from './format.js';

const live = {
  stream: null, ws: null, running: false, sending: false, sent: 0, answers: 0, dropped: 0,
  outstanding: new Map(), times: [], last: null, raf: 0, lastSend: 0, capture: document.createElement('canvas'),
};
const MAX_IN_FLIGHT = 2;

function liveStats(rtt, serverMs) {
  const now = performance.now();
  live.times = live.times.filter((t) => now - t < 3000);
  let fps = 0;
  if (live.times.length >= 2) fps = ((live.times.length - 1) * 1000) / (live.times[live.times.length - 1] - live.times[0]);
  $('live-fps').textContent = `${fps.toFixed(1)} fps`;
  if (rtt !== undefined) $('live-latency').textContent = `${Math.round(rtt)} ms${serverMs !== undefined ? ` (server ${Math.round(serverMs)} ms)` : ''}`;
  $('live-answers').textContent = fmtInt(live.answers);
  $('live-dropped').textContent = fmtInt(live.dropped);
}

async function startLive() {
  const err = $('live-error');
  showError(err, '');
  if (live.running) return;
  if (!navigator.mediaDevices?.getUserMedia) {
    showError(err, 'This browser cannot use a camera on this page (cameras need https or localhost).');
    return;
  }
  $('live-start').disabled = true;
  $('live-status').textContent = 'Asking for the camera…';
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({ video: { width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
  } catch (e) {
    const why = e.name === 'NotAllowedError' ? 'camera permission was denied'
      : e.name === 'NotFoundError' ? 'no camera was found' : e.message || e.name;
    showError(err, `Cannot start the camera: ${why}.`);
    $('live-status').textContent = '';
    $('live-start').disabled = false;
    return;
  }
  const video = $('live-video');
  video.srcObject = live.stream;
  try { await video.play(); } catch { /* muted autoplay is allowed; draw anyway */ }

  const params = new URLSearchParams();
  if ($('live-model').value) params.set('model', $('live-model').value);
  params.set('confidence', $('live-confidence').value);
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/detect/ws?${params}`;
  let ws;
  try {
    ws = new WebSocket(url, ['osprey.v1', `osprey.key.${getKey()}`]);
  } catch (e) {
    showError(err, `Cannot open the WebSocket (a key with characters a WebSocket protocol name may not hold?): ${e.message}`);
    stopLive();
    return;
  }
  ws.binaryType = 'arraybuffer';
  Object.assign(live, { ws, running: true, sending: false, sent: 0, answers: 0, dropped: 0, last: null, times: [], lastSend: 0 });
  live.outstanding.clear();
  $('live-stop').disabled = false;
  $('live-status').textContent = 'Connecting…';
  liveStats();
  ws.addEventListener('open', () => {
    $('live-status').textContent = `Connected: sending frames to ${$('live-model').value || 'the default model'}.`;
    pump();
  });
  ws.addEventListener('message', (ev) => {
    let msg;
    try { msg = JSON.parse(ev.data); } catch { return; }
    onLiveAnswer(msg);
  });
  ws.addEventListener('close', (ev) => {
    if (live.ws !== ws) return;
    if (live.running) {
      const hint = live.answers === 0
        ? ' The server refused the connection or the model is unavailable (check the key’s detect scope and the model).' : '';
      showError(err, `The live connection closed (code ${ev.code}${ev.reason ? ': ' + ev.reason : ''}).${hint}`);
    }
    stopLive();
  });
  live.raf = requestAnimationFrame(renderLive);
}

async function pump() {
  if (!live.running || live.sending || !live.ws || live.ws.readyState !== WebSocket.OPEN) return;
  if (live.outstanding.size >= MAX_IN_FLIGHT) return;
  const video = $('live-video');
  const wait = 60 - (performance.now() - live.lastSend);  // at most ~16 frames a second
  if (!video.videoWidth || video.readyState < 2 || wait > 0) {
    setTimeout(pump, Math.max(wait, 30));
    return;
  }
  live.sending = true;
  try {
    const cap = live.capture;
    const scale = Math.min(1, 640 / video.videoWidth);
    cap.width = Math.round(video.videoWidth * scale);
    cap.height = Math.round(video.videoHeight * scale);
    cap.getContext('2d').drawImage(video, 0, 0, cap.width, cap.height);
    const blob = await new Promise((res) => cap.toBlob(res, 'image/jpeg', 0.75));
    if (!blob || !live.running || live.ws.readyState !== WebSocket.OPEN) return;
    const buf = await blob.arrayBuffer();
    if (!live.running || live.ws.readyState !== WebSocket.OPEN) return;
    const n = live.sent++;
    live.outstanding.set(n, performance.now());
    live.lastSend = performance.now();
    live.ws.send(buf);
  } finally {
    live.sending = false;
  }
  pump();
}

function onLiveAnswer(msg) {
  const sentAt = live.outstanding.get(msg.frame);
  live.outstanding.delete(msg.frame);
  for (const d of msg.dropped || []) {
    if (live.outstanding.delete(d)) live.dropped++;
  }
  for (const k of [...live.outstanding.keys()]) if (k < msg.frame) live.outstanding.delete(k);
  if (msg.error) {
    const wait = msg.error.retry_after ? ` Retry in ${msg.error.retry_after} s.` : '';
    $('live-status').textContent = `Frame ${msg.frame}: ${msg.error.message}.${wait}`;
  } else {
    live.answers++;
    live.last = msg;
    live.times.push(performance.now());
    const objs = (msg.detections || []).map((d) => `#${d.track_id ?? '?'} ${d.label}`);
    $('live-objects').textContent = objs.length ? objs.join(', ') : 'none';
    liveStats(sentAt !== undefined ? performance.now() - sentAt : undefined, msg.timings?.latency_ms);
    $('live-canvas').dataset.answers = String(live.answers);
  }
  pump();
}

function renderLive() {
  if (!live.running) return;
  const video = $('live-video');
  const c = $('live-canvas');
  if (video.videoWidth) {
    if (c.width !== video.videoWidth) c.width = video.videoWidth;
    if (c.height !== video.videoHeight) c.height = video.videoHeight;
    const ctx = c.getContext('2d');
    ctx.drawImage(video, 0, 0, c.width, c.height);
    const m = live.last;
    if (m && m.image?.width) {
      drawDetections(ctx, m.detections || [], {
        sx: c.width / m.image.width, sy: c.height / m.image.height,
        label: (d) => `#${d.track_id ?? '?'} ${d.label} ${(d.confidence * 100).toFixed(0)}%`,
      });
    }
  }
  live.raf = requestAnimationFrame(renderLive);
}

export function stopLive() {
  const wasRunning = live.running || live.stream;
  live.running = false;
  cancelAnimationFrame(live.raf);
  if (live.ws) {
    const ws = live.ws;
    live.ws = null;
    if (ws.readyState <= WebSocket.OPEN) ws.close(1000, 'stopped');
  }
  if (live.stream) {
    for (const t of live.stream.getTracks()) t.stop();
    live.stream = null;
  }
  $('live-video').srcObject = null;
  cameraOff();
  $('live-start').disabled = false;
  $('live-stop').disabled = true;
  if (wasRunning) $('live-status').textContent = 'Stopped.';
}

function cameraOff() {
  placeholder($('live-canvas'), 'Camera off: press “Start camera”');
}
cameraOff();

$('live-start').addEventListener('click', startLive);
$('live-stop').addEventListener('click', stopLive);
$('live-confidence').addEventListener('input', (ev) => {
  $('live-confidence-value').value = Number(ev.target.value).toFixed(2);
});
