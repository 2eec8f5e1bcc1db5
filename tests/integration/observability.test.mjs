// Whole-process tests for observability (issue 6): the request log, /metrics, the overhead
// header and the log format, with the real binaries, the real openai and Anthropic SDKs and the
// in-process mock OpenAI upstream.
//
//   cd tests/integration && npm ci && node --test observability.test.mjs
//
// 1. Traffic through two data planes (plain, streamed, /anthropic, refused, upstream errors)
//    appears in `finopsctl logs -o json` once per request with the right fields, cost exact to
//    the nano-dollar; every filter, paging with --cursor, `logs show` with the content, --follow.
// 2. Content search (FTS5): a phrase from a conversation, a word only in the reply, a hyphenated
//    term, operators and prefixes; a bad expression is a usage error.
// 3. Content logging off (the setting, a key, the x-finops-log-content header, a data plane
//    with --log-content-max-bytes 0) stores no content: the phrase is nowhere in the SQLite
//    files; --log-content-max-bytes cuts content and says so.
// 4. A full log buffer (--log-buffer-records 5, control plane stopped) drops and counts, and
//    requests stay as fast; the buffered records arrive after the control plane is back.
// 5. /metrics of both programs, parsed by a Prometheus text-format parser (prom2javascript, via
//    helpers.scrapeMetrics), hold the exact counts of the traffic sent.
// 6. x-finops-overhead-us on plain, streamed, error and refused responses (and CORS-exposed).
// 7. --log-format text and json: the access line of each, and bad values refused.
//
// Every test is independent: its own mock, control plane and data planes in a fresh temp dir,
// set up with finopsctl only; the process logs are printed when it fails.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import OpenAI from 'openai';
import Anthropic from 'anthropic-sdk-1';

import { startMockOpenAI, mockReplyText } from '../fixtures/mock_openai.mjs';
import { BIN_DIR, bin, binariesPresent, FinopsEnv, pollUntil, rawRequest, scrapeMetrics, showCtl, assertCode, sleep } from './helpers.mjs';

const log = (...a) => console.log('[observability]', ...a);

const MODEL_A = 'openai/gpt-4o-mini';
const MODEL_B = 'openai/gpt-4o';
// Custom prices set in every test (dollars per 1M tokens, and in nano-dollars per 1M tokens).
const PRICES = {
  [MODEL_A]: { input: '1', output: '2', inNano: 1_000_000_000n, outNano: 2_000_000_000n },
  [MODEL_B]: { input: '2.5', output: '10', inNano: 2_500_000_000n, outNano: 10_000_000_000n },
};
const PROVIDER_SECRET = 'sk-provider-observability-secret-0123456789';
const CHAT_ROUTE = '/v1/chat/completions';
const ANTHROPIC_ROUTE = '/anthropic/v1/messages';

/** Cost in nano-dollars of a usage the mock reported: round_half_up(Σ tokens × nano-per-1M / 1e6). */
function costNano(model, usage) {
  const p = PRICES[model];
  if (!p || !usage) return 0;
  const prompt = BigInt(usage.prompt_tokens ?? 0);
  const cached = BigInt(usage.prompt_tokens_details?.cached_tokens ?? 0);
  const completion = BigInt(usage.completion_tokens ?? 0);
  const num = (prompt - cached) * p.inNano + cached * p.inNano + completion * p.outNano;
  return Number((num + 500_000n) / 1_000_000n);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

// ---------------------------------------------------------------------------------------------
// finopsctl

/** finopsctl ... -o json that must exit 0; returns the parsed JSON. */
async function ctlJson(env, args, opts) {
  const r = await env.ctl([...args, '-o', 'json'], opts);
  assertCode(r, 0);
  assert.ok(r.json !== null, `finopsctl printed no JSON:\n${showCtl(r)}`);
  return r.json;
}

/** `finopsctl logs ARGS -o json`: {entries, next_cursor, last_id, raw}. */
async function logsJson(env, args = []) {
  const r = await env.ctl(['logs', ...args, '-o', 'json']);
  assertCode(r, 0);
  const j = r.json;
  assert.ok(j && Array.isArray(j.entries) && typeof j.next_cursor === 'string', `finopsctl logs -o json shape:\n${showCtl(r)}`);
  return { ...j, raw: r.stdout };
}

/** `finopsctl logs show ID -o json`: the entry with its content, and the raw stdout. */
async function logShow(env, id) {
  const r = await env.ctl(['logs', 'show', id, '-o', 'json']);
  assertCode(r, 0);
  assert.ok(r.json && r.json.request_id, `logs show -o json shape:\n${showCtl(r)}`);
  return { ...r.json, raw: r.stdout };
}

/** Polls `finopsctl logs` until every request id in `rids` is there; returns all entries. */
async function waitLogs(env, rids, { timeoutMs = 10000, args = [] } = {}) {
  let last = null;
  await pollUntil(
    async () => {
      last = await logsJson(env, ['--limit', '1000', ...args]);
      const have = new Set(last.entries.map((e) => e.request_id));
      return rids.every((id) => have.has(id));
    },
    { timeoutMs, intervalMs: 200, what: `${rids.length} request log records in finopsctl logs` },
  ).catch((e) => {
    const have = new Set((last?.entries ?? []).map((x) => x.request_id));
    throw new Error(`${e.message}; missing: ${rids.filter((id) => !have.has(id)).join(', ')}; got ${last?.entries.length} entries`);
  });
  return last.entries;
}

/** Polls `finopsctl dataplanes list` until every node in `nodeIds` is connected and acked. */
async function waitAcked(env, nodeIds, timeoutMs = 8000) {
  let last = '';
  await pollUntil(
    async () => {
      const r = await env.ctl(['dataplanes', 'list', '-o', 'json']);
      last = r.stdout + r.stderr;
      const j = r.json;
      if (r.code !== 0 || !j || !Array.isArray(j.data_planes)) return false;
      return nodeIds.every((n) => j.data_planes.some((d) => d.node_id === n && d.connected === true && d.acked_version === j.config_version));
    },
    { timeoutMs, intervalMs: 50, what: `data planes ${nodeIds.join(', ')} to ack the latest config` },
  ).catch((e) => {
    throw new Error(`${e.message}; last dataplanes list: ${last}`);
  });
}

/** Creates a key (extra flags allowed) and waits until the data planes have it: {id, name, key}. */
async function createKey(env, dps, name, flags = []) {
  const k = await ctlJson(env, ['keys', 'create', '--name', name, ...flags]);
  assert.match(k.key ?? '', /^sk-fo-/, JSON.stringify(k));
  assert.ok(k.id, JSON.stringify(k));
  await waitAcked(env, dps.map((d) => d.nodeId));
  return k;
}

/** Every byte of the control plane's SQLite database and its -wal / -shm / -journal files. */
function dbBytes(env) {
  const parts = [];
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    const f = env.dbPath + suffix;
    if (fs.existsSync(f)) parts.push(fs.readFileSync(f));
  }
  return Buffer.concat(parts);
}

/** finopsctl with --follow: a child process whose stdout lines are collected. */
function followCtl(env, args) {
  const base = { ...process.env };
  for (const v of ['FINOPS_ADDR', 'FINOPS_TOKEN', 'FINOPS_CA_FILE', 'FINOPS_CERT_FILE', 'FINOPS_KEY_FILE', 'FINOPS_TLS_SERVER_NAME']) delete base[v];
  const child = spawn(bin('finopsctl'), args, {
    env: {
      ...base,
      NO_PROXY: '127.0.0.1,localhost,::1',
      no_proxy: '127.0.0.1,localhost,::1',
      XDG_CONFIG_HOME: env.xdg,
      HOME: env.dir,
      FINOPS_ADDR: env.cpAddr,
      FINOPS_TOKEN: env.token,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { child, stdout: '', stderr: '', exit: null };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  out.exited = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      out.exit = { code, signal };
      resolve(out.exit);
    });
  });
  out.lines = () => out.stdout.split('\n').filter((l) => l.trim() !== '');
  return out;
}

// ---------------------------------------------------------------------------------------------
// Clients: the real SDKs, no retries (a retried request would be two log records).

const openaiClient = (dp, key, o = {}) => new OpenAI({ baseURL: `${dp.url}/v1`, apiKey: key, maxRetries: 0, timeout: 15000, ...o });
const anthropicClient = (dp, key) => new Anthropic({ baseURL: `${dp.url}/anthropic`, apiKey: key, maxRetries: 0, timeout: 15000 });

