// Hostile input (issue 5): the data plane's limits on JSON depth, messages, header and body
// size, open connections, and its timeouts against slow clients, against the real binaries.
//
//   cd tests/integration && npm ci && node --test --test-concurrency=1 limits.test.mjs
//
// One control plane and a mock OpenAI upstream; a data plane started with small limits
// (below), and a second one with --max-connections 4 for the connection test.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { startMockOpenAI, mockReplyText } from '../fixtures/mock_openai.mjs';
import { BIN_DIR, binariesPresent, FinopsEnv, logged, pollUntil, rawRequest, assertErrorShape, sleep } from './helpers.mjs';

const MODEL = 'openai/gpt-4o-mini';
const LIMITS = {
  maxJsonDepth: 16,
  maxMessages: 8,
  maxHeaderBytes: 8192,
  maxBodyBytes: 65536,
  headerTimeoutS: 2,
  bodyTimeoutS: 3,
  idleTimeoutS: 30,
};

/** The value of one /metrics series (`labels` like 'reason="json_too_deep"'), or NaN. */
async function metric(url, name, labels = '') {
  const r = await rawRequest(url, { path: '/metrics', timeoutMs: 5000 });
  assert.equal(r.status, 200, `/metrics: ${r.status} ${r.text.slice(0, 200)}`);
  const series = labels ? `${name}{${labels}}` : name;
  for (const line of r.text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return NaN;
}

/** `depth` nested arrays, e.g. nestedArrays(2) = "[[]]". */
const nestedArrays = (depth) => '['.repeat(depth) + ']'.repeat(depth);

/**
 * A raw TCP client that sends `head` at once, then `drip` every `intervalMs`, until the server
 * closes the connection. Resolves {closedAfterMs (from the first byte), received}.
 */
function slowClient(port, { head, drip, intervalMs = 250, giveUpMs = 15000 }) {
  return new Promise((resolve) => {
    const sock = net.connect(port, '127.0.0.1');
    let sentAt = 0;
    let received = '';
    let dripTimer;
    const giveUp = setTimeout(() => sock.destroy(), giveUpMs);
    sock.on('connect', () => {
      sock.write(head);
      sentAt = performance.now();
      dripTimer = setInterval(() => {
        if (!sock.destroyed && sock.writable) sock.write(drip);
      }, intervalMs);
    });
    sock.on('data', (d) => (received += d));
    sock.on('error', () => {}); // EPIPE / ECONNRESET once the server has closed
    sock.on('close', () => {
      clearInterval(dripTimer);
      clearTimeout(giveUp);
      resolve({ closedAfterMs: performance.now() - sentAt, received });
    });
  });
}

/**
 * Opens a keep-alive connection the server has certainly accepted and counted: it has answered a
 * request on it. (A socket that is only connected may still wait in one of the listener queues
 * and be refused later, after a connection opened after it.) Resolves to the socket, or null when
 * the server refused it (503).
 */
function servedSocket(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () =>
      sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'),
    );
    let got = '';
    sock.on('data', (d) => {
      got += d;
      const head = got.indexOf('\r\n\r\n');
      const len = /content-length: *(\d+)/i.exec(got);
      if (head < 0 || !len || got.length < head + 4 + Number(len[1])) return;
      sock.removeAllListeners('data');
      if (got.startsWith('HTTP/1.1 200')) return resolve(sock);
      sock.destroy();
      resolve(null);
    });
    sock.on('error', reject);
  });
}

/** Opens a TCP connection that sends nothing; resolves once connected. */
function idleSocket(port) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1', () => resolve(sock));
    sock.on('error', reject);
  });
}

