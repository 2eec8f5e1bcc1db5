// Whole-process tests for FinOps operations: graceful drain, config fan-out to several data
// planes, trusted-network mode, header forwarding, upstream TLS and upstream keep-alive.
//
//   cd tests/integration && npm ci && node --test operations.test.mjs
//
// Each describe block has its own temp dir, control plane and mock upstream(s); the tests inside
// a block run in order and may build on each other's state. Helpers: ./helpers.mjs; mock
// upstream: ../fixtures/mock_openai.mjs.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import OpenAI from 'openai';

import { startMockOpenAI, mockReplyText } from '../fixtures/mock_openai.mjs';
import { BIN_DIR, binariesPresent, FinopsEnv, logged, pollUntil, rawRequest, readyz, showCtl, assertCode, assertErrorShape, freePort, sleep } from './helpers.mjs';

const log = (...a) => console.log('[operations]', ...a);

function requireBinaries() {
  if (!binariesPresent()) {
    throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
  }
}


const chatBody = (model, content = 'hello', extra = {}) =>
  JSON.stringify({ model, messages: [{ role: 'user', content }], ...extra });

/** A non-streamed (unless extra.stream) chat completion through a data plane with raw HTTP. */
const rawChat = (dpUrl, headers, { model = 'openai/gpt-4o-mini', content = 'hello', extra = {} } = {}) =>
  rawRequest(dpUrl, {
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', ...headers },
    body: chatBody(model, content, extra),
  });

const bearer = (key) => ({ authorization: `Bearer ${key}` });

/**
 * Key probe with no upstream call: model "nope/probe" has an unknown provider prefix, so an
 * accepted key gets 404 model_not_found and a rejected one 401 (authentication comes first).
 */
async function probeKey(dpUrl, key) {
  return rawChat(dpUrl, key === null ? {} : bearer(key), { model: 'nope/probe', content: 'probe' });
}
const accepted = (r) => r.status === 404 && r.json?.error?.code === 'model_not_found';

/** Polls until `key` is accepted by the data plane at `dpUrl`; returns ms. */
async function waitKeyWorks(dpUrl, key, timeoutMs = 5000) {
  let last;
  try {
    const { ms } = await pollUntil(
      async () => {
        last = await probeKey(dpUrl, key);
        return accepted(last);
      },
      { timeoutMs, intervalMs: 50, what: `the key to be accepted by ${dpUrl}` },
    );
    return ms;
  } catch (e) {
    throw new Error(`${e.message}; last probe: ${last?.status} ${last?.text?.slice(0, 300)}`);
  }
}

/**
 * One GET that never throws: {status, json, headers, error, errorCode}. `agent` lets a test reuse
 * a kept-alive connection (default: a fresh connection).
 */
function tryGet(baseUrl, p, { agent = false, timeoutMs = 3000 } = {}) {
  return rawRequest(baseUrl, { path: p, agent, timeoutMs }).catch((err) => ({ status: 0, error: err.message, errorCode: err.code }));
}

/** Splits an SSE text body into its `data:` payloads. */
function sseData(text) {
  return text
    .replace(/\r\n/g, '\n')
    .split('\n\n')
    .map((block) => block.split('\n').filter((l) => l.startsWith('data:')))
    .filter((lines) => lines.length > 0)
    .map((lines) => lines.map((l) => l.slice(5).replace(/^ /, '')).join('\n'));
}

/** Adds an OpenAI-compatible provider; returns the parsed JSON. */
async function addProvider(env, name, baseUrl, secret, extra = []) {
  const r = await env.ctl(['providers', 'add', name, '--base-url', baseUrl, '--api-key-env', 'PROVIDER_KEY', ...extra, '-o', 'json'], {
    env: { PROVIDER_KEY: secret },
  });
  assertCode(r, 0);
  return r.json;
}

async function createKey(env, name) {
  const r = await env.ctl(['keys', 'create', '--name', name, '-o', 'json']);
  assertCode(r, 0);
  assert.match(r.json?.key ?? '', /^sk-fo-/, r.stdout);
  return r.json;
}

/** `finopsctl settings set ...` that must succeed; returns the JSON. */
async function settingsSet(env, ...kv) {
  const r = await env.ctl(['settings', 'set', ...kv, '-o', 'json']);
  assertCode(r, 0);
  assert.ok(r.json && typeof r.json.config_version === 'number', `settings set -o json: ${r.stdout}`);
  return r.json;
}

