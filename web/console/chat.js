// The Chat tab: a conversation with an upstream model through
// POST /v1/chat/completions, streamed over SSE, with the tokens each answer
// used and its cost (looked up in /v1/usage by the answer's request id).
// A 429 shows the server's Retry-After as a countdown; a failed question
// goes back into the box. signin.js's probe gives the model list
// (fillChatModels); console.js calls resetChat at sign-out, which also stops
// an answer on its way.

import { ApiError, request, getJSON, describeError, sentence, sseEvents } from './api.js';
import { $, h, showError } from './dom.js';
import { fmtInt, fmtUsd } from './format.js';
import { S } from './state.js';

const chat = { messages: [], ctrl: null, countdown: null };

export function fillChatModels() {
  const list = $('chat-models');
  list.replaceChildren(...S.chatModels.map((m) => h('option', { value: m.id })));
  const input = $('chat-model');
  if (!input.value && S.chatModels.length) input.value = S.chatModels[0].id;
  const note = $('chat-models-note');
  if (S.chatModelsError) note.textContent = `The model list is unavailable: ${describeError(S.chatModelsError, 'Listing models')}`;
  else note.textContent = S.chatModels.length ? `${S.chatModels.length} model${S.chatModels.length === 1 ? '' : 's'} available.` : 'No models listed: type a model name.';
}

export function resetChat() {
  if (chat.ctrl) chat.ctrl.abort();
  clearInterval(chat.countdown);
  chat.messages = [];
  $('chat-log').replaceChildren(h('p', { class: 'muted', id: 'chat-empty' }, 'Answers stream in here, with the tokens (and cost) each one used.'));
  showError($('chat-error'), '');
}

function addMessage(role, text) {
  $('chat-empty')?.remove();
  const textEl = h('div', { class: 'text', 'data-testid': role === 'assistant' ? 'chat-answer' : 'chat-question' }, text || '');
  const usageEl = h('div', { class: 'usage', 'data-testid': role === 'assistant' ? 'chat-usage' : null });
  const node = h('div', { class: `msg ${role}` }, h('div', { class: 'who' }, role === 'assistant' ? 'Assistant' : 'You'), textEl, usageEl);
  $('chat-log').append(node);
  node.scrollIntoView({ block: 'end' });
  return { node, textEl, usageEl };
}

function chatErrorMessage(e) {
  if (e instanceof ApiError && e.status === 429) return null;  // shown with a countdown
  return describeError(e, 'The chat request');
}

function showRateLimit(e, where) {
  clearInterval(chat.countdown);
  let left = e.retryAfter;
  const render = () => {
    const msg = `Rate limited: ${sentence(e.message)}${left !== null ? ` Retry in ${left} s.` : ' Try again shortly.'}`;
    showError($('chat-error'), msg);
    where.textContent = msg;
  };
  render();
  if (left !== null && left > 0) {
    chat.countdown = setInterval(() => {
      left -= 1;
      if (left <= 0) {
        clearInterval(chat.countdown);
        showError($('chat-error'), 'You can send again now.');
        where.textContent = 'Rate limited; you can send again now.';
        return;
      }
      render();
    }, 1000);
  }
}

async function findCost(requestId) {
  if (!requestId) return null;
  for (let i = 0; i < 5; i++) {
    try {
      const j = await getJSON('/v1/usage?limit=30');
      const rec = (j.data || []).find((r) => r.request_id === requestId);
      if (rec) return rec;
    } catch { return null; }
    await new Promise((r) => setTimeout(r, 300));
  }
  return null;
}

