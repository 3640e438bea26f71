// Small DOM helpers shared by every part of the console, with no state of
// their own: $ finds an element by id, h builds one (attributes, text,
// listeners, children), showError fills an error line and hides it when
// there is nothing to say, placeholder paints an idle canvas with what it is
// for, and stateBadge turns a stream or model state into a coloured label.
//
//   import { $, h, showError } from './dom.js';
//   rows.append(h('tr', { 'data-testid': 'key-row' }, h('td', {}, name)));

export const $ = (id) => document.getElementById(id);

// h('button', { class: 'btn', onclick: fn, dataset: { id } }, 'Label'):
// null, undefined and false attributes and children are left out, so that
// optional parts can be written inline.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}

export function showError(el, msg) {
  el.textContent = msg || '';
  el.hidden = !msg;
}

// An idle canvas says what it is for.
export function placeholder(c, text) {
  const ctx = c.getContext('2d');
  ctx.fillStyle = '#0c0f14';
  ctx.fillRect(0, 0, c.width, c.height);
  ctx.fillStyle = '#c9d1dc';
  ctx.font = `${Math.round(c.height / 16)}px system-ui, sans-serif`;
  ctx.textAlign = 'center';
  ctx.textBaseline = 'middle';
  ctx.fillText(text, c.width / 2, c.height / 2);
  ctx.textAlign = 'start';
}

// Green for a running stream or an available model, red for one that failed
// or stopped, amber for anything on its way (loading, starting).
export function stateBadge(state) {
  const cls = state === 'running' || state === 'available' ? 'ok'
    : ['error', 'unavailable', 'stopped'].includes(state) ? 'bad' : 'warn';
  return h('span', { class: `badge ${cls}` }, state || '?');
}
