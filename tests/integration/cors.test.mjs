// Whole-process tests for browser access and header forwarding (issue 5):
//  1. headless Chromium runs the real openai SDK (ES modules served from node_modules/openai) in a
//     page served from another origin (http://app.example.test:<port>, mapped to 127.0.0.1) and
//     calls the gateway: refused while the origin is not allowed (nothing reaches the upstream),
//     refused while the SDK's x-stainless-* headers are not allowed (the preflight's 403 is seen),
//     then, after `finopsctl settings set allowed_origins=+... allowed_headers=+x-stainless-*`,
//     plain and streamed completions work and x-request-id, a 401's body and a 429's retry-after
//     and x-ratelimit-* headers are readable from page code;
//  2. which client headers the mock upstream receives with forward_headers and extra_headers set
//     (never the virtual key, never Authorization from the client, never x-bf-eh-authorization),
//     and how `finopsctl settings set` edits and validates the lists.
//
//   cd tests/integration && npm ci && node --test --test-concurrency=1 cors.test.mjs
//
// Needs Chromium (Debian: apt-get install chromium; or set FINOPS_CHROMIUM to its path). A
// missing browser fails the test: nothing is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { chromium } from 'playwright-core';

import { startMockOpenAI, mockReplyText } from '../fixtures/mock_openai.mjs';
import { BIN_DIR, binariesPresent, FinopsEnv, pollUntil, rawRequest, showCtl, assertCode, assertErrorShape, sleep } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const SDK_DIR = path.join(here, 'node_modules', 'openai');
const CHROMIUM = process.env.FINOPS_CHROMIUM || '/usr/bin/chromium';
const MODEL = 'openai/gpt-4o-mini';
const log = (...a) => console.log('[cors]', ...a);

/** finopsctl that must exit 0; returns the parsed JSON. */
async function ctlJson(env, args, opts) {
  const r = await env.ctl([...args, '-o', 'json'], opts);
  assertCode(r, 0);
  assert.ok(r.json !== null, `finopsctl printed no JSON:\n${showCtl(r)}`);
  return r.json;
}

/** Waits until the data plane `nodeId` has acked the control plane's config version. */
async function waitAcked(env, nodeId, timeoutMs = 8000) {
  let last = '';
  await pollUntil(
    async () => {
      const r = await env.ctl(['dataplanes', 'list', '-o', 'json']);
      last = r.stdout + r.stderr;
      const j = r.json;
      if (r.code !== 0 || !j || !Array.isArray(j.data_planes)) return false;
      return j.data_planes.some((d) => d.node_id === nodeId && d.connected === true && d.acked_version === j.config_version);
    },
    { timeoutMs, intervalMs: 50, what: `data plane ${nodeId} to ack the latest config` },
  ).catch((e) => {
    throw new Error(`${e.message}; last dataplanes list: ${last}`);
  });
}

/** `finopsctl settings set ...` that must succeed; waits until the data plane applied it. */
async function setSettings(env, nodeId, ...kv) {
  const j = await ctlJson(env, ['settings', 'set', ...kv]);
  await waitAcked(env, nodeId);
  return j;
}

/**
 * The browser app's origin server: GET / is a page that imports the openai SDK as ES modules
 * from /sdk/openai/ (the files of node_modules/openai, whose .mjs import only relative paths).
 */
