// The web console (web/console) in a real browser (Debian's chromium driven
// by playwright-core) against a real `osprey serve` with auth on, a
// detection model, and a fake OpenAI upstream over TLS that streams
// "Hello there". Walks through what a person does: a wrong key, sign in,
// detect a dog, filter by confidence, chat, create and revoke a key, usage
// charts, a phone-width layout, and the webcam over the WebSocket.
//
//   OSPREY_BINARY=build/src/cli/osprey node --test tests/console/console.test.mjs
//
// Env: OSPREY_BINARY (required), OSPREY_SHARED_DIR (models and images;
// default /work/shared), OSPREY_CHROMIUM (default /usr/bin/chromium),
// OSPREY_ARTIFACTS_DIR (screenshots; default a temp dir, printed),
// OSPREY_CONSOLE_DIR (passed on: serve the console files from a folder
// instead of those compiled in), OSPREY_TEST_VERBOSE (print the server log).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

import { makeCerts, waitForListening } from '../support/node/harness.mjs';

const ADMIN_KEY = 'osk-console-test-admin-key-7f3e9a1c5b2d4e6f8a0b';
const UPSTREAM_KEY = 'sk-console-upstream-key-1a2b3c4d5e6f';
const SHARED = process.env.OSPREY_SHARED_DIR || '/work/shared';
const DOG = path.join(SHARED, 'images', 'dog.jpg');

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'osprey-console-'));
const artifacts = process.env.OSPREY_ARTIFACTS_DIR || fs.mkdtempSync(path.join(os.tmpdir(), 'osprey-console-shots-'));
fs.mkdirSync(artifacts, { recursive: true });

let upstream;
let osprey;
const log = { text: '' };  // what osprey printed
let base;
let browser;
let context;
let page;
const requests = [];      // every request the page made: {method, url}
const pageErrors = [];    // uncaught exceptions in the page
const consoleErrors = []; // console.error messages (CSP violations land here)
const sockets = [];       // WebSocket URLs the page opened
let video = null;         // a video file for a server-side stream (made with ffmpeg)

// ---------------------------------------------------------------------------
// The fake upstream (as in tests/node/sdk.test.mjs; tests/support/node/harness.mjs)


const chunk = (model, delta, finish = null) => ({
  id: 'chatcmpl-console', object: 'chat.completion.chunk', created: 1700000000, model,
  choices: [{ index: 0, delta, finish_reason: finish }],
});

function handle(req, res, body) {
  if (req.method === 'GET' && req.url === '/v1/models') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ object: 'list', data: [{ id: 'gpt-test', object: 'model', created: 1, owned_by: 'test' }] }));
  }
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
    res.writeHead(404, { 'content-type': 'application/json' });
    return res.end(JSON.stringify({ error: { message: 'no such route', type: 'invalid_request_error', code: 'not_found' } }));
  }
  const j = JSON.parse(body);
  if (j.model === 'rate-limited') {
    res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '3600' });
    return res.end(JSON.stringify({ error: { message: 'Rate limit reached', type: 'rate_limit_error', param: null, code: 'rate_limit_exceeded' } }));
  }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const events = [chunk(j.model, { role: 'assistant', content: '' }),
    ...['Hel', 'lo', ' there'].map((t) => chunk(j.model, { content: t })),
    chunk(j.model, {}, 'stop')];
  if (j.stream_options?.include_usage)
    events.push({ ...chunk(j.model, {}), choices: [], usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 } });
  let i = 0;
  const next = () => {
    if (i < events.length) {
      res.write(`data: ${JSON.stringify(events[i++])}\n\n`);
      setTimeout(next, 20);
    } else {
      res.end('data: [DONE]\n\n');
    }
  };
  next();
}


