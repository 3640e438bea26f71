// The official `openai` npm SDK against a real `osprey serve` whose gateway
// points at a fake OpenAI upstream (node https server, certificate made with
// the openssl CLI at test time). Checks that what an SDK user writes works
// unchanged through Osprey: chat, streaming, tool calls, and errors that
// raise the SDK's own error classes.
//
//   OSPREY_BINARY=build/src/cli/osprey node --test tests/node/sdk.test.mjs

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';

import { makeCerts, waitForListening } from '../support/node/harness.mjs';

const UPSTREAM_KEY = 'sk-node-upstream-key-4d3c2b1a0f9e';
const CLIENT_KEY = 'osk-node-client-key-never-forwarded';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'osprey-node-'));
const seen = [];  // requests the upstream received
let upstream;
let osprey;
const log = { text: '' };  // what osprey printed
let baseURL;


const completion = (model, message, usage = { prompt_tokens: 11, completion_tokens: 5, total_tokens: 16 }) => ({
  id: 'chatcmpl-node', object: 'chat.completion', created: 1700000000, model,
  choices: [{ index: 0, message, finish_reason: message.tool_calls ? 'tool_calls' : 'stop', logprobs: null }],
  usage,
});
const chunk = (model, delta, finish = null) => ({
  id: 'chatcmpl-node', object: 'chat.completion.chunk', created: 1700000000, model,
  choices: [{ index: 0, delta, finish_reason: finish }],
});
const weatherCall = { id: 'call_w1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } };

function sendError(res, status, type, code, message, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ error: { message, type, param: null, code } }));
}

function handle(req, res, body) {
  if (process.env.OSPREY_TEST_VERBOSE) console.error('upstream got', req.method, req.url, body.slice(0, 40), req.socket.remotePort);
  seen.push({ method: req.method, url: req.url, headers: req.headers, body });
  if (req.method === 'GET' && req.url === '/v1/models') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-test', object: 'model', created: 1, owned_by: 'test' }] }));
  }
  if (req.method === 'POST' && req.url === '/v1/responses') return respond(res, JSON.parse(body));
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return sendError(res, 404, 'invalid_request_error', 'not_found', 'no such route');
  const j = JSON.parse(body);
  switch (j.model) {
    case 'rate-limited': return sendError(res, 429, 'rate_limit_error', 'rate_limit_exceeded', 'Rate limit reached', { 'retry-after': '3600' });
    case 'bad-key': return sendError(res, 401, 'invalid_request_error', 'invalid_api_key', `Incorrect API key provided: ${req.headers.authorization.slice(7)}`);
    case 'bad-request': return sendError(res, 400, 'invalid_request_error', 'invalid_value', 'temperature is out of range');
    case 'server-error': return sendError(res, 500, 'server_error', null, 'The server had an error');
    default: break;
  }
  const tools = j.model === 'tool-model';
  if (!j.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(completion(j.model, tools
      ? { role: 'assistant', content: null, tool_calls: [weatherCall] }
      : { role: 'assistant', content: 'Hello from the fake upstream!' })));
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const events = tools
    ? [chunk(j.model, { role: 'assistant', tool_calls: [{ index: 0, ...weatherCall, function: { name: 'get_weather', arguments: '' } }] }),
       chunk(j.model, { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] }),
       chunk(j.model, { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] }),
       chunk(j.model, {}, 'tool_calls')]
    : [chunk(j.model, { role: 'assistant', content: '' }),
       ...['Hel', 'lo', ' there'].map((t) => chunk(j.model, { content: t })),
       chunk(j.model, {}, 'stop')];
  if (j.stream_options?.include_usage) {
    events.push({ ...chunk(j.model, {}), choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } });
  }
  let i = 0;
  const next = () => {
    if (i < events.length) {
      res.write(`data: ${JSON.stringify(events[i++])}\n\n`);
      setTimeout(next, 5);
    } else {
      res.end('data: [DONE]\n\n');
    }
  };
  next();
}

