// Talking to Osprey from the console: authenticated fetch, OpenAI-shaped
// errors, and readers for the two streaming formats the server speaks
// (Server-Sent Events and multipart/x-mixed-replace MJPEG). Same origin
// only: every URL here is a path on the server that served the page.

export class ApiError extends Error {
  constructor(status, body, headers) {
    const err = (body && typeof body === 'object' && body.error) || {};
    const message = typeof err === 'string' ? err : err.message || (typeof body === 'string' && body.trim()) || `HTTP ${status}`;
    super(message);
    this.status = status;
    this.code = err.code || null;
    this.type = err.type || null;
    this.param = err.param || null;
    const ra = headers ? headers.get('retry-after') : null;
    this.retryAfter = ra !== null && ra !== '' && Number.isFinite(Number(ra)) ? Math.max(0, Math.ceil(Number(ra))) : null;
    this.requestId = headers ? headers.get('x-request-id') : null;
  }
}

// A failure before any HTTP answer (server down, connection cut).
export class NetworkError extends Error {
  constructor(cause) {
    super('Cannot reach the Osprey server (is it running?)');
    this.cause = cause;
    this.status = 0;
  }
}

let currentKey = null;
let onUnauthorized = null;

export function setKey(key) { currentKey = key; }
export function getKey() { return currentKey; }
// Called when a signed-in request gets 401 (key revoked or expired meanwhile).
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export function authHeaders(key = currentKey) {
  return key ? { Authorization: `Bearer ${key}` } : {};
}

async function errorFrom(res) {
  let body = null;
  const text = await res.text().catch(() => '');
  try { body = JSON.parse(text); } catch { body = text; }
  return new ApiError(res.status, body, res.headers);
}

// fetch() with the key; resolves to the Response when it is 2xx, throws
// ApiError (with the server's message, code and Retry-After) otherwise.
export async function request(path, opts = {}) {
  const { method = 'GET', json, body, headers = {}, signal, key = currentKey, quiet401 = false } = opts;
  const h = { ...authHeaders(key), ...headers };
  let payload = body;
  if (json !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(json);
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body: payload, signal, cache: 'no-store' });
  } catch (e) {
    if (e && e.name === 'AbortError') throw e;
    throw new NetworkError(e);
  }
  if (!res.ok) {
    const err = await errorFrom(res);
    if (res.status === 401 && !quiet401 && onUnauthorized) onUnauthorized(err);
    throw err;
  }
  return res;
}

export async function getJSON(path, opts) {
  const res = await request(path, opts);
  return res.json();
}

export async function sendJSON(method, path, json, opts = {}) {
  const res = await request(path, { ...opts, method, json });
  const text = await res.text();
  return text ? JSON.parse(text) : null;
}

// "text" -> "text." (a server message may or may not end with a stop).
export function sentence(text) {
  const t = String(text || '').trim();
  return /[.!?]$/.test(t) ? t : `${t}.`;
}

// A message a person can act on, from any error this module throws.
export function describeError(e, what = 'The request') {
  if (!e) return `${what} failed.`;
  if (e instanceof NetworkError) return e.message + '.';
  if (e.name === 'AbortError') return `${what} was stopped.`;
  if (!(e instanceof ApiError)) return `${what} failed: ${e.message || e}`;
  if (e.status === 429) {
    const wait = e.retryAfter !== null ? ` Retry in ${e.retryAfter} s.` : ' Try again shortly.';
    return `Rate limited: ${sentence(e.message)}${wait}`;
  }
  if (e.status === 503 && e.code === 'upstream_not_configured')
    return 'Chat is not available: this Osprey server has no upstream (OpenAI) API key configured. An operator has to set one.';
  if (e.status === 401) return `The key was not accepted: ${e.message}`;
  if (e.status === 403) return `Not allowed for this key: ${e.message}`;
  return `${what} failed (${e.status}${e.code ? ' ' + e.code : ''}): ${e.message}`;
}

// Server-Sent Events from a fetch() Response: yields {event, data, id}.
export async function* sseEvents(res) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  const parse = (block) => {
    let event = 'message';
    let id = null;
    const data = [];
    for (const line of block.split('\n')) {
      if (!line || line.startsWith(':')) continue;
      const c = line.indexOf(':');
      const field = c < 0 ? line : line.slice(0, c);
      let value = c < 0 ? '' : line.slice(c + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    return data.length ? { event, data: data.join('\n'), id } : null;
  };
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      // CRLF and CR end lines too; a CR last in the buffer may be half of a CRLF.
      buf = buf.replace(/\r\n/g, '\n').replace(/\r(?!$)/g, '\n');
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0) {
        const ev = parse(buf.slice(0, i));
        buf = buf.slice(i + 2);
        if (ev) yield ev;
      }
    }
    buf += dec.decode();
    const last = parse(buf.replace(/\r/g, ''));
    if (last) yield last;
  } finally {
    reader.releaseLock?.();
  }
}

function indexOfBytes(hay, needle, from = 0) {
  const n0 = needle[0];
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    if (hay[i] !== n0) continue;
    for (let j = 1; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

// The parts of a multipart/x-mixed-replace body (an MJPEG stream): yields
// each part's bytes as a Uint8Array.
export async function* multipartParts(res) {
  const ct = res.headers.get('content-type') || '';
  const m = /boundary="?([^";]+)"?/i.exec(ct);
  const enc = new TextEncoder();
  const boundary = enc.encode('--' + (m ? m[1] : 'osprey-frame'));
  const crlf2 = enc.encode('\r\n\r\n');
  const reader = res.body.getReader();
  let buf = new Uint8Array(0);
  const dec = new TextDecoder();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    const next = new Uint8Array(buf.length + value.length);
    next.set(buf);
    next.set(value, buf.length);
    buf = next;
    for (;;) {
      const start = indexOfBytes(buf, boundary);
      if (start < 0) break;
      const headEnd = indexOfBytes(buf, crlf2, start);
      if (headEnd < 0) break;
      const head = dec.decode(buf.subarray(start, headEnd));
      const len = /content-length:\s*(\d+)/i.exec(head);
      const bodyStart = headEnd + 4;
      let bodyEnd;
      let rest;
      if (len) {
        bodyEnd = bodyStart + Number(len[1]);
        if (buf.length < bodyEnd) break;
        rest = bodyEnd;
      } else {
        const nb = indexOfBytes(buf, boundary, bodyStart);
        if (nb < 0) break;
        bodyEnd = nb >= 2 && buf[nb - 2] === 13 && buf[nb - 1] === 10 ? nb - 2 : nb;
        rest = nb;
      }
      const part = buf.slice(bodyStart, bodyEnd);
      buf = buf.slice(rest);
      yield part;
    }
  }
}
