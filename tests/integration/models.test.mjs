// GET /v1/models: configured models plus the upstream's /models, cached, and a slow upstream
// never makes the client wait more than about two seconds.
//
//   cd tests/integration && npm ci && node --test models.test.mjs
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { startMockOpenAI } from '../fixtures/mock_openai.mjs';
import { FinopsEnv, binariesPresent, BIN_DIR, logged, sleep } from './helpers.mjs';

describe('models listing', { timeout: 60000 }, () => {
  let env;
  let fast;
  let slow;
  let dp;
  let vk;
  let slowDelayMs = 5000;
  const T = (name, fn, opts = {}) => test(name, { timeout: 20000, ...opts }, logged(() => env, fn));

  before(async () => {
    if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR}`);
    env = new FinopsEnv('models');
    fast = await startMockOpenAI();
    fast.setBehavior({ models: ['up-a', 'up-b'] });
    slow = await startMockOpenAI();
    slow.setBehavior({
      models: ['slow-up'],
      handler: async (req, res, rec) => {
        if (req.method === 'GET' && /\/models$/.test(rec.path)) {
          await sleep(slowDelayMs);
          rec.status = 200;
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ object: 'list', data: [{ id: 'slow-up', object: 'model' }] }));
          return true;
        }
        return false;
      },
    });
    await env.startControlPlane();
    const add = async (args) => {
      const r = await env.ctl(['providers', 'add', ...args, '-o', 'json']);
      assert.equal(r.code, 0, r.stderr);
    };
    await add(['fast', '--base-url', `${fast.url}/v1`, '--models', 'cfg-1']);
    await add(['slow', '--base-url', `${slow.url}/v1`, '--models', 'cfg-slow']);
    await add(['quiet', '--base-url', `${fast.url}/v1`, '--models', 'only-this', '--no-list-models']);
    const k = await env.ctl(['keys', 'create', '--name', 'models', '-o', 'json']);
    vk = k.json.key;
    dp = await env.startDataPlane({ nodeId: 'it-models', threads: 1 });
  });
  after(async () => {
    if (env) await env.cleanup();
    if (fast) await fast.close();
    if (slow) await slow.close();
  });

  const client = () => new OpenAI({ baseURL: `${dp.url}/v1`, apiKey: vk, maxRetries: 0 });
  const ids = async () => {
    const out = [];
    for await (const m of client().models.list()) out.push(m.id);
    return out;
  };

  T('a slow upstream /models costs the client at most ~2 s; configured models are always listed', async () => {
    const t0 = performance.now();
    const first = await ids();
    const ms = performance.now() - t0;
    console.log(`# [models] first list with a ${slowDelayMs} ms upstream: ${ms.toFixed(0)} ms: ${first.join(' ')}`);
    assert.ok(ms < 3000, `the client waited ${ms.toFixed(0)} ms`);
    assert.ok(ms > 1500, `expected the gateway to wait for upstreams up to its ~2 s cap, took ${ms.toFixed(0)} ms`);
    for (const id of ['fast/cfg-1', 'fast/up-a', 'fast/up-b', 'slow/cfg-slow', 'quiet/only-this'])
      assert.ok(first.includes(id), `${id} missing from ${first.join(' ')}`);
    assert.ok(!first.includes('slow/slow-up'), 'the slow upstream answered after the cap');
    assert.equal(new Set(first).size, first.length, 'ids are unique');
  });

  T('the slow fetch lands in the cache for later calls, which do not wait', async () => {
    await sleep(slowDelayMs - 1500);
    const t0 = performance.now();
    const later = await ids();
    const ms = performance.now() - t0;
    console.log(`# [models] cached list: ${ms.toFixed(0)} ms`);
    assert.ok(ms < 500, `cached listing took ${ms.toFixed(0)} ms`);
    assert.ok(later.includes('slow/slow-up'), later.join(' '));
    const quietCalls = fast.requests.filter((r) => r.method === 'GET' && r.path.endsWith('/models'));
    assert.equal(quietCalls.length, 1, 'fast upstream /models fetched once (cached), and never for --no-list-models');
  });

  T('GET /v1/models/{id} with the slash percent-encoded, and an unknown model is 404', async () => {
    const m = await client().models.retrieve('fast/up-a');
    assert.equal(m.id, 'fast/up-a');
    assert.equal(m.owned_by, 'fast');
    const missing = await client().models.retrieve('fast/nope').catch((e) => e);
    assert.equal(missing.status, 404);
    assert.equal(missing.code, 'model_not_found');
  });
});
