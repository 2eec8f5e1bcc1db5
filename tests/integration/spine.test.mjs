// Whole-process tests for the FinOps spine: finops-controlplane + finops-dataplane + finopsctl,
// driven by the real `openai` SDK and plain HTTP, against an in-process mock OpenAI upstream.
//
//   cd tests/integration && npm ci && node --test
//   FINOPS_BIN_DIR=/path/to/bin node --test        # binaries elsewhere
//
// Sections follow the spine issue. The "bootstrap" suite has its own control plane; the
// "gateway" suite shares one control plane + one data plane (started in `before`) and its tests
// run in order, each building on the state left by the previous ones.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';

import { startMockOpenAI, mockReplyText, MODEL_SUFFIX, RATE_LIMIT_MESSAGE } from '../fixtures/mock_openai.mjs';
import { BIN_DIR, binariesPresent, FinopsEnv, freePort, logged, pollUntil, rawRequest, readyz, runCtl, showCtl, sleep, assertCode, assertErrorShape } from './helpers.mjs';

const log = (...a) => console.log('[spine]', ...a);

function requireBinaries() {
  if (!binariesPresent()) {
    throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
  }
}

/** Awaits `promise`, which must reject with an instance of `Cls`; returns the error. */
async function expectApiError(promise, Cls) {
  let value;
  try {
    value = await promise;
  } catch (err) {
    assert.ok(
      err instanceof Cls,
      `expected ${Cls.name}, got ${err?.constructor?.name}: status=${err?.status} ${err?.message}`,
    );
    return err;
  }
  assert.fail(`expected ${Cls.name}, but the call succeeded: ${JSON.stringify(value)?.slice(0, 500)}`);
}


/** Reads an SSE response body; returns [{data, at}] (at = performance.now() of the read). */
async function readSse(res) {
  const reader = res.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let reads = 0;
  const events = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    reads += 1;
    const at = performance.now();
    buf += dec.decode(value, { stream: true }).replace(/\r\n/g, '\n').replace(/\r/g, '\n');
    let idx;
    while ((idx = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, idx);
      buf = buf.slice(idx + 2);
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).replace(/^ /, ''))
        .join('\n');
      if (block.split('\n').some((l) => l.startsWith('data:'))) events.push({ data, at });
    }
  }
  return { events, reads, rest: buf };
}

// ===============================================================================================
// 1. Control plane bootstrap: admin token, token file, restart, finopsctl auth/unavailable codes.
describe('1. control plane bootstrap', { timeout: 60000 }, () => {
  let env;
  let firstToken;
  let tokenFileStat;
  const T = (name, fn, opts = {}) => test(name, { timeout: 20000, ...opts }, logged(() => env, fn));

  before(() => {
    requireBinaries();
    env = new FinopsEnv('bootstrap');
  });
  after(async () => {
    if (env) await env.cleanup();
  });

  T('first start prints the admin token once and writes the token file with mode 0600', async () => {
    const cp = await env.startControlPlane();
    const m = /admin token: (fo-admin-\S+)/.exec(cp.stdout);
    assert.ok(m, `stdout should contain "admin token: fo-admin-...", got:\n${cp.stdout}`);
    firstToken = m[1];
    assert.ok(fs.existsSync(env.tokenFile), `token file ${env.tokenFile} missing`);
    const content = fs.readFileSync(env.tokenFile, 'utf8');
    assert.equal(content, `${firstToken}\n`, 'token file content must be the printed token + newline');
    tokenFileStat = fs.statSync(env.tokenFile);
    assert.equal((tokenFileStat.mode & 0o777).toString(8), '600', 'token file mode');
    assert.equal(cp.stdout.match(/admin token:/g).length, 1, 'token printed exactly once');
    assert.ok(fs.existsSync(env.dbPath), `SQLite db ${env.dbPath} was not created`);
    const r = await env.ctl(['whoami']);
    assertCode(r, 0);
  });

  T('SIGTERM stops it cleanly; a second start on the same db prints no new token', async () => {
    const res = await env.cp.stop(5000);
    assert.ok(res.graceful, `control plane did not exit within 5 s of SIGTERM\n${env.cp.tail()}`);
    assert.equal(res.code, 0, `exit code after SIGTERM (signal=${res.signal})`);
    await sleep(20); // make an mtime change observable if the file were rewritten
    const cp2 = await env.startControlPlane(); // ready = whoami with the FIRST token works
    assert.doesNotMatch(cp2.stdout, /admin token/i, `second start printed a token:\n${cp2.stdout}`);
    assert.doesNotMatch(cp2.stdout, /fo-admin-/, 'second start printed something like a token');
    assert.equal(fs.readFileSync(env.tokenFile, 'utf8'), `${firstToken}\n`, 'token file changed');
    assert.equal(fs.statSync(env.tokenFile).mtimeMs, tokenFileStat.mtimeMs, 'token file was rewritten');
    assert.equal(env.token, firstToken);
  });

  T('finopsctl with a wrong token exits 3', async () => {
    const r = await env.ctl(['whoami'], { token: 'fo-admin-this-is-not-the-token' });
    assertCode(r, 3);
    const r2 = await env.ctl(['keys', 'list', '-o', 'json'], { token: 'fo-admin-this-is-not-the-token' });
    assertCode(r2, 3);
  });

  T('finopsctl login writes a 0600 config file that later commands use', async () => {
    const r = await runCtl(['login', '--addr', env.cpAddr, '--token', env.token], {
      env: { XDG_CONFIG_HOME: env.xdg, HOME: env.dir },
    });
    assertCode(r, 0);
    const cfg = path.join(env.xdg, 'finops', 'finopsctl.yaml');
    assert.ok(fs.existsSync(cfg), `login did not write ${cfg}`);
    assert.equal((fs.statSync(cfg).mode & 0o777).toString(8), '600', 'config file mode');
    // No FINOPS_ADDR / FINOPS_TOKEN / flags: must come from the config file.
    const w = await runCtl(['whoami'], { env: { XDG_CONFIG_HOME: env.xdg, HOME: env.dir } });
    assertCode(w, 0);
  });

  T('finopsctl with no control plane running exits 6', async () => {
    const port = await freePort();
    const t0 = performance.now();
    const r = await runCtl(['whoami', '--addr', `127.0.0.1:${port}`, '--token', 'fo-admin-x', '--timeout', '2'], {
      env: { XDG_CONFIG_HOME: env.xdg, HOME: env.dir },
    });
    const ms = performance.now() - t0;
    assertCode(r, 6);
    assert.ok(ms < 8000, `took ${ms.toFixed(0)} ms with --timeout 2`);
    // And the real control plane, once stopped.
    await env.cp.stop(5000);
    const r2 = await env.ctl(['whoami', '--timeout', '2']);
    assertCode(r2, 6);
  });
});