// Waits until the server reports the model available (it loads after `listening`).
async function waitForModel() {
  const end = Date.now() + 90000;
  while (Date.now() < end) {
    const r = await fetch(`${base}/v1/detection/models`, { headers: { Authorization: `Bearer ${ADMIN_KEY}` } }).catch(() => null);
    if (r && r.ok) {
      const j = await r.json();
      if (j.data.some((m) => m.state === 'available')) return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`no detection model became available:\n${log.text}`);
}

const api = (p, key = ADMIN_KEY) => fetch(`${base}${p}`, { headers: { Authorization: `Bearer ${key}` } });

let shot = 0;
async function screenshot(name, opts = {}) {
  shot += 1;
  const file = path.join(artifacts, `${String(shot).padStart(2, '0')}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true, ...opts });
  return file;
}

const byTestId = (id) => page.getByTestId(id);

before(async () => {
  const binary = process.env.OSPREY_BINARY;
  assert.ok(binary && fs.existsSync(binary), `OSPREY_BINARY must name the built osprey binary (got '${binary}')`);
  assert.ok(fs.existsSync(DOG), `missing ${DOG} (set OSPREY_SHARED_DIR)`);
  makeCerts(tmp, 'Osprey Console Test CA');
  upstream = https.createServer({ key: fs.readFileSync(path.join(tmp, 'srv.key')), cert: fs.readFileSync(path.join(tmp, 'srv.pem')) },
    (req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => handle(req, res, body));
    });
  await new Promise((r) => upstream.listen(0, '127.0.0.1', r));
  // A short video for a server-side stream (a file in --video-dirs), when ffmpeg is there.
  const videos = path.join(tmp, 'videos');
  fs.mkdirSync(videos);
  try {
    execFileSync('ffmpeg', ['-loglevel', 'error', '-loop', '1', '-i', DOG, '-t', '3', '-r', '5', '-vf', 'scale=384:-2',
                            '-c:v', 'mjpeg', path.join(videos, 'dog.avi')], { stdio: 'pipe' });
    video = path.join(videos, 'dog.avi');
  } catch {
    video = null;
  }
  const models = path.join(tmp, 'models');
  fs.mkdirSync(models);
  fs.symlinkSync(path.join(SHARED, 'models', 'yolov8n-ts'), path.join(models, 'yolov8n-ts'));
  osprey = spawn(binary, ['serve', '--host', '127.0.0.1', '--port', '0', '--models', models, '--data-dir', path.join(tmp, 'data')], {
    env: {
      ...process.env,
      OPENAI_BASE_URL: `https://127.0.0.1:${upstream.address().port}/v1`,
      OPENAI_API_KEY: UPSTREAM_KEY,
      OSPREY_UPSTREAM_CA_FILE: path.join(tmp, 'ca.pem'),
      OSPREY_UPSTREAM_RETRY_BASE_MS: '1',
      OSPREY_AUTH: 'true',
      OSPREY_ADMIN_KEY: ADMIN_KEY,
      OSPREY_ENV_FILE: path.join(tmp, 'none.env'),
      OSPREY_VIDEO_DIRS: videos,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await waitForListening(osprey, log, 90000);
  base = `http://127.0.0.1:${port}`;
  await waitForModel();

  browser = await chromium.launch({
    executablePath: process.env.OSPREY_CHROMIUM || '/usr/bin/chromium',
    args: ['--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream'],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  await context.grantPermissions(['camera'], { origin: base });
  page = await context.newPage();
  page.setDefaultTimeout(20000);
  page.on('request', (r) => requests.push({ method: r.method(), url: r.url() }));
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    // The browser logs every 4xx it gets; those are expected here (a wrong key, a 429).
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
  });
  page.on('websocket', (ws) => sockets.push(ws.url()));
  console.log(`# screenshots: ${artifacts}`);
});

after(async () => {
  if (browser) await browser.close();
  if (osprey && osprey.exitCode === null) {
    osprey.kill('SIGTERM');
    await new Promise((r) => { osprey.on('exit', r); setTimeout(r, 10000); });
  }
  if (upstream) upstream.close();
  if (process.env.OSPREY_TEST_VERBOSE) console.error(log.text);
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log(`# screenshots: ${artifacts}`);
});

const detectPosts = () => requests.filter((r) => r.method === 'POST' && new URL(r.url).pathname === '/v1/detect').length;

// ---------------------------------------------------------------------------

test('a wrong key gets a clear message and nothing else loads', async () => {
  await page.goto(`${base}/console`);
  await byTestId('key-input').fill('osk-this-key-does-not-exist-0000000000');
  const before = requests.length;
  await byTestId('signin-submit').click();
  const err = byTestId('signin-error');
  await err.waitFor({ state: 'visible' });
  assert.match(await err.textContent(), /not accepted/i);
  assert.equal(await byTestId('app').isVisible(), false, 'the console must stay hidden');
  assert.equal(await byTestId('tab-detect').isVisible(), false);
  await page.waitForTimeout(300);
  const api = requests.slice(before).filter((r) => new URL(r.url).pathname.startsWith('/v1/'));
  assert.deepEqual(api.map((r) => new URL(r.url).pathname), ['/v1/usage'], 'only the key check may run');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0, 'a wrong key must not be kept');
  await screenshot('wrong-key');
});