// ===============================================================================================
// 1. Graceful drain on SIGTERM.
describe('1. graceful drain', { timeout: 40000 }, () => {
  let env;
  let mock;
  let vk;
  const T = (name, fn, opts = {}) => test(name, { timeout: 25000, ...opts }, logged(() => env, fn));

  before(async () => {
    requireBinaries();
    env = new FinopsEnv('drain');
    mock = await startMockOpenAI();
    await env.startControlPlane();
    await addProvider(env, 'openai', `${mock.url}/v1`, 'sk-mock-drain-provider');
    vk = (await createKey(env, 'drain')).key;
  });
  after(async () => {
    if (env) await env.cleanup();
    if (mock) await mock.close();
  });

  T('SIGTERM during a slow stream: the stream completes, no new work is taken, exit 0 soon after', async () => {
    const DRAIN_TIMEOUT = 10;
    const dp = await env.startDataPlane({ nodeId: 'it-drain', drainTimeout: DRAIN_TIMEOUT });
    await waitKeyWorks(dp.url, vk);

    // A kept-alive connection opened before the drain (to ask /readyz on it during the drain).
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const pre = await tryGet(dp.url, '/readyz', { agent });
    assert.equal(pre.status, 200, `/readyz before SIGTERM: ${JSON.stringify(pre)}`);

    const mark = mock.mark();
    const res = await fetch(`${dp.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(vk) },
      body: chatBody('openai/gpt-slow-2s', 'drain me', { stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(String(res.headers.get('content-type')), /^text\/event-stream/);
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let text = '';
    while (!text.includes('data:')) {
      const { done, value } = await reader.read();
      assert.ok(!done, 'stream ended before its first chunk');
      text += dec.decode(value, { stream: true });
    }
    const { value: rec } = await pollUntil(() => mock.since(mark).find((r) => r.body?.model === 'gpt-slow-2s'), {
      timeoutMs: 2000,
      what: 'the slow request at the mock',
    });

    let exitAt = null;
    dp.exitPromise.then(() => {
      exitAt = performance.now();
    });
    let streamEndAt = null;
    let streamError = null;
    const rest = (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += dec.decode(value, { stream: true });
        }
      } catch (err) {
        streamError = err;
      }
      streamEndAt = performance.now();
    })();

    const tTerm = performance.now();
    dp.child.kill('SIGTERM');
    await dp.waitForOutput(/draining/, 3000);

    // A fresh connection during the drain: refused, or /readyz 503 (give the drain flag a moment).
    const { value: fresh, ms: freshMs } = await pollUntil(
      async () => {
        const r = await tryGet(dp.url, '/readyz', { timeoutMs: 1000 });
        return r.status === 200 ? null : r;
      },
      { timeoutMs: 1000, intervalMs: 20, what: '/readyz on a new connection to stop answering 200 after SIGTERM' },
    );
    const freshSeen = fresh.status === 0 ? `new connection failed: ${fresh.errorCode} (${fresh.error})` : `/readyz ${fresh.status} ${fresh.text}`;
    log(`drain: ${(performance.now() - tTerm).toFixed(0)} ms after SIGTERM (${freshMs.toFixed(0)} ms of polling): ${freshSeen}`);
    assert.ok(
      fresh.status === 503 || (fresh.status === 0 && fresh.errorCode === 'ECONNREFUSED'),
      `during the drain a new connection must be refused or /readyz must answer 503; got ${JSON.stringify(fresh)}`,
    );
    // The connection kept alive from before the drain: /readyz must not say ready either.
    const kept = await tryGet(dp.url, '/readyz', { agent, timeoutMs: 2000 });
    log(`drain: /readyz on the pre-drain keep-alive connection: ${kept.status ? `${kept.status} ${kept.text}` : `${kept.errorCode} (${kept.error})`} (reused socket: ${kept.socketReused})`);
    assert.notEqual(kept.status, 200, `/readyz answered 200 during the drain on a kept-alive connection: ${kept.text}`);
    if (kept.status !== 0) {
      assert.equal(kept.status, 503, `unexpected /readyz status during the drain: ${JSON.stringify(kept)}`);
      assert.equal(kept.json?.ready, false, `/readyz body during the drain: ${kept.text}`);
    }
    agent.destroy();
    assert.equal(streamEndAt, null, 'the slow stream ended before the drain checks (test timing assumption broken)');
    assert.ok(!dp.exited, `the data plane exited while a stream was in flight (code=${dp.exitCode} signal=${dp.exitSignal})`);

    await rest;
    const events = sseData(text);
    if (streamError) {
      assert.fail(
        `the in-flight stream was cut ${(streamEndAt - tTerm).toFixed(0)} ms after SIGTERM: ${streamError.message}` +
          ` (cause: ${streamError.cause?.message ?? 'n/a'}); ${events.length} events received, last: ${events.at(-1)}; ` +
          `data plane exited: ${dp.exited} code=${dp.exitCode} signal=${dp.exitSignal}`,
      );
    }
    assert.equal(events.at(-1), '[DONE]', `stream must end with data: [DONE]; last events: ${events.slice(-3).join(' | ')}`);
    const chunks = events.slice(0, -1).map((d) => JSON.parse(d));
    const content = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    const ticks = content.match(/tick\d+ /g) ?? [];
    assert.equal(ticks.length, 10, `all 10 ticks of the 2 s stream must arrive, got: ${JSON.stringify(content)}`);
    assert.ok(chunks.some((c) => c.choices?.[0]?.finish_reason === 'stop'), 'finish_reason stop chunk');
    assert.ok(chunks.every((c) => c.model === 'openai/gpt-slow-2s'), 'model rewritten in every chunk');
    assert.equal(rec.aborted, false, 'the upstream stream was cut');
    assert.ok(rec.finishedAt, 'the mock did not finish the stream');

    const exited = await dp.waitExit((DRAIN_TIMEOUT + 2) * 1000);
    assert.ok(exited, `the data plane did not exit within ${DRAIN_TIMEOUT + 2} s of SIGTERM\n${dp.tail()}`);
    await Promise.resolve();
    assert.equal(dp.exitSignal, null, `exit signal ${dp.exitSignal}`);
    assert.equal(dp.exitCode, 0, `exit code after a graceful drain\n${dp.tail()}`);
    const afterStream = exitAt - streamEndAt;
    const afterTerm = exitAt - tTerm;
    log(`drain: stream ended ${(streamEndAt - tTerm).toFixed(0)} ms after SIGTERM; process exited ${afterStream.toFixed(0)} ms after the stream ended (${afterTerm.toFixed(0)} ms after SIGTERM, drain timeout ${DRAIN_TIMEOUT} s)`);
    assert.ok(afterStream < 2000, `exit came ${afterStream.toFixed(0)} ms after the stream ended (expected promptly)`);
    assert.ok(afterTerm < (DRAIN_TIMEOUT - 4) * 1000, `exit came ${afterTerm.toFixed(0)} ms after SIGTERM: waited for the drain timeout?`);
  });
});

// ===============================================================================================
// 2-4. One control plane, two data planes: revocation fan-out, dataplanes list, trusted-network
// mode, header forwarding.
describe('2-4. two data planes on one control plane', { timeout: 60000 }, () => {
  let env;
  let mock;
  let dps = [];
  let vk;
  const PROVIDER_SECRET = 'sk-mock-fanout-PROVIDERMIDDLE-1234';
  const T = (name, fn, opts = {}) => test(name, { timeout: 20000, ...opts }, logged(() => env, fn));

  before(async () => {
    requireBinaries();
    env = new FinopsEnv('fanout');
    mock = await startMockOpenAI();
    await env.startControlPlane();
    await addProvider(env, 'openai', `${mock.url}/v1`, PROVIDER_SECRET);
    vk = (await createKey(env, 'fanout')).key;
    dps = [await env.startDataPlane({ nodeId: 'it-fan-a', threads: 1 }), await env.startDataPlane({ nodeId: 'it-fan-b', threads: 1 })];
    for (const dp of dps) await waitKeyWorks(dp.url, vk);
    log(`control plane ${env.cpAddr}, data planes ${dps.map((d) => d.url).join(' ')}, mock ${mock.url}`);
  });
  after(async () => {
    if (env) await env.cleanup();
    if (mock) await mock.close();
  });

  /** Polls `check(dp)` on every data plane in parallel; returns [{node, ms, last}] once all pass. */
  async function onAll(what, fn, timeoutMs = 5000) {
    return Promise.all(
      dps.map(async (dp) => {
        let last;
        const { ms } = await pollUntil(
          async () => {
            last = await fn(dp);
            return last.ok;
          },
          { timeoutMs, intervalMs: 25, what: `${what} on ${dp.nodeId}` },
        ).catch((e) => {
          throw new Error(`${e.message}; last: ${last?.r?.status} ${last?.r?.text?.slice(0, 300)}`);
        });
        return { node: dp.nodeId, ms, last };
      }),
    );
  }

  T('2a. keys revoke: the key gets 401 on BOTH data planes within 1 s', async () => {
    const k = await createKey(env, 'revoke-both');
    for (const dp of dps) await waitKeyWorks(dp.url, k.key);
    for (const dp of dps) {
      const r = await rawChat(dp.url, bearer(k.key), { content: `before revoke ${dp.nodeId}` });
      assert.equal(r.status, 200, `${dp.nodeId}: chat before revoke: ${r.status} ${r.text.slice(0, 300)}`);
    }
    const rv = await env.ctl(['keys', 'revoke', k.id, '-o', 'json']);
    assertCode(rv, 0);
    assert.equal(rv.json?.status, 'revoked');
    const results = await onAll('the revoked key to get 401', async (dp) => {
      const r = await probeKey(dp.url, k.key);
      return { ok: r.status === 401, r };
    });
    for (const { node, ms, last } of results) {
      log(`2a: revocation effective on ${node} ${ms.toFixed(0)} ms after keys revoke returned`);
      assertErrorShape(last.r, 401, { code: 'invalid_api_key' });
    }
    for (const { node, ms } of results) assert.ok(ms < 1000, `${node}: revocation took ${ms.toFixed(0)} ms (limit 1000)`);
    const mark = mock.mark();
    for (const dp of dps) {
      const r = await rawChat(dp.url, bearer(k.key), { content: 'after revoke' });
      assertErrorShape(r, 401, { code: 'invalid_api_key' });
      const ok = await probeKey(dp.url, vk);
      assert.ok(accepted(ok), `${dp.nodeId}: the other key stopped working: ${ok.status} ${ok.text}`);
    }
    assert.equal(mock.since(mark).length, 0, 'a revoked key reached the upstream');
  });

  T('2b. dataplanes list -o json: both connected, acked_version == config_version', async () => {
    let lastOut = '';
    const { value: j, ms } = await pollUntil(
      async () => {
        const r = await env.ctl(['dataplanes', 'list', '-o', 'json']);
        assertCode(r, 0);
        lastOut = r.stdout;
        const json = r.json;
        assert.ok(json && typeof json.config_version === 'number' && Array.isArray(json.data_planes), `shape: ${r.stdout}`);
        const ok = dps.every((dp) => {
          const e = json.data_planes.find((d) => d.node_id === dp.nodeId);
          return e && e.connected === true && e.acked_version === json.config_version;
        });
        return ok ? json : null;
      },
      { timeoutMs: 5000, intervalMs: 100, what: 'both data planes connected and acked' },
    ).catch((e) => {
      throw new Error(`${e.message}; last output: ${lastOut}`);
    });
    log(`2b: dataplanes list (after ${ms.toFixed(0)} ms): ${JSON.stringify(j)}`);
    for (const dp of dps) {
      const matching = j.data_planes.filter((d) => d.node_id === dp.nodeId);
      assert.equal(matching.length, 1, `${dp.nodeId} listed ${matching.length} times: ${lastOut}`);
      const e = matching[0];
      for (const f of ['node_id', 'peer', 'connected', 'acked_version', 'last_nack', 'connected_at', 'last_ack_at']) {
        assert.ok(f in e, `entry lacks "${f}": ${JSON.stringify(e)}`);
      }
      const rz = await readyz(dp.url);
      assert.equal(rz.status, 200);
      assert.equal(rz.json?.config_version, j.config_version, `${dp.nodeId} /readyz: ${JSON.stringify(rz.json)}`);
    }
    const s = await env.ctl(['settings', 'get', '-o', 'json']);
    assertCode(s, 0);
    assert.equal(s.json?.config_version, j.config_version, `settings get: ${s.stdout}`);
  });

  T('3. trusted-network mode: enforce_keys=false lets keyless requests through; true restores 401', async () => {
    const mark0 = mock.mark();
    for (const dp of dps) {
      const r = await rawChat(dp.url, {}, { content: 'no key, enforced' });
      assertErrorShape(r, 401, { code: 'invalid_api_key' });
    }
    assert.equal(mock.since(mark0).length, 0, 'a keyless request reached the upstream while keys are enforced');
    try {
      const s = await settingsSet(env, 'enforce_keys=false');
      assert.equal(s.enforce_keys, false, `settings set output: ${JSON.stringify(s)}`);
      let n = 0;
      const open = await onAll('a keyless chat completion to succeed', async (dp) => {
        const content = `trusted ${dp.nodeId} ${++n}`;
        const r = await rawChat(dp.url, {}, { content });
        return { ok: r.status === 200, r, content };
      });
      for (const { node, ms, last } of open) {
        log(`3: enforce_keys=false effective on ${node} ${ms.toFixed(0)} ms after settings set returned`);
        assert.equal(last.r.json?.choices?.[0]?.message?.content, mockReplyText({ messages: [{ role: 'user', content: last.content }] }));
        assert.equal(last.r.json?.model, 'openai/gpt-4o-mini');
        const rec = mock.requests.find((q) => q.body?.messages?.[0]?.content === last.content);
        assert.ok(rec, 'the keyless request reached the mock');
        assert.equal(rec.headers.authorization, `Bearer ${PROVIDER_SECRET}`, 'upstream gets the provider key');
      }
      for (const { node, ms } of open) assert.ok(ms < 1000, `${node}: enforce_keys=false took ${ms.toFixed(0)} ms (limit 1000)`);
      // A real key still works in trusted mode.
      for (const dp of dps) {
        const r = await rawChat(dp.url, bearer(vk), { content: 'key in trusted mode' });
        assert.equal(r.status, 200, `${dp.nodeId}: a valid key in trusted mode: ${r.status} ${r.text.slice(0, 300)}`);
      }

      const s2 = await settingsSet(env, 'enforce_keys=true');
      assert.equal(s2.enforce_keys, true);
      const closed = await onAll('keyless requests to get 401 again', async (dp) => {
        const r = await probeKey(dp.url, null);
        return { ok: r.status === 401, r };
      });
      for (const { node, ms, last } of closed) {
        log(`3: enforce_keys=true effective on ${node} ${ms.toFixed(0)} ms after settings set returned`);
        assertErrorShape(last.r, 401, { code: 'invalid_api_key' });
      }
      for (const { node, ms } of closed) assert.ok(ms < 1000, `${node}: enforce_keys=true took ${ms.toFixed(0)} ms (limit 1000)`);
      const mark = mock.mark();
      for (const dp of dps) assertErrorShape(await rawChat(dp.url, {}, { content: 'no key again' }), 401, { code: 'invalid_api_key' });
      assert.equal(mock.since(mark).length, 0, 'a keyless request reached the upstream after enforce_keys=true');
    } finally {
      await env.ctl(['settings', 'set', 'enforce_keys=true']);
    }
  });

  T('4. header forwarding: only allow-listed headers reach the upstream, credentials never', async () => {
    const CRED = ['x-api-key', 'x-bf-vk'];
    let n = 0;
    /** Sends a chat completion with every credential header + x-trace-id + x-other; returns the mock's record. */
    const send = async (dp, trace) => {
      const content = `headers ${dp.nodeId} ${++n}`;
      const r = await rawChat(dp.url, { ...bearer(vk), 'x-api-key': vk, 'x-bf-vk': vk, 'x-trace-id': trace, 'x-other': 'nope' }, { content });
      assert.equal(r.status, 200, `${dp.nodeId}: chat with headers: ${r.status} ${r.text.slice(0, 300)}`);
      const rec = mock.requests.find((q) => q.body?.messages?.[0]?.content === content);
      assert.ok(rec, `the mock did not get "${content}"`);
      return rec;
    };
    const assertNoCredentials = (rec) => {
      const ctx = `mock request #${rec.seq} headers: ${JSON.stringify(rec.headers)}`;
      assert.equal(rec.headers.authorization, `Bearer ${PROVIDER_SECRET}`, `authorization must be the provider key only; ${ctx}`);
      for (const h of CRED) assert.ok(!(h in rec.headers), `${h} reached the upstream; ${ctx}`);
      assert.ok(!JSON.stringify(rec.headers).includes(vk), `the virtual key reached the upstream; ${ctx}`);
      assert.ok(!rec.rawBody.includes(vk), `the virtual key is in the upstream body; ${ctx}`);
    };

    const g = await env.ctl(['settings', 'get', '-o', 'json']);
    assertCode(g, 0);
    assert.deepEqual(g.json?.forward_headers, [], `default forward_headers: ${g.stdout}`);
    for (const dp of dps) {
      const rec = await send(dp, 'abc');
      assert.ok(!('x-trace-id' in rec.headers), `x-trace-id forwarded by default: ${JSON.stringify(rec.headers)}`);
      assert.ok(!('x-other' in rec.headers), 'x-other forwarded by default');
      assertNoCredentials(rec);
    }

    try {
      const s = await settingsSet(env, 'forward_headers=x-trace-id');
      assert.deepEqual(s.forward_headers, ['x-trace-id'], `settings set output: ${JSON.stringify(s)}`);
      const on = await onAll('x-trace-id to reach the mock', async (dp) => {
        const rec = await send(dp, `abc-${dp.nodeId}`);
        return { ok: rec.headers['x-trace-id'] === `abc-${dp.nodeId}`, rec };
      });
      for (const { node, ms, last } of on) {
        log(`4: forward_headers=x-trace-id effective on ${node} after ${ms.toFixed(0)} ms`);
        assertNoCredentials(last.rec);
        assert.ok(!('x-other' in last.rec.headers), `x-other (not allow-listed) was forwarded: ${JSON.stringify(last.rec.headers)}`);
      }
      // The SDK path (streamed), with the virtual key in every credential header.
      for (const dp of dps) {
        const content = `sdk headers ${dp.nodeId}`;
        const client = new OpenAI({
          baseURL: `${dp.url}/v1`,
          apiKey: vk,
          maxRetries: 0,
          timeout: 15000,
          defaultHeaders: { 'x-trace-id': 'from-sdk', 'x-api-key': vk, 'x-bf-vk': vk },
        });
        const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content }], stream: true });
        let text = '';
        for await (const ch of stream) text += ch.choices?.[0]?.delta?.content ?? '';
        assert.equal(text, `mock reply to: ${content}`);
        const rec = mock.requests.find((q) => q.body?.messages?.[0]?.content === content);
        assert.equal(rec?.headers['x-trace-id'], 'from-sdk', `SDK x-trace-id: ${JSON.stringify(rec?.headers)}`);
        assertNoCredentials(rec);
      }

      // Even when an admin allow-lists credential headers, they must not be forwarded (either
      // the control plane refuses the setting, or the data plane strips them).
      const r = await env.ctl(['settings', 'set', 'forward_headers=x-trace-id,authorization,x-api-key,x-bf-vk,x-other', '-o', 'json']);
      if (r.code === 0) {
        const on2 = await onAll('x-other to reach the mock', async (dp) => {
          const rec = await send(dp, 'abc2');
          return { ok: rec.headers['x-other'] === 'nope', rec };
        });
        for (const { last } of on2) {
          assert.equal(last.rec.headers['x-trace-id'], 'abc2');
          assertNoCredentials(last.rec);
        }
        log('4: credential names in forward_headers were accepted by the control plane and stripped by the data planes');
      } else {
        assertCode(r, 2);
        log(`4: the control plane refused credential names in forward_headers: ${r.stderr.trim()}`);
      }
    } finally {
      await env.ctl(['settings', 'set', 'forward_headers=']);
    }
    const g2 = await env.ctl(['settings', 'get', '-o', 'json']);
    assert.deepEqual(g2.json?.forward_headers, [], `forward_headers after restore: ${g2.stdout}`);
    const off = await onAll('x-trace-id to stop reaching the mock', async (dp) => {
      const rec = await send(dp, 'after-restore');
      return { ok: !('x-trace-id' in rec.headers), rec };
    });
    for (const { last } of off) assertNoCredentials(last.rec);
  });
});

