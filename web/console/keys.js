// Admin: API keys. The list (GET /v1/admin/keys) with each key's scopes,
// limits and state, create (the new key is shown once, with a copy button)
// and revoke (with a confirm step; revoking this session's own key signs
// it out, through the 401 handler in signin.js). console.js calls loadKeys
// when the Admin tab is shown and resetKeys at sign-out.

import { request, getJSON, sendJSON, getKey, describeError } from './api.js';
import { $, h, showError } from './dom.js';
import { fmtInt, fmtTime, shortId } from './format.js';
import { S } from './state.js';
import { fillUsageKeys } from './usage.js';

function keyStatus(k) {
  if (k.revoked_at) return { state: 'revoked', text: `Revoked ${fmtTime(k.revoked_at)}`, cls: 'bad' };
  if (k.expires_at && k.expires_at * 1000 <= Date.now()) return { state: 'expired', text: `Expired ${fmtTime(k.expires_at)}`, cls: 'bad' };
  return { state: 'active', text: k.expires_at ? `Active · expires ${fmtTime(k.expires_at)}` : 'Active', cls: 'ok' };
}

function limitsText(l = {}) {
  const parts = [['rpm', l.rpm], ['tpm', l.tpm], ['ipm', l.ipm], ['concurrent', l.concurrency], ['tokens/day', l.tokens_per_day]]
    .filter(([, v]) => v > 0).map(([k, v]) => `${k} ${fmtInt(v)}`);
  if (l.usd_per_month > 0) parts.push(`$${l.usd_per_month}/month`);
  return parts.length ? parts.join(', ') : 'none';
}

export async function loadKeys() {
  if (!S.scopes.admin) return;
  try {
    const j = await getJSON('/v1/admin/keys');
    S.keys = j.data || [];
    renderKeys();
    fillUsageKeys();
  } catch (e) {
    showError($('key-error'), describeError(e, 'Listing keys'));
  }
}

function renderKeys() {
  const rows = $('keys-rows');
  const showAll = $('keys-show-revoked').checked;
  rows.replaceChildren();
  const list = S.keys.filter((k) => showAll || keyStatus(k).state === 'active');
  if (!list.length) rows.append(h('tr', {}, h('td', { colspan: '7', class: 'muted' }, 'No keys yet.')));
  for (const k of list) {
    const st = keyStatus(k);
    const mine = isSessionKey(k);
    const actions = h('td', { class: 'actions' });
    const revokeBtn = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-testid': 'key-revoke',
                                     'aria-label': `Revoke key ${k.name || k.display}` }, 'Revoke');
    revokeBtn.addEventListener('click', () => {
      const confirm = h('button', { type: 'button', class: 'btn btn-small btn-danger', 'data-testid': 'key-revoke-confirm' },
        mine ? 'Revoke (signs you out)' : 'Confirm revoke');
      const cancel = h('button', { type: 'button', class: 'btn btn-small', 'data-testid': 'key-revoke-cancel' }, 'Cancel');
      confirm.addEventListener('click', () => revokeKey(k, confirm));
      cancel.addEventListener('click', () => renderKeys());
      actions.replaceChildren(confirm, ' ', cancel);
      confirm.focus();
    });
    if (st.state === 'active') actions.append(revokeBtn);
    rows.append(h('tr', { 'data-testid': 'key-row', class: st.state === 'active' ? '' : 'revoked',
                          dataset: { keyId: k.id, keyName: k.name || '', state: st.state } },
      h('td', {}, k.name || h('span', { class: 'muted' }, '(no name)'), mine ? h('span', { class: 'badge warn', 'data-testid': 'key-session' }, 'this session') : null,
        k.rotated_from ? h('div', { class: 'small muted' }, `rotated from ${shortId(k.rotated_from)}`) : null),
      h('td', { class: 'mono' }, k.display),
      h('td', {}, (k.scopes || []).join(', '), k.models?.length ? h('div', { class: 'small muted' }, `models: ${k.models.join(', ')}`) : null),
      h('td', { class: 'small' }, limitsText(k.limits)),
      h('td', { class: 'small' }, fmtTime(k.created_at)),
      h('td', { 'data-testid': 'key-status' }, h('span', { class: `badge ${st.cls}` }, st.text)),
      actions));
  }
}