test('sign in with the admin key shows every section', async () => {
  await byTestId('key-input').fill(ADMIN_KEY);
  await byTestId('signin-submit').click();
  await byTestId('app').waitFor({ state: 'visible' });
  for (const t of ['detect', 'live', 'chat', 'usage', 'admin']) assert.ok(await byTestId(`tab-${t}`).isVisible(), `tab ${t}`);
  assert.match(await byTestId('session-scopes').textContent(), /admin/);
  assert.ok(!(await page.content()).includes(ADMIN_KEY), 'the key must not be written into the page');
  // The tabs work from the keyboard (arrows, Home, End).
  await byTestId('tab-detect').focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await byTestId('tab-live').getAttribute('aria-selected'), 'true');
  assert.ok(await byTestId('panel-live').isVisible());
  await page.keyboard.press('End');
  assert.equal(await byTestId('tab-admin').getAttribute('aria-selected'), 'true');
  await page.keyboard.press('Home');
  assert.equal(await byTestId('tab-detect').getAttribute('aria-selected'), 'true');
  assert.equal(await byTestId('panel-admin').isVisible(), false);
  await screenshot('signed-in');
});

test('detect a dog: table, boxes on the canvas, timings', async () => {
  await byTestId('tab-detect').click();
  const before = detectPosts();
  await byTestId('detect-file').setInputFiles(DOG);
  const dogRow = page.locator('[data-testid=detection-row][data-label=dog]');
  await dogRow.waitFor({ state: 'visible', timeout: 30000 });
  assert.equal(detectPosts(), before + 1);
  assert.match(await byTestId('timing-inference').textContent(), /\d+(\.\d)? ms/);

  // The dog's box as the table gives it (original pixels), its colour from the row's swatch.
  const boxText = await dogRow.locator('td.mono').textContent();
  const [x1, y1, x2, y2] = boxText.split(',').map((s) => Number(s.trim()));
  assert.ok(x2 - x1 > 100 && y2 - y1 > 200, `dog box ${boxText}`);
  const swatch = await dogRow.locator('.swatch').evaluate((el) => getComputedStyle(el).backgroundColor);
  const rgb = swatch.match(/\d+/g).slice(0, 3).map(Number);

  // Pixels of the canvas along the box's left and right edges have that colour.
  const px = await page.evaluate(({ x1, y1, x2, y2, rgb }) => {
    const c = document.querySelector('[data-testid=detect-canvas]');
    const ctx = c.getContext('2d');
    const near = (p) => Math.abs(p[0] - rgb[0]) <= 12 && Math.abs(p[1] - rgb[1]) <= 12 && Math.abs(p[2] - rgb[2]) <= 12;
    let hits = 0;
    let total = 0;
    for (let y = y1 + 40; y < y2 - 10; y += 6) {
      for (const x of [x1 + 1, x2 - 2]) {
        total += 1;
        if (near(ctx.getImageData(x, y, 1, 1).data)) hits += 1;
      }
    }
    // The middle of the box is the photo, not the outline.
    const mid = ctx.getImageData(Math.round((x1 + x2) / 2), Math.round((y1 + y2) / 2), 1, 1).data;
    return { width: c.width, height: c.height, hits, total, midIsOutline: near(mid) };
  }, { x1, y1, x2, y2, rgb });
  assert.equal(px.width, 768, 'the canvas has the picture at its own size');
  assert.equal(px.height, 576);
  assert.ok(px.hits / px.total >= 0.8, `box outline colour along the dog's edges: ${px.hits}/${px.total}`);
  assert.equal(px.midIsOutline, false);
  await screenshot('detect');
});