async function startAppServer() {
  const page = `<!doctype html>
<html><head><meta charset="utf-8"><title>FinOps browser client</title></head>
<body><script type="module">
import OpenAI from '/sdk/openai/index.mjs';
window.OpenAI = OpenAI;
window.sdkLoaded = true;
</script></body></html>`;
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://app');
    if (req.method === 'GET' && u.pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(page);
      return;
    }
    if (req.method === 'GET' && u.pathname.startsWith('/sdk/openai/')) {
      const file = path.resolve(SDK_DIR, '.' + u.pathname.slice('/sdk/openai'.length));
      if (file.startsWith(SDK_DIR + path.sep) && file.endsWith('.mjs') && fs.existsSync(file)) {
        res.writeHead(200, { 'content-type': 'text/javascript; charset=utf-8' });
        res.end(fs.readFileSync(file));
        return;
      }
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

/**
 * Calls chat completions with the SDK inside the page; never throws. Returns
 * {ok, text, requestId, sdkRequestId} or {ok: false, name, status, message, requestID, headers, error}.
 */
function sdkChat(page, { baseURL, apiKey, model = MODEL, content = 'hello', stream = false }) {
  return page.evaluate(
    async ({ baseURL, apiKey, model, content, stream }) => {
      const client = new window.OpenAI({ baseURL, apiKey, dangerouslyAllowBrowser: true, maxRetries: 0, timeout: 10000 });
      const body = { model, messages: [{ role: 'user', content }] };
      try {
        if (stream) {
          const { data, response } = await client.chat.completions.create({ ...body, stream: true }).withResponse();
          let text = '';
          let chunks = 0;
          for await (const chunk of data) {
            chunks += 1;
            text += chunk.choices[0]?.delta?.content ?? '';
          }
          return { ok: true, text, chunks, requestId: response.headers.get('x-request-id') };
        }
        const { data, response, request_id } = await client.chat.completions.create(body).withResponse();
        return { ok: true, text: data.choices[0].message.content, requestId: response.headers.get('x-request-id'), sdkRequestId: request_id };
      } catch (e) {
        return {
          ok: false,
          name: e?.constructor?.name ?? typeof e,
          status: e?.status ?? null,
          message: String(e?.message ?? e),
          requestID: e?.requestID ?? null,
          headers: e?.headers && typeof e.headers.entries === 'function' ? Object.fromEntries(e.headers.entries()) : null,
          error: e?.error ?? null,
        };
      }
    },
    { baseURL, apiKey, model, content, stream },
  );
}

/** The data plane's access-log lines (JSON) so far. */
function accessLog(dp) {
  return dp.stderr
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l);
      } catch {
        return null;
      }
    })
    .filter((j) => j && j.msg === 'request');
}

const chatRequests = (mock, mark) => mock.since(mark).filter((r) => /\/chat\/completions$/.test(r.path));

