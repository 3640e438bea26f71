// The Osprey web console: sign in with a client key, then detect, live
// video, chat, usage and (admin) keys, models and metrics. Plain ES2020
// modules, no build step; every request goes to the server that served
// this page (index.html loads only this file; a CSP allows same-origin
// scripts and nothing inline).
//
// This file wires the tabs (the WAI-ARIA tabs pattern) to the modules that
// fill them, and says what signing in and out means for each:
//
//   signin.js   key check, scope probes, sign-out       state.js  what the key may do
//   detect.js   Detect tab                              models.js detection models
//   live.js     Live tab: webcam over a WebSocket       streams.js Live tab: server streams
//   chat.js     Chat tab                                usage.js  Usage tab
//   keys.js     Admin: API keys                         metrics.js Admin: /metrics
//   dom.js, format.js  small helpers; api.js, draw.js, charts.js  HTTP, boxes, charts
//
// Each tab module wires its own controls when it loads; what runs here is
// what crosses tabs: which tab is on show, and what starts and stops with it.

import { $ } from './dom.js';
import { S } from './state.js';
import { onSession, resumeSession } from './signin.js';
import { refreshModels, fillModelSelects, loadAdminModels } from './models.js';
import { resetDetect } from './detect.js';
import { stopLive } from './live.js';
import { startStreamPolling, stopStreamPolling, closeViewer } from './streams.js';
import { fillChatModels, resetChat } from './chat.js';
import { fillUsageKeys, loadUsage, resetUsage } from './usage.js';
import { loadKeys, resetKeys } from './keys.js';
import { startMetrics, stopMetrics, resetMetrics } from './metrics.js';

// ---------------------------------------------------------------------------
// Tabs (WAI-ARIA tabs pattern: arrows, Home, End)

function tabs() { return [...document.querySelectorAll('#tabs [role=tab]')]; }

function selectTab(name, focus = true) {
  const prev = S.activeTab;
  for (const t of tabs()) {
    const on = t.id === `tab-${name}`;
    t.setAttribute('aria-selected', String(on));
    t.tabIndex = on ? 0 : -1;
    $(t.getAttribute('aria-controls')).hidden = !on;
    if (on && focus) t.focus();
  }
  S.activeTab = name;
  if (history.replaceState) history.replaceState(null, '', `#${name}`);
  if (prev === 'admin' && name !== 'admin') stopMetrics();
  stopStreamPolling();
  onTabShown(name);
}

$('tabs').addEventListener('click', (ev) => {
  const t = ev.target.closest('[role=tab]');
  if (t) selectTab(t.id.slice(4));
});
$('tabs').addEventListener('keydown', (ev) => {
  const visible = tabs().filter((t) => !t.hidden);
  const i = visible.indexOf(document.activeElement);
  if (i < 0) return;
  let j = null;
  if (ev.key === 'ArrowRight') j = (i + 1) % visible.length;
  else if (ev.key === 'ArrowLeft') j = (i - 1 + visible.length) % visible.length;
  else if (ev.key === 'Home') j = 0;
  else if (ev.key === 'End') j = visible.length - 1;
  if (j === null) return;
  ev.preventDefault();
  selectTab(visible[j].id.slice(4));
});

// What a tab needs fresh each time it is shown; the timers started here
// (streams, metrics) stop when it is left.
function onTabShown(name) {
  if (name === 'usage') loadUsage();
  if (name === 'admin') {
    loadKeys();
    loadAdminModels();
    startMetrics();
  }
  if (name === 'live') startStreamPolling();
  if (name === 'detect' || name === 'live') refreshModels();
}

// ---------------------------------------------------------------------------
// Session: what signing in and out means for the tabs

onSession({
  // Only the tabs the key's scopes allow; the one named in the URL's hash
  // (a reload stays put) if it is one of them, else the first.
  enter() {
    for (const t of tabs()) {
      const scope = t.dataset.scope;
      t.hidden = !(scope === 'any' || S.scopes[scope]);
    }
    for (const el of document.querySelectorAll('.admin-only')) el.hidden = !S.scopes.admin;

    fillModelSelects();
    fillChatModels();
    fillUsageKeys();
    const wanted = location.hash.slice(1);
    const visible = tabs().filter((t) => !t.hidden);
    const first = visible.find((t) => t.id === `tab-${wanted}`) || visible[0];
    selectTab(first.id.slice(4), false);
  },
  // Nothing the last key started may outlive it: timers, the camera and
  // its socket, the stream viewer, requests on their way, and what the
  // pages show.
  leave() {
    stopStreamPolling();
    stopLive();
    closeViewer();
    stopMetrics();
    resetDetect();
    resetChat();
    resetKeys();
    resetUsage();
    resetMetrics();
  },
});

resumeSession();