test('moving confidence up filters in the page; down asks again', async () => {
  const rows = page.getByTestId('detection-row');
  const n = await rows.count();
  const confs = await rows.evaluateAll((els) => els.map((e) => Number(e.dataset.confidence)));
  const reqConf = Number(await byTestId('detect-confidence').inputValue());
  assert.ok(n >= 2, `want several detections, got ${n}`);
  const before = detectPosts();
  // Halfway between the weakest and the strongest: fewer rows, the dog stays.
  const target = Math.round(((Math.min(...confs) + Math.max(...confs)) / 2) * 100) / 100;
  assert.ok(target > reqConf);
  await byTestId('detect-confidence').fill(String(target));
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=detection-row]').length < n, n);
  await page.waitForTimeout(800);  // longer than the page's debounce
  assert.equal(detectPosts(), before, 'raising the confidence must not send a request');
  assert.equal(await rows.count(), confs.filter((c) => c >= target).length);
  assert.ok(await page.locator('[data-testid=detection-row][data-label=dog]').isVisible());
  await screenshot('detect-filtered');

  // Below the confidence the last request used: the page asks the server again.
  await byTestId('detect-confidence').fill(String(Math.max(0.05, Math.round((reqConf - 0.1) * 100) / 100)));
  const end = Date.now() + 10000;
  while (detectPosts() === before && Date.now() < end) await page.waitForTimeout(100);
  assert.equal(detectPosts(), before + 1, 'lowering the confidence sends one new request');
  await page.waitForFunction((n) => document.querySelectorAll('[data-testid=detection-row]').length >= n, n);
});

test('chat streams the answer with its token usage; errors are readable', async () => {
  await byTestId('tab-chat').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=chat-model]').value === 'gpt-test');
  await byTestId('chat-input').fill('Say hello');
  await byTestId('chat-send').click();
  const answer = byTestId('chat-answer').last();
  await page.waitForFunction(() => {
    const a = [...document.querySelectorAll('[data-testid=chat-answer]')].pop();
    return a && a.textContent === 'Hello there';
  });
  assert.equal(await answer.textContent(), 'Hello there');
  const usage = byTestId('chat-usage').last();
  await page.waitForFunction(() => /10 tokens/.test([...document.querySelectorAll('[data-testid=chat-usage]')].pop().textContent));
  assert.match(await usage.textContent(), /7 prompt \+ 3 completion = 10 tokens/);
  // The cost comes from the ledger record of that request, once it is there.
  await page.waitForFunction(() => /cost/.test([...document.querySelectorAll('[data-testid=chat-usage]')].pop().textContent),
    null, { timeout: 5000 }).catch(() => {});
  await screenshot('chat');

  // An upstream 429 is shown with its Retry-After.
  await byTestId('chat-model').fill('rate-limited');
  await byTestId('chat-input').fill('again');
  await byTestId('chat-send').click();
  const err = byTestId('chat-error');
  await err.waitFor({ state: 'visible' });
  assert.match(await err.textContent(), /Rate limited.*Retry in \d+ s/);
  assert.equal(await byTestId('chat-input').inputValue(), 'again', 'the question is kept to send again');
  await screenshot('chat-rate-limited');
  await byTestId('chat-model').fill('gpt-test');
  await byTestId('chat-input').fill('');
});