// ===============================================================================================
// 2-12. The gateway: one control plane, one data plane, one mock upstream.
describe('gateway spine', { timeout: 120000 }, () => {
  let env;
  let mock;
  const S = {}; // state shared by the ordered tests below

  const OPENAI_SECRET = 'sk-mock-openai-OPENAIMIDDLE7f3a9c-abcd';
  const OR_SECRET = 'sk-or-v1-ORMIDDLE55e1d2-wxyz';
  const OLLAMA_SECRET = 'ollama-OLLAMAMIDDLE-9876';
  const SECRETS = [OPENAI_SECRET, OR_SECRET, OLLAMA_SECRET];
  const SECRET_PARTS = ['OPENAIMIDDLE', 'ORMIDDLE', 'OLLAMAMIDDLE'];
  const MAX_BODY = 65536;

  const T = (name, fn, opts = {}) => test(name, { timeout: 20000, ...opts }, logged(() => env, fn));
  const need = (v, what) => {
    if (!v) throw new Error(`precondition failed: ${what} (an earlier test failed)`);
    return v;
  };
  const sdk = (baseURL, apiKey, extra = {}) =>
    new OpenAI({ baseURL, apiKey, maxRetries: 0, timeout: 15000, ...extra });
  const dpV1 = () => `${env.dpUrl}/v1`;

  const chatBody = (model, content = 'hello', extra = {}) =>
    JSON.stringify({ model, messages: [{ role: 'user', content }], ...extra });

  /** One non-streamed chat completion through the data plane with raw HTTP. */
  const rawChat = (headers, { path: p = '/v1/chat/completions', model = 'openai/gpt-4o-mini', content = 'hello' } = {}) =>
    rawRequest(env.dpUrl, {
      method: 'POST',
      path: p,
      headers: { 'content-type': 'application/json', ...headers },
      body: chatBody(model, content),
    });

  // Key probe with no upstream call: a chat completion for an unknown provider prefix answers
  // 404 model_not_found once the key is accepted and 401 while it is not (test 6a checks that
  // authentication comes before model resolution, so the probe cannot pass for a bad key).
  let lastProbe = null;
  const probeKey = async (key) => {
    lastProbe = await rawChat({ authorization: `Bearer ${key}` }, { model: 'nope/probe', content: 'probe' });
    return lastProbe;
  };
  const keyAccepted = async (key) => {
    const r = await probeKey(key);
    return r.status === 404 && r.json?.error?.code === 'model_not_found';
  };

  /** Polls every 50 ms until the data plane accepts `key`; returns elapsed ms. */
  async function waitKeyWorks(key, timeoutMs) {
    try {
      const { ms } = await pollUntil(() => keyAccepted(key), { timeoutMs, intervalMs: 50, what: 'the new key to be accepted by the data plane' });
      return ms;
    } catch (e) {
      throw new Error(`${e.message}; last probe POST /v1/chat/completions model nope/probe: ${lastProbe?.status} ${lastProbe?.text?.slice(0, 300)}`);
    }
  }

  /** A real streamed chat completion through the data plane with `key`; asserts it worked. */
  async function assertStreamedChat(key, content, model = 'openai/gpt-4o-mini') {
    const client = sdk(dpV1(), key);
    const stream = await client.chat.completions.create({ model, messages: [{ role: 'user', content }], stream: true });
    let text = '';
    for await (const ch of stream) {
      assert.equal(ch.model, model);
      text += ch.choices?.[0]?.delta?.content ?? '';
    }
    assert.equal(text, `mock reply to: ${content}`);
  }

  /** A real non-streamed chat completion through the data plane with `key`; asserts it worked. */
  async function assertChat(key, content, model = 'openai/gpt-4o-mini') {
    const r = await rawChat({ authorization: `Bearer ${key}` }, { model, content });
    assert.equal(r.status, 200, `non-streamed chat with ${model}: ${r.status} ${r.text.slice(0, 300)}`);
    assert.equal(r.json?.model, model);
    assert.equal(r.json?.choices?.[0]?.message?.content, `mock reply to: ${content}`);
  }

  function assertNoVirtualKeyUpstream(keys) {
    for (const rec of mock.requests) {
      const blob = JSON.stringify({ url: rec.url, headers: rec.headers }) + rec.rawBody;
      for (const k of keys.filter(Boolean)) {
        assert.ok(!blob.includes(k), `mock upstream request #${rec.seq} ${rec.method} ${rec.url} contains the virtual key: ${JSON.stringify(rec.headers)}`);
      }
      for (const h of ['x-bf-vk', 'x-api-key']) {
        assert.ok(!(h in rec.headers), `mock upstream got header ${h}: ${rec.headers[h]}`);
      }
    }
  }

  async function checkDataplanes(label) {
    const { value: json } = await pollUntil(
      async () => {
        const r = await env.ctl(['dataplanes', 'list', '-o', 'json']);
        assertCode(r, 0);
        const j = r.json;
        assert.ok(j && typeof j.config_version === 'number' && Array.isArray(j.data_planes), `shape: ${r.stdout}`);
        const dp = j.data_planes.find((d) => d.node_id === env.nodeId);
        S.lastDataplanes = r.stdout;
        return dp && dp.connected === true && dp.acked_version === j.config_version ? j : null;
      },
      { timeoutMs: 5000, intervalMs: 100, what: `dataplanes list to show ${env.nodeId} connected and acked (${label})` },
    ).catch((e) => {
      throw new Error(`${e.message}; last output: ${S.lastDataplanes}`);
    });
    const dp = json.data_planes.find((d) => d.node_id === env.nodeId);
    for (const f of ['node_id', 'peer', 'connected', 'acked_version', 'last_nack', 'connected_at', 'last_ack_at']) {
      assert.ok(f in dp, `data plane entry lacks "${f}": ${JSON.stringify(dp)}`);
    }
    assert.equal(typeof dp.peer, 'string');
    log(`${label}: dataplanes list: config_version=${json.config_version}, ${env.nodeId} acked_version=${dp.acked_version}`);
    return json;
  }

  before(async () => {
    requireBinaries();
    env = new FinopsEnv('gateway');
    mock = await startMockOpenAI();
    try {
      await env.startControlPlane();
      await env.startDataPlane({ nodeId: 'it-dp-1', maxBodyBytes: MAX_BODY });
    } catch (e) {
      env.dumpLogs('setup');
      throw e;
    }
    log(`control plane ${env.cpAddr}, data plane ${env.dpUrl}, mock ${mock.url}, tmp ${env.dir}`);
  });

  after(async () => {
    if (env) await env.cleanup();
    if (mock) await mock.close();
  });

  // ---------------------------------------------------------------------------------------------
  // 2. finopsctl providers / keys
  T('2a. providers add openai --api-key-env: -o json shape, secret never echoed', async () => {
    const r = await env.ctl(['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '--api-key-env', 'MOCK_KEY', '-o', 'json'], {
      env: { MOCK_KEY: OPENAI_SECRET },
    });
    assertCode(r, 0);
    const p = r.json;
    assert.ok(p && typeof p === 'object' && !Array.isArray(p), `one JSON object expected: ${r.stdout}`);
    assert.equal(p.name, 'openai');
    assert.equal(p.type, 'openai');
    assert.equal(p.base_url, `${mock.url}/v1`);
    assert.ok(Array.isArray(p.models), 'models array');
    assert.equal(p.list_upstream_models, true);
    assert.ok(Array.isArray(p.keys) && p.keys.length === 1, `one key expected: ${r.stdout}`);
    assert.match(p.keys[0].id, /^pk_/);
    assert.equal(typeof p.keys[0].redacted, 'string');
    assert.ok(p.created_at && p.updated_at, 'created_at/updated_at');
    assert.ok(!r.stdout.includes('OPENAIMIDDLE') && !r.stderr.includes('OPENAIMIDDLE'), `secret leaked: ${r.stdout}`);
    S.openai = p;
  });

  T('2b. providers add openrouter --api-key-file (custom base URL)', async () => {
    const keyFile = path.join(env.dir, 'openrouter.key');
    fs.writeFileSync(keyFile, `${OR_SECRET}\n`, { mode: 0o600 });
    const r = await env.ctl(['providers', 'add', 'openrouter', '--base-url', `${mock.url}/openrouter/v1`, '--api-key-file', keyFile, '-o', 'json']);
    assertCode(r, 0);
    assert.equal(r.json?.name, 'openrouter');
    assert.equal(r.json?.base_url, `${mock.url}/openrouter/v1`);
    assert.equal(r.json?.keys?.length, 1);
    assert.match(r.json.keys[0].id, /^pk_/);
    assert.ok(!r.stdout.includes('ORMIDDLE'), `secret leaked: ${r.stdout}`);
  });

  T('2c. providers add ollama --models ... --no-list-models', async () => {
    const r = await env.ctl(
      ['providers', 'add', 'ollama', '--base-url', `${mock.url}/ollama/v1`, '--api-key-env', 'OLLAMA_KEY', '--models', 'llama3.1:8b,qwen2.5:0.5b', '--no-list-models', '-o', 'json'],
      { env: { OLLAMA_KEY: OLLAMA_SECRET } },
    );
    assertCode(r, 0);
    assert.deepEqual(r.json?.models, ['llama3.1:8b', 'qwen2.5:0.5b']);
    assert.equal(r.json?.list_upstream_models, false);
  });

  T('2d. providers list/get (json, yaml, table) show only redacted keys', async () => {
    const r = await env.ctl(['providers', 'list', '-o', 'json']);
    assertCode(r, 0);
    assert.ok(Array.isArray(r.json), `array expected: ${r.stdout}`);
    assert.deepEqual(r.json.map((p) => p.name).sort(), ['ollama', 'openai', 'openrouter']);
    for (const p of r.json) {
      assert.ok(Array.isArray(p.keys) && p.keys.length === 1, `${p.name} keys: ${JSON.stringify(p.keys)}`);
      for (const k of p.keys) {
        assert.match(k.id, /^pk_/);
        assert.equal(typeof k.redacted, 'string');
      }
    }
    const outputs = [r];
    outputs.push(await env.ctl(['providers', 'list']));
    outputs.push(await env.ctl(['providers', 'list', '-o', 'yaml']));
    outputs.push(await env.ctl(['providers', 'get', 'openai', '-o', 'json']));
    outputs.push(await env.ctl(['providers', 'get', 'openrouter']));
    for (const o of outputs) {
      assertCode(o, 0);
      for (const s of [...SECRETS, ...SECRET_PARTS]) {
        assert.ok(!o.stdout.includes(s) && !o.stderr.includes(s), `"${s}" appears in ${showCtl(o)}`);
      }
    }
    assert.equal(outputs[3].json?.name, 'openai');
    assert.ok(outputs[1].stdout.includes('openrouter'), 'table lists providers');
  });

  T('2e. finopsctl exit codes: 5 already exists, 4 not found, 2 usage', async () => {
    assertCode(await env.ctl(['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '--api-key-env', 'MOCK_KEY'], { env: { MOCK_KEY: OPENAI_SECRET } }), 5);
    assertCode(await env.ctl(['providers', 'get', 'no-such-provider']), 4);
    assertCode(await env.ctl(['keys', 'get', 'vk_doesnotexist']), 4);
    assertCode(await env.ctl(['providers', 'add', 'my-custom-llm', '--api-key-env', 'MOCK_KEY'], { env: { MOCK_KEY: OPENAI_SECRET } }), 2); // needs --base-url
    assertCode(await env.ctl(['keys', 'frobnicate']), 2);
  });

  T('2f. keys create --name team-a -o json; get/list never show the key', async () => {
    const r = await env.ctl(['keys', 'create', '--name', 'team-a', '-o', 'json']);
    assertCode(r, 0);
    const k = r.json;
    assert.ok(k && typeof k === 'object', r.stdout);
    assert.match(k.id, /^vk_/);
    assert.equal(k.name, 'team-a');
    assert.match(k.key, /^sk-fo-/);
    assert.equal(typeof k.key_prefix, 'string');
    assert.ok(k.key.startsWith(k.key_prefix) && k.key_prefix.length < k.key.length, `key_prefix ${k.key_prefix}`);
    assert.equal(k.status, 'active');
    assert.ok(!Number.isNaN(Date.parse(k.created_at)), `created_at ${k.created_at}`);
    S.vk = k.key;
    S.vkId = k.id;

    const g = await env.ctl(['keys', 'get', k.id, '-o', 'json']);
    assertCode(g, 0);
    assert.equal(g.json?.id, k.id);
    assert.equal(g.json?.status, 'active');
    assert.ok(!('key' in g.json), `keys get must not return the key: ${g.stdout}`);
    const l = await env.ctl(['keys', 'list', '-o', 'json']);
    assertCode(l, 0);
    assert.ok(Array.isArray(l.json) && l.json.some((x) => x.id === k.id), l.stdout);
    for (const o of [g, l, await env.ctl(['keys', 'list'])]) {
      assert.ok(!o.stdout.includes(k.key), `full key shown by ${showCtl(o)}`);
    }
    const ms = await waitKeyWorks(S.vk, 5000);
    log(`team-a key accepted by the data plane ${ms.toFixed(0)} ms after keys create returned`);
    await assertStreamedChat(S.vk, 'first use 2f');
  });

  // ---------------------------------------------------------------------------------------------
  // 3. openai SDK on /v1
  T('3a. /healthz and /readyz', async () => {
    const h = await rawRequest(env.dpUrl, { path: '/healthz' });
    assert.equal(h.status, 200);
    assert.deepEqual(h.json, { status: 'ok' });
    const r = await readyz(env.dpUrl);
    assert.equal(r.status, 200);
    assert.equal(r.json?.ready, true, JSON.stringify(r.json));
    assert.equal(typeof r.json.config_version, 'number');
    assert.equal(r.json.control_plane, 'connected');
    assert.equal(r.json.degraded, false);
    assert.equal(typeof r.json.config_age_seconds, 'number');
  });

  T('3b. SDK models.list() lists provider-prefixed ids', async () => {
    const client = sdk(dpV1(), need(S.vk, 'virtual key'));
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    log(`models.list ids: ${ids.join(', ')}`);
    assert.ok(ids.some((id) => id.startsWith('openai/')), `no openai/... id in ${ids}`);
    assert.ok(ids.includes('ollama/llama3.1:8b') && ids.includes('ollama/qwen2.5:0.5b'), `configured ollama models missing: ${ids}`);
    for (const id of ids) assert.match(id, /^(openai|openrouter|ollama)\/./, `id without a provider prefix: ${id}`);
    for (const m of page.data) assert.equal(m.object, 'model');
    const listed = mock.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/ollama/'));
    assert.equal(listed.length, 0, `--no-list-models provider was listed upstream: ${listed.map((r) => r.url)}`);
  });

  T('3c. GET /v1/models/{id} with a literal slash in the id', async () => {
    const r = await rawRequest(env.dpUrl, { path: '/v1/models/ollama/llama3.1:8b', headers: { authorization: `Bearer ${need(S.vk, 'virtual key')}` } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json?.id, 'ollama/llama3.1:8b');
    assert.equal(r.json?.object, 'model');
  });

  T('3c2. SDK models.retrieve("ollama/llama3.1:8b") (the SDK sends /models/ollama%2Fllama3.1:8b)', async () => {
    const client = sdk(dpV1(), need(S.vk, 'virtual key'));
    const m = await client.models.retrieve('ollama/llama3.1:8b');
    assert.equal(m.id, 'ollama/llama3.1:8b');
  });

  T('3d. SDK chat.completions.create (non-streamed): model rewritten back, upstream got bare model + provider key', async () => {
    const client = sdk(dpV1(), need(S.vk, 'virtual key'));
    const mark = mock.mark();
    const messages = [
      { role: 'system', content: 'be brief' },
      { role: 'user', content: 'say hi 3d' },
    ];
    const c = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages, temperature: 0.2 });
    assert.equal(c.model, 'openai/gpt-4o-mini');
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.choices[0].message.role, 'assistant');
    assert.equal(c.choices[0].message.content, 'mock reply to: say hi 3d');
    assert.equal(c.choices[0].finish_reason, 'stop');
    assert.ok(c.usage && c.usage.total_tokens > 0, `usage: ${JSON.stringify(c.usage)}`);
    const got = mock.since(mark).filter((r) => r.path.endsWith('/chat/completions'));
    assert.equal(got.length, 1, `mock chat requests: ${got.length}`);
    const up = got[0];
    assert.equal(up.method, 'POST');
    assert.equal(up.path, '/v1/chat/completions');
    assert.equal(up.body?.model, 'gpt-4o-mini');
    assert.deepEqual(up.body.messages, messages);
    assert.equal(up.body.temperature, 0.2);
    assert.equal(up.headers.authorization, `Bearer ${OPENAI_SECRET}`);
  });

  T('3d2. non-streamed upstream JSON with Content-Length and with chunked framing both relay', async () => {
    const vk = need(S.vk, 'virtual key');
    const results = {};
    const contents = {};
    try {
      for (const framing of ['content-length', 'chunked']) {
        mock.setBehavior({ jsonFraming: framing });
        const r = await rawChat({ authorization: `Bearer ${vk}` }, { content: `framing ${framing}` });
        results[framing] = `${r.status} ${r.text.slice(0, 600)}`;
        contents[framing] = r.json?.choices?.[0]?.message?.content;
      }
    } finally {
      mock.resetBehavior();
    }
    for (const framing of ['content-length', 'chunked']) {
      assert.match(results[framing], /^200 /, `upstream ${framing} framing: ${JSON.stringify(results)}`);
      assert.equal(contents[framing], `mock reply to: framing ${framing}`, results[framing]);
    }
  });

  T('3e. SDK stream:true: every chunk has model openai/gpt-4o-mini, content complete, usage chunk, ends', async () => {
    const client = sdk(dpV1(), need(S.vk, 'virtual key'));
    const mark = mock.mark();
    const stream = await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: 'stream 3e' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const ch of stream) chunks.push(ch);
    assert.ok(chunks.length >= 4, `only ${chunks.length} chunks`);
    for (const ch of chunks) {
      assert.equal(ch.model, 'openai/gpt-4o-mini', `chunk model: ${JSON.stringify(ch)}`);
      assert.equal(ch.object, 'chat.completion.chunk');
    }
    const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join('');
    assert.equal(text, 'mock reply to: stream 3e');
    assert.ok(chunks.some((c) => c.choices?.[0]?.finish_reason === 'stop'), 'no finish_reason stop');
    const last = chunks[chunks.length - 1];
    assert.deepEqual(last.choices, [], `last chunk should be the usage chunk: ${JSON.stringify(last)}`);
    assert.ok(last.usage && last.usage.total_tokens > 0, `usage: ${JSON.stringify(last)}`);
    const up = mock.since(mark).filter((r) => r.path.endsWith('/chat/completions'));
    assert.equal(up.length, 1);
    assert.equal(up[0].body?.model, 'gpt-4o-mini');
    assert.equal(up[0].body?.stream, true);
    assert.equal(up[0].headers.authorization, `Bearer ${OPENAI_SECRET}`);
  });

  T('3f. raw SSE: text/event-stream, relayed chunk by chunk, ends with data: [DONE]', async () => {
    const t0 = performance.now();
    const res = await fetch(`${dpV1()}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${need(S.vk, 'virtual key')}` },
      body: chatBody('openai/gpt-4o-mini', 'raw sse 3f', { stream: true }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.ok(res.headers.get('x-request-id'), 'x-request-id on a stream');
    const { events, reads, rest } = await readSse(res);
    assert.equal(rest.trim(), '', `trailing bytes after the last event: ${JSON.stringify(rest)}`);
    assert.ok(events.length >= 4, `events: ${events.length}`);
    assert.equal(events[events.length - 1].data, '[DONE]', 'last event must be [DONE]');
    assert.equal(events.filter((e) => e.data === '[DONE]').length, 1);
    const json = events.slice(0, -1).map((e) => JSON.parse(e.data));
    for (const j of json) assert.equal(j.model, 'openai/gpt-4o-mini');
    assert.equal(json.map((j) => j.choices?.[0]?.delta?.content ?? '').join(''), 'mock reply to: raw sse 3f');
    // The mock spaces its ~6 events 40 ms apart: a buffering gateway would deliver them at once.
    const spread = events[events.length - 1].at - events[0].at;
    log(`3f: ${events.length} events in ${reads} reads, first after ${(events[0].at - t0).toFixed(0)} ms, spread ${spread.toFixed(0)} ms`);
    assert.ok(reads >= 3 && spread >= 100, `stream looks buffered: ${reads} reads, spread ${spread.toFixed(0)} ms`);
  });

  T('3g. the virtual key never reached the upstream', async () => {
    assert.ok(mock.requests.length > 0);
    assertNoVirtualKeyUpstream([S.vk]);
  });

  // ---------------------------------------------------------------------------------------------
  // 4. other mounts and key headers
  T('4a. SDK with baseURL /openai/v1', async () => {
    const client = sdk(`${env.dpUrl}/openai/v1`, need(S.vk, 'virtual key'));
    const c = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'mount 4a' }] });
    assert.equal(c.model, 'openai/gpt-4o-mini');
    assert.equal(c.choices[0].message.content, 'mock reply to: mount 4a');
    const page = await client.models.list();
    assert.ok(page.data.some((m) => m.id.startsWith('openai/')));
    const stream = await client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 's4a' }], stream: true });
    let text = '';
    for await (const ch of stream) {
      assert.equal(ch.model, 'openai/gpt-4o-mini');
      text += ch.choices?.[0]?.delta?.content ?? '';
    }
    assert.equal(text, 'mock reply to: s4a');
  });

  T('4b. /openai (without v1) mount', async () => {
    const r = await rawChat({ authorization: `Bearer ${need(S.vk, 'virtual key')}` }, { path: '/openai/chat/completions', content: 'mount 4b' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json?.model, 'openai/gpt-4o-mini');
    assert.equal(r.json?.choices?.[0]?.message?.content, 'mock reply to: mount 4b');
  });

  T('4c. virtual key in x-bf-vk and in x-api-key (no Authorization)', async () => {
    const vk = need(S.vk, 'virtual key');
    for (const h of ['x-bf-vk', 'x-api-key']) {
      const mark = mock.mark();
      const r = await rawChat({ [h]: vk }, { content: `via ${h}` });
      assert.equal(r.status, 200, `${h}: ${r.status} ${r.text}`);
      assert.equal(r.json?.model, 'openai/gpt-4o-mini');
      assert.equal(r.json?.choices?.[0]?.message?.content, `mock reply to: via ${h}`);
      const up = mock.since(mark);
      assert.equal(up.length, 1);
      assert.equal(up[0].headers.authorization, `Bearer ${OPENAI_SECRET}`, `${h}: upstream authorization`);
      const bad = await rawChat({ [h]: 'sk-fo-wrong' });
      assertErrorShape(bad, 401, { code: 'invalid_api_key' });
      // Also through the SDK: its Authorization carries a non-key, the real key is in defaultHeaders.
      const viaSdk = sdk(dpV1(), 'not-a-virtual-key', { defaultHeaders: { [h]: vk } });
      const c = await viaSdk.chat.completions
        .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'sdk hdr' }] })
        .catch((e) => e);
      log(`4c: SDK with Authorization: Bearer not-a-virtual-key and ${h}: <vk> -> ${c instanceof Error ? `${c.status} ${c.message}` : '200'}`);
      if (h === 'x-bf-vk') {
        // x-bf-vk is checked first: a placeholder apiKey in Authorization must not lock it out.
        assert.ok(!(c instanceof Error), `x-bf-vk with a placeholder Authorization: ${c}`);
        assert.equal(c.model, 'openai/gpt-4o-mini');
      }
    }
    assertNoVirtualKeyUpstream([vk]);
  });

  // ---------------------------------------------------------------------------------------------
  // 5. provider prefix split at the first slash
  T('5a. openrouter/anthropic/claude-3.5 reaches the upstream as anthropic/claude-3.5', async () => {
    const client = sdk(dpV1(), need(S.vk, 'virtual key'));
    const mark = mock.mark();
    const c = await client.chat.completions.create({ model: 'openrouter/anthropic/claude-3.5', messages: [{ role: 'user', content: 'or 5a' }] });
    assert.equal(c.model, 'openrouter/anthropic/claude-3.5');
    assert.equal(c.choices[0].message.content, 'mock reply to: or 5a');
    const up = mock.since(mark);
    assert.equal(up.length, 1);
    assert.equal(up[0].path, '/openrouter/v1/chat/completions');
    assert.equal(up[0].body?.model, 'anthropic/claude-3.5');
    assert.equal(up[0].headers.authorization, `Bearer ${OR_SECRET}`, 'key from --api-key-file (trailing newline trimmed)');
  });

  T('5b. ollama/llama3.1:8b keeps its colon', async () => {
    const client = sdk(dpV1(), need(S.vk, 'virtual key'));
    const mark = mock.mark();
    const stream = await client.chat.completions.create({ model: 'ollama/llama3.1:8b', messages: [{ role: 'user', content: 'ol 5b' }], stream: true });
    let text = '';
    for await (const ch of stream) {
      assert.equal(ch.model, 'ollama/llama3.1:8b');
      text += ch.choices?.[0]?.delta?.content ?? '';
    }
    assert.equal(text, 'mock reply to: ol 5b');
    const up = mock.since(mark);
    assert.equal(up.length, 1);
    assert.equal(up[0].path, '/ollama/v1/chat/completions');
    assert.equal(up[0].body?.model, 'llama3.1:8b');
    assert.equal(up[0].headers.authorization, `Bearer ${OLLAMA_SECRET}`);
  });

  T('5e. a bare model name routes by the x-finops-provider header', async () => {
    const vk = need(S.vk, 'virtual key');
    const mark = mock.mark();
    const client = sdk(dpV1(), vk, { defaultHeaders: { 'x-finops-provider': 'openai' } });
    const c = await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'bare 5e' }] });
    assert.equal(c.model, 'gpt-4o-mini');
    assert.equal(c.choices[0].message.content, 'mock reply to: bare 5e');
    const up = mock.since(mark);
    assert.equal(up.length, 1);
    assert.equal(up[0].body?.model, 'gpt-4o-mini');
    assert.equal(up[0].headers['x-finops-provider'], undefined, 'the routing header is not forwarded');
    // Without the header a bare name is the client's mistake: 400, no upstream call.
    const bare = await sdk(dpV1(), vk).chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] })
      .catch((e) => e);
    assert.equal(bare.status, 400);
    assert.equal(mock.since(mark).length, 1);
  });

  T('5c. unknown prefix nope/x -> NotFoundError model_not_found, no upstream call', async () => {
    const client = sdk(dpV1(), need(S.vk, 'virtual key'));
    const mark = mock.mark();
    const err = await expectApiError(
      client.chat.completions.create({ model: 'nope/x', messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.NotFoundError,
    );
    assert.equal(err.status, 404);
    assert.equal(err.code, 'model_not_found');
    assert.match(err.message, /nope/, 'message names the prefix');
    assert.ok(err.requestID, 'x-request-id');
    const err2 = await expectApiError(
      client.chat.completions.create({ model: 'nope/x', messages: [{ role: 'user', content: 'x' }], stream: true }),
      OpenAI.NotFoundError,
    );
    assert.equal(err2.code, 'model_not_found');
    assert.equal(mock.since(mark).length, 0, 'the mock must receive no request');
  });

  // ---------------------------------------------------------------------------------------------
  // 6. authentication and revocation
  T('6a. 401 without a key / with a wrong key: invalid_api_key, x-request-id', async () => {
    const mark = mock.mark();
    const client = sdk(dpV1(), 'sk-fo-this-key-does-not-exist');
    const err = await expectApiError(
      client.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.AuthenticationError,
    );
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_api_key');
    assert.ok(err.requestID, 'x-request-id header');
    const r = await rawChat({});
    assertErrorShape(r, 401, { code: 'invalid_api_key', type: 'invalid_request_error' });
    assert.equal(r.json.error.param, null);
    const m = await rawRequest(env.dpUrl, { path: '/v1/models' });
    assertErrorShape(m, 401, { code: 'invalid_api_key' });
    // Authentication comes before model resolution (no model/provider enumeration without a key).
    const p = await probeKey('sk-fo-this-key-does-not-exist');
    assertErrorShape(p, 401, { code: 'invalid_api_key' });
    assert.equal(mock.since(mark).length, 0, 'unauthenticated requests must not reach the upstream');
  });

  T('6b. keys revoke: the key fails with 401 within 1 s', async () => {
    const c = await env.ctl(['keys', 'create', '--name', 'to-revoke', '-o', 'json']);
    assertCode(c, 0);
    const key = c.json.key;
    await waitKeyWorks(key, 5000);
    await assertStreamedChat(key, 'before revoke');
    const r = await env.ctl(['keys', 'revoke', c.json.id, '-o', 'json']);
    assertCode(r, 0);
    const t0 = performance.now();
    assert.equal(r.json?.id, c.json.id);
    assert.equal(r.json?.status, 'revoked');
    assert.ok(r.json.revoked_at && !Number.isNaN(Date.parse(r.json.revoked_at)), `revoked_at: ${r.stdout}`);
    assert.ok(!('key' in r.json), 'revoke output must not contain the key');
    let last;
    const { ms } = await pollUntil(
      async () => {
        last = await probeKey(key);
        return last.status === 401;
      },
      { timeoutMs: 5000, intervalMs: 50, what: 'the revoked key to be rejected' },
    );
    log(`revocation effective ${ms.toFixed(0)} ms after keys revoke returned (${(performance.now() - t0).toFixed(0)} ms incl. last probe)`);
    assertErrorShape(last, 401, { code: 'invalid_api_key' });
    assert.ok(ms < 1000, `revocation took ${ms.toFixed(0)} ms (limit 1000)`);
    const mark = mock.mark();
    const err = await expectApiError(
      sdk(dpV1(), key).chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], stream: true }),
      OpenAI.AuthenticationError,
    );
    assert.equal(err.code, 'invalid_api_key');
    assert.equal(mock.since(mark).length, 0, 'a revoked key reached the upstream');
    const g = await env.ctl(['keys', 'get', c.json.id, '-o', 'json']);
    assert.equal(g.json?.status, 'revoked');
    // The other key is unaffected.
    assert.ok(await keyAccepted(need(S.vk, 'virtual key')), `team-a key stopped working: ${lastProbe?.status} ${lastProbe?.text}`);
  });

  // ---------------------------------------------------------------------------------------------
  // 7. bad input
  T('7. bad input: 400/413/404/405 in OpenAI error shape, nothing reaches the upstream', async () => {
    const vk = need(S.vk, 'virtual key');
    const auth = { authorization: `Bearer ${vk}`, 'content-type': 'application/json' };
    const post = (body, p = '/v1/chat/completions') => rawRequest(env.dpUrl, { method: 'POST', path: p, headers: auth, body });
    const mark = mock.mark();
    const ids = [];
    const check = (label, r, status, opts) => {
      try {
        assertErrorShape(r, status, opts);
      } catch (e) {
        e.message = `${label}: ${e.message}`;
        throw e;
      }
      ids.push(r.headers['x-request-id']);
    };

    check('malformed JSON', await post('{"model": "openai/gpt-4o-mini", "messages": ['), 400, { type: 'invalid_request_error' });
    check('missing model', await post(JSON.stringify({ messages: [{ role: 'user', content: 'x' }] })), 400);
    check('non-string model', await post(JSON.stringify({ model: 123, messages: [{ role: 'user', content: 'x' }] })), 400);
    check('model null', await post(JSON.stringify({ model: null, messages: [] })), 400);
    check('JSON array body', await post('[1,2,3]'), 400);
    const badUtf8 = Buffer.concat([
      Buffer.from('{"model":"openai/gpt-4o-mini","messages":[{"role":"user","content":"'),
      Buffer.from([0xff, 0xfe, 0xc3, 0x28]),
      Buffer.from('"}]}'),
    ]);
    check('invalid UTF-8', await post(badUtf8), 400);

    const filler = (n) => chatBody('openai/gpt-4o-mini', 'a'.repeat(n));
    const big = filler(MAX_BODY + 1000);
    assert.ok(Buffer.byteLength(big) > MAX_BODY);
    check('body over --max-body-bytes', await post(big), 413, { code: 'request_too_large' });
    const bigBuf = Buffer.from(big);
    const chunks = [];
    for (let i = 0; i < bigBuf.length; i += 8192) chunks.push(bigBuf.subarray(i, i + 8192));
    check('chunked body over --max-body-bytes', await post(chunks), 413, { code: 'request_too_large' });
    const okBody = filler(MAX_BODY - 2000);
    const ok = await post(okBody);
    assert.equal(ok.status, 200, `a ${Buffer.byteLength(okBody)}-byte body (< ${MAX_BODY}) must pass: ${ok.status} ${ok.text.slice(0, 300)}`);
    const okCount = 1;

    check('unknown route', await rawRequest(env.dpUrl, { path: '/v1/does-not-exist', headers: auth }), 404, { code: 'unknown_route' });
    check('unknown route (POST)', await post('{}', '/v1/nope/nope'), 404, { code: 'unknown_route' });
    check('GET on chat/completions', await rawRequest(env.dpUrl, { path: '/v1/chat/completions', headers: auth }), 405);
    check('DELETE on chat/completions', await rawRequest(env.dpUrl, { method: 'DELETE', path: '/v1/chat/completions', headers: auth }), 405);

    assert.equal(new Set(ids).size, ids.length, `x-request-id values repeat: ${ids}`);
    assert.equal(mock.since(mark).length, okCount, `only the valid request may reach the upstream, got ${mock.since(mark).map((r) => r.url)}`);
    const rz = await readyz(env.dpUrl);
    assert.equal(rz.status, 200, 'data plane still ready after bad input');
  });

  // ---------------------------------------------------------------------------------------------
  // 8. upstream errors
  T('8a. upstream 429 -> SDK RateLimitError with the upstream message', async () => {
    const client = sdk(dpV1(), need(S.vk, 'virtual key'));
    const err = await expectApiError(
      client.chat.completions.create({ model: 'openai/gpt-error-429', messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.RateLimitError,
    );
    assert.equal(err.status, 429);
    assert.ok(err.message.includes(RATE_LIMIT_MESSAGE), `message: ${err.message}`);
    assert.ok(err.requestID, 'x-request-id');
    const up = mock.requests.filter((r) => r.body?.model === 'gpt-error-429');
    assert.ok(up.length >= 1, 'the mock got the request');
  });

  T('8b. upstream 500 text/plain -> 500 with an OpenAI-shaped JSON body', async () => {
    const r = await rawChat({ authorization: `Bearer ${need(S.vk, 'virtual key')}` }, { model: 'openai/gpt-error-500-text' });
    const e = assertErrorShape(r, 500);
    log(`8b: 500 body: ${r.text}`);
    const client = sdk(dpV1(), S.vk);
    const err = await expectApiError(
      client.chat.completions.create({ model: 'openai/gpt-error-500-text', messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.InternalServerError,
    );
    assert.equal(err.status, 500);
    assert.ok(!err.message.includes('{"error"'), `SDK message should come from error.message, got: ${err.message}`);
    assert.equal(typeof e.message, 'string');
  });

  T('8c. upstream 429 on a stream request -> JSON error, not SSE', async () => {
    const r = await rawRequest(env.dpUrl, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${need(S.vk, 'virtual key')}` },
      body: chatBody('openai/gpt-error-429', 'x', { stream: true }),
    });
    const e = assertErrorShape(r, 429);
    assert.ok(e.message.includes(RATE_LIMIT_MESSAGE), e.message);
  });

  // ---------------------------------------------------------------------------------------------
  // 10. client disconnect mid-stream cancels the upstream request
  T('10. client abort mid-stream closes the upstream request within ~1 s', async () => {
    const mark = mock.mark();
    const ac = new AbortController();
    const res = await fetch(`${dpV1()}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${need(S.vk, 'virtual key')}` },
      body: chatBody('openai/gpt-slow', 'slow 10', { stream: true }),
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let seen = '';
    while (!seen.includes('data:')) {
      const { done, value } = await reader.read();
      assert.ok(!done, 'stream ended before the first chunk');
      seen += dec.decode(value, { stream: true });
    }
    const { value: rec } = await pollUntil(() => mock.since(mark).find((r) => r.body?.model === 'gpt-slow'), {
      timeoutMs: 2000,
      what: 'the slow request at the mock',
    });
    assert.equal(rec.aborted, false, 'upstream closed before the client aborted');
    ac.abort();
    const t0 = performance.now();
    await reader.cancel().catch(() => {});
    const { ms } = await pollUntil(() => rec.aborted, { timeoutMs: 4000, intervalMs: 20, what: 'the upstream request to be closed' }).catch((e) => {
      throw new Error(`${e.message}: the gateway kept the upstream stream open after the client left (mock sent ${rec.chunksSent} chunks)`);
    });
    log(`10: upstream closed ${ms.toFixed(0)} ms after the client aborted (mock had sent ${rec.chunksSent ?? 0} content chunks)`);
    assert.ok(ms < 1500, `upstream closed only after ${ms.toFixed(0)} ms`);
    assert.ok((rec.chunksSent ?? 0) < 20, 'the slow stream ran to (near) completion');
    void t0;
    assert.ok(await keyAccepted(S.vk), `data plane still answers after the abort: ${lastProbe?.status} ${lastProbe?.text}`);
    await assertStreamedChat(S.vk, 'after abort');
  });

  // ---------------------------------------------------------------------------------------------
  // 11. data planes
  T('11. finopsctl dataplanes list: connected, acked_version == config_version', async () => {
    const j = await checkDataplanes('before control plane kill');
    const s = await env.ctl(['settings', 'get', '-o', 'json']);
    assertCode(s, 0);
    assert.equal(s.json?.config_version, j.config_version, `settings get config_version: ${s.stdout}`);
    const rz = await readyz(env.dpUrl);
    assert.equal(rz.json?.config_version, j.config_version, `/readyz config_version ${JSON.stringify(rz.json)}`);
  });

  // ---------------------------------------------------------------------------------------------
  // 12. propagation
  T('12. a new key works through the data plane in < 1000 ms', async () => {
    const t0 = performance.now();
    const c = await env.ctl(['keys', 'create', '--name', 'propagation', '-o', 'json']);
    assertCode(c, 0);
    const ctlMs = performance.now() - t0;
    const ms = await waitKeyWorks(c.json.key, 5000);
    console.log(`[spine] propagation: key accepted ${ms.toFixed(0)} ms after keys create returned (${(ctlMs + ms).toFixed(0)} ms incl. finopsctl)`);
    assert.ok(ms < 1000, `propagation took ${ms.toFixed(0)} ms`);
    await assertStreamedChat(c.json.key, 'new key 12');
    S.vk2 = c.json.key;
  });

  // ---------------------------------------------------------------------------------------------
  // 9. static stability (last: it kills the control plane)
  T('9. control plane SIGKILL: data plane keeps serving, degraded; reconnects after restart', async () => {
    const vk = need(S.vk, 'virtual key');
    const oldCp = env.cp;
    const cpPort = env.cpPort;
    await oldCp.kill9();
    assert.ok(oldCp.exited, 'control plane did not die');
    const tKill = performance.now();

    await assertStreamedChat(vk, 'cp down');

    const non200 = [];
    const { value: rzDown, ms: msDegraded } = await pollUntil(
      async () => {
        const r = await readyz(env.dpUrl);
        if (r.status !== 200) non200.push(r);
        return r.json?.degraded === true && r.json?.control_plane === 'disconnected' ? r.json : null;
      },
      { timeoutMs: 10000, intervalMs: 100, what: '/readyz degraded:true, control_plane:"disconnected"' },
    );
    log(`9: /readyz degraded ${msDegraded.toFixed(0)} ms after SIGKILL: ${JSON.stringify(rzDown)}`);
    assert.deepEqual(non200, [], '/readyz must stay 200 while the control plane is down');
    assert.equal(rzDown.ready, true);

    // Existing keys and providers still work while the control plane is down.
    await assertStreamedChat(vk, 'still up', 'openrouter/anthropic/claude-3.5');
    if (S.vk2) await assertStreamedChat(S.vk2, 'second key');
    const bad = await probeKey('sk-fo-unknown-while-down');
    assertErrorShape(bad, 401, { code: 'invalid_api_key' });
    assertCode(await env.ctl(['whoami', '--timeout', '2']), 6);
    // Non-streamed too; a failure here is reported at the end so the reconnect is still checked.
    let nonStreamedErr = null;
    try {
      await assertChat(vk, 'cp down non-streamed');
    } catch (e) {
      nonStreamedErr = e;
    }

    // Restart on the same port and db.
    const newCp = await env.startControlPlane({ port: cpPort });
    assert.doesNotMatch(newCp.stdout, /admin token/i, 'restart printed a new admin token');
    const non200b = [];
    const { value: rzUp, ms: msUp } = await pollUntil(
      async () => {
        const r = await readyz(env.dpUrl);
        if (r.status !== 200) non200b.push(r);
        return r.json?.control_plane === 'connected' && r.json?.degraded === false ? r.json : null;
      },
      { timeoutMs: 15000, intervalMs: 100, what: '/readyz control_plane:"connected" after restart' },
    );
    log(`9: data plane reconnected ${msUp.toFixed(0)} ms after the control plane was ready again (${(performance.now() - tKill).toFixed(0)} ms after kill): ${JSON.stringify(rzUp)}`);
    assert.deepEqual(non200b, [], '/readyz must stay 200 during the reconnect');
    assert.ok(msUp < 10000, `reconnect took ${msUp.toFixed(0)} ms`);

    const k = await env.ctl(['keys', 'create', '--name', 'after-restart', '-o', 'json']);
    assertCode(k, 0);
    const ms = await waitKeyWorks(k.json.key, 5000);
    log(`9: key created after restart accepted in ${ms.toFixed(0)} ms`);
    await assertStreamedChat(k.json.key, 'after restart');
    await assertStreamedChat(vk, 'old key after restart');
    assert.equal(env.dpStarts, 1, 'the data plane was not restarted');
    assert.ok(!env.dp.exited, 'the data plane is still the same process');
    await checkDataplanes('after control plane restart');
    if (nonStreamedErr) {
      nonStreamedErr.message = `while the control plane was down: ${nonStreamedErr.message}`;
      throw nonStreamedErr;
    }
  }, { timeout: 45000 });
});