// ===============================================================================================
// 5. Upstream TLS: --upstream-ca-file, verification failure, host name mismatch.
describe('5. upstream TLS', { timeout: 60000 }, () => {
  let env;
  let mockOk; // certificate for DNS:localhost, IP:127.0.0.1, signed by the test CA
  let mockOther; // certificate for DNS:other.example only, signed by the same CA
  let dpCa; // --upstream-ca-file ca.pem
  let dpNoCa; // system trust only
  let vk;
  let caFile;
  const SECRET = 'sk-mock-tls-TLSMIDDLE-5678';
  const T = (name, fn, opts = {}) => test(name, { timeout: 20000, ...opts }, logged(() => env, fn));

  function makePki(dir) {
    fs.mkdirSync(dir, { recursive: true });
    const o = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
    o('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=FinOps IT throwaway CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
    const leaf = (name, san) => {
      o('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`);
      fs.writeFileSync(path.join(dir, `${name}.ext`), `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=${san}\n`);
      o('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '2', '-extfile', `${name}.ext`);
      return { key: fs.readFileSync(path.join(dir, `${name}.key`)), cert: fs.readFileSync(path.join(dir, `${name}.pem`)) };
    };
    return {
      ca: path.join(dir, 'ca.pem'),
      localhost: leaf('localhost', 'DNS:localhost,IP:127.0.0.1'),
      other: leaf('other', 'DNS:other.example'),
    };
  }

  before(async () => {
    requireBinaries();
    env = new FinopsEnv('tls');
    const pki = makePki(path.join(env.dir, 'pki'));
    caFile = pki.ca;
    mockOk = await startMockOpenAI({ tls: pki.localhost, urlHost: 'localhost' });
    mockOther = await startMockOpenAI({ tls: pki.other, urlHost: 'localhost' });
    assert.match(mockOk.url, /^https:\/\/localhost:\d+$/);
    await env.startControlPlane();
    await addProvider(env, 'tlsok', `${mockOk.url}/v1`, SECRET);
    await addProvider(env, 'tlsip', `https://127.0.0.1:${mockOk.port}/v1`, SECRET);
    await addProvider(env, 'tlsmismatch', `${mockOther.url}/v1`, SECRET);
    vk = (await createKey(env, 'tls')).key;
    dpCa = await env.startDataPlane({ nodeId: 'it-tls-ca', threads: 1, extraArgs: ['--upstream-ca-file', caFile] });
    dpNoCa = await env.startDataPlane({ nodeId: 'it-tls-noca', threads: 1 });
    for (const dp of [dpCa, dpNoCa]) await waitKeyWorks(dp.url, vk);
    log(`TLS mocks ${mockOk.url} (localhost) ${mockOther.url} (other.example), CA ${caFile}`);
  });
  after(async () => {
    if (env) await env.cleanup();
    if (mockOk) await mockOk.close();
    if (mockOther) await mockOther.close();
  });

  T('5a. --upstream-ca-file: chat completions over HTTPS work (DNS and IP SAN), connections are reused', async () => {
    for (const prov of ['tlsok', 'tlsip']) {
      const content = `over tls ${prov}`;
      const r = await rawChat(dpCa.url, bearer(vk), { model: `${prov}/gpt-4o-mini`, content });
      assert.equal(r.status, 200, `${prov}: ${r.status} ${r.text.slice(0, 400)}`);
      assert.equal(r.json?.model, `${prov}/gpt-4o-mini`);
      assert.equal(r.json?.choices?.[0]?.message?.content, `mock reply to: ${content}`);
      const rec = mockOk.requests.find((q) => q.body?.messages?.[0]?.content === content);
      assert.ok(rec, 'the HTTPS mock got the request');
      assert.equal(rec.headers.authorization, `Bearer ${SECRET}`);
      assert.equal(rec.body.model, 'gpt-4o-mini');
    }
    // Streamed over TLS through the SDK.
    const client = new OpenAI({ baseURL: `${dpCa.url}/v1`, apiKey: vk, maxRetries: 0, timeout: 15000 });
    const stream = await client.chat.completions.create({ model: 'tlsok/gpt-4o-mini', messages: [{ role: 'user', content: 'tls stream' }], stream: true });
    let text = '';
    for await (const ch of stream) text += ch.choices?.[0]?.delta?.content ?? '';
    assert.equal(text, 'mock reply to: tls stream');
    // Keep-alive over TLS: 10 sequential requests, at most 2 new TLS connections.
    const before = mockOk.connections;
    for (let i = 0; i < 10; i++) {
      const r = await rawChat(dpCa.url, bearer(vk), { model: 'tlsok/gpt-4o-mini', content: `tls reuse ${i}` });
      assert.equal(r.status, 200, `request ${i}: ${r.status} ${r.text.slice(0, 300)}`);
    }
    const used = mockOk.connections - before;
    log(`5a: 10 sequential HTTPS upstream requests used ${used} new upstream connection(s)`);
    assert.ok(used <= 2, `10 sequential requests opened ${used} TLS connections to the upstream (expected reuse, <= 2)`);
  });

  T('5b. without the CA file: 502 in OpenAI error shape (certificate verify failed), nothing reaches the upstream', async () => {
    const mark = mockOk.mark();
    const tlsErrBefore = mockOk.tlsErrors.length;
    const r = await rawChat(dpNoCa.url, bearer(vk), { model: 'tlsok/gpt-4o-mini', content: 'untrusted' });
    const e = assertErrorShape(r, 502);
    log(`5b: no CA: 502 ${r.text}`);
    assert.match(e.message, /certificate|verif/i, `the error should say the certificate could not be verified: ${e.message}`);
    const rs = await rawChat(dpNoCa.url, bearer(vk), { model: 'tlsok/gpt-4o-mini', content: 'untrusted stream', extra: { stream: true } });
    assertErrorShape(rs, 502);
    assert.equal(mockOk.since(mark).length, 0, 'an HTTP request reached the upstream over an unverified TLS connection');
    log(`5b: the mock saw ${mockOk.tlsErrors.length - tlsErrBefore} failed handshake(s): ${JSON.stringify(mockOk.tlsErrors.slice(tlsErrBefore))}`);
    // The same data plane still works for plain routing decisions, and the CA data plane still works.
    const ok = await rawChat(dpCa.url, bearer(vk), { model: 'tlsok/gpt-4o-mini', content: 'trusted again' });
    assert.equal(ok.status, 200, `data plane with the CA: ${ok.status} ${ok.text.slice(0, 300)}`);
  });

  T('5c. certificate for another host name (CA trusted): 502, nothing reaches the upstream', async () => {
    const r = await rawChat(dpCa.url, bearer(vk), { model: 'tlsmismatch/gpt-4o-mini', content: 'wrong host' });
    const e = assertErrorShape(r, 502);
    log(`5c: name mismatch: 502 ${r.text}`);
    assert.match(e.message, /certificate|verif|host ?name|mismatch/i, `the error should name the TLS verification failure: ${e.message}`);
    const rs = await rawChat(dpCa.url, bearer(vk), { model: 'tlsmismatch/gpt-4o-mini', content: 'wrong host stream', extra: { stream: true } });
    assertErrorShape(rs, 502);
    assert.equal(mockOther.requests.length, 0, `requests reached the mismatched upstream: ${mockOther.requests.map((q) => q.url)}`);
    assert.ok(mockOther.connections >= 1, 'the data plane never even connected to the mismatched upstream (test setup broken?)');
  });
});

// ===============================================================================================
// 6. Upstream keep-alive reuse.
describe('6. upstream keep-alive', { timeout: 40000 }, () => {
  let env;
  let mock;
  let dp;
  let vk;
  const T = (name, fn, opts = {}) => test(name, { timeout: 20000, ...opts }, logged(() => env, fn));

  before(async () => {
    requireBinaries();
    env = new FinopsEnv('keepalive');
    mock = await startMockOpenAI();
    await env.startControlPlane();
    await addProvider(env, 'openai', `${mock.url}/v1`, 'sk-mock-keepalive');
    vk = (await createKey(env, 'keepalive')).key;
    dp = await env.startDataPlane({ nodeId: 'it-keepalive', threads: 1 });
    await waitKeyWorks(dp.url, vk);
  });
  after(async () => {
    if (env) await env.cleanup();
    if (mock) await mock.close();
  });

  T('20 sequential non-streamed requests (--threads 1) use at most 2 upstream connections', async () => {
    const before = mock.connections;
    const mark = mock.mark();
    for (let i = 0; i < 20; i++) {
      const content = `reuse ${i}`;
      const r = await rawChat(dp.url, bearer(vk), { content });
      assert.equal(r.status, 200, `request ${i}: ${r.status} ${r.text.slice(0, 300)}`);
      assert.equal(r.json?.choices?.[0]?.message?.content, `mock reply to: ${content}`);
    }
    const used = mock.connections - before;
    const ports = new Set(mock.connectionLog.slice(before).map((c) => c.remotePort));
    log(`6: 20 sequential non-streamed requests used ${used} upstream connection(s) (ports ${[...ports].join(',')})`);
    assert.equal(mock.since(mark).length, 20, 'each request reached the mock once');
    assert.ok(used <= 2, `20 sequential requests opened ${used} upstream connections (expected <= 2)`);
  });

  T('10 sequential streamed requests reuse upstream connections too', async () => {
    const before = mock.connections;
    for (let i = 0; i < 10; i++) {
      const r = await rawChat(dp.url, bearer(vk), { content: `stream reuse ${i}`, extra: { stream: true } });
      assert.equal(r.status, 200, `stream ${i}: ${r.status} ${r.text.slice(0, 300)}`);
      assert.equal(sseData(r.text).at(-1), '[DONE]');
    }
    const used = mock.connections - before;
    log(`6: 10 sequential streamed requests used ${used} upstream connection(s)`);
    assert.ok(used <= 2, `10 sequential streamed requests opened ${used} upstream connections (expected <= 2)`);
  });
});

// ===============================================================================================
// 7. Error paths: oversized headers, deep JSON, Expect: 100-continue, an unreachable, a hanging
// and a stream-cutting upstream.
describe('7. error paths', { timeout: 40000 }, () => {
  let env;
  let mock;
  let dp;
  let vk;
  const T = (name, fn, opts = {}) => test(name, { timeout: 20000, ...opts }, logged(() => env, fn));

  before(async () => {
    requireBinaries();
    env = new FinopsEnv('errors');
    mock = await startMockOpenAI();
    mock.setBehavior({
      handler: async (req, res, rec) => {
        const model = rec.body?.model ?? '';
        if (model === 'hang') return true; // never answers
        if (model === 'cut') {
          res.writeHead(200, { 'content-type': 'text/event-stream' });
          for (const t of ['a', 'b']) {
            res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model, choices: [{ index: 0, delta: { content: t } }] })}\n\n`);
            await sleep(20);
          }
          res.socket.destroy(); // the upstream dies mid-stream
          return true;
        }
        return false;
      },
    });
    await env.startControlPlane();
    await addProvider(env, 'openai', `${mock.url}/v1`, 'sk-mock-errors');
    const closedPort = await freePort(); // nothing listens there
    await addProvider(env, 'down', `http://127.0.0.1:${closedPort}/v1`, 'sk-down');
    vk = (await createKey(env, 'errors')).key;
    dp = await env.startDataPlane({ nodeId: 'it-errors', threads: 1, extraArgs: ['--upstream-timeout', '1'] });
    await waitKeyWorks(dp.url, vk);
  });
  after(async () => {
    if (env) await env.cleanup();
    if (mock) await mock.close();
  });

  T('7a. request headers over the limit -> 431 in OpenAI error shape', async () => {
    const mark = mock.mark();
    const r = await rawChat(dp.url, { ...bearer(vk), 'x-big': 'x'.repeat(70 * 1024) });
    assertErrorShape(r, 431, { code: 'headers_too_large' });
    assert.equal(mock.since(mark).length, 0);
  });

  T('7b. JSON nested deeper than --max-json-depth (64) -> 400 json_too_deep, nothing upstream', async () => {
    const mark = mock.mark();
    const deep = '['.repeat(200) + ']'.repeat(200);
    const r = await rawRequest(dp.url, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', ...bearer(vk) },
      body: `{"model":"openai/gpt-4o-mini","messages":[],"x":${deep}}`,
    });
    const e = assertErrorShape(r, 400, { code: 'json_too_deep' });
    assert.match(e.message, /nesting/);
    assert.equal(mock.since(mark).length, 0);
  });

  T('7c. Expect: 100-continue is answered before the body is sent', async () => {
    const body = chatBody('openai/gpt-4o-mini', 'expect 7c', {});
    const { port } = new URL(dp.url);
    const text = await new Promise((resolve, reject) => {
      const sock = net.connect(Number(port), '127.0.0.1');
      let buf = '';
      let sentBody = false;
      sock.setTimeout(3000, () => reject(new Error(`no answer; got so far: ${buf}`)));
      sock.on('data', (d) => {
        buf += d.toString('utf8');
        if (!sentBody && buf.startsWith('HTTP/1.1 100 Continue\r\n\r\n')) {
          sentBody = true;
          sock.write(body);
        }
        if (sentBody && buf.includes('"chat.completion"')) {
          sock.destroy();
          resolve(buf);
        }
      });
      sock.on('error', reject);
      sock.write(
        `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${vk}\r\ncontent-type: application/json\r\n` +
          `content-length: ${Buffer.byteLength(body)}\r\nexpect: 100-continue\r\n\r\n`,
      );
    });
    assert.match(text, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /);
  });

  T('7d. an unreachable upstream -> 502 upstream_error', async () => {
    const r = await rawChat(dp.url, bearer(vk), { model: 'down/m' });
    const e = assertErrorShape(r, 502, { code: 'upstream_error' });
    assert.match(e.message, /down/);
  });

  T('7e. an upstream that never answers -> 504 upstream_timeout after --upstream-timeout', async () => {
    const t0 = performance.now();
    const r = await rawChat(dp.url, bearer(vk), { model: 'openai/hang' });
    const ms = performance.now() - t0;
    assertErrorShape(r, 504, { code: 'upstream_timeout' });
    assert.ok(ms >= 900 && ms < 3000, `answered after ${ms.toFixed(0)} ms (timeout 1 s)`);
  });

  T('7f. an upstream that dies mid-stream -> the stream ends with an error event and no [DONE]', async () => {
    const r = await rawChat(dp.url, bearer(vk), { model: 'openai/cut', extra: { stream: true } });
    assert.equal(r.status, 200);
    const events = sseData(r.text);
    assert.ok(events.length >= 3, r.text);
    assert.equal(JSON.parse(events[0]).choices[0].delta.content, 'a');
    assert.equal(JSON.parse(events[0]).model, 'openai/cut');
    const last = JSON.parse(events.at(-1));
    assert.equal(last.error?.code, 'upstream_error', r.text);
    assert.ok(!events.includes('[DONE]'), 'a cut stream must not look complete');
    // The data plane still serves normally afterwards.
    const ok = await rawChat(dp.url, bearer(vk), { content: 'after cut' });
    assert.equal(ok.status, 200, ok.text);
  });
});