test('admin: create a detect key, shown once, revoke it; unload and load a model', async () => {
  await byTestId('tab-admin').click();
  await byTestId('key-name').fill('console-test-key');
  await byTestId('key-scope-detect').check();
  await byTestId('key-ipm').fill('120');
  await byTestId('key-create').click();
  await byTestId('new-key').waitFor({ state: 'visible' });
  const key = (await byTestId('new-key-value').textContent()).trim();
  assert.ok(key.length >= 20, `new key: ${key}`);
  const row = page.locator('[data-testid=key-row][data-key-name="console-test-key"]');
  await row.waitFor();
  assert.match(await row.getByTestId('key-status').textContent(), /Active/);
  assert.match(await row.textContent(), /detect/);
  assert.match(await row.textContent(), /ipm 120/);
  // The key works, with the detect scope only.
  assert.equal((await api('/v1/detection/models', key)).status, 200);
  assert.equal((await api('/v1/admin/keys', key)).status, 403);
  await screenshot('key-created');
  // The console knows which key it runs with.
  assert.ok(await page.locator('[data-testid=key-row][data-key-name=bootstrap-admin] [data-testid=key-session]').isVisible());

  // Signed in with that key (another tab), the console offers only what detect allows.
  const other = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  try {
    const p2 = await other.newPage();
    await p2.goto(`${base}/console`);
    await p2.getByTestId('key-input').fill(key);
    await p2.getByTestId('signin-submit').click();
    await p2.getByTestId('app').waitFor({ state: 'visible' });
    for (const [t, shown] of [['detect', true], ['live', true], ['usage', true], ['chat', false], ['admin', false]])
      assert.equal(await p2.getByTestId(`tab-${t}`).isVisible(), shown, `tab ${t} for a detect key`);
    assert.equal(await p2.getByTestId('stream-create-form').isVisible(), false, 'creating streams is for admins');
    await p2.screenshot({ path: path.join(artifacts, `${String(++shot).padStart(2, '0')}-detect-key-session.png`), fullPage: true });
  } finally {
    await other.close();
  }

  // Shown once: gone from the page after "I have stored it".
  await byTestId('new-key-done').click();
  assert.equal(await byTestId('new-key').isVisible(), false);
  assert.ok(!(await page.content()).includes(key), 'the new key must not stay in the page');

  await row.getByTestId('key-revoke').click();
  await row.getByTestId('key-revoke-confirm').click();
  await page.waitForFunction(() => /Revoked/.test(
    document.querySelector('[data-testid=key-row][data-key-name="console-test-key"] [data-testid=key-status]')?.textContent || ''));
  assert.equal(await row.getAttribute('data-state'), 'revoked');
  assert.equal((await api('/v1/usage', key)).status, 401, 'a revoked key is refused');
  await page.waitForFunction(() => /\d/.test(document.querySelector('[data-testid=metric-requests]').textContent));
  await screenshot('key-revoked');

  // Models: unload (with a confirmation), then load again.
  const model = (state) => page.locator(`[data-testid=model-row][data-model=yolov8n-ts]${state ? `[data-state=${state}]` : ''}`);
  await model('available').waitFor();
  await model().getByTestId('model-unload').click();
  await model().getByTestId('model-unload-confirm').click();
  await model('unloaded').waitFor();
  assert.equal((await (await api('/v1/detection/models')).json()).data.length, 0, 'the server unloaded it');
  await model().getByTestId('model-load').click();
  await model('available').waitFor({ timeout: 60000 });
});

test('usage charts per day and per model', async () => {
  await byTestId('tab-usage').click();
  const day = page.locator('[data-testid=usage-chart-day] .uplot canvas');
  const model = page.locator('[data-testid=usage-chart-model] .uplot canvas');
  await day.waitFor();
  await model.waitFor();
  for (const c of [day, model]) {
    const size = await c.evaluate((el) => ({ w: el.width, h: el.height }));
    assert.ok(size.w > 100 && size.h > 50, `chart canvas ${JSON.stringify(size)}`);
  }
  // The per-model chart has a bar for the detection model: its label is on the axis.
  assert.match(await page.locator('[data-testid=usage-chart-model]').textContent(), /yolov8n-ts/);
  await page.locator('[data-testid=usage-record][data-route="/v1/detect"]').first().waitFor();
  assert.match(await byTestId('usage-total-requests').textContent(), /[1-9]/);
  await byTestId('usage-metric').selectOption('total_tokens');
  await page.locator('[data-testid=usage-chart-model] .uplot canvas').waitFor();
  await screenshot('usage');
});