describe('hostile input limits', { timeout: 180000 }, () => {
  let env;
  let mock;
  let dp;
  let key;
  const T = (name, fn) => test(name, { timeout: 60000 }, logged(() => env, fn));

  const post = (path, body, { headers = {}, url = dp.url } = {}) =>
    rawRequest(url, {
      method: 'POST',
      path,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      timeoutMs: 15000,
    });
  const chatBody = (n, extra = {}) => ({
    model: MODEL,
    messages: Array.from({ length: n }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', content: `m${i}` })),
    ...extra,
  });

  before(async () => {
    if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR}`);
    env = new FinopsEnv('limits');
    mock = await startMockOpenAI();
    await env.startControlPlane();
    await env.ctlOk(['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '-o', 'json']);
    key = (await env.ctlOk(['keys', 'create', '--name', 'limits', '-o', 'json'])).json.key;
    dp = await env.startDataPlane({
      nodeId: 'it-limits',
      maxBodyBytes: LIMITS.maxBodyBytes,
      extraArgs: [
        '--max-json-depth', String(LIMITS.maxJsonDepth),
        '--max-messages', String(LIMITS.maxMessages),
        '--max-header-bytes', String(LIMITS.maxHeaderBytes),
        '--header-timeout', String(LIMITS.headerTimeoutS),
        '--body-timeout', String(LIMITS.bodyTimeoutS),
        '--idle-timeout', String(LIMITS.idleTimeoutS),
      ],
    });
    // The key reaches the data plane with the next snapshot.
    await pollUntil(async () => (await post('/v1/chat/completions', chatBody(1))).status === 200, {
      timeoutMs: 10000,
      what: 'a first chat request to succeed',
    });
  });
  after(async () => {
    if (env) await env.cleanup();
    if (mock) await mock.close();
  });

  T('JSON nested deeper than --max-json-depth: 400 json_too_deep, nothing sent upstream', async () => {
    const before = mock.requests.length;
    const counted = await metric(dp.url, 'finops_requests_rejected_total', 'reason="json_too_deep"');
    // The top-level object is one level: 15 more arrays make exactly 16, the limit.
    const atLimit = `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"x":${nestedArrays(LIMITS.maxJsonDepth - 1)}}`;
    const over = `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"x":${nestedArrays(LIMITS.maxJsonDepth)}}`;
    const ok = await post('/v1/chat/completions', atLimit);
    assert.equal(ok.status, 200, `at the limit: ${ok.status} ${ok.text.slice(0, 300)}`);
    assert.equal(mock.requests.length, before + 1);

    const r = await post('/v1/chat/completions', over);
    const e = assertErrorShape(r, 400, { code: 'json_too_deep', type: 'invalid_request_error' });
    assert.match(e.message, /16/);
    // Far deeper (a stack-exhaustion attempt) is refused the same way, quickly.
    const huge = await post('/v1/chat/completions', `{"model":"${MODEL}","x":${nestedArrays(30000)}}`);
    assertErrorShape(huge, 400, { code: 'json_too_deep' });
    assert.equal(mock.requests.length, before + 1, 'a refused body must not reach the upstream');
    assert.equal(await metric(dp.url, 'finops_requests_rejected_total', 'reason="json_too_deep"'), counted + 2);

    // Brackets inside strings are text, not nesting.
    const inString = await post('/v1/chat/completions', chatBody(1, { messages: [{ role: 'user', content: '['.repeat(100) + '\\"{{{' }] }));
    assert.equal(inString.status, 200, inString.text.slice(0, 300));
    assert.equal(inString.json.choices[0].message.content, mockReplyText({ messages: [{ role: 'user', content: '['.repeat(100) + '\\"{{{' }] }));

    // In the client's dialect: Anthropic's error shape on /anthropic.
    const a = await post('/anthropic/v1/messages', `{"model":"x","max_tokens":5,"messages":${nestedArrays(40)}}`, { headers: { 'anthropic-version': '2023-06-01' } });
    assert.equal(a.status, 400, a.text);
    assert.equal(a.json?.type, 'error', a.text);
    assert.equal(a.json?.error?.type, 'invalid_request_error', a.text);
    assert.match(a.json.error.message, /nesting is deeper .*16 levels/);
  });

  T('more messages than --max-messages: 400 too_many_messages naming the field', async () => {
    const before = mock.requests.length;
    const counted = await metric(dp.url, 'finops_requests_rejected_total', 'reason="too_many_messages"');
    const ok = await post('/v1/chat/completions', chatBody(LIMITS.maxMessages));
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
    const r = await post('/v1/chat/completions', chatBody(LIMITS.maxMessages + 1));
    const e = assertErrorShape(r, 400, { code: 'too_many_messages', type: 'invalid_request_error' });
    assert.equal(e.param, 'messages');
    assert.match(e.message, /9/);
    assert.match(e.message, /8/);
    // Gemini bodies count "contents", and the error is in Gemini's shape.
    const contents = Array.from({ length: LIMITS.maxMessages + 1 }, () => ({ role: 'user', parts: [{ text: 'x' }] }));
    const g = await post(`/genai/v1beta/models/${encodeURIComponent(MODEL)}:generateContent`, { contents }, { headers: { 'x-goog-api-key': key } });
    assert.equal(g.status, 400, g.text);
    assert.equal(g.json?.error?.status, 'INVALID_ARGUMENT', g.text);
    assert.match(g.json.error.message, /contents/);
    assert.equal(mock.requests.length, before + 1, 'refused bodies must not reach the upstream');
    assert.equal(await metric(dp.url, 'finops_requests_rejected_total', 'reason="too_many_messages"'), counted + 2);
  });

  T('a header larger than --max-header-bytes: 431', async () => {
    const counted = await metric(dp.url, 'finops_requests_rejected_total', 'reason="headers_too_large"');
    const r = await post('/v1/chat/completions', chatBody(1), { headers: { 'x-filler': 'a'.repeat(LIMITS.maxHeaderBytes + 2000) } });
    assertErrorShape(r, 431, { code: 'headers_too_large' });
    assert.equal(r.headers.connection, 'close');
    assert.equal(await metric(dp.url, 'finops_requests_rejected_total', 'reason="headers_too_large"'), counted + 1);
    assert.equal(r.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS headers');
    // Browser code can read the refusal when its origin is allowed (localhost is by default),
    // although the head was never parsed; another origin gets no CORS headers.
    const filler = { 'x-filler': 'a'.repeat(LIMITS.maxHeaderBytes + 2000) };
    const allowed = await post('/v1/chat/completions', chatBody(1), { headers: { origin: 'http://localhost:5173', ...filler } });
    assertErrorShape(allowed, 431, { code: 'headers_too_large' });
    assert.equal(allowed.headers['access-control-allow-origin'], 'http://localhost:5173');
    assert.match(allowed.headers['access-control-expose-headers'] ?? '', /x-request-id/);
    const other = await post('/v1/chat/completions', chatBody(1), { headers: { origin: 'https://elsewhere.example', ...filler } });
    assertErrorShape(other, 431, { code: 'headers_too_large' });
    assert.equal(other.headers['access-control-allow-origin'], undefined);
    // A header well under the limit is fine.
    const ok = await post('/v1/chat/completions', chatBody(1), { headers: { 'x-filler': 'a'.repeat(2000) } });
    assert.equal(ok.status, 200, ok.text.slice(0, 300));
  });

  T('a body larger than --max-body-bytes: 413', async () => {
    const counted = await metric(dp.url, 'finops_requests_rejected_total', 'reason="body_too_large"');
    const before = mock.requests.length;
    const big = JSON.stringify(chatBody(1, { messages: [{ role: 'user', content: 'a'.repeat(LIMITS.maxBodyBytes) }] }));
    const r = await post('/v1/chat/completions', big);
    assertErrorShape(r, 413, { code: 'request_too_large' });
    assert.equal(r.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS headers');
    const fromPage = await post('/v1/chat/completions', big, { headers: { origin: 'http://127.0.0.1:3000' } });
    assertErrorShape(fromPage, 413, { code: 'request_too_large' });
    assert.equal(fromPage.headers['access-control-allow-origin'], 'http://127.0.0.1:3000');
    // Known by its Content-Length before any body byte is read, yet answered in the route's shape
    // (Anthropic's here), with Origin after Content-Length as browsers send it.
    const anthropic = await rawRequest(dp.url, {
      method: 'POST',
      path: '/anthropic/v1/messages',
      headers: { 'content-length': String(LIMITS.maxBodyBytes + 1), origin: 'http://localhost:5173', 'content-type': 'application/json' },
      body: 'x'.repeat(LIMITS.maxBodyBytes + 1),
    });
    assert.equal(anthropic.status, 413, anthropic.text);
    assert.equal(anthropic.json?.type, 'error', anthropic.text);
    assert.equal(anthropic.json?.error?.type, 'request_too_large', anthropic.text);
    assert.equal(anthropic.headers['access-control-allow-origin'], 'http://localhost:5173');
    // An absurd Content-Length is refused from the head alone: nothing is allocated for it.
    const huge = await new Promise((resolve) => {
      const sock = net.connect(dp.port, '127.0.0.1');
      let got = '';
      sock.on('connect', () => sock.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999\r\n\r\n{'));
      sock.on('data', (d) => (got += d));
      sock.on('error', () => {});
      const giveUp = setTimeout(() => sock.destroy(), 10000);
      sock.on('close', () => {
        clearTimeout(giveUp);
        resolve(got);
      });
    });
    assert.match(huge, /^HTTP\/1\.1 413 /, huge.slice(0, 300));
    // Chunked, with no Content-Length: cut off while reading.
    const parts = [];
    for (let i = 0; i < big.length; i += 16384) parts.push(big.slice(i, i + 16384));
    const c = await rawRequest(dp.url, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: parts,
    });
    assertErrorShape(c, 413, { code: 'request_too_large' });
    assert.equal(mock.requests.length, before);
    assert.equal(await metric(dp.url, 'finops_requests_rejected_total', 'reason="body_too_large"'), counted + 5);
  });

  T('a slowloris client is cut off after --header-timeout while others are served', async () => {
    const counted = await metric(dp.url, 'finops_client_timeouts_total', 'phase="header"');
    const slow = slowClient(dp.port, {
      head: 'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n',
      drip: 'X-Slow: 1\r\n',
      intervalMs: 250,
    });
    // Meanwhile, normal requests go through.
    await sleep(300);
    for (let i = 0; i < 3; i++) {
      const r = await post('/v1/chat/completions', chatBody(1));
      assert.equal(r.status, 200, r.text.slice(0, 300));
    }
    const s = await slow;
    assert.equal(s.received, '', 'a client cut off for slowness gets no answer, just a close');
    assert.ok(s.closedAfterMs >= LIMITS.headerTimeoutS * 1000 - 300, `closed after ${s.closedAfterMs} ms: too early`);
    assert.ok(s.closedAfterMs < LIMITS.headerTimeoutS * 1000 + 2500, `closed after ${s.closedAfterMs} ms: too late`);
    assert.equal(await metric(dp.url, 'finops_client_timeouts_total', 'phase="header"'), counted + 1);
  });

  T('a body sent too slowly is cut off after --body-timeout', async () => {
    const counted = await metric(dp.url, 'finops_client_timeouts_total', 'phase="body"');
    const before = mock.requests.length;
    const s = await slowClient(dp.port, {
      head:
        'POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n' +
        `Authorization: Bearer ${key}\r\nContent-Length: 1000\r\n\r\n{`,
      drip: ' ',
      intervalMs: 250,
    });
    assert.equal(s.received, '');
    assert.ok(s.closedAfterMs >= LIMITS.bodyTimeoutS * 1000 - 300, `closed after ${s.closedAfterMs} ms: too early`);
    assert.ok(s.closedAfterMs < LIMITS.bodyTimeoutS * 1000 + 2500, `closed after ${s.closedAfterMs} ms: too late`);
    assert.equal(mock.requests.length, before);
    assert.equal(await metric(dp.url, 'finops_client_timeouts_total', 'phase="body"'), counted + 1);
  });

  T('an idle keep-alive connection is not held to the header timeout', async () => {
    // Connected and silent for longer than --header-timeout (but within --idle-timeout): the
    // header clock starts with the request's first byte.
    const sock = await idleSocket(dp.port);
    let received = '';
    sock.on('data', (d) => (received += d));
    await sleep(LIMITS.headerTimeoutS * 1000 + 1000);
    assert.ok(!sock.destroyed, 'the server closed an idle connection before --idle-timeout');
    sock.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    await pollUntil(() => received.includes('"ok"'), { timeoutMs: 5000, what: 'the /healthz answer' });
    assert.match(received, /^HTTP\/1\.1 200/);
    sock.destroy();
  });

  T('connections beyond --max-connections get 503 too_many_connections, then service resumes', async () => {
    const dp2 = await env.startDataPlane({ nodeId: 'it-limits-conn', extraArgs: ['--max-connections', '4', '--idle-timeout', '60'] });
    const held = [];
    try {
      // Only the /metrics request itself open (the readiness checks' connections are closed).
      await pollUntil(async () => (await metric(dp2.url, 'finops_connections')) === 1, {
        timeoutMs: 5000,
        what: 'the readiness connections to close',
      });
      // One at a time, each answered once, so the four are counted before anything else comes (a
      // closing connection may still be counted for a moment: then try again).
      for (let i = 0; i < 4; i++) {
        const { value: s } = await pollUntil(() => servedSocket(dp2.port), { timeoutMs: 5000, what: `held connection ${i + 1}` });
        held.push(s);
      }
      // With the four open, the next connection is refused.
      const { value: r } = await pollUntil(
        async () => {
          const x = await rawRequest(dp2.url, { path: '/healthz', timeoutMs: 5000 });
          return x.status === 503 ? x : null;
        },
        { timeoutMs: 5000, intervalMs: 50, what: 'a 503 once 4 connections are open' },
      );
      const e = assertErrorShape(r, 503, { code: 'too_many_connections' });
      assert.match(e.message, /connections/);
      assert.equal(r.headers.connection, 'close');
      assert.equal(r.headers['retry-after'], '1');
      assert.equal(r.headers['x-should-retry'], 'true');
      assert.equal(r.headers['access-control-allow-origin'], undefined, 'no Origin, no CORS headers');
      // A browser page on an allowed origin can read the refusal and its retry hints.
      const b = await rawRequest(dp2.url, { path: '/healthz', headers: { origin: 'http://localhost:8000' }, timeoutMs: 5000 });
      assertErrorShape(b, 503, { code: 'too_many_connections' });
      assert.equal(b.headers['access-control-allow-origin'], 'http://localhost:8000');
      assert.match(b.headers['access-control-expose-headers'] ?? '', /retry-after/);
      // In the client's dialect too.
      const a = await rawRequest(dp2.url, {
        method: 'POST',
        path: '/anthropic/v1/messages',
        headers: { 'content-type': 'application/json', 'x-api-key': key, 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'x', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
      });
      assert.equal(a.status, 503, a.text);
      assert.equal(a.json?.type, 'error', a.text);
      assert.equal(a.json?.error?.type, 'overloaded_error', a.text);
      // The held connections are untouched: one of them still gets its answer.
      const first = held[0];
      let got = '';
      first.on('data', (d) => (got += d));
      first.write('GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await pollUntil(() => got.includes('"ok"'), { timeoutMs: 5000, what: 'a held connection to be served' });
      assert.match(got, /^HTTP\/1\.1 200/);
    } finally {
      for (const s of held) s.destroy();
    }
    // Once they are closed, new connections are served again.
    await pollUntil(async () => (await rawRequest(dp2.url, { path: '/healthz', timeoutMs: 5000 }).catch(() => ({}))).status === 200, {
      timeoutMs: 5000,
      what: 'service to resume after the held connections closed',
    });
    assert.ok((await metric(dp2.url, 'finops_connections_refused_total', 'reason="max_connections"')) >= 2);
    assert.equal(await metric(dp2.url, 'finops_connections_max'), 4);
    await dp2.stop();
  });

  T('bad limit flags are refused at start with exit 2', async () => {
    for (const args of [['--max-json-depth', '0'], ['--max-connections', 'many'], ['--header-timeout', '-1']]) {
      const p = await env.startDataPlane({ nodeId: 'it-limits-bad', extraArgs: args, waitReady: false }).then(
        () => assert.fail(`started with ${args.join(' ')}`),
        () => env.dp,
      );
      await p.waitExit(5000);
      assert.equal(p.exitCode, 2, `${args.join(' ')}: ${p.stderr}`);
      assert.match(p.stderr, new RegExp(args[0]));
    }
  });

  T('a second data plane on a port already served fails to start instead of sharing it', async () => {
    const p = await env
      .startDataPlane({ nodeId: 'it-limits-same-port', extraArgs: ['--listen', `127.0.0.1:${dp.port}`], waitReady: false })
      .then(
        () => assert.fail('a second data plane started on the same port'),
        () => env.dp,
      );
    await p.waitExit(5000);
    assert.equal(p.exitCode, 1, p.stderr);
    assert.match(p.stderr, /cannot listen on 127\.0\.0\.1:\d+: Address already in use/);
    // The first one still answers.
    assert.equal((await rawRequest(dp.url, { path: '/healthz' })).status, 200);
  });
});