/**
 * A chat completion with the openai SDK (streamed or not). Never throws for an HTTP error:
 * returns {ok, status, headers, requestId, text | code/type/message, params, elapsedUs}.
 */
async function sendChat(client, { model, content, messages, stream = false, headers } = {}) {
  const params = { model, messages: messages ?? [{ role: 'user', content }], ...(stream ? { stream: true } : {}) };
  const t0 = performance.now();
  try {
    const { data, response } = await client.chat.completions.create(params, headers ? { headers } : undefined).withResponse();
    let text = '';
    if (stream) {
      for await (const chunk of data) text += chunk.choices?.[0]?.delta?.content ?? '';
    } else {
      text = data.choices[0].message.content;
    }
    const elapsedUs = (performance.now() - t0) * 1000;
    return { ok: true, status: response.status, headers: response.headers, requestId: response.headers.get('x-request-id'), text, params, elapsedUs };
  } catch (err) {
    if (!(err instanceof OpenAI.APIError) || typeof err.status !== 'number') throw err;
    const elapsedUs = (performance.now() - t0) * 1000;
    return { ok: false, status: err.status, headers: err.headers, requestId: err.requestID ?? err.headers?.get('x-request-id'), code: err.code, type: err.type, message: err.message, params, elapsedUs };
  }
}

/** A non-streamed message with the Anthropic SDK on /anthropic. */
async function sendAnthropic(client, { model, content }) {
  const params = { model, max_tokens: 100, messages: [{ role: 'user', content }] };
  const t0 = performance.now();
  const { data, response } = await client.messages.create(params).withResponse();
  const elapsedUs = (performance.now() - t0) * 1000;
  const text = data.content.map((b) => b.text ?? '').join('');
  return { ok: true, status: response.status, headers: response.headers, requestId: response.headers.get('x-request-id'), text, params, elapsedUs };
}

/** The one request the mock received whose body holds `tag`. */
function upstreamFor(mock, tag) {
  const recs = mock.requests.filter((r) => r.rawBody.includes(tag));
  assert.equal(recs.length, 1, `the mock should have received exactly one request holding "${tag}", got ${recs.length}`);
  return recs[0];
}

/** A 200 answer from sendChat/sendAnthropic, or a failure that shows it. */
function assertOk(r, what) {
  assert.ok(r.ok && r.status === 200, `${what}: expected 200, got ${r.status} ${r.code ?? ''} ${r.message ?? ''}`);
  assert.ok(r.requestId, `${what}: no x-request-id`);
}

/** The x-finops-overhead-us header of a response: an integer >= 0 below the client's elapsed µs. */
function assertOverheadHeader(r, what) {
  const h = r.headers?.get ? r.headers.get('x-finops-overhead-us') : r.headers?.['x-finops-overhead-us'];
  assert.ok(h !== null && h !== undefined, `${what}: no x-finops-overhead-us header`);
  assert.match(String(h), /^\d+$/, `${what}: x-finops-overhead-us is not a non-negative integer: ${h}`);
  const us = Number(h);
  assert.ok(us < r.elapsedUs, `${what}: x-finops-overhead-us ${us} is not below the request's ${Math.round(r.elapsedUs)} µs`);
  return us;
}

// ---------------------------------------------------------------------------------------------

/**
 * Runs `body(ctx)` with a fresh mock upstream, control plane, provider `openai` on the mock, the
 * custom prices, and the data planes asked for ([{nodeId, extraArgs, logFormat}]). ctx: {env,
 * mock, dps, step, more}; `more` collects other FinopsEnvs the body starts (dumped and cleaned
 * up too).
 */