// =================================================================================================
test('browser: the real openai SDK from another origin, refused then allowed', { timeout: 120000 }, async (t) => {
  if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set FINOPS_CHROMIUM)`);
  const env = new FinopsEnv('cors');
  const mock = await startMockOpenAI();
  const app = await startAppServer();
  let browser = null;
  try {
    await env.startControlPlane();
    await ctlJson(env, ['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '--api-key-env', 'PROVIDER_KEY'], { env: { PROVIDER_KEY: 'sk-mock-cors' } });
    const dp = await env.startDataPlane({ nodeId: 'it-cors-1', threads: 1 });
    const key = await ctlJson(env, ['keys', 'create', '--name', 'browser']);
    assert.match(key.key ?? '', /^sk-fo-/, JSON.stringify(key));
    await waitAcked(env, dp.nodeId);
    const baseURL = `${dp.url}/v1`;
    const appOrigin = `http://app.example.test:${app.port}`;

    // The defaults: the localhost origins and the five headers.
    const settings = await ctlJson(env, ['settings', 'get']);
    assert.ok(settings.allowed_origins.includes('http://localhost:*'), JSON.stringify(settings));
    assert.deepEqual(settings.allowed_headers, ['content-type', 'authorization', 'x-requested-with', 'x-stainless-timeout', 'x-api-key']);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--host-resolver-rules=MAP *.example.test 127.0.0.1', '--no-proxy-server'],
    });
    const page = await browser.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // Playwright does not report preflights; the DevTools protocol does (type "Preflight").
    const preflights = [];
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('Network.enable');
    cdp.on('Network.responseReceived', (e) => {
      if (e.type === 'Preflight') preflights.push({ status: e.response.status, url: e.response.url, headers: e.response.headers });
    });
    const failed = [];
    page.on('requestfailed', (r) => failed.push(`${r.method()} ${r.url()} ${r.failure()?.errorText}`));

    await page.goto(`${appOrigin}/`);
    await page.waitForFunction(() => window.sdkLoaded === true, null, { timeout: 15000 }).catch((e) => {
      throw new Error(`the openai SDK did not load in the page: ${e.message}; page errors: ${pageErrors.join('; ')}`);
    });
    assert.equal(await page.evaluate(() => window.location.origin), appOrigin);

    await t.test('origin not allowed: the SDK call fails, the upstream receives nothing', async () => {
      const mark = mock.mark();
      const pre = preflights.length;
      const r = await sdkChat(page, { baseURL, apiKey: key.key });
      assert.equal(r.ok, false, JSON.stringify(r));
      assert.equal(r.name, 'APIConnectionError', JSON.stringify(r));
      assert.deepEqual(chatRequests(mock, mark), []);
      const seen = preflights.slice(pre);
      assert.ok(seen.some((p) => p.status === 403), `expected a 403 preflight, saw ${JSON.stringify(seen)}`);
      assert.ok(seen.every((p) => !Object.keys(p.headers).some((h) => h.toLowerCase() === 'access-control-allow-origin')), JSON.stringify(seen));

      // A "simple" request (no preflight): refused before it could spend anything.
      const logMark = accessLog(dp).length;
      const simple = await page.evaluate(async ({ url, body }) => {
        try {
          const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'text/plain' }, body });
          return { status: res.status };
        } catch (e) {
          return { error: String(e) };
        }
      }, { url: `${baseURL}/chat/completions`, body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'simple' }] }) });
      assert.ok(simple.error, `the page must not be able to read the refusal: ${JSON.stringify(simple)}`);
      assert.deepEqual(chatRequests(mock, mark), []);
      // (The access-log line is written just after the answer: wait for it.)
      await pollUntil(() => accessLog(dp).slice(logMark).some((l) => l.method === 'POST' && l.status === 403), {
        timeoutMs: 3000,
        what: 'a POST 403 line in the data plane access log',
      });

      // The same refusal, read outside a browser: OpenAI error shape naming the fix.
      const raw = await rawRequest(dp.url, {
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { origin: appOrigin, 'content-type': 'application/json', authorization: `Bearer ${key.key}` },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
      });
      const e = assertErrorShape(raw, 403, { code: 'cors_origin_not_allowed', type: 'invalid_request_error' });
      assert.ok(e.message.includes(appOrigin), e.message);
      assert.ok(e.message.includes(`finopsctl settings set allowed_origins=+${appOrigin}`), e.message);
      assert.equal(raw.headers['access-control-allow-origin'], undefined);
      assert.deepEqual(chatRequests(mock, mark), []);
    });

    await t.test('origin allowed, the SDK x-stainless-* headers not: the preflight is refused', async () => {
      const s = await setSettings(env, dp.nodeId, `allowed_origins=+${appOrigin}`);
      assert.ok(s.allowed_origins.includes(appOrigin), JSON.stringify(s));
      assert.ok(s.allowed_origins.includes('http://localhost:*'), `+ must keep the defaults: ${JSON.stringify(s)}`);
      const mark = mock.mark();
      const pre = preflights.length;
      const r = await sdkChat(page, { baseURL, apiKey: key.key });
      assert.equal(r.ok, false, JSON.stringify(r));
      assert.deepEqual(chatRequests(mock, mark), []);
      const seen = preflights.slice(pre);
      assert.ok(seen.some((p) => p.status === 403), `expected a 403 preflight, saw ${JSON.stringify(seen)}`);

      // What that preflight got, asked outside the browser with the headers the SDK lists.
      const raw = await rawRequest(dp.url, {
        method: 'OPTIONS',
        path: '/v1/chat/completions',
        headers: {
          origin: appOrigin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-stainless-arch,x-stainless-lang,x-stainless-os',
        },
      });
      const e = assertErrorShape(raw, 403, { code: 'cors_header_not_allowed', type: 'invalid_request_error' });
      assert.ok(e.message.includes("'x-stainless-lang'"), e.message);
      assert.ok(e.message.includes('finopsctl settings set allowed_headers=+x-stainless-*'), e.message);
      assert.equal(raw.headers['access-control-allow-origin'], undefined);
    });

    await t.test('origin and x-stainless-* allowed: completions, streams, request ids, errors readable', async () => {
      const s = await setSettings(env, dp.nodeId, 'allowed_headers=+x-stainless-*');
      assert.ok(s.allowed_headers.includes('x-stainless-*') && s.allowed_headers.includes('authorization'), JSON.stringify(s));
      const mark = mock.mark();
      const pre = preflights.length;

      const plain = await sdkChat(page, { baseURL, apiKey: key.key, content: 'from the browser' });
      assert.equal(plain.ok, true, JSON.stringify(plain));
      assert.equal(plain.text, mockReplyText({ messages: [{ role: 'user', content: 'from the browser' }] }));
      assert.match(plain.requestId ?? '', /^req_/, `x-request-id must be readable: ${JSON.stringify(plain)}`);
      assert.equal(plain.sdkRequestId, plain.requestId);
      const seen = preflights.slice(pre);
      assert.ok(seen.some((p) => p.status === 204), `expected a 204 preflight, saw ${JSON.stringify(seen)}`);
      const ok = seen.find((p) => p.status === 204);
      const h = Object.fromEntries(Object.entries(ok.headers).map(([k, v]) => [k.toLowerCase(), v]));
      assert.equal(h['access-control-allow-origin'], appOrigin);
      assert.equal(h['access-control-allow-credentials'], 'true');
      assert.equal(h['access-control-max-age'], '86400');
      assert.match(h['access-control-allow-headers'] ?? '', /x-stainless-lang/);
      assert.match(h['access-control-allow-headers'] ?? '', /authorization/);

      const streamed = await sdkChat(page, { baseURL, apiKey: key.key, content: 'streamed', stream: true });
      assert.equal(streamed.ok, true, JSON.stringify(streamed));
      assert.equal(streamed.text, mockReplyText({ messages: [{ role: 'user', content: 'streamed' }] }));
      assert.ok(streamed.chunks > 1, JSON.stringify(streamed));
      assert.match(streamed.requestId ?? '', /^req_/, JSON.stringify(streamed));

      const recs = chatRequests(mock, mark);
      assert.equal(recs.length, 2);
      for (const rec of recs) {
        assert.equal(rec.headers.authorization, 'Bearer sk-mock-cors', 'the upstream gets the provider key');
        assert.ok(!JSON.stringify(rec.headers).includes(key.key), 'the virtual key must not reach the upstream');
        assert.equal(rec.headers.origin, undefined, 'Origin is not forwarded');
      }

      // 401 from the gateway: status, body and request id readable.
      const bad = await sdkChat(page, { baseURL, apiKey: 'sk-fo-not-a-key' });
      assert.equal(bad.ok, false, JSON.stringify(bad));
      assert.equal(bad.status, 401, JSON.stringify(bad));
      assert.equal(bad.name, 'AuthenticationError', JSON.stringify(bad));
      assert.equal(bad.error?.code, 'invalid_api_key', JSON.stringify(bad));
      assert.match(bad.requestID ?? '', /^req_/, JSON.stringify(bad));

      // 429 from a rate limit: retry-after and x-ratelimit-* readable.
      const limited = await ctlJson(env, ['keys', 'create', '--name', 'browser-limited']);
      await ctlJson(env, ['ratelimits', 'create', '--key', 'browser-limited', '--requests', '1', '--window', '1h', '--rolling']);
      await waitAcked(env, dp.nodeId);
      let refused = null;
      const tries = [];
      for (let i = 0; i < 20 && !refused; i++) {
        const r = await sdkChat(page, { baseURL, apiKey: limited.key, content: `limited ${i}` });
        tries.push(r.ok ? 'ok' : `${r.status} ${r.headers?.['x-should-retry']}`);
        if (!r.ok && r.status === 429 && r.headers?.['x-should-retry'] === 'false') refused = r;
        else if (!r.ok) await sleep(100); // a retryable refusal (allowance not there yet)
      }
      assert.ok(refused, `no final 429 seen: ${JSON.stringify(tries)}`);
      assert.equal(refused.name, 'RateLimitError', JSON.stringify(refused));
      assert.equal(refused.error?.code, 'rate_limit_exceeded', JSON.stringify(refused));
      assert.ok(Number(refused.headers['retry-after']) > 0, `retry-after readable: ${JSON.stringify(refused.headers)}`);
      assert.ok(Number(refused.headers['retry-after-ms']) > 0, JSON.stringify(refused.headers));
      assert.equal(refused.headers['x-ratelimit-limit-requests'], '1', JSON.stringify(refused.headers));
      assert.equal(refused.headers['x-ratelimit-remaining-requests'], '0', JSON.stringify(refused.headers));
      assert.ok(refused.headers['x-ratelimit-reset-requests'], JSON.stringify(refused.headers));
      assert.match(refused.requestID ?? '', /^req_/, JSON.stringify(refused));

      // 413 from the body limit, answered before the request is routed: readable too (it used
      // to carry no CORS headers, so the page saw only a network error).
      const big = await sdkChat(page, { baseURL, apiKey: key.key, content: 'x'.repeat(4 * 1024 * 1024 + 1) });
      assert.equal(big.ok, false, JSON.stringify(big));
      assert.equal(big.status, 413, JSON.stringify(big));
      assert.equal(big.error?.code, 'request_too_large', JSON.stringify(big));
      assert.match(big.requestID ?? '', /^req_/, JSON.stringify(big));
      assert.deepEqual(pageErrors, []);
    });
    log(`requests that failed in the page: ${failed.length}`);
  } catch (err) {
    env.dumpLogs(t.name);
    throw err;
  } finally {
    if (browser) await browser.close().catch(() => {});
    await env.cleanup();
    await mock.close();
    await app.close();
  }
});