// The Responses API: one message "Hello from responses!", usage 13/4; as
// typed events when streamed (what api.openai.com sends, names included).
function respond(res, j) {
  const text = 'Hello from responses!';
  const message = { id: 'msg_1', type: 'message', role: 'assistant', status: 'completed',
                    content: [{ type: 'output_text', text, annotations: [] }] };
  const full = { id: 'resp_1', object: 'response', created_at: 1700000000, status: 'completed', model: j.model,
                 output: [message], usage: { input_tokens: 13, output_tokens: 4, total_tokens: 17 } };
  if (j.model === 'rate-limited') return sendError(res, 429, 'rate_limit_error', 'rate_limit_exceeded', 'Rate limit reached', { 'retry-after': '3600' });
  if (!j.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(full));
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  let seq = 0;
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
  const inProgress = { ...full, status: 'in_progress', output: [], usage: null };
  const events = [
    ev('response.created', { response: inProgress }),
    ev('response.output_item.added', { output_index: 0, item: { ...message, status: 'in_progress', content: [] } }),
    ev('response.content_part.added', { item_id: 'msg_1', output_index: 0, content_index: 0,
                                        part: { type: 'output_text', text: '', annotations: [] } }),
    ...['Hello', ' from', ' responses!'].map((d) => ev('response.output_text.delta', { item_id: 'msg_1', output_index: 0, content_index: 0, delta: d })),
    ev('response.output_text.done', { item_id: 'msg_1', output_index: 0, content_index: 0, text }),
    ev('response.completed', { response: full }),
  ];
  let i = 0;
  const next = () => {
    if (i < events.length) {
      res.write(events[i++]);
      setTimeout(next, 5);
    } else {
      res.end();
    }
  };
  next();
}


before(async () => {
  const binary = process.env.OSPREY_BINARY;
  assert.ok(binary && fs.existsSync(binary), `OSPREY_BINARY must name the built osprey binary (got '${binary}')`);
  makeCerts(tmp, 'Osprey Node Test CA');
  upstream = https.createServer({ key: fs.readFileSync(path.join(tmp, 'srv.key')), cert: fs.readFileSync(path.join(tmp, 'srv.pem')) },
    (req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => handle(req, res, body));
    });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  const upPort = upstream.address().port;
  osprey = spawn(binary, ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', path.join(tmp, 'data')], {
    env: {
      ...process.env,
      OPENAI_BASE_URL: `https://127.0.0.1:${upPort}/v1`,
      OPENAI_API_KEY: UPSTREAM_KEY,
      OSPREY_UPSTREAM_CA_FILE: path.join(tmp, 'ca.pem'),
      OSPREY_UPSTREAM_RETRY_BASE_MS: '1',
      OSPREY_AUTH: 'false',
      OSPREY_ENV_FILE: path.join(tmp, 'none.env'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await waitForListening(osprey, log, 60000);
  baseURL = `http://127.0.0.1:${port}/v1`;
});

after(async () => {
  if (osprey && osprey.exitCode === null) {
    osprey.kill('SIGTERM');
    await new Promise((r) => { osprey.on('exit', r); setTimeout(r, 10000); });
  }
  if (upstream) upstream.close();
  if (process.env.OSPREY_TEST_VERBOSE) console.error(log.text);
  // Nothing Osprey logged may contain the upstream key.
  assert.ok(!log.text.includes(UPSTREAM_KEY), 'the upstream key appeared in the osprey log');
});

const client = () => new OpenAI({ apiKey: CLIENT_KEY, baseURL, maxRetries: 0, timeout: 20000 });

test('chat completion', async () => {
  const r = await client().chat.completions.create({ model: 'gpt-test', messages: [{ role: 'user', content: 'hi' }] });
  assert.equal(r.choices[0].message.content, 'Hello from the fake upstream!');
  assert.equal(r.usage.total_tokens, 16);
  const last = seen.at(-1);
  assert.equal(last.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
  for (const v of Object.values(last.headers)) assert.ok(!String(v).includes(CLIENT_KEY), 'client key forwarded upstream');
});

test('streaming chat completion', async () => {
  const stream = await client().chat.completions.create({ model: 'gpt-test', stream: true, messages: [{ role: 'user', content: 'hi' }] });
  let text = '';
  let chunks = 0;
  for await (const c of stream) {
    chunks += 1;
    text += c.choices[0]?.delta?.content ?? '';
    assert.equal(c.usage ?? null, null, 'usage chunk must not be forwarded when not asked for');
  }
  assert.equal(text, 'Hello there');
  assert.equal(chunks, 5);
  assert.equal(JSON.parse(seen.at(-1).body).stream_options.include_usage, true);
});

test('streaming with include_usage gets the usage chunk', async () => {
  const stream = await client().chat.completions.create({
    model: 'gpt-test', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'hi' }],
  });
  let usage = null;
  for await (const c of stream) if (c.usage) usage = c.usage;
  assert.deepEqual(usage, { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 });
});

test('tool calls, plain and streamed', async () => {
  const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const r = await client().chat.completions.create({ model: 'tool-model', tools, messages: [{ role: 'user', content: 'weather?' }] });
  assert.deepEqual(r.choices[0].message.tool_calls, [weatherCall]);
  assert.deepEqual(JSON.parse(seen.at(-1).body).tools, tools);
  const runner = client().chat.completions.stream({ model: 'tool-model', tools, messages: [{ role: 'user', content: 'weather?' }] });
  const final = await runner.finalChatCompletion();
  const call = final.choices[0].message.tool_calls[0];
  assert.equal(call.function.name, 'get_weather');
  assert.equal(call.function.arguments, '{"city":"Paris"}');
});

test('models list', async () => {
  const page = await client().models.list();
  assert.deepEqual(page.data.map((m) => m.id), ['gpt-test']);
});

test('errors raise the SDK error classes', async () => {
  const c = client();
  const msg = [{ role: 'user', content: 'hi' }];
  await assert.rejects(c.chat.completions.create({ model: 'rate-limited', messages: msg }), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, e.constructor.name);
    assert.equal(e.status, 429);
    assert.equal(e.code, 'rate_limit_exceeded');
    assert.equal(e.headers.get ? e.headers.get('retry-after') : e.headers['retry-after'], '3600');
    return true;
  });
  await assert.rejects(c.chat.completions.create({ model: 'bad-key', messages: msg }), (e) => {
    assert.ok(e instanceof OpenAI.AuthenticationError, e.constructor.name);
    assert.equal(e.code, 'invalid_api_key');
    assert.ok(!e.message.includes(UPSTREAM_KEY), 'upstream key echoed to the client');
    return true;
  });
  await assert.rejects(c.chat.completions.create({ model: 'bad-request', messages: msg }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
    assert.equal(e.code, 'invalid_value');
    return true;
  });
  await assert.rejects(c.chat.completions.create({ model: 'server-error', messages: msg }), (e) => {
    assert.ok(e instanceof OpenAI.InternalServerError, e.constructor.name);
    assert.equal(e.status, 500);
    return true;
  });
  await assert.rejects(c.chat.completions.create({ messages: msg }), (e) => {
    assert.ok(e instanceof OpenAI.BadRequestError, e.constructor.name);
    assert.equal(e.param, 'model');
    return true;
  });
  await assert.rejects(c.chat.completions.create({ model: 'gpt-test', messages: msg, stream: true, stream_options: 'bad' }), OpenAI.APIError);
});