async function sendChat() {
  const input = $('chat-input');
  const text = input.value.trim();
  const model = $('chat-model').value.trim();
  showError($('chat-error'), '');
  clearInterval(chat.countdown);
  if (!text) { input.focus(); return; }
  if (!model) { showError($('chat-error'), 'Choose a model first.'); $('chat-model').focus(); return; }
  if (chat.ctrl) return;

  addMessage('user', text);
  chat.messages.push({ role: 'user', content: text });
  input.value = '';
  const system = $('chat-system').value.trim();
  const body = {
    model, stream: true, stream_options: { include_usage: true },
    messages: [...(system ? [{ role: 'system', content: system }] : []), ...chat.messages],
  };
  const out = addMessage('assistant', '');
  out.node.setAttribute('aria-busy', 'true');
  out.usageEl.textContent = 'Waiting for the answer…';
  const ctrl = new AbortController();
  chat.ctrl = ctrl;
  $('chat-send').disabled = true;
  $('chat-stop').disabled = false;
  const t0 = performance.now();
  let answer = '';
  let usage = null;
  let requestId = null;
  try {
    const res = await request('/v1/chat/completions', { method: 'POST', json: body, signal: ctrl.signal, headers: { Accept: 'text/event-stream' } });
    requestId = res.headers.get('x-request-id');
    out.usageEl.textContent = 'Streaming…';
    if (!(res.headers.get('content-type') || '').includes('text/event-stream')) {
      const j = await res.json();
      answer = j.choices?.[0]?.message?.content ?? '';
      usage = j.usage || null;
      out.textEl.textContent = answer;
    } else {
      for await (const ev of sseEvents(res)) {
        if (ev.data === '[DONE]') break;
        let j;
        try { j = JSON.parse(ev.data); } catch { continue; }
        if (j.error) {
          const e = new ApiError(j.error.status || 502, j, null);
          e.midStream = true;
          throw e;
        }
        const delta = j.choices?.[0]?.delta;
        if (delta && typeof delta.content === 'string' && delta.content) {
          answer += delta.content;
          out.textEl.textContent = answer;
          out.node.scrollIntoView({ block: 'end' });
        }
        if (j.usage) usage = j.usage;
      }
    }
    chat.messages.push({ role: 'assistant', content: answer });
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const tokens = usage
      ? `${fmtInt(usage.prompt_tokens)} prompt + ${fmtInt(usage.completion_tokens)} completion = ${fmtInt(usage.total_tokens ?? (usage.prompt_tokens + usage.completion_tokens))} tokens`
      : 'tokens not reported by the upstream';
    out.usageEl.textContent = `${tokens} · ${secs} s`;
    out.usageEl.dataset.totalTokens = String(usage?.total_tokens ?? '');
    if (!answer) out.textEl.textContent = '(empty answer)';
    const rec = await findCost(requestId);
    if (rec && typeof rec.cost_usd === 'number') {
      out.usageEl.textContent = `${tokens} · cost ${fmtUsd(rec.cost_usd)} · ${secs} s`;
      out.usageEl.dataset.costUsd = String(rec.cost_usd);
    }
  } catch (e) {
    if (e.name === 'AbortError') {
      out.usageEl.textContent = 'Stopped.';
      if (answer) chat.messages.push({ role: 'assistant', content: answer });
      else chat.messages.pop();
    } else {
      // Let the question be sent again: back into the box, out of the history.
      if (!answer) {
        chat.messages.pop();
        if (!input.value) input.value = text;
      } else {
        chat.messages.push({ role: 'assistant', content: answer });
      }
      out.usageEl.textContent = '';
      const note = h('div', { class: 'error' });
      out.node.append(note);
      if (!answer) out.textEl.textContent = '(no answer)';
      if (e instanceof ApiError && e.status === 429) showRateLimit(e, note);
      else {
        const msg = e.midStream ? `The answer was cut off: ${e.message}` : chatErrorMessage(e);
        note.textContent = msg;
        showError($('chat-error'), msg);
      }
    }
  } finally {
    out.node.removeAttribute('aria-busy');
    chat.ctrl = null;
    $('chat-send').disabled = false;
    $('chat-stop').disabled = true;
  }
}

$('chat-form').addEventListener('submit', (ev) => { ev.preventDefault(); sendChat(); });
$('chat-input').addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
    ev.preventDefault();
    sendChat();
  }
});
$('chat-stop').addEventListener('click', () => chat.ctrl?.abort());
$('chat-clear').addEventListener('click', () => { resetChat(); $('chat-input').focus(); });