function scenario(name, { timeout = 90000, label, dataPlanes = [], cpArgs = [] } = {}, body) {
  test(name, { timeout }, async (t) => {
    if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
    const env = new FinopsEnv(label);
    const more = [];
    const mock = await startMockOpenAI();
    const failedSteps = [];
    // A named sub-step: reported on its own; the following steps still run.
    const step = (stepName, fn) =>
      t.test(stepName, async () => {
        try {
          await fn();
        } catch (err) {
          failedSteps.push(stepName);
          throw err;
        }
      });
    try {
      await env.startControlPlane({ extraArgs: cpArgs });
      await ctlJson(env, ['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '--api-key-env', 'PROVIDER_KEY'], { env: { PROVIDER_KEY: PROVIDER_SECRET } });
      for (const [model, p] of Object.entries(PRICES)) {
        const price = await ctlJson(env, ['prices', 'set', model, '--input-price', p.input, '--output-price', p.output]);
        assert.equal(price.input_nano, Number(p.inNano), JSON.stringify(price));
        assert.equal(price.output_nano, Number(p.outNano), JSON.stringify(price));
      }
      const dps = [];
      for (const d of dataPlanes) {
        dps.push(await env.startDataPlane({ nodeId: d.nodeId, threads: 1, extraArgs: d.extraArgs ?? [], ...(d.logFormat ? { logFormat: d.logFormat } : {}) }));
      }
      await body({ env, mock, dps, step, more });
      if (failedSteps.length) {
        env.dumpLogs(`${name} (steps: ${failedSteps.join('; ')})`);
        for (const e of more) e.dumpLogs(name);
      }
    } catch (err) {
      env.dumpLogs(name);
      for (const e of more) e.dumpLogs(name);
      throw err;
    } finally {
      await env.cleanup();
      for (const e of more) await e.cleanup();
      await mock.close();
    }
  });
}

// =================================================================================================
scenario(
  '1. traffic through two data planes appears in finopsctl logs once per request, with the right fields, filters, paging, content and --follow',
  { label: 'obslogs', timeout: 120000, dataPlanes: [{ nodeId: 'obs-dp-1' }, { nodeId: 'obs-dp-2' }] },
  async ({ env, mock, dps, step }) => {
    const [dp1, dp2] = dps;
    const team = await ctlJson(env, ['teams', 'create', 'obs-team']);
    const cust = await ctlJson(env, ['customers', 'create', 'obs-cust']);
    const keyA = await createKey(env, dps, 'obs-a', ['--team', 'obs-team']);
    const keyB = await createKey(env, dps, 'obs-b', ['--customer', 'obs-cust', '--allow-model', 'openai/gpt-4o*']);
    const secrets = [keyA.key, keyB.key, PROVIDER_SECRET];
    const t0 = Date.now();

    const a1 = openaiClient(dp1, keyA.key);
    const an1 = anthropicClient(dp1, keyA.key);
    const b2 = openaiClient(dp2, keyB.key);
    const A = { key: keyA, team: { id: team.id, name: 'obs-team' } };
    const B = { key: keyB, customer: { id: cust.id, name: 'obs-cust' } };
    // What each request is, what the client must get, and what its log record must say.
    const plan = [
      { what: 'dp1 plain', dp: dp1, ...A, model: MODEL_A, content: 'obs one plain alpha', send: (x) => sendChat(a1, x) },
      { what: 'dp1 streamed', dp: dp1, ...A, model: MODEL_B, content: 'obs one streamed beta', stream: true, send: (x) => sendChat(a1, x) },
      { what: 'dp1 /anthropic', dp: dp1, ...A, model: MODEL_A, content: 'obs one anthropic gamma', route: ANTHROPIC_ROUTE, dialect: 'anthropic', send: (x) => sendAnthropic(an1, x) },
      { what: 'dp1 unknown model', dp: dp1, ...A, model: 'nope/gpt-4o', content: 'obs one unknown delta', status: 404, errorType: 'model_not_found', provider: null, upstream: false, send: (x) => sendChat(a1, x) },
      { what: 'dp1 upstream 500', dp: dp1, ...A, model: 'openai/gpt-4o-error-500', content: 'obs one upstream epsilon', status: 500, send: (x) => sendChat(a1, x) },
      { what: 'dp2 plain', dp: dp2, ...B, model: MODEL_B, content: 'obs two plain zeta', send: (x) => sendChat(b2, x) },
      { what: 'dp2 streamed', dp: dp2, ...B, model: MODEL_A, content: 'obs two streamed eta', stream: true, send: (x) => sendChat(b2, x) },
      { what: 'dp2 model not allowed', dp: dp2, ...B, model: 'openai/o1-mini', content: 'obs two refused theta', status: 403, errorType: 'model_not_allowed', upstream: false, send: (x) => sendChat(b2, x) },
      { what: 'dp2 upstream 429', dp: dp2, ...B, model: 'openai/gpt-4o-error-429', content: 'obs two upstream iota', status: 429, errorType: 'rate_limit_exceeded', send: (x) => sendChat(b2, x) },
      { what: 'dp2 plain 2', dp: dp2, ...B, model: MODEL_A, content: 'obs two plain kappa', send: (x) => sendChat(b2, x) },
    ];
    for (const x of plan) {
      x.status ??= 200;
      x.route ??= CHAT_ROUTE;
      x.dialect ??= 'openai';
      x.stream ??= false;
      x.upstream ??= true;
      if (x.provider === undefined) x.provider = 'openai';
      x.r = await x.send({ model: x.model, content: x.content, stream: x.stream });
      assert.equal(x.r.status, x.status, `${x.what}: client status (${x.r.code ?? ''} ${x.r.message ?? ''})`);
      assert.ok(x.r.requestId, `${x.what}: no x-request-id`);
      if (x.status === 200) {
        assert.equal(x.r.text, mockReplyText({ messages: [{ role: 'user', content: x.content }] }), `${x.what}: reply text`);
      } else {
        // The error code the client got (its type when the code is null).
        x.errorType ??= x.r.code || x.r.type;
        assert.equal(x.r.code || x.r.type, x.errorType, `${x.what}: error code`);
      }
      x.rec = x.upstream ? upstreamFor(mock, x.content) : null;
      if (!x.upstream) assert.equal(mock.requests.filter((r) => r.rawBody.includes(x.content)).length, 0, `${x.what} reached the upstream`);
      x.usage = x.status === 200 ? x.rec.usage : null;
      if (x.status === 200) assert.ok(x.usage && x.usage.prompt_tokens > 0, `${x.what}: the mock reported no usage`);
      x.cost = x.status === 200 ? costNano(x.model, x.usage) : 0;
      if (x.status === 200) assert.ok(x.cost > 0, `${x.what}: priced at 0`);
    }
    const rids = plan.map((x) => x.r.requestId);
    assert.equal(new Set(rids).size, rids.length, `request ids are not unique: ${rids}`);
    const mine = new Set(rids);

    const entries = await waitLogs(env, rids);
    const tEnd = Date.now();

    await step('every request exactly once, with the right fields', async () => {
      for (const id of rids) assert.equal(entries.filter((e) => e.request_id === id).length, 1, `${id} not exactly once`);
      assert.equal(entries.length, plan.length, `only this traffic was logged: ${entries.map((e) => `${e.request_id} ${e.route}`).join(', ')}`);
      for (const x of plan) {
        const e = entries.find((en) => en.request_id === x.r.requestId);
        const ctx = `${x.what}: ${JSON.stringify(e)}`;
        assert.equal(typeof e.id, 'number', ctx);
        assert.ok(e.ts_ms >= t0 - 2000 && e.ts_ms <= tEnd + 2000, `ts_ms out of range; ${ctx}`);
        assert.equal(e.node, x.dp.nodeId, ctx);
        assert.equal(e.key_id, x.key.id, ctx);
        assert.equal(e.key_name, x.key.name, ctx);
        assert.equal(e.team_id, x.team?.id ?? '', ctx);
        assert.equal(e.team_name, x.team?.name ?? '', ctx);
        assert.equal(e.customer_id, x.customer?.id ?? '', ctx);
        assert.equal(e.customer_name, x.customer?.name ?? '', ctx);
        assert.equal(e.method, 'POST', ctx);
        assert.equal(e.route, x.route, ctx);
        if (x.provider !== null) assert.equal(e.provider, x.provider, ctx);
        assert.equal(e.model, x.model, ctx);
        assert.equal(e.status, x.status, ctx);
        assert.equal(e.error_type, x.status === 200 ? '' : x.errorType, ctx);
        assert.equal(e.streamed, x.stream, ctx);
        assert.equal(e.dialect, x.dialect, ctx);
        assert.ok(e.latency_us > 0, `latency_us; ${ctx}`);
        assert.ok(e.latency_us <= x.r.elapsedUs + 1000, `latency_us ${e.latency_us} above what the client measured (${Math.round(x.r.elapsedUs)} µs); ${ctx}`);
        if (x.stream) assert.ok(e.ttft_us > 0 && e.ttft_us <= e.latency_us, `ttft_us of a streamed request; ${ctx}`);
        else assert.equal(e.ttft_us, 0, `ttft_us of a request not streamed; ${ctx}`);
        assert.ok(e.overhead_us >= 0 && e.overhead_us <= e.latency_us, `overhead_us; ${ctx}`);
        assert.equal(e.prompt_tokens, x.usage?.prompt_tokens ?? 0, `prompt_tokens; ${ctx}`);
        assert.equal(e.completion_tokens, x.usage?.completion_tokens ?? 0, `completion_tokens; ${ctx}`);
        assert.equal(e.cached_tokens, 0, ctx);
        assert.equal(e.cost_nano, x.cost, `cost_nano; ${ctx}`);
        assert.equal(e.content_logged, true, ctx);
        assert.equal(e.content_truncated, false, ctx);
        assert.ok(!('request_content' in e) && !('response_content' in e), `content in a list entry; ${ctx}`);
      }
    });

    await step('logs show: the user message and the reply (or the error), never a secret', async () => {
      const all = [await logsJson(env, ['--limit', '1000'])];
      for (const x of plan) {
        const e = await logShow(env, x.r.requestId);
        all.push(e);
        const ctx = `${x.what}: ${e.raw.slice(0, 2000)}`;
        assert.equal(e.request_id, x.r.requestId, ctx);
        assert.equal(typeof e.request_content, 'string', ctx);
        assert.equal(typeof e.response_content, 'string', ctx);
        assert.ok(e.request_content.includes(x.content), `request_content lacks the user message; ${ctx}`);
        if (x.status === 200) {
          assert.ok(e.response_content.includes(mockReplyText({ messages: [{ role: 'user', content: x.content }] })), `response_content lacks the reply; ${ctx}`);
        } else {
          assert.ok(e.response_content.includes(x.errorType), `response_content lacks the error; ${ctx}`);
        }
        // By entry id too.
        const byId = await logShow(env, String(e.id));
        assert.equal(byId.request_id, x.r.requestId);
      }
      const text = all.map((a) => a.raw).join('\n');
      for (const s of secrets) assert.ok(!text.includes(s), 'a key secret (or the provider key) appears in finopsctl logs output');
      // An unknown id: not found (exit 4).
      assertCode(await env.ctl(['logs', 'show', 'req_does_not_exist', '-o', 'json']), 4);
    });

    const idsOf = (list) => list.map((e) => e.request_id);
    const expectIds = (pred) => plan.filter(pred).map((x) => x.r.requestId).sort();
    const filterCase = async (args, pred, check) => {
      const got = await logsJson(env, ['--limit', '1000', ...args]);
      assert.deepEqual(idsOf(got.entries).filter((id) => mine.has(id)).sort(), expectIds(pred), `finopsctl logs ${args.join(' ')}`);
      if (check) for (const e of got.entries) assert.ok(check(e), `finopsctl logs ${args.join(' ')} returned ${JSON.stringify(e)}`);
    };

    await step('filters: --provider, --model, --key (name, id), --team, --customer, --status, --error-type, --since, --until', async () => {
      await filterCase(['--provider', 'openai'], (x) => x.provider === 'openai', (e) => e.provider === 'openai');
      await filterCase(['--model', MODEL_B], (x) => x.model === MODEL_B, (e) => e.model === MODEL_B);
      await filterCase(['--model', MODEL_A], (x) => x.model === MODEL_A, (e) => e.model === MODEL_A);
      await filterCase(['--key', 'obs-a'], (x) => x.key === keyA, (e) => e.key_id === keyA.id);
      await filterCase(['--key', keyB.id], (x) => x.key === keyB, (e) => e.key_id === keyB.id);
      await filterCase(['--team', 'obs-team'], (x) => x.key === keyA);
      await filterCase(['--customer', 'obs-cust'], (x) => x.key === keyB);
      await filterCase(['--status', '2xx'], (x) => x.status === 200, (e) => e.status >= 200 && e.status < 300);
      await filterCase(['--status', 'error'], (x) => x.status >= 400, (e) => e.status >= 400);
      await filterCase(['--status', '404'], (x) => x.status === 404, (e) => e.status === 404);
      await filterCase(['--status', '4xx'], (x) => x.status >= 400 && x.status < 500, (e) => e.status >= 400 && e.status < 500);
      await filterCase(['--error-type', 'rate_limit_exceeded'], (x) => x.errorType === 'rate_limit_exceeded', (e) => e.error_type === 'rate_limit_exceeded');
      await filterCase(['--key', 'obs-b', '--status', '2xx'], (x) => x.key === keyB && x.status === 200);
      await filterCase(['--since', '1m'], () => true);
      await filterCase(['--until', new Date(t0 - 5000).toISOString()], () => false);
      await filterCase(['--since', new Date(tEnd + 60000).toISOString()], () => false);
      // A bad status class is a usage error, not "no rows".
      assertCode(await env.ctl(['logs', '--status', '7xx', '-o', 'json']), 2);
    });

    await step('newest first; --limit 2 with --cursor pages through all, without duplicates', async () => {
      const full = await logsJson(env, ['--limit', '1000']);
      for (let i = 1; i < full.entries.length; i++) {
        assert.ok(full.entries[i - 1].ts_ms >= full.entries[i].ts_ms, `not newest first at ${i}: ${full.entries[i - 1].ts_ms} < ${full.entries[i].ts_ms}`);
      }
      const seen = [];
      let cursor = '';
      for (let page = 0; page < 50; page++) {
        const got = await logsJson(env, ['--limit', '2', ...(cursor ? ['--cursor', cursor] : [])]);
        assert.ok(got.entries.length <= 2, `page ${page} has ${got.entries.length} entries`);
        seen.push(...idsOf(got.entries));
        cursor = got.next_cursor;
        if (!cursor) break;
        assert.ok(got.entries.length > 0, `page ${page} is empty but has a next_cursor`);
      }
      assert.equal(cursor, '', 'paging did not end within 50 pages');
      assert.equal(new Set(seen).size, seen.length, `duplicates across pages: ${seen}`);
      assert.deepEqual(seen, idsOf(full.entries), 'pages in order = the one-page listing');
      // A cursor that is not one: a usage error.
      assertCode(await env.ctl(['logs', '--cursor', 'not-a-cursor!', '-o', 'json']), 2);
    });

    await step('--follow -o json: the newest page oldest first, then new requests as they arrive; SIGTERM ends it with 0', async () => {
      const f = followCtl(env, ['logs', '--follow', '--key', 'obs-a', '-o', 'json']);
      try {
        const keyAIds = plan.filter((x) => x.key === keyA).map((x) => x.r.requestId);
        await pollUntil(() => f.lines().length >= keyAIds.length, { timeoutMs: 8000, what: `the first page of --follow (${keyAIds.length} lines)` }).catch((e) => {
          throw new Error(`${e.message}; stdout: ${f.stdout} stderr: ${f.stderr}`);
        });
        const first = f.lines().map((l) => JSON.parse(l));
        assert.deepEqual(first.map((e) => e.request_id).sort(), [...keyAIds].sort(), 'the first page: key obs-a only');
        for (let i = 1; i < first.length; i++) assert.ok(first[i].id > first[i - 1].id, 'the first page is printed oldest first');
        // New traffic: one for obs-a (shown), one for obs-b (filtered out).
        const other = await sendChat(b2, { model: MODEL_A, content: 'obs follow other key' });
        assertOk(other, 'follow: obs-b request');
        const fresh = await sendChat(a1, { model: MODEL_A, content: 'obs follow new request' });
        assertOk(fresh, 'follow: obs-a request');
        await pollUntil(() => f.stdout.includes(fresh.requestId), { timeoutMs: 10000, what: 'the new request in --follow output' }).catch((e) => {
          throw new Error(`${e.message}; stdout: ${f.stdout} stderr: ${f.stderr}`);
        });
        const lines = f.lines().map((l) => JSON.parse(l));
        assert.equal(lines.at(-1).request_id, fresh.requestId);
        assert.equal(lines.filter((e) => e.request_id === fresh.requestId).length, 1);
        assert.ok(!lines.some((e) => e.request_id === other.requestId), '--key filter ignored while following');
        f.child.kill('SIGTERM');
        const exit = await Promise.race([f.exited, sleep(5000).then(() => null)]);
        assert.ok(exit, `finopsctl logs --follow did not exit within 5 s of SIGTERM; stderr: ${f.stderr}`);
        assert.equal(exit.code, 0, `exit after SIGTERM: ${JSON.stringify(exit)}; stderr: ${f.stderr}`);
      } finally {
        if (f.exit === null) f.child.kill('SIGKILL');
      }
    });
  },
);

// =================================================================================================
scenario(
  '2. content search finds a phrase from a conversation, a word only in the reply, a hyphenated term',
  { label: 'obssearch', dataPlanes: [{ nodeId: 'obs-search-1' }] },
  async ({ env, mock, dps, step }) => {
    const [dp] = dps;
    const key = await createKey(env, dps, 'search-key');
    const client = openaiClient(dp, key.key);
    // One request gets a reply of our own: a word (and a hyphenated term) only in the reply.
    const REPLY = 'The answer is marmalade-quokka, of course.';
    mock.setBehavior({
      handler: (req, res, rec) => {
        if (!rec.rawBody.includes('riddle seven')) return false;
        rec.status = 200;
        rec.usage = { prompt_tokens: 11, completion_tokens: 7, total_tokens: 18 };
        const payload = JSON.stringify({
          id: `chatcmpl-riddle-${rec.seq}`,
          object: 'chat.completion',
          created: Math.floor(Date.now() / 1000),
          model: rec.body.model,
          choices: [{ index: 0, message: { role: 'assistant', content: REPLY, refusal: null }, logprobs: null, finish_reason: 'stop' }],
          usage: rec.usage,
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) });
        res.end(payload);
        rec.finishedAt = Date.now();
        return true;
      },
    });
    // A conversation: the phrase is in the first user turn, not the last one (streamed).
    const conv = await sendChat(client, {
      model: MODEL_A,
      stream: true,
      messages: [
        { role: 'system', content: 'You are a poet.' },
        { role: 'user', content: 'Write about the purple elephant sings at midnight, please.' },
        { role: 'assistant', content: 'Under a violet moon it hums.' },
        { role: 'user', content: 'Make it longer.' },
      ],
    });
    assertOk(conv, 'conversation');
    const decoy = await sendChat(client, { model: MODEL_A, content: 'the purple elephant dances at noon' });
    assertOk(decoy, 'decoy');
    const riddle = await sendChat(client, { model: MODEL_B, content: 'riddle seven: what does the zookeeper spread on toast?' });
    assertOk(riddle, 'riddle');
    assert.equal(riddle.text, REPLY);
    const plain = await sendChat(client, { model: MODEL_B, content: 'an unrelated question about tides' });
    assertOk(plain, 'unrelated');
    await waitLogs(env, [conv, decoy, riddle, plain].map((r) => r.requestId));

    const search = async (q, extra = []) => (await logsJson(env, ['--search', q, '--limit', '1000', ...extra])).entries.map((e) => e.request_id).sort();
    await step('a phrase from the conversation finds exactly that request', async () => {
      assert.deepEqual(await search('"purple elephant sings"'), [conv.requestId]);
      assert.deepEqual(await search('"purple elephant sings at midnight"'), [conv.requestId]);
      assert.deepEqual(await search('"elephant dances"'), [decoy.requestId]);
    });
    await step('a word only in the reply finds that request', async () => {
      assert.deepEqual(await search('marmalade'), [riddle.requestId]);
      assert.deepEqual(await search('quokka'), [riddle.requestId]);
    });
    await step('a hyphenated term does not error, and finds the request', async () => {
      const r = await env.ctl(['logs', '--search', 'marmalade-quokka', '-o', 'json']);
      assertCode(r, 0);
      assert.deepEqual(r.json.entries.map((e) => e.request_id), [riddle.requestId], r.stdout);
      const r2 = await env.ctl(['logs', '--search', 'gpt-4o-mini', '-o', 'json']);
      assertCode(r2, 0);
    });
    await step('words, AND / OR / NOT, prefix*, combined with filters', async () => {
      assert.deepEqual(await search('elephant'), [conv.requestId, decoy.requestId].sort());
      assert.deepEqual(await search('elephant AND midnight'), [conv.requestId]);
      assert.deepEqual(await search('elephant NOT midnight'), [decoy.requestId]);
      assert.deepEqual(await search('marmalade OR tides'), [riddle.requestId, plain.requestId].sort());
      assert.deepEqual(await search('eleph*'), [conv.requestId, decoy.requestId].sort());
      assert.deepEqual(await search('elephant', ['--model', MODEL_B]), []);
      assert.deepEqual(await search('zebra'), []);
    });
    await step('a search FTS5 cannot parse is retried as quoted words; one it never could is a usage error (exit 2)', async () => {
      // An unbalanced quote: searched as the words "unterminated" "marmalade".
      let r = await env.ctl(['logs', '--search', '"unterminated marmalade', '-o', 'json']);
      assertCode(r, 0);
      assert.deepEqual(JSON.parse(r.stdout).entries.map((e) => e.request_id), []);
      r = await env.ctl(['logs', '--search', 'x'.repeat(2001), '-o', 'json']);
      assertCode(r, 2);
      assert.match(r.stderr, /search/);
      // Still serving afterwards.
      assert.deepEqual(await search('marmalade'), [riddle.requestId]);
    });
  },
);

// =================================================================================================
scenario(
  '3. content logging off (setting, key, header, --log-content-max-bytes 0) stores no content; a limit cuts it',
  {
    label: 'obsnocontent',
    dataPlanes: [{ nodeId: 'obs-nc-1' }, { nodeId: 'obs-nc-zero', extraArgs: ['--log-content-max-bytes', '0'] }, { nodeId: 'obs-nc-cut', extraArgs: ['--log-content-max-bytes', '48'] }],
  },
  async ({ env, mock, dps, step }) => {
    const [dp, dpZero, dpCut] = dps;
    const nodes = dps.map((d) => d.nodeId);
    const key = await createKey(env, dps, 'nc-key');
    const quiet = await createKey(env, dps, 'nc-quiet', ['--no-content-log']);
    const client = openaiClient(dp, key.key);
    const got = await ctlJson(env, ['keys', 'get', 'nc-quiet']);
    assert.equal(got.log_content, false, `keys get of a --no-content-log key: ${JSON.stringify(got)}`);
    assert.equal((await ctlJson(env, ['keys', 'get', 'nc-key'])).log_content, true);

    const PHRASES = {
      on: 'the crimson otter juggles lanterns',
      setting: 'the cerulean walrus whispers secrets',
      key: 'the amber heron counts pebbles',
      keyOn: 'the jade lynx paints murals',
      header: 'the violet badger hums quietly',
      headerNo: 'the ochre ferret naps soundly',
      zero: 'the saffron moth reads maps',
      back: 'the scarlet ibis builds bridges',
    };
    const sent = {};
    const send = async (name, c, opts = {}) => {
      const r = await sendChat(c, { model: MODEL_A, content: PHRASES[name], ...opts });
      assertOk(r, name);
      assert.equal(r.text, `mock reply to: ${PHRASES[name]}`, `${name}: content logging must not change the answer`);
      sent[name] = r;
      return r;
    };

    // Content on: the control for the database scan below.
    await send('on', client);

    // (a) The setting.
    const off = await ctlJson(env, ['settings', 'set', 'log_content=false']);
    assert.equal(off.log_content, false, JSON.stringify(off));
    await waitAcked(env, nodes);
    await send('setting', client);
    const on = await ctlJson(env, ['settings', 'set', 'log_content=true']);
    assert.equal(on.log_content, true, JSON.stringify(on));
    await waitAcked(env, nodes);
    await send('back', client);

    // (b) A key created with --no-content-log; then turned on with keys update.
    await send('key', openaiClient(dp, quiet.key));
    await ctlJson(env, ['keys', 'update', 'nc-quiet', '--content-log', 'on']);
    await waitAcked(env, nodes);
    await send('keyOn', openaiClient(dp, quiet.key));

    // (c) The request header (case-insensitive values), never forwarded upstream.
    await send('header', client, { headers: { 'x-finops-log-content': 'off' } });
    await send('headerNo', client, { headers: { 'X-FinOps-Log-Content': 'No' } });
    for (const name of ['header', 'headerNo']) {
      const rec = upstreamFor(mock, PHRASES[name]);
      assert.equal(rec.headers['x-finops-log-content'], undefined, `x-finops-log-content was forwarded upstream (${name})`);
    }

    // (d) A data plane with --log-content-max-bytes 0.
    await send('zero', openaiClient(dpZero, key.key));

    // (e) A data plane with --log-content-max-bytes 48: content cut, and flagged.
    const long = `the teal gecko ${'tells a very long story '.repeat(20)}`;
    const cut = await sendChat(openaiClient(dpCut, key.key), { model: MODEL_A, content: long });
    assertOk(cut, 'cut');

    const logged = ['on', 'back', 'keyOn'];
    const notLogged = ['setting', 'key', 'header', 'headerNo', 'zero'];
    const entries = await waitLogs(env, [...Object.values(sent), cut].map((r) => r.requestId));

    // The database files, before any search (a search string might be stored, e.g. audited).
    await step('no content in the SQLite files when logging was off; content there when on', async () => {
      const bytes = dbBytes(env);
      for (const name of logged) assert.ok(bytes.includes(Buffer.from(PHRASES[name])), `the control phrase "${PHRASES[name]}" (${name}) is not in the database files: the scan cannot prove anything`);
      for (const name of notLogged) assert.ok(!bytes.includes(Buffer.from(PHRASES[name])), `"${PHRASES[name]}" (${name}, content logging off) is in the database files`);
    });

    await step('records: content_logged false and empty contents (metadata still there)', async () => {
      for (const name of notLogged) {
        const e = entries.find((x) => x.request_id === sent[name].requestId);
        assert.equal(e.content_logged, false, `${name}: ${JSON.stringify(e)}`);
        assert.equal(e.status, 200);
        assert.ok(e.prompt_tokens > 0 && e.cost_nano > 0, `${name}: tokens and cost are logged without content: ${JSON.stringify(e)}`);
        const s = await logShow(env, sent[name].requestId);
        assert.equal(s.request_content, '', `${name}: request_content`);
        assert.equal(s.response_content, '', `${name}: response_content`);
        assert.ok(!s.raw.includes(PHRASES[name]), `${name}: the phrase is in logs show`);
      }
      for (const name of logged) {
        const s = await logShow(env, sent[name].requestId);
        assert.equal(s.content_logged, true, `${name}: ${s.raw}`);
        assert.ok(s.request_content.includes(PHRASES[name]) && s.response_content.includes(PHRASES[name]), `${name}: ${s.raw}`);
      }
    });

    await step('search finds the logged phrases only', async () => {
      for (const name of notLogged) {
        const words = PHRASES[name].split(' ').slice(1, 4).join(' ');
        const r = await logsJson(env, ['--search', `"${words}"`]);
        assert.deepEqual(r.entries.map((e) => e.request_id), [], `search "${words}" (${name})`);
      }
      for (const name of logged) {
        const words = PHRASES[name].split(' ').slice(1, 4).join(' ');
        const r = await logsJson(env, ['--search', `"${words}"`]);
        assert.deepEqual(r.entries.map((e) => e.request_id), [sent[name].requestId], `search "${words}" (${name})`);
      }
    });

    await step('--log-content-max-bytes 48 cuts the request and the response and sets content_truncated', async () => {
      const s = await logShow(env, cut.requestId);
      assert.equal(s.content_logged, true, s.raw);
      assert.equal(s.content_truncated, true, s.raw);
      assert.ok(Buffer.byteLength(s.request_content) <= 48 && s.request_content.length > 0, `request_content: ${JSON.stringify(s.request_content)}`);
      assert.ok(Buffer.byteLength(s.response_content) <= 48 && s.response_content.length > 0, `response_content: ${JSON.stringify(s.response_content)}`);
      // The start of what the client sent (the openai SDK sends JSON.stringify(params)).
      assert.ok(JSON.stringify(cut.params).startsWith(s.request_content), `request_content is not a prefix of the body: ${s.request_content}`);
      // Untouched content is not flagged.
      assert.equal((await logShow(env, sent.on.requestId)).content_truncated, false);
    });
  },
);

// =================================================================================================
scenario(
  '4. a full log buffer drops and counts instead of slowing requests; the buffered records arrive once the control plane is back',
  { label: 'obsbuffer', timeout: 120000, dataPlanes: [{ nodeId: 'obs-buf-1', extraArgs: ['--log-buffer-records', '5'] }] },
  async ({ env, dps }) => {
    const [dp] = dps;
    const BUFFER = 5;
    const key = await createKey(env, dps, 'buf-key');
    const client = openaiClient(dp, key.key);
    const timed = async (content) => {
      const t = performance.now();
      const r = await sendChat(client, { model: MODEL_A, content });
      const ms = performance.now() - t;
      assertOk(r, content);
      return { r, ms };
    };
    await timed('buffer warm-up');

    // 20 requests with the control plane up: the baseline.
    const up = [];
    for (let i = 0; i < 20; i++) up.push(await timed(`buffer up ${i}`));
    // Wait until the shipper holds nothing (each record shipped or dropped).
    let m0;
    await pollUntil(
      async () => {
        m0 = await scrapeMetrics(dp.url);
        const shipped = m0.value('finops_log_records_shipped_total') ?? 0;
        const dropped = m0.value('finops_log_records_dropped_total') ?? 0;
        return m0.value('finops_log_records_buffered') === 0 && shipped + dropped >= 21;
      },
      { timeoutMs: 15000, intervalMs: 100, what: 'the log buffer to empty with the control plane up' },
    ).catch((e) => {
      throw new Error(`${e.message}; last /metrics finops_log_*: ${m0?.text.split('\n').filter((l) => l.startsWith('finops_log')).join(' | ')}`);
    });
    const dropped0 = m0.value('finops_log_records_dropped_total');
    assert.equal(typeof dropped0, 'number', 'finops_log_records_dropped_total missing');

    // Stop the control plane; the data plane keeps serving from its last config.
    const stopped = await env.cp.stop(5000);
    assert.ok(stopped.graceful, `control plane did not stop on SIGTERM\n${env.cp.tail()}`);
    const down = [];
    for (let i = 0; i < 60; i++) down.push(await timed(`buffer down ${String(i).padStart(2, '0')}`));
    const downIds = down.map((d) => d.r.requestId);

    const m1 = await scrapeMetrics(dp.url);
    const droppedDown = m1.value('finops_log_records_dropped_total') - dropped0;
    const buffered = m1.value('finops_log_records_buffered');
    log(`4: dropped ${droppedDown} of 60, buffered ${buffered}; median latency up ${median(up.map((x) => x.ms)).toFixed(2)} ms, down ${median(down.map((x) => x.ms)).toFixed(2)} ms`);
    // At most BUFFER records held, plus one batch taken out of the buffer for sending (it
    // cannot hold more than the buffer did).
    assert.ok(droppedDown >= 60 - BUFFER - BUFFER, `finops_log_records_dropped_total grew by ${droppedDown} over 60 requests with a ${BUFFER}-record buffer`);
    assert.ok(buffered >= 1 && buffered <= BUFFER, `finops_log_records_buffered = ${buffered}`);
    assert.ok(m1.value('finops_log_ship_failures_total') >= 0, 'finops_log_ship_failures_total missing');
    assert.ok(m1.value('finops_log_buffer_bytes') > 0, 'finops_log_buffer_bytes should count the held records');

    // Not slower: blocking on a full buffer would add the ship deadline (seconds).
    const before = median(up.map((x) => x.ms));
    const after = median(down.map((x) => x.ms));
    assert.ok(after <= Math.max(3 * before, before + 50), `median latency ${after.toFixed(2)} ms with a full log buffer vs ${before.toFixed(2)} ms before`);
    assert.ok(Math.max(...down.map((x) => x.ms)) < 3000, `a request took ${Math.max(...down.map((x) => x.ms)).toFixed(0)} ms with a full log buffer`);

    // The control plane back on the same port and database: the held records arrive, the
    // dropped ones never do.
    await env.startControlPlane({ port: env.cpPort });
    let arrived = [];
    let droppedEnd = 0;
    await pollUntil(
      async () => {
        const m = await scrapeMetrics(dp.url);
        droppedEnd = m.value('finops_log_records_dropped_total') - dropped0;
        const got = await logsJson(env, ['--key', 'buf-key', '--limit', '1000']);
        arrived = got.entries.filter((e) => downIds.includes(e.request_id));
        return m.value('finops_log_records_buffered') === 0 && arrived.length + droppedEnd === 60;
      },
      { timeoutMs: 20000, intervalMs: 250, what: 'the held records to arrive after the control plane restart' },
    ).catch((e) => {
      throw new Error(`${e.message}; arrived ${arrived.length} of the 60, dropped ${droppedEnd}`);
    });
    await sleep(1500);
    const final = await logsJson(env, ['--key', 'buf-key', '--limit', '1000']);
    const finalDown = final.entries.filter((e) => downIds.includes(e.request_id));
    assert.equal(finalDown.length, arrived.length, 'more records arrived later: the drop count was wrong');
    assert.ok(finalDown.length >= BUFFER && finalDown.length <= 2 * BUFFER, `${finalDown.length} of the 60 arrived`);
    // New records are the ones dropped: what arrived is the first of the 60.
    const idx = finalDown.map((e) => downIds.indexOf(e.request_id)).sort((a, b) => a - b);
    assert.ok(idx.every((i) => i < 2 * BUFFER), `the records kept should be the first ones sent, got indexes ${idx}`);
    assert.equal(new Set(finalDown.map((e) => e.request_id)).size, finalDown.length, 'a held record stored twice');

    // The control plane learns the data plane's drop count.
    const cpMetrics = await env.controlPlaneMetricsUrl();
    await pollUntil(
      async () => (await scrapeMetrics(cpMetrics)).value('finops_log_records_dropped_by_dataplanes_total') >= droppedEnd + dropped0,
      { timeoutMs: 10000, intervalMs: 250, what: 'finops_log_records_dropped_by_dataplanes_total on the control plane' },
    );
  },
);

// =================================================================================================
scenario(
  '5. /metrics of both programs, parsed by a Prometheus parser, count exactly the traffic sent',
  { label: 'obsmetrics', timeout: 90000, dataPlanes: [{ nodeId: 'obs-met-1' }, { nodeId: 'obs-met-idle' }] },
  async ({ env, mock, dps, step }) => {
    const [dp, idle] = dps;
    const N = 3; // plain requests to MODEL_A
    const M = 2; // streamed requests to MODEL_B
    const key = await createKey(env, dps, 'met-key');
    const client = openaiClient(dp, key.key);
    const m0 = await scrapeMetrics(dp.url);
    assert.match(String(m0.contentType), /^text\/plain/, `content-type ${m0.contentType}`);
    const shipped0 = m0.value('finops_log_records_shipped_total') ?? 0;

    const plain = [];
    for (let i = 0; i < N; i++) plain.push(await sendChat(client, { model: MODEL_A, content: `metrics plain ${i}` }));
    const streamed = [];
    for (let i = 0; i < M; i++) streamed.push(await sendChat(client, { model: MODEL_B, content: `metrics streamed ${i}`, stream: true }));
    for (const r of [...plain, ...streamed]) assertOk(r, 'metrics traffic');
    const e500 = await sendChat(client, { model: 'openai/gpt-4o-error-500', content: 'metrics 500' });
    const e429 = await sendChat(client, { model: 'openai/gpt-4o-error-429', content: 'metrics 429' });
    assert.equal(e500.status, 500);
    assert.equal(e429.status, 429);
    // No key: refused before any model is known.
    const nokey = await rawRequest(dp.url, { method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL_A, messages: [{ role: 'user', content: 'x' }] }) });
    assert.equal(nokey.status, 401);
    const sentTotal = N + M + 3;

    const usageOf = (list) => list.map((r) => upstreamFor(mock, r.params.messages[0].content).usage);
    const usageA = usageOf(plain);
    const usageB = usageOf(streamed);
    const sum = (xs, f) => xs.reduce((s, x) => s + f(x), 0);
    const L = (model, extra = {}) => ({ provider: 'openai', model, key: 'met-key', ...extra });

    // Shipping is asynchronous: wait for the records to be shipped before the final scrape.
    let m;
    await pollUntil(
      async () => {
        m = await scrapeMetrics(dp.url);
        return (m.value('finops_log_records_shipped_total') ?? 0) >= shipped0 + sentTotal;
      },
      { timeoutMs: 10000, intervalMs: 100, what: 'finops_log_records_shipped_total to count the traffic' },
    ).catch((e) => {
      throw new Error(`${e.message}; last finops_log_* series: ${m?.text.split('\n').filter((l) => l.startsWith('finops_log')).join(' | ')}`);
    });

    await step('data plane: family types', async () => {
      const types = {
        finops_requests_total: 'counter',
        finops_tokens_total: 'counter',
        finops_cost_dollars_total: 'counter',
        finops_request_duration_seconds: 'histogram',
        finops_time_to_first_token_seconds: 'histogram',
        finops_gateway_overhead_seconds: 'histogram',
        finops_upstream_errors_total: 'counter',
        finops_config_version: 'gauge',
        finops_config_age_seconds: 'gauge',
        finops_control_plane_connected: 'gauge',
        finops_usage_records_buffered: 'gauge',
        finops_log_records_buffered: 'gauge',
        finops_log_buffer_bytes: 'gauge',
        finops_log_records_shipped_total: 'counter',
        finops_log_records_dropped_total: 'counter',
        finops_log_ship_failures_total: 'counter',
        finops_connections: 'gauge',
        finops_requests_in_flight: 'gauge',
      };
      for (const [name, type] of Object.entries(types)) assert.equal(m.type(name), type, `${name}: type`);
    });

    await step('data plane: requests, tokens and cost by provider, model, key and status', async () => {
      assert.equal(m.value('finops_requests_total', L(MODEL_A, { status: '200' })), N);
      assert.equal(m.value('finops_requests_total', L(MODEL_B, { status: '200' })), M);
      assert.equal(m.value('finops_requests_total', L('openai/gpt-4o-error-500', { status: '500' })), 1);
      assert.equal(m.value('finops_requests_total', L('openai/gpt-4o-error-429', { status: '429' })), 1);
      assert.equal(m.value('finops_requests_total', { key: '', status: '401' }), 1);
      assert.equal(m.sum('finops_requests_total'), sentTotal, 'every request counted once');
      assert.equal(m.value('finops_tokens_total', L(MODEL_A, { type: 'prompt' })), sum(usageA, (u) => u.prompt_tokens));
      assert.equal(m.value('finops_tokens_total', L(MODEL_A, { type: 'completion' })), sum(usageA, (u) => u.completion_tokens));
      assert.equal(m.value('finops_tokens_total', L(MODEL_B, { type: 'prompt' })), sum(usageB, (u) => u.prompt_tokens));
      assert.equal(m.value('finops_tokens_total', L(MODEL_B, { type: 'completion' })), sum(usageB, (u) => u.completion_tokens));
      assert.equal(m.value('finops_tokens_total', L(MODEL_A, { type: 'cached' })) ?? 0, 0);
      for (const [model, usages] of [[MODEL_A, usageA], [MODEL_B, usageB]]) {
        const want = sum(usages, (u) => costNano(model, u)) / 1e9;
        const have = m.value('finops_cost_dollars_total', L(model));
        assert.ok(Math.abs(have - want) <= 1e-12 + want * 1e-9, `finops_cost_dollars_total ${model}: ${have}, want ${want}`);
      }
      // The idle data plane counted nothing: counts are per process.
      const mi = await scrapeMetrics(idle.url);
      assert.equal(mi.sum('finops_requests_total'), 0);
    });

    await step('data plane: latency, time to first token and overhead histograms', async () => {
      const check = (name, labels, count) => {
        const h = m.histogram(name, labels);
        assert.ok(h, `${name}${JSON.stringify(labels)} missing`);
        assert.equal(h.count, count, `${name}${JSON.stringify(labels)} count`);
        assert.ok(h.buckets.length >= 2, `${name}: buckets ${JSON.stringify(h.buckets)}`);
        assert.equal(h.buckets.at(-1).le, Infinity, `${name}: the last bucket is +Inf`);
        assert.equal(h.buckets.at(-1).count, h.count, `${name}: +Inf bucket = count`);
        for (let i = 1; i < h.buckets.length; i++) assert.ok(h.buckets[i].count >= h.buckets[i - 1].count, `${name}: buckets not cumulative: ${JSON.stringify(h.buckets)}`);
        if (count > 0) assert.ok(h.sum > 0, `${name}: sum ${h.sum}`);
        return h;
      };
      check('finops_request_duration_seconds', { provider: 'openai', model: MODEL_A }, N);
      check('finops_request_duration_seconds', { provider: 'openai', model: MODEL_B }, M);
      const ttft = check('finops_time_to_first_token_seconds', { provider: 'openai', model: MODEL_B }, M);
      const dur = m.histogram('finops_request_duration_seconds', { provider: 'openai', model: MODEL_B });
      assert.ok(ttft.sum <= dur.sum, 'time to first token above the request duration');
      assert.equal(m.histogram('finops_time_to_first_token_seconds', { provider: 'openai', model: MODEL_A })?.count ?? 0, 0, 'no TTFT for requests not streamed');
      const ov = m.histogram('finops_gateway_overhead_seconds', {});
      assert.ok(ov && ov.count >= N + M && ov.count <= sentTotal, `finops_gateway_overhead_seconds count ${ov?.count}`);
    });

    await step('data plane: upstream errors by type', async () => {
      assert.equal(m.value('finops_upstream_errors_total', { provider: 'openai', type: 'server_error' }), 1);
      assert.equal(m.value('finops_upstream_errors_total', { provider: 'openai', type: 'rate_limited' }), 1);
      const types = new Set(m.series('finops_upstream_errors_total').map((s) => s.labels.type));
      for (const t of types) assert.ok(['connect', 'tls', 'timeout', 'rate_limited', 'auth', 'bad_request', 'server_error', 'stream_interrupted'].includes(t), `type="${t}"`);
    });

    await step('data plane: config version and age, control plane connected, log shipping', async () => {
      await waitAcked(env, dps.map((d) => d.nodeId));
      const settings = await ctlJson(env, ['settings', 'get']);
      const mm = await scrapeMetrics(dp.url);
      assert.equal(mm.value('finops_config_version'), settings.config_version);
      assert.ok(mm.value('finops_config_age_seconds') >= 0);
      assert.equal(mm.value('finops_control_plane_connected'), 1);
      assert.ok(mm.value('finops_log_records_shipped_total') > shipped0, 'finops_log_records_shipped_total did not grow');
      assert.equal(mm.value('finops_log_records_dropped_total'), 0);
      assert.equal(mm.value('finops_log_records_buffered'), 0);
    });

    await step('control plane /metrics: data planes, log store, usage, admin calls', async () => {
      await waitLogs(env, [...plain, ...streamed, e500, e429].map((r) => r.requestId));
      await logsJson(env, ['--limit', '5']); // a ListLogs call to count
      const url = await env.controlPlaneMetricsUrl();
      const hz = await rawRequest(url, { path: '/healthz' });
      assert.equal(hz.status, 200, `control plane metrics /healthz: ${hz.status}`);
      const settings = await ctlJson(env, ['settings', 'get']);
      // Usage reports travel on their own stream: wait for them too.
      await pollUntil(async () => ((await scrapeMetrics(url)).value('finops_usage_records_applied_total') ?? 0) >= N + M, {
        timeoutMs: 10000,
        intervalMs: 100,
        what: 'finops_usage_records_applied_total on the control plane',
      });
      const c = await scrapeMetrics(url);
      const types = {
        finops_config_version: 'gauge',
        finops_dataplanes_connected: 'gauge',
        finops_usage_records_applied_total: 'counter',
        finops_log_records_received_total: 'counter',
        finops_log_records_stored_total: 'counter',
        finops_log_records_dropped_by_dataplanes_total: 'counter',
        finops_log_store_rows: 'gauge',
        finops_log_store_bytes: 'gauge',
        finops_log_records_deleted_total: 'counter',
        finops_admin_calls_total: 'counter',
      };
      for (const [name, type] of Object.entries(types)) assert.equal(c.type(name), type, `control plane ${name}: type`);
      assert.equal(c.value('finops_config_version'), settings.config_version);
      assert.equal(c.value('finops_dataplanes_connected'), dps.length);
      assert.ok(c.value('finops_log_records_received_total') >= sentTotal, `received ${c.value('finops_log_records_received_total')}`);
      assert.ok(c.value('finops_log_records_stored_total') >= sentTotal, `stored ${c.value('finops_log_records_stored_total')}`);
      assert.ok(c.value('finops_log_store_rows') >= sentTotal, `rows ${c.value('finops_log_store_rows')}`);
      assert.ok(c.value('finops_log_store_bytes') > 0);
      assert.equal(c.value('finops_log_records_dropped_by_dataplanes_total'), 0);
      assert.ok(c.value('finops_usage_records_applied_total') >= N + M, `usage applied ${c.value('finops_usage_records_applied_total')}`);
      const listLogs = c.series('finops_admin_calls_total').filter((s) => /(^|\/)ListLogs$/.test(s.labels.method ?? ''));
      assert.ok(listLogs.length > 0 && listLogs.every((s) => typeof s.labels.code === 'string' && s.labels.code !== ''), `finops_admin_calls_total ListLogs series: ${JSON.stringify(c.series('finops_admin_calls_total'))}`);
      assert.ok(listLogs.reduce((s, x) => s + x.value, 0) >= 2, 'ListLogs calls counted');
      for (const s of c.series('finops_log_records_deleted_total')) assert.ok(['age', 'size'].includes(s.labels.reason), `reason="${s.labels.reason}"`);
    });
  },
);