// The key this page signed in with: its display is "prefix...last4".
function isSessionKey(k) {
  const key = getKey() || '';
  const [pre, last] = String(k.display || '').split('...');
  return Boolean(pre && last && key.startsWith(pre) && key.endsWith(last) && key.length > pre.length + last.length);
}

async function revokeKey(k, btn) {
  btn.disabled = true;
  showError($('key-error'), '');
  try {
    await request(`/v1/admin/keys/${encodeURIComponent(k.id)}`, { method: 'DELETE' });
  } catch (e) {
    showError($('key-error'), describeError(e, 'Revoking the key'));
  }
  await loadKeys();
}

function hideNewKey() {
  $('new-key-value').textContent = '';
  $('new-key-name').textContent = '';
  $('new-key-copied').textContent = '';
  $('new-key').hidden = true;
}

$('keys-show-revoked').addEventListener('change', renderKeys);
$('key-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = $('key-error');
  showError(err, '');
  const scopes = [...document.querySelectorAll('#key-form input[name=scope]:checked')].map((c) => c.value);
  if (!scopes.length) {
    showError(err, 'Choose at least one scope.');
    document.querySelector('#key-form input[name=scope]').focus();
    return;
  }
  const body = { name: $('key-name').value.trim(), scopes };
  const models = $('key-models').value.split(',').map((s) => s.trim()).filter(Boolean);
  if (models.length) body.models = models;
  const limits = {};
  for (const [id, field] of [['key-rpm', 'rpm'], ['key-tpm', 'tpm'], ['key-ipm', 'ipm'], ['key-concurrency', 'concurrency'], ['key-tpd', 'tokens_per_day']]) {
    const v = $(id).value.trim();
    if (v === '') continue;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) {
      showError(err, `${$(id).labels[0].textContent} must be a whole number, 0 or more.`);
      $(id).focus();
      return;
    }
    limits[field] = n;
  }
  const usd = $('key-usd').value.trim();
  if (usd !== '') {
    const n = Number(usd);
    if (!Number.isFinite(n) || n < 0) { showError(err, 'USD / month must be a number, 0 or more.'); $('key-usd').focus(); return; }
    limits.usd_per_month = n;
  }
  if (Object.keys(limits).length) body.limits = limits;
  if ($('key-expiry').value) body.expires_in = Number($('key-expiry').value);
  const btn = ev.submitter || ev.target.querySelector('[type=submit]');
  btn.disabled = true;
  try {
    const created = await sendJSON('POST', '/v1/admin/keys', body);
    $('new-key-value').textContent = created.key;
    $('new-key-name').textContent = created.name ? `“${created.name}”` : '';
    $('new-key-copied').textContent = '';
    $('new-key').hidden = false;
    ev.target.reset();
    await loadKeys();
    $('new-key-value').focus();
  } catch (e) {
    showError(err, describeError(e, 'Creating the key'));
  } finally {
    btn.disabled = false;
  }
});
$('new-key-copy').addEventListener('click', async () => {
  const text = $('new-key-value').textContent;
  try {
    await navigator.clipboard.writeText(text);
    $('new-key-copied').textContent = 'Copied.';
  } catch {
    const range = document.createRange();
    range.selectNodeContents($('new-key-value'));
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    $('new-key-copied').textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
  }
});
$('new-key-done').addEventListener('click', hideNewKey);

// Sign-out: neither the list nor a new key stays on the page.
export function resetKeys() {
  hideNewKey();
  $('keys-rows').replaceChildren();
}