// =================================================================================================
test('forwarding: the upstream sees exactly the allowed client headers; settings edits', { timeout: 60000 }, async (t) => {
  if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
  const env = new FinopsEnv('fwd');
  const mock = await startMockOpenAI();
  try {
    await env.startControlPlane();
    await ctlJson(env, ['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '--api-key-env', 'PROVIDER_KEY'], { env: { PROVIDER_KEY: 'sk-mock-fwd' } });
    const dp = await env.startDataPlane({ nodeId: 'it-fwd-1', threads: 1 });
    const key = await ctlJson(env, ['keys', 'create', '--name', 'fwd']);
    await waitAcked(env, dp.nodeId);

    await t.test('nothing is forwarded by default', async () => {
      const mark = mock.mark();
      const client = new OpenAI({ baseURL: `${dp.url}/v1`, apiKey: key.key, maxRetries: 0, defaultHeaders: { 'x-trace-id': 't-0', 'x-bf-eh-openai-project': 'p-0' } });
      await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] });
      const [rec] = chatRequests(mock, mark);
      assert.equal(rec.headers['x-trace-id'], undefined);
      assert.equal(rec.headers['openai-project'], undefined);
      assert.ok(!Object.keys(rec.headers).some((h) => h.startsWith('x-stainless-') || h.startsWith('x-bf-')), JSON.stringify(rec.headers));
    });

    await t.test('forward_headers and extra_headers: exactly the allowed ones, never credentials', async () => {
      const s = await setSettings(env, dp.nodeId, 'forward_headers=x-trace-id,openai-organization,x-dropped', 'extra_headers=openai-project,helicone-*');
      assert.deepEqual(s.forward_headers, ['x-trace-id', 'openai-organization', 'x-dropped']);
      assert.deepEqual(s.extra_headers, ['openai-project', 'helicone-*']);
      const mark = mock.mark();
      const client = new OpenAI({
        baseURL: `${dp.url}/v1`,
        apiKey: key.key,
        maxRetries: 0,
        defaultHeaders: {
          'x-trace-id': 'trace-1',
          'openai-organization': 'org-1',
          'x-not-listed': 'no',
          'x-bf-eh-openai-project': 'proj-1',
          'x-bf-eh-helicone-auth': 'helicone-1',
          'x-bf-eh-other': 'no',
          'x-bf-eh-authorization': 'Bearer smuggled',
          'x-bf-eh-x-api-key': 'smuggled',
          'x-api-key': key.key,
          'x-bf-vk': key.key,
        },
      });
      const done = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'forward' }] });
      assert.equal(done.choices[0].message.content, mockReplyText({ messages: [{ role: 'user', content: 'forward' }] }));
      const [rec] = chatRequests(mock, mark);
      const h = rec.headers;
      assert.equal(h['x-trace-id'], 'trace-1');
      assert.equal(h['openai-organization'], 'org-1');
      assert.equal(h['openai-project'], 'proj-1');
      assert.equal(h['helicone-auth'], 'helicone-1');
      assert.equal(h.authorization, 'Bearer sk-mock-fwd', 'the provider key, not the client Authorization');
      for (const gone of ['x-not-listed', 'other', 'x-api-key', 'x-bf-vk', 'x-bf-eh-authorization', 'x-bf-eh-openai-project', 'x-bf-eh-other'])
        assert.equal(h[gone], undefined, `${gone} must not reach the upstream: ${JSON.stringify(h)}`);
      const all = JSON.stringify(h);
      assert.ok(!all.includes(key.key), `the virtual key reached the upstream: ${all}`);
      assert.ok(!all.includes('smuggled'), `a smuggled credential reached the upstream: ${all}`);

      // A header the client's Connection header names is hop-by-hop: dropped even when listed.
      const mark2 = mock.mark();
      const raw = await rawRequest(dp.url, {
        method: 'POST',
        path: '/v1/chat/completions',
        headers: {
          'content-type': 'application/json',
          authorization: `Bearer ${key.key}`,
          connection: 'keep-alive, x-dropped',
          'x-dropped': 'hop',
          'x-trace-id': 'trace-2',
        },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hop' }] }),
      });
      assert.equal(raw.status, 200, raw.text);
      const [rec2] = chatRequests(mock, mark2);
      assert.equal(rec2.headers['x-trace-id'], 'trace-2');
      assert.equal(rec2.headers['x-dropped'], undefined, JSON.stringify(rec2.headers));
    });

    await t.test('finopsctl settings: +, -, default, and refusals', async () => {
      let s = await ctlJson(env, ['settings', 'set', 'allowed_headers=-x-api-key', 'allowed_origins=+https://*.example.com']);
      assert.deepEqual(s.allowed_headers, ['content-type', 'authorization', 'x-requested-with', 'x-stainless-timeout']);
      assert.ok(s.allowed_origins.includes('https://*.example.com'), JSON.stringify(s));
      s = await ctlJson(env, ['settings', 'set', 'allowed_headers=default', 'allowed_origins=default', 'forward_headers=default', 'extra_headers=default']);
      assert.deepEqual(s.allowed_headers, ['content-type', 'authorization', 'x-requested-with', 'x-stainless-timeout', 'x-api-key']);
      assert.equal(s.allowed_origins.length, 6);
      assert.deepEqual(s.forward_headers, []);
      assert.deepEqual(s.extra_headers, []);
      const table = await env.ctl(['settings', 'get']);
      assertCode(table, 0);
      assert.match(table.stdout, /allowed_origins\s+http:\/\/localhost:\*, https:\/\/localhost:\*/);

      const before = (await ctlJson(env, ['settings', 'get'])).config_version;
      for (const [args, needle] of [
        [['forward_headers=authorization'], /never forwarded/],
        [['extra_headers=x-bf-vk'], /never forwarded/],
        [['allowed_origins=https://app.example.com/path'], /allowed_origins/],
        [['allowed_headers=bad header'], /not a valid header name/],
      ]) {
        const r = await env.ctl(['settings', 'set', ...args]);
        assertCode(r, 2);
        assert.match(r.stderr, needle, showCtl(r));
      }
      for (const args of [['nope=1'], ['allowed_headers=-not-there'], ['enforce_keys=maybe'], ['allowed_headers']]) {
        const r = await env.ctl(['settings', 'set', ...args]);
        assertCode(r, 2);
      }
      assert.equal((await ctlJson(env, ['settings', 'get'])).config_version, before, 'a refused edit must not change the config');
    });

    await t.test('finopsctl settings: concurrent + edits are all kept', async () => {
      // Eight admins adding an origin each at the same moment: each `set` reads, edits and writes
      // back only if nobody wrote in between (retrying if somebody did), so no edit is lost.
      const start = (await ctlJson(env, ['settings', 'get'])).revision;
      const origins = Array.from({ length: 8 }, (_, i) => `https://team${i}.example.com`);
      const runs = await Promise.all(origins.map((o) => env.ctl(['settings', 'set', `allowed_origins=+${o}`])));
      for (const r of runs) assertCode(r, 0);
      const s = await ctlJson(env, ['settings', 'get']);
      for (const o of origins) assert.ok(s.allowed_origins.includes(o), `${o} was lost: ${JSON.stringify(s.allowed_origins)}`);
      assert.equal(s.revision, start + 8, JSON.stringify(s));
      await ctlJson(env, ['settings', 'set', 'allowed_origins=default']);
    });
  } catch (err) {
    env.dumpLogs(t.name);
    throw err;
  } finally {
    await env.cleanup();
    await mock.close();
  }
});