// =================================================================================================
scenario(
  '6. x-finops-overhead-us on plain, streamed, upstream-error and refused responses',
  { label: 'obsoverhead', dataPlanes: [{ nodeId: 'obs-ov-1' }] },
  async ({ env, dps, step }) => {
    const [dp] = dps;
    const key = await createKey(env, dps, 'ov-key');
    const client = openaiClient(dp, key.key);
    const plain = await sendChat(client, { model: MODEL_A, content: 'overhead plain' });
    assertOk(plain, 'plain');
    const streamed = await sendChat(client, { model: MODEL_B, content: 'overhead streamed', stream: true });
    assertOk(streamed, 'streamed');
    const upstreamError = await sendChat(client, { model: 'openai/gpt-4o-error-500', content: 'overhead 500' });
    assert.equal(upstreamError.status, 500);
    const refused = await sendChat(client, { model: 'nope/gpt-4o', content: 'overhead 404' });
    assert.equal(refused.status, 404);
    const badKey = await sendChat(openaiClient(dp, 'sk-fo-not-a-real-key'), { model: MODEL_A, content: 'overhead 401' });
    assert.equal(badKey.status, 401);
    const values = {};
    for (const [what, r] of Object.entries({ plain, streamed, upstreamError, refused, badKey })) values[what] = assertOverheadHeader(r, what);
    log(`6: x-finops-overhead-us ${JSON.stringify(values)}`);

    await step('the log record carries an overhead within the latency', async () => {
      const entries = await waitLogs(env, [plain, streamed, upstreamError, refused].map((r) => r.requestId));
      for (const r of [plain, streamed, upstreamError, refused]) {
        const e = entries.find((x) => x.request_id === r.requestId);
        assert.ok(e.overhead_us >= 0 && e.overhead_us <= e.latency_us, JSON.stringify(e));
      }
    });

    await step('exposed to browsers (CORS)', async () => {
      const origin = 'http://app.example.test';
      await ctlJson(env, ['settings', 'set', `allowed_origins=+${origin}`]);
      await waitAcked(env, [dp.nodeId]);
      const t = performance.now();
      const r = await rawRequest(dp.url, {
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key.key}`, origin },
        body: JSON.stringify({ model: MODEL_A, messages: [{ role: 'user', content: 'overhead cors' }] }),
      });
      assert.equal(r.status, 200, r.text);
      assertOverheadHeader({ headers: r.headers, elapsedUs: (performance.now() - t) * 1000 }, 'cors');
      const expose = String(r.headers['access-control-expose-headers'] ?? '').toLowerCase().split(/\s*,\s*/);
      assert.ok(expose.includes('x-finops-overhead-us'), `access-control-expose-headers: ${r.headers['access-control-expose-headers']}`);
    });
  },
);

// =================================================================================================
scenario(
  '7. --log-format text and json: the access line of each; bad values refused',
  { label: 'obslogfmt', dataPlanes: [{ nodeId: 'obs-fmt-text', logFormat: 'text' }, { nodeId: 'obs-fmt-json', logFormat: 'json' }] },
  async ({ env, dps, step, more }) => {
    const [dpText, dpJson] = dps;
    // "2026-11-22T10:00:00.123Z INFO message key=value ..."
    const TEXT_LINE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (DEBUG|INFO|WARN|ERROR) \S/;
    // Complete lines only (the last one may still be being written).
    const linesOf = (proc) => proc.stderr.split('\n').slice(0, -1).filter((l) => l.trim() !== '');
    const waitLine = async (proc, pred, what) => {
      const { value } = await pollUntil(() => linesOf(proc).find(pred), { timeoutMs: 5000, intervalMs: 25, what }).catch((e) => {
        throw new Error(`${e.message}\n${proc.tail()}`);
      });
      return value;
    };
    const key = await createKey(env, dps, 'fmt-key');
    const rText = await sendChat(openaiClient(dpText, key.key), { model: MODEL_A, content: 'format text' });
    assertOk(rText, 'text data plane');
    const rJson = await sendChat(openaiClient(dpJson, key.key), { model: MODEL_A, content: 'format json' });
    assertOk(rJson, 'json data plane');

    await step('text: the access line is not JSON and carries request_id=, status=200, route=, latency_ms=', async () => {
      const line = await waitLine(dpText, (l) => l.includes(`request_id=${rText.requestId}`), 'the access line of the text data plane');
      assert.match(line, TEXT_LINE, line);
      assert.throws(() => JSON.parse(line), `a text access line parsed as JSON: ${line}`);
      for (const part of ['status=200', `route=${CHAT_ROUTE}`, `model=${MODEL_A}`, 'method=POST']) assert.ok(line.split(' ').includes(part), `"${part}" missing: ${line}`);
      assert.match(line, / latency_ms=\d+(\.\d+)?( |$)/, line);
      for (const l of linesOf(dpText)) assert.match(l, TEXT_LINE, `a line of the text data plane is not a text log line: ${l}`);
    });

    await step('json: the access line parses, with request_id, status, route, method, model, latency_ms', async () => {
      const line = await waitLine(dpJson, (l) => l.includes(rJson.requestId), 'the access line of the json data plane');
      const j = JSON.parse(line);
      assert.equal(j.request_id, rJson.requestId, line);
      assert.equal(j.msg, 'request', line);
      assert.equal(j.level, 'info', line);
      assert.equal(typeof j.ts, 'string', line);
      assert.equal(j.status, 200, line);
      assert.equal(j.route, CHAT_ROUTE, line);
      assert.equal(j.method, 'POST', line);
      assert.equal(j.model, MODEL_A, line);
      assert.ok(typeof j.latency_ms === 'number' && j.latency_ms > 0, line);
      for (const l of linesOf(dpJson)) assert.doesNotThrow(() => JSON.parse(l), `a line of the json data plane is not JSON: ${l}`);
    });

    await step('the control plane with --log-format text', async () => {
      const env2 = new FinopsEnv('obslogfmt-cp');
      more.push(env2);
      await env2.startControlPlane({ logFormat: 'text' });
      const lines = linesOf(env2.cp);
      assert.ok(lines.some((l) => / INFO listening on /.test(l)), `no text "listening on" line:\n${env2.cp.stderr}`);
      for (const l of lines) assert.match(l, TEXT_LINE, `a line of the text control plane is not a text log line: ${l}`);
    });

    await step('bad --log-format (and other new flags) refused with a message, exit non-zero', async () => {
      const run = (file, args) => spawnSync(bin(file), args, { timeout: 10000, encoding: 'utf8', env: { ...process.env, NO_PROXY: '127.0.0.1', no_proxy: '127.0.0.1' } });
      const dpBase = ['--control-plane', '127.0.0.1:1', '--listen', '127.0.0.1:0', '--node-id', 'bad-flags'];
      const cpBase = ['--db', `${env.dir}/bad-flags.db`, '--listen', '127.0.0.1:0', '--admin-token-file', `${env.dir}/bad-flags-token`];
      const cases = [
        ['finops-dataplane', [...dpBase, '--log-format', 'yaml'], '--log-format'],
        ['finops-dataplane', [...dpBase, '--log-buffer-records', '0'], '--log-buffer-records'],
        ['finops-dataplane', [...dpBase, '--log-content-max-bytes', '-1'], '--log-content-max-bytes'],
        ['finops-controlplane', [...cpBase, '--log-format', 'xml'], '--log-format'],
        ['finops-controlplane', [...cpBase, '--metrics-listen', 'not-an-address'], '--metrics-listen'],
        ['finops-controlplane', [...cpBase, '--log-max-bytes', '12Q'], '--log-max-bytes'],
      ];
      for (const [file, args, flag] of cases) {
        const r = run(file, args);
        assert.ok(r.status !== 0 && r.status !== null, `${file} ${args.join(' ')}: status ${r.status} signal ${r.signal}\n${r.stderr}`);
        assert.ok(r.stderr.includes(flag), `${file}: the message should name ${flag}: ${r.stderr}`);
        assert.doesNotMatch(r.stderr, /unknown (argument|flag|option)/i, `${file}: ${flag} is not known: ${r.stderr}`);
      }
    });
  },
);
