// Signing in and out with a client API key. A key is checked against
// /v1/usage (the one route every valid key may read), then what it may do
// is found by probing the routes each scope opens: detection models
// (detect), chat models (chat) and the admin key list (admin); a 403 there
// means no. The lists those probes return go into S, so that the tabs need
// not ask again. The key lives in this tab's sessionStorage (never
// localStorage), so a reload signs in again but a new tab does not.
//
// console.js decides what signing in and out means for the tabs:
//
//   onSession({ enter() { ...show the tabs the scopes allow... },
//                leave() { ...stop timers, sockets, requests; clear pages... } });
//   resumeSession();   // at start: the kept key, if any, signs in again
//
// A 401 on any later request (the key was revoked or expired meanwhile)
// signs out with the server's reason.

import { ApiError, request, setKey, getKey, setUnauthorizedHandler, describeError } from './api.js';
import { $, showError } from './dom.js';
import { S } from './state.js';

const STORAGE_KEY = 'osprey.console.key';

let hooks = { enter() {}, leave() {} };

export function onSession({ enter, leave }) {
  hooks = { enter, leave };
}

function keyLabel(key) {
  return key.length > 14 ? `${key.slice(0, 8)}…${key.slice(-4)}` : '•'.repeat(Math.min(key.length, 8));
}

// A probe of a route the key may or may not be allowed: 403 says no.
async function probe(path) {
  try {
    const res = await request(path);
    return { allowed: true, body: await res.json().catch(() => null) };
  } catch (e) {
    const denied = e instanceof ApiError && (e.status === 403 || e.status === 401);
    return { allowed: !denied, error: e };
  }
}

export async function signIn(key) {
  const err = $('signin-error');
  const btn = $('signin-submit');
  showError(err, '');
  key = (key || '').trim();
  if (!key) {
    showError(err, 'Enter an API key.');
    $('key-input').focus();
    return false;
  }
  btn.disabled = true;
  btn.textContent = 'Checking…';
  try {
    // Any valid key may read its own usage: the one check every key passes.
    await request('/v1/usage?limit=0', { key, quiet401: true });
  } catch (e) {
    let msg;
    if (e instanceof ApiError && e.status === 401) {
      msg = e.code === 'key_expired'
        ? `This key has expired: ${e.message}`
        : `This key was not accepted (wrong, revoked or expired key). The server said: ${e.message}`;
    } else {
      msg = describeError(e, 'Signing in');
    }
    sessionStorage.removeItem(STORAGE_KEY);
    showError(err, msg);
    $('key-input').focus();
    $('key-input').select();
    return false;
  } finally {
    btn.disabled = false;
    btn.textContent = 'Sign in';
  }

  setKey(key);
  sessionStorage.setItem(STORAGE_KEY, key);
  const [det, chat, admin] = await Promise.all([probe('/v1/detection/models'), probe('/v1/models'), probe('/v1/admin/keys')]);
  S.scopes = { detect: det.allowed, chat: chat.allowed, admin: admin.allowed };
  S.models = det.body?.data || [];
  S.chatModels = chat.body?.data || [];
  S.chatModelsError = chat.allowed && chat.error ? chat.error : null;
  S.keys = admin.body?.data || [];
  enterApp(key);
  return true;
}

// The session bar shows which key is in and what it may do; console.js
// (enter) shows the tabs and opens the first one before focus moves in.
function enterApp(key) {
  $('signin').hidden = true;
  $('app').hidden = false;
  $('session').hidden = false;
  $('session-key').textContent = keyLabel(key);
  const names = Object.entries(S.scopes).filter(([, v]) => v).map(([k]) => k);
  $('session-scopes').textContent = names.length ? `scopes: ${names.join(', ')}` : 'usage only';
  $('key-input').value = '';
  hooks.enter();
  $('main').focus();
}

// Everything the key started stops (console.js, leave) before the key is
// forgotten; the sign-in form comes back with the reason, if any.
function signOut(message) {
  hooks.leave();
  sessionStorage.removeItem(STORAGE_KEY);
  setKey(null);
  S.scopes = { detect: false, chat: false, admin: false };
  S.models = []; S.chatModels = []; S.keys = [];
  $('app').hidden = true;
  $('session').hidden = true;
  $('signin').hidden = false;
  showError($('signin-error'), message || '');
  $('key-input').focus();
}

setUnauthorizedHandler((e) => {
  if (getKey()) signOut(`You were signed out: the server no longer accepts this key (${e.message}).`);
});

$('signin-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  signIn($('key-input').value);
});
$('key-show').addEventListener('change', (ev) => {
  $('key-input').type = ev.target.checked ? 'text' : 'password';
});
$('signout').addEventListener('click', () => signOut(''));

// Start: a key kept from earlier in this tab signs in again.
export function resumeSession() {
  const kept = sessionStorage.getItem(STORAGE_KEY);
  if (kept) signIn(kept);
  else $('key-input').focus();
}