test("the page's requests are in the ledger", async () => {
  const j = await (await api('/v1/usage?limit=100')).json();
  const routes = new Set(j.data.filter((r) => r.status === 200).map((r) => r.route));
  assert.ok(routes.has('/v1/detect'), [...routes].join(' '));
  assert.ok(routes.has('/v1/chat/completions'), [...routes].join(' '));
  const chat = j.data.find((r) => r.route === '/v1/chat/completions' && r.status === 200);
  assert.equal(chat.prompt_tokens, 7);
  assert.equal(chat.completion_tokens, 3);
});

test('phone width: the layout fits 390 px', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  await byTestId('tab-detect').click();
  await page.waitForTimeout(200);
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(overflow <= 391, `page is ${overflow} px wide at 390`);
  await screenshot('phone-detect', { fullPage: false });
  await byTestId('tab-chat').click();
  await screenshot('phone-chat', { fullPage: false });
  await page.setViewportSize({ width: 1280, height: 900 });
});

test('live: a server-side stream, created, watched and deleted by the admin', async (t) => {
  if (!video) return t.skip('ffmpeg is not installed: no video to stream');
  await byTestId('tab-live').click();
  await byTestId('stream-source').fill(video);
  await byTestId('stream-fps').fill('3');
  await page.locator('#stream-loop').check();
  await byTestId('stream-create').click();
  const row = byTestId('stream-row');
  await row.first().waitFor({ timeout: 30000 });
  await byTestId('stream-viewer').waitFor({ state: 'visible' });
  // Frames from the MJPEG (fetched with the key, split into pictures) and detections from the events.
  await page.waitForFunction(() => {
    const img = document.querySelector('[data-testid=stream-img]');
    return img.src.startsWith('blob:') && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 30000 });
  await page.waitForFunction(() => /Frame \d+/.test(document.querySelector('[data-testid=stream-info]').textContent), null, { timeout: 30000 });
  await page.waitForFunction(() => /dog/.test(document.querySelector('#stream-objects').textContent), null, { timeout: 30000 });
  await screenshot('stream');
  await row.first().getByRole('button', { name: /Delete stream/ }).click();
  await page.waitForFunction(() => !document.querySelector('[data-testid=stream-row]'));
  assert.equal(await byTestId('stream-viewer').isVisible(), false);
  assert.equal((await (await api('/v1/streams')).json()).data.length, 0);
});

test('live: fake webcam frames over the WebSocket get answers, fps shown', async () => {
  await byTestId('tab-live').click();
  await byTestId('live-start').click();
  await page.waitForFunction(() => Number(document.querySelector('[data-testid=live-answers]').textContent) >= 3, null, { timeout: 45000 });
  assert.ok(sockets.some((u) => new URL(u).pathname === '/v1/detect/ws'), sockets.join(' '));
  await page.waitForTimeout(1000);
  const fps = await byTestId('live-fps').textContent();
  assert.match(fps, /^\d+\.\d fps$/);
  assert.ok(Number(fps.split(' ')[0]) > 0, fps);
  assert.match(await byTestId('live-latency').textContent(), /\d+ ms/);
  await screenshot('live');
  await byTestId('live-stop').click();
});

test('a reload keeps the session; signing out forgets the key', async () => {
  await page.reload();
  await byTestId('app').waitFor({ state: 'visible' });
  assert.equal(await byTestId('tab-live').getAttribute('aria-selected'), 'true', 'the tab in the URL is shown again');
  await byTestId('signout').click();
  await byTestId('signin-form').waitFor({ state: 'visible' });
  assert.equal(await byTestId('app').isVisible(), false);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
});

test('no errors in the page, no request leaves the server', async () => {
  assert.deepEqual(pageErrors, []);
  assert.deepEqual(consoleErrors, []);
  const foreign = requests.filter((r) => !r.url.startsWith(base) && !r.url.startsWith('blob:') && !r.url.startsWith('data:'));
  assert.deepEqual(foreign, []);
  assert.ok(!log.text.includes(UPSTREAM_KEY), 'the upstream key appeared in the osprey log');
});