test('responses.create, plain and streamed (Responses API)', async () => {
  const c = client();
  const r = await c.responses.create({ model: 'gpt-test', input: 'Say hello' });
  assert.equal(r.output_text, 'Hello from responses!');
  assert.equal(r.usage.input_tokens, 13);
  const last = seen.at(-1);
  assert.equal(last.url, '/v1/responses');
  assert.equal(last.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
  assert.deepEqual(JSON.parse(last.body), { model: 'gpt-test', input: 'Say hello' });

  const stream = await c.responses.create({ model: 'gpt-test', input: 'Say hello', stream: true });
  const types = [];
  let text = '';
  let completed = null;
  for await (const e of stream) {
    types.push(e.type);
    if (e.type === 'response.output_text.delta') text += e.delta;
    if (e.type === 'response.completed') completed = e.response;
  }
  assert.equal(text, 'Hello from responses!');
  assert.equal(types[0], 'response.created');
  assert.equal(types.at(-1), 'response.completed');
  assert.equal(completed.usage.output_tokens, 4);

  // The SDK's own helper over the same stream.
  const runner = c.responses.stream({ model: 'gpt-test', input: 'Say hello' });
  const final = await runner.finalResponse();
  assert.equal(final.output[0].content[0].text, 'Hello from responses!');

  await assert.rejects(c.responses.create({ model: 'rate-limited', input: 'x' }), (e) => {
    assert.ok(e instanceof OpenAI.RateLimitError, e.constructor.name);
    assert.equal(e.status, 429);
    return true;
  });
});
