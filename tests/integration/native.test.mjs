// Whole-process tests for the native providers (issue 4): the real binaries and the real SDKs
// against mock Anthropic, Gemini, Vertex AI (and its token endpoint) and OpenAI upstreams.
//
//   cd tests/integration && npm ci && node --test native.test.mjs
//
// - openai SDK on /v1 against anthropic/, gemini/, vertex/ (Gemini and Claude) models:
//   create, stream, chat.completions.stream() with a tool call, runTools with parallel calls
//   executed here, images, errors before and during a stream; the mocks' records show the native
//   request (provider auth, never the virtual key; bare model; system lifted).
// - @anthropic-ai/sdk 0.x and 1.x on /anthropic, to an Anthropic target (passthrough) and to an
//   OpenAI-compatible one (translated); @google/genai 2.x and 3.x on /genai, likewise.
// - Vertex: one token for many requests, refreshed when it expires, a bad service account.
// - Governance: cost from these providers' usage (cache reads and writes, thoughts), exact.
//
// Every test is independent: its own mocks, control plane and data plane in a fresh temp dir,
// set up with finopsctl only, cleaned up whatever happens (process logs printed on failure).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import Anthropic0 from 'anthropic-sdk-0';
import Anthropic1 from 'anthropic-sdk-1';
import { GoogleGenAI as GenAI2 } from 'genai-2';
import { GoogleGenAI as GenAI3 } from 'genai-3';

import { startMockOpenAI, mockReplyText as openaiReplyText } from '../fixtures/mock_openai.mjs';
import { startMockAnthropic, inputTokensFor } from '../fixtures/mock_anthropic.mjs';
import { startMockGemini, makeServiceAccount, CLOUD_PLATFORM_SCOPE } from '../fixtures/mock_gemini.mjs';
import { BIN_DIR, binariesPresent, FinopsEnv, pollUntil, sleep } from './helpers.mjs';

const log = (...a) => console.log('[native]', ...a);

const PROVIDER_KEYS = { anthropic: 'sk-ant-it-provider', gemini: 'gm-it-provider', openai: 'sk-openai-it-provider' };
const DEFAULT_MAX_TOKENS = 333;
const VERTEX_PROJECT = 'it-project';
const VERTEX_LOCATION = 'us-east5';
// A 1x1 PNG.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==';
// What OpenAI clients send for strict tools (additionalProperties: false must not reach Gemini).
const WEATHER_PARAMS = { type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'], additionalProperties: false };
const weatherTool = { type: 'function', function: { name: 'get_weather', description: 'Current weather in a city', parameters: WEATHER_PARAMS, strict: true } };
const anthropicWeatherTool = { name: 'get_weather', description: 'Current weather in a city', input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } };
const weatherOf = (city) => `${city === 'Paris' ? 18 : 25}C in ${city}`;

// =================================================================================================
// Setup.

/**
 * Runs `body(ctx)` with fresh mocks, a control plane, the providers asked for (anthropic,
 * gemini, vertex, openai), prices, one virtual key and a data plane. ctx: {env, dp, vk, keyName,
 * mockA, mockG, mockO, sa, saFile, openai(), anthropicSdk(Anthropic), genai(GenAI)}.
 */
function scenario(name, opts, body) {
  const { timeout = 45000, label = 'native', anthropic = false, gemini = false, vertex = false, openai = false, prices = [], tokenTtlSeconds, vertexSa, vertexTokenUrl } = opts;
  test(name, { timeout }, async () => {
    if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
    const env = new FinopsEnv(label);
    const ctx = { env };
    try {
      if (anthropic) ctx.mockA = await startMockAnthropic({ apiKey: PROVIDER_KEYS.anthropic });
      if (gemini || vertex) ctx.mockG = await startMockGemini({ apiKey: PROVIDER_KEYS.gemini, ...(tokenTtlSeconds ? { tokenTtlSeconds } : {}) });
      if (openai) ctx.mockO = await startMockOpenAI();
      await env.startControlPlane();
      const ctlEnv = { env: { ANTHROPIC_PROVIDER_KEY: PROVIDER_KEYS.anthropic, GEMINI_PROVIDER_KEY: PROVIDER_KEYS.gemini, OPENAI_PROVIDER_KEY: PROVIDER_KEYS.openai } };
      if (anthropic) {
        await env.ctlOk(['providers', 'add', 'anthropic', '--type', 'anthropic', '--base-url', `${ctx.mockA.url}/v1`, '--api-key-env', 'ANTHROPIC_PROVIDER_KEY', '--default-max-tokens', String(DEFAULT_MAX_TOKENS), '--no-list-models', '-o', 'json'], ctlEnv);
      }
      if (gemini) {
        await env.ctlOk(['providers', 'add', 'gemini', '--type', 'gemini', '--base-url', `${ctx.mockG.url}/v1beta`, '--api-key-env', 'GEMINI_PROVIDER_KEY', '--no-list-models', '-o', 'json'], ctlEnv);
      }
      if (vertex) {
        ctx.sa = vertexSa ? vertexSa(ctx.mockG) : ctx.mockG.makeServiceAccount({ projectId: VERTEX_PROJECT });
        ctx.saFile = path.join(env.dir, 'service-account.json');
        fs.writeFileSync(ctx.saFile, JSON.stringify(ctx.sa, null, 2), { mode: 0o600 });
        const args = ['providers', 'add', 'vertex', '--type', 'vertex', '--base-url', ctx.mockG.url, '--vertex-project', VERTEX_PROJECT, '--vertex-location', VERTEX_LOCATION, '--service-account-file', ctx.saFile, '--default-max-tokens', String(DEFAULT_MAX_TOKENS), '--no-list-models'];
        if (vertexTokenUrl) args.push('--token-url', vertexTokenUrl(ctx.mockG));
        await env.ctlOk([...args, '-o', 'json']);
      }
      if (openai) {
        await env.ctlOk(['providers', 'add', 'openai', '--base-url', `${ctx.mockO.url}/v1`, '--api-key-env', 'OPENAI_PROVIDER_KEY', '--no-list-models', '-o', 'json'], ctlEnv);
      }
      for (const p of prices) await env.ctlOk(['prices', 'set', ...p, '-o', 'json']);
      ctx.keyName = `${label}-key`;
      const k = await env.ctlOk(['keys', 'create', '--name', ctx.keyName, '-o', 'json']);
      ctx.vk = k.json.key;
      assert.match(ctx.vk ?? '', /^sk-fo-/, k.stdout);
      ctx.dp = await env.startDataPlane({ nodeId: `it-${label}`, threads: 2 });
      ctx.openai = (o = {}) => new OpenAI({ baseURL: `${ctx.dp.url}/v1`, apiKey: ctx.vk, maxRetries: 0, timeout: 20000, ...o });
      ctx.anthropicSdk = (Anthropic, o = {}) => new Anthropic({ baseURL: `${ctx.dp.url}/anthropic`, apiKey: ctx.vk, maxRetries: 0, timeout: 20000, ...o });
      ctx.genai = (GenAI, apiKey = ctx.vk) => new GenAI({ apiKey, httpOptions: { baseUrl: `${ctx.dp.url}/genai` } });
      await body(ctx);
      for (const m of [ctx.mockA, ctx.mockG, ctx.mockO]) if (m) assertNoVirtualKey(m, ctx.vk);
    } catch (err) {
      env.dumpLogs(name);
      throw err;
    } finally {
      await env.cleanup();
      for (const m of [ctx.mockA, ctx.mockG, ctx.mockO]) if (m) await m.close();
    }
  });
}

/** The virtual key never reaches an upstream: not in a header, the URL or the body. */
function assertNoVirtualKey(mock, vk) {
  for (const r of mock.requests) {
    const where = `${JSON.stringify(r.headers)} ${r.url} ${r.rawBody}`;
    assert.ok(!where.includes(vk), `the virtual key reached the upstream (request ${r.seq} ${r.method} ${r.url})`);
  }
}

// =================================================================================================
// Helpers over the mocks' records.

const blocksText = (c) => (typeof c === 'string' ? c : Array.isArray(c) ? c.filter((b) => b?.type === 'text').map((b) => b.text).join('') : '');
/** Proto JSON accepts both spellings; the gateway may use either. */
const g = (o, camel) => (o ? (o[camel] !== undefined ? o[camel] : o[camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)]) : undefined);

/**
 * The four OpenAI-dialect targets: how to set them up, which of their records are generate calls,
 * how they authenticate, where system text and images land, and how their usage maps to OpenAI's.
 */
const TARGETS = {
  anthropic: {
    setup: { anthropic: true },
    model: 'anthropic/claude-sonnet-4-5-20250929',
    bare: 'claude-sonnet-4-5-20250929',
    parallelModel: 'anthropic/claude-parallel-test',
    overloaded: 'anthropic/claude-overloaded',
    midstream: 'anthropic/claude-midstream-error',
    mock: (ctx) => ctx.mockA,
    calls: (ctx, mark = 0) => ctx.mockA.since(mark).filter((r) => r.route === 'messages'),
    checkAuth: (r) => {
      assert.equal(r.headers['x-api-key'], PROVIDER_KEYS.anthropic, 'the provider key in x-api-key');
      assert.ok(r.anthropicVersion, 'anthropic-version header');
    },
    upstreamModel: (r) => r.body?.model,
    isStream: (r) => r.body?.stream === true,
    anthropicBody: true,
  },
  gemini: {
    setup: { gemini: true },
    model: 'gemini/gemini-2.5-flash',
    bare: 'gemini-2.5-flash',
    parallelModel: 'gemini/gemini-3-pro-parallel-signature',
    rateLimited: 'gemini/gemini-error-429',
    midstream: 'gemini/gemini-midstream-error',
    mock: (ctx) => ctx.mockG,
    calls: (ctx, mark = 0) => ctx.mockG.since(mark).filter((r) => !r.vertex && /generateContent$|GenerateContent$/.test(r.route ?? '')),
    checkAuth: (r) => {
      assert.equal(r.auth, 'x-goog-api-key', 'the provider key in x-goog-api-key');
      assert.equal(r.headers['x-goog-api-key'], PROVIDER_KEYS.gemini);
      assert.ok(!r.query.key, 'no ?key= in the URL (it ends up in logs)');
      assert.equal(r.path.startsWith('/v1beta/models/'), true, r.path);
    },
    upstreamModel: (r) => r.model,
    isStream: (r) => r.route === 'streamGenerateContent' && r.alt === 'sse',
    anthropicBody: false,
  },
  'vertex-gemini': {
    setup: { vertex: true },
    model: 'vertex/gemini-2.5-pro',
    bare: 'gemini-2.5-pro',
    parallelModel: 'vertex/gemini-3-pro-parallel-signature',
    rateLimited: 'vertex/gemini-error-429',
    midstream: 'vertex/gemini-midstream-error',
    mock: (ctx) => ctx.mockG,
    calls: (ctx, mark = 0) => ctx.mockG.since(mark).filter((r) => r.vertex && r.publisher === 'google'),
    checkAuth: (r) => checkVertex(r, 'google'),
    upstreamModel: (r) => r.model,
    isStream: (r) => r.route === 'streamGenerateContent' && r.alt === 'sse',
    anthropicBody: false,
  },
  'vertex-claude': {
    setup: { vertex: true },
    model: 'vertex/claude-sonnet-4-5@20250929',
    bare: 'claude-sonnet-4-5@20250929',
    parallelModel: 'vertex/claude-parallel-test@20250929',
    overloaded: 'vertex/claude-overloaded@20250929',
    midstream: 'vertex/claude-midstream-error@20250929',
    mock: (ctx) => ctx.mockG,
    calls: (ctx, mark = 0) => ctx.mockG.since(mark).filter((r) => r.vertex && r.publisher === 'anthropic'),
    checkAuth: (r) => {
      checkVertex(r, 'anthropic');
      assert.equal(r.body?.anthropic_version, 'vertex-2023-10-16');
      assert.ok(!('model' in (r.body ?? {})), 'no model in a Vertex Anthropic body');
    },
    upstreamModel: (r) => r.model,
    isStream: (r) => r.route === 'streamRawPredict',
    anthropicBody: true,
  },
};

function checkVertex(r, publisher) {
  assert.equal(r.auth, 'bearer', `a valid bearer token (status ${r.status}: ${r.error})`);
  assert.equal(r.project, VERTEX_PROJECT);
  assert.equal(r.location, VERTEX_LOCATION);
  assert.equal(r.publisher, publisher);
  assert.equal(r.apiVersion, 'v1', r.path);
}

/** OpenAI usage expected from what a mock reported (wire.md §4). */
function openaiUsageOf(target, rec) {
  const u = rec.usage;
  assert.ok(u, `the mock reported no usage for request ${rec.seq} (status ${rec.status}, ${rec.error ?? ''})`);
  if (TARGETS[target].anthropicBody) {
    const prompt = u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens;
    return { prompt, completion: u.output_tokens, cached: u.cache_read_input_tokens, writes: u.cache_creation_input_tokens };
  }
  return { prompt: u.promptTokenCount, completion: (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0), cached: u.cachedContentTokenCount ?? 0, writes: 0 };
}

/** System text and non-system turns of a native body. */
function systemOf(target, body) {
  if (TARGETS[target].anthropicBody) return blocksText(body.system);
  const si = g(body, 'systemInstruction');
  return (si?.parts ?? []).map((p) => p.text).join('');
}

/** Collects an OpenAI chat stream: {text, chunks, finishReasons, usageChunks}. */
async function collectChat(stream) {
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  return {
    chunks,
    text: chunks.map((c) => c.choices?.[0]?.delta?.content ?? '').join(''),
    finishReasons: chunks.map((c) => c.choices?.[0]?.finish_reason).filter(Boolean),
    usageChunks: chunks.filter((c) => c.usage),
  };
}

/** Asserts an OpenAI SDK error from the data plane: status and an OpenAI-shaped body. */
function assertOpenAIError(err, status, re) {
  assert.ok(err instanceof OpenAI.APIError, `expected an APIError, got ${err}`);
  assert.equal(err.status, status, `${err.status} ${err.message}`);
  assert.equal(typeof err.error?.message, 'string', `OpenAI-shaped body: ${JSON.stringify(err.error)}`);
  assert.ok('type' in err.error, `error.type: ${JSON.stringify(err.error)}`);
  if (re) assert.match(err.message, re);
}

// =================================================================================================
// openai SDK -> anthropic/, gemini/, vertex/ (Gemini and Claude).

for (const [target, T] of Object.entries(TARGETS)) {
  scenario(`openai sdk -> ${target}: create, stream, image; the native request and usage`, { label: `oa-${target}`, ...T.setup }, async (ctx) => {
    const client = ctx.openai();
    // Non-streamed, with a system message and no max_tokens.
    const c = await client.chat.completions.create({ model: T.model, messages: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hello there' }] });
    let [rec] = T.calls(ctx).slice(-1);
    assert.equal(rec.status, 200, `upstream answered ${rec.status}: ${rec.error}`);
    T.checkAuth(rec);
    assert.equal(T.upstreamModel(rec), T.bare);
    assert.equal(T.isStream(rec), false);
    assert.equal(systemOf(target, rec.body), 'Be brief.', 'system message lifted');
    if (T.anthropicBody) {
      assert.deepEqual(rec.body.messages.map((m) => [m.role, blocksText(m.content)]), [['user', 'Hello there']]);
      assert.equal(rec.body.max_tokens, DEFAULT_MAX_TOKENS, 'max_tokens defaulted from --default-max-tokens');
    } else {
      const contents = g(rec.body, 'contents');
      assert.deepEqual(contents.map((x) => [x.role, x.parts.map((p) => p.text).join('')]), [['user', 'Hello there']]);
    }
    assert.equal(c.object, 'chat.completion');
    assert.equal(c.model, T.model, 'the client model is echoed');
    assert.equal(c.choices.length, 1);
    assert.equal(c.choices[0].message.role, 'assistant');
    assert.equal(c.choices[0].message.content, 'mock reply to: Hello there');
    assert.equal(c.choices[0].finish_reason, 'stop');
    let u = openaiUsageOf(target, rec);
    assert.equal(c.usage.prompt_tokens, u.prompt);
    assert.equal(c.usage.completion_tokens, u.completion);
    assert.equal(c.usage.total_tokens, u.prompt + u.completion);

    // Streamed, with usage.
    const s = await collectChat(
      await client.chat.completions.create({ model: T.model, messages: [{ role: 'user', content: 'Stream to me' }], max_tokens: 200, stream: true, stream_options: { include_usage: true } }),
    );
    [rec] = T.calls(ctx).slice(-1);
    assert.equal(rec.status, 200, rec.error);
    assert.equal(T.isStream(rec), true, `the upstream call streams (${rec.url})`);
    if (T.anthropicBody) assert.equal(rec.body.max_tokens, 200);
    else assert.equal(g(g(rec.body, 'generationConfig'), 'maxOutputTokens'), 200);
    assert.equal(s.text, 'mock reply to: Stream to me');
    assert.deepEqual(s.finishReasons, ['stop']);
    assert.equal(s.usageChunks.length, 1, 'exactly one usage chunk');
    assert.deepEqual(s.usageChunks[0].choices, []);
    assert.ok(s.chunks.indexOf(s.usageChunks[0]) > s.chunks.findIndex((x) => x.choices?.[0]?.finish_reason), 'usage after the finish chunk');
    for (const x of s.chunks) {
      assert.equal(x.object, 'chat.completion.chunk');
      assert.equal(x.model, T.model);
      assert.equal(x.id, s.chunks[0].id);
    }
    u = openaiUsageOf(target, rec);
    assert.equal(s.usageChunks[0].usage.prompt_tokens, u.prompt);
    assert.equal(s.usageChunks[0].usage.completion_tokens, u.completion);

    // An image as a data URL (and, to Anthropic, an https URL).
    const parts = [{ type: 'text', text: 'What is in this image?' }, { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG}` } }];
    if (T.anthropicBody) parts.push({ type: 'image_url', image_url: { url: 'https://example.com/cat.png' } });
    const img = await client.chat.completions.create({ model: T.model, messages: [{ role: 'user', content: parts }] });
    assert.equal(img.choices[0].message.content, 'mock reply to: What is in this image?');
    [rec] = T.calls(ctx).slice(-1);
    if (T.anthropicBody) {
      const blocks = rec.body.messages[0].content;
      assert.deepEqual(blocks.filter((b) => b.type === 'image'), [
        { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG } },
        { type: 'image', source: { type: 'url', url: 'https://example.com/cat.png' } },
      ]);
    } else {
      const inline = g(rec.body, 'contents')[0].parts.map((p) => g(p, 'inlineData')).filter(Boolean);
      assert.deepEqual(inline.map((d) => [g(d, 'mimeType'), d.data]), [['image/png', PNG]]);
    }
  });

  scenario(`openai sdk -> ${target}: chat.completions.stream() with a tool call; runTools with parallel calls`, { label: `tools-${target}`, ...T.setup }, async (ctx) => {
    const client = ctx.openai();
    // A named tool choice forces the call.
    const stream = client.chat.completions.stream({ model: T.model, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weatherTool], tool_choice: { type: 'function', function: { name: 'get_weather' } } });
    const done = [];
    stream.on('tool_calls.function.arguments.done', (e) => done.push(e));
    const final = await stream.finalChatCompletion();
    const choice = final.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls?.length, 1, JSON.stringify(choice.message));
    const call = choice.message.tool_calls[0];
    assert.equal(call.type, 'function');
    assert.ok(typeof call.id === 'string' && call.id.length > 0, 'tool call id');
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
    assert.deepEqual(call.function.parsed_arguments, { city: 'Paris' });
    assert.equal(done.length, 1);
    assert.deepEqual(done[0].parsed_arguments, { city: 'Paris' });
    let [rec] = T.calls(ctx).slice(-1);
    assert.equal(rec.status, 200, rec.error);
    if (T.anthropicBody) {
      assert.equal(rec.body.tool_choice?.type, 'tool');
      assert.equal(rec.body.tool_choice?.name, 'get_weather');
      assert.equal(rec.body.tools[0].name, 'get_weather');
      assert.deepEqual(rec.body.tools[0].input_schema.properties, WEATHER_PARAMS.properties);
    } else {
      const fcc = g(g(rec.body, 'toolConfig'), 'functionCallingConfig');
      assert.equal(String(fcc?.mode).toUpperCase(), 'ANY');
      assert.deepEqual(g(fcc, 'allowedFunctionNames'), ['get_weather']);
      assert.equal(g(g(rec.body, 'tools')[0], 'functionDeclarations')[0].name, 'get_weather');
    }

    // runTools: the model asks for two calls, they run here, their results go back in one turn.
    const mark = T.mock(ctx).mark();
    const ran = [];
    const runner = client.chat.completions.runTools({
      model: T.parallelModel,
      messages: [{ role: 'user', content: 'Weather in Paris and Tokyo?' }],
      tools: [
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'Current weather in a city',
            parameters: WEATHER_PARAMS,
            parse: JSON.parse,
            function: async (args) => {
              ran.push(args);
              return weatherOf(args.city);
            },
          },
        },
      ],
    });
    const content = await runner.finalContent();
    assert.deepEqual(ran, [{ city: 'Paris' }, { city: 'Tokyo' }]);
    assert.equal(content, 'mock got tool results: 18C in Paris | 25C in Tokyo');
    const recs = T.calls(ctx, mark);
    assert.equal(recs.length, 2, recs.map((r) => `${r.status} ${r.error ?? ''}`).join('; '));
    for (const r of recs) assert.equal(r.status, 200, r.error);
    const second = recs[1].body;
    if (T.anthropicBody) {
      const ids = [0, 1].map((i) => `toolu_mock${recs[0].seq}_${i}`);
      const assistant = second.messages.find((m) => m.role === 'assistant');
      assert.deepEqual(assistant.content.filter((b) => b.type === 'tool_use').map((b) => [b.id, b.input]), [[ids[0], { city: 'Paris' }], [ids[1], { city: 'Tokyo' }]]);
      const last = second.messages.at(-1);
      assert.equal(last.role, 'user');
      assert.deepEqual(last.content.filter((b) => b.type === 'tool_result').map((b) => [b.tool_use_id, blocksText(b.content)]), [[ids[0], weatherOf('Paris')], [ids[1], weatherOf('Tokyo')]], 'both results in one user turn, ids kept');
    } else {
      const contents = g(second, 'contents');
      const last = contents.at(-1);
      assert.equal(last.role, 'user');
      assert.deepEqual(last.parts.map((p) => g(p, 'functionResponse')?.name), ['get_weather', 'get_weather'], 'both results in one user turn');
      const sig = recs[1].thoughtSignatures;
      assert.ok(sig && sig.ok === 1 && sig.checked === 1, `the thoughtSignature went back on the first call: ${JSON.stringify(sig)}`);
    }
  });

  scenario(`openai sdk -> ${target}: upstream errors before and during a stream`, { label: `err-${target}`, ...T.setup }, async (ctx) => {
    const client = ctx.openai();
    const messages = [{ role: 'user', content: 'tell me a story' }];
    if (T.overloaded) {
      // 529 overloaded -> 503 (the SDK's InternalServerError), before any byte was streamed.
      const err = await client.chat.completions.create({ model: T.overloaded, messages }).catch((e) => e);
      assertOpenAIError(err, 503, /overloaded/i);
      assert.ok(err instanceof OpenAI.InternalServerError);
      const serr = await client.chat.completions.create({ model: T.overloaded, messages, stream: true }).catch((e) => e);
      assertOpenAIError(serr, 503, /overloaded/i);
    }
    if (target === 'anthropic') {
      // 429 with retry-after: 1 -> 429; the SDK retries after the pause, once.
      let fetches = 0;
      const counting = ctx.openai({ maxRetries: 1, fetch: (u, init) => (fetches++, fetch(u, init)) });
      const t0 = Date.now();
      const err = await counting.chat.completions.create({ model: 'anthropic/claude-error-429', messages }).catch((e) => e);
      assertOpenAIError(err, 429);
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.equal(fetches, 2, 'the SDK retried once');
      assert.ok(Date.now() - t0 >= 900, 'after the retry-after pause');
      assert.equal(err.headers.get('retry-after'), '1');
      // 400 keeps the upstream message.
      const bad = await client.chat.completions.create({ model: 'anthropic/claude-error-400', messages }).catch((e) => e);
      assertOpenAIError(bad, 400, /mock upstream error 400/);
    }
    if (T.rateLimited) {
      // RESOURCE_EXHAUSTED with RetryInfo 7s -> 429 with retry-after: 7.
      const err = await client.chat.completions.create({ model: T.rateLimited, messages }).catch((e) => e);
      assertOpenAIError(err, 429);
      assert.ok(err instanceof OpenAI.RateLimitError);
      assert.equal(err.headers.get('retry-after'), '7');
    }
    if (target === 'gemini') {
      const safe = await client.chat.completions.create({ model: 'gemini/gemini-safety', messages });
      assert.equal(safe.choices[0].finish_reason, 'content_filter');
    }
    // A failure after the stream started: the iterator throws, after the first content.
    const stream = await client.chat.completions.create({ model: T.midstream, messages, stream: true });
    let text = '';
    const mid = await (async () => {
      for await (const c of stream) text += c.choices?.[0]?.delta?.content ?? '';
    })().catch((e) => e);
    assert.ok(mid instanceof Error, 'the stream must end with an error, not cleanly');
    assert.ok(mid instanceof OpenAI.APIError, `an APIError from the data: {"error":...} event: ${mid}`);
    assert.match(mid.message, /overloaded/i);
    assert.ok(text.startsWith('mock rep'), `content before the error: ${JSON.stringify(text)}`);
    const [rec] = T.calls(ctx).slice(-1);
    assert.equal(rec.midstreamError, true);
  });
}

// =================================================================================================
// @anthropic-ai/sdk 0.x and 1.x -> /anthropic.

for (const [major, Anthropic] of [['0.x', Anthropic0], ['1.x', Anthropic1]]) {
  scenario(`anthropic sdk ${major} -> /anthropic -> anthropic/ (passthrough): create, stream, tools, count_tokens, errors`, { label: `anth${major[0]}-pass`, anthropic: true }, async (ctx) => {
    const client = ctx.anthropicSdk(Anthropic);
    const model = 'anthropic/claude-sonnet-4-5-20250929';
    const bare = 'claude-sonnet-4-5-20250929';
    const calls = () => ctx.mockA.requests.filter((r) => r.route === 'messages');

    const params = { model, max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello Claude' }] };
    const msg = await client.messages.create(params);
    let rec = calls().at(-1);
    assert.equal(rec.status, 200, rec.error);
    assert.deepEqual(rec.body, { ...params, model: bare }, 'the body passes through with the bare model');
    assert.equal(rec.headers['x-api-key'], PROVIDER_KEYS.anthropic);
    assert.ok(!rec.headers.authorization, 'no client Authorization forwarded');
    assert.ok(rec.anthropicVersion);
    assert.equal(msg.type, 'message');
    assert.equal(msg.model, model, 'the client model is echoed');
    assert.deepEqual(msg.content.map((b) => [b.type, b.text]), [['text', 'mock reply to: Hello Claude']]);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.deepEqual(msg.usage, rec.usage);

    // Stream with a tool: finalMessage reassembles text + tool_use.
    const tparams = { model: 'anthropic/claude-tools-test', max_tokens: 200, tools: [anthropicWeatherTool], messages: [{ role: 'user', content: 'Weather in Paris?' }] };
    const stream = client.messages.stream(tparams);
    let streamed = '';
    stream.on('text', (t) => (streamed += t));
    const fm = await stream.finalMessage();
    rec = calls().at(-1);
    assert.equal(rec.status, 200, rec.error);
    assert.deepEqual(rec.body, { ...tparams, model: 'claude-tools-test', stream: true });
    assert.equal(streamed, 'mock reply to: Weather in Paris?');
    assert.equal(fm.model, 'anthropic/claude-tools-test');
    assert.equal(fm.stop_reason, 'tool_use');
    const use = fm.content.find((b) => b.type === 'tool_use');
    assert.deepEqual([use.name, use.input], ['get_weather', { city: 'Paris' }]);
    assert.equal(fm.usage.output_tokens, rec.usage.output_tokens);
    assert.equal(fm.usage.input_tokens, rec.usage.input_tokens);
    // The tool result round trip.
    const back = await client.messages.create({ ...tparams, messages: [...tparams.messages, { role: 'assistant', content: fm.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18C' }] }] });
    assert.equal(back.content[0].text, 'mock got tool results: 18C');

    // count_tokens.
    const cparams = { model, system: 'Be brief.', messages: [{ role: 'user', content: 'count these tokens' }] };
    const count = await client.messages.countTokens(cparams);
    const crec = ctx.mockA.requests.filter((r) => r.route === 'count_tokens').at(-1);
    assert.ok(crec, 'count_tokens reached the upstream');
    assert.equal(crec.path, '/v1/messages/count_tokens');
    assert.deepEqual(crec.body, { ...cparams, model: bare });
    assert.deepEqual(count, { input_tokens: inputTokensFor({ ...cparams, model: bare }) });

    // Errors in Anthropic's shape: a bad virtual key, an overloaded upstream, a mid-stream error.
    const badKey = await ctx.anthropicSdk(Anthropic, { apiKey: 'sk-fo-not-a-key' }).messages.create(params).catch((e) => e);
    assert.ok(badKey instanceof Anthropic.AuthenticationError, String(badKey));
    assert.equal(badKey.error?.type, 'error');
    assert.equal(badKey.error?.error?.type, 'authentication_error');
    const over = await client.messages.create({ ...params, model: 'anthropic/claude-overloaded' }).catch((e) => e);
    assert.ok(over instanceof Anthropic.APIError && [503, 529].includes(over.status), String(over));
    assert.equal(over.error?.type, 'error', JSON.stringify(over.error));
    assert.match(over.message, /overloaded/i);
    const ms = client.messages.stream({ ...params, model: 'anthropic/claude-midstream-error' });
    let before = '';
    ms.on('text', (t) => (before += t));
    const mid = await ms.finalMessage().catch((e) => e);
    assert.ok(mid instanceof Anthropic.APIError, `the stream must fail: ${mid}`);
    assert.match(mid.message, /overloaded/i);
    assert.ok(before.length > 0);
  });

  scenario(`anthropic sdk ${major} -> /anthropic -> openai/gpt-4o-mini (translated): create, stream, tools`, { label: `anth${major[0]}-oai`, openai: true }, async (ctx) => {
    installOpenAIToolHandler(ctx.mockO);
    const client = ctx.anthropicSdk(Anthropic);
    const model = 'openai/gpt-4o-mini';
    const calls = () => ctx.mockO.requests.filter((r) => /\/chat\/completions$/.test(r.path));
    const params = { model, max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello GPT' }] };
    const msg = await client.messages.create(params);
    let rec = calls().at(-1);
    assert.equal(rec.status, 200);
    assert.equal(rec.headers.authorization, `Bearer ${PROVIDER_KEYS.openai}`);
    assert.equal(rec.body.model, 'gpt-4o-mini');
    assert.deepEqual(rec.body.messages.map((m) => [m.role, blocksText(m.content)]), [['system', 'Be brief.'], ['user', 'Hello GPT']]);
    assert.equal(rec.body.max_tokens ?? rec.body.max_completion_tokens, 100);
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.equal(msg.model, model);
    assert.deepEqual(msg.content.map((b) => [b.type, b.text]), [['text', openaiReplyText(rec.body)]]);
    assert.equal(msg.content[0].text, 'mock reply to: Hello GPT');
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.input_tokens, rec.usage.prompt_tokens);
    assert.equal(msg.usage.output_tokens, rec.usage.completion_tokens);

    // Stream: event lines the SDK needs, text and usage.
    const stream = client.messages.stream({ ...params, messages: [{ role: 'user', content: 'Stream GPT' }] });
    let text = '';
    stream.on('text', (t) => (text += t));
    const fm = await stream.finalMessage();
    rec = calls().at(-1);
    assert.equal(rec.body.stream, true);
    assert.equal(text, 'mock reply to: Stream GPT');
    assert.deepEqual(fm.content.map((b) => b.text), ['mock reply to: Stream GPT']);
    assert.equal(fm.stop_reason, 'end_turn');
    assert.ok(rec.usage, 'the gateway asked the upstream for stream usage (stream_options.include_usage)');
    assert.equal(fm.usage.output_tokens, rec.usage.completion_tokens);

    // Tools, streamed, then the result round trip.
    const tparams = { model, max_tokens: 200, tools: [anthropicWeatherTool], messages: [{ role: 'user', content: 'Weather in Paris?' }] };
    const tm = await client.messages.stream(tparams).finalMessage();
    rec = calls().at(-1);
    assert.deepEqual(rec.body.tools, [{ type: 'function', function: { name: 'get_weather', description: anthropicWeatherTool.description, parameters: anthropicWeatherTool.input_schema } }]);
    assert.equal(tm.stop_reason, 'tool_use');
    const use = tm.content.find((b) => b.type === 'tool_use');
    assert.ok(use, JSON.stringify(tm.content));
    assert.deepEqual([use.id, use.name, use.input], [`call_mock${rec.seq}`, 'get_weather', { city: 'Paris' }]);
    const back = await client.messages.create({ ...tparams, messages: [...tparams.messages, { role: 'assistant', content: tm.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18C' }] }] });
    rec = calls().at(-1);
    const toolMsg = rec.body.messages.find((m) => m.role === 'tool');
    assert.equal(toolMsg?.tool_call_id, use.id, JSON.stringify(rec.body.messages));
    assert.equal(blocksText(toolMsg.content), '18C');
    const asst = rec.body.messages.find((m) => m.role === 'assistant');
    assert.deepEqual(asst.tool_calls.map((t) => [t.id, t.function.name, JSON.parse(t.function.arguments)]), [[use.id, 'get_weather', { city: 'Paris' }]]);
    assert.equal(back.content[0].text, 'mock reply to: Weather in Paris?');
  });
}

/** mock_openai answers requests that carry tools with a get_weather call (until a tool result). */
function installOpenAIToolHandler(mockO) {
  mockO.setBehavior({
    handler: async (req, res, rec) => {
      const b = rec.body;
      if (!/\/chat\/completions$/.test(rec.path) || !b || !Array.isArray(b.tools) || !b.tools.length) return false;
      if (b.messages?.at(-1)?.role === 'tool') return false; // the default reply
      const name = b.tools[0].function.name;
      const args = JSON.stringify({ city: 'Paris' });
      const id = `call_mock${rec.seq}`;
      const usage = { prompt_tokens: 21, completion_tokens: 9, total_tokens: 30 };
      const base = { id: `chatcmpl-tools-${rec.seq}`, created: Math.floor(Date.now() / 1000), model: `${b.model}-2024-07-18`, system_fingerprint: 'fp_mock' };
      rec.status = 200;
      if (!b.stream) {
        rec.usage = usage;
        const data = JSON.stringify({
          ...base,
          object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: null, refusal: null, tool_calls: [{ id, type: 'function', function: { name, arguments: args } }] }, logprobs: null, finish_reason: 'tool_calls' }],
          usage,
        });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
        res.end(data);
        rec.finishedAt = Date.now();
        return true;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      const chunk = (choices, extra = {}) => res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices, ...extra })}\n\n`);
      chunk([{ index: 0, delta: { role: 'assistant', content: null, tool_calls: [{ index: 0, id, type: 'function', function: { name, arguments: '' } }] }, logprobs: null, finish_reason: null }]);
      for (const piece of [args.slice(0, 7), args.slice(7)]) {
        await sleep(10);
        chunk([{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: piece } }] }, logprobs: null, finish_reason: null }]);
      }
      chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' }]);
      if (b.stream_options?.include_usage) {
        rec.usage = usage;
        chunk([], { usage });
      }
      res.write('data: [DONE]\n\n');
      res.end();
      rec.finishedAt = Date.now();
      return true;
    },
  });
}

// =================================================================================================
// @google/genai 2.x and 3.x -> /genai.

for (const [major, GenAI, version] of [['2.x', GenAI2, 'v1beta'], ['3.x', GenAI3, 'v1']]) {
  scenario(`genai ${major} -> /genai/${version} -> gemini/ (passthrough): generateContent, generateContentStream, errors`, { label: `genai${major[0]}-pass`, gemini: true }, async (ctx) => {
    const ai = ctx.genai(GenAI);
    const calls = () => ctx.mockG.requests.filter((r) => !r.vertex && /GenerateContent$|generateContent$/.test(r.route ?? ''));
    const res = await ai.models.generateContent({ model: 'gemini/gemini-2.5-flash', contents: 'Hello Gemini', config: { systemInstruction: 'Be brief.', maxOutputTokens: 100 } });
    let rec = calls().at(-1);
    assert.equal(rec.status, 200, rec.error);
    assert.equal(rec.path, '/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(rec.headers['x-goog-api-key'], PROVIDER_KEYS.gemini);
    assert.deepEqual(rec.body.contents, [{ parts: [{ text: 'Hello Gemini' }], role: 'user' }]);
    assert.deepEqual(rec.body.systemInstruction.parts, [{ text: 'Be brief.' }]);
    assert.equal(rec.body.generationConfig.maxOutputTokens, 100);
    assert.equal(res.text, 'mock reply to: Hello Gemini');
    assert.equal(res.candidates[0].finishReason, 'STOP');
    for (const k of ['promptTokenCount', 'candidatesTokenCount', 'totalTokenCount']) assert.equal(res.usageMetadata[k], rec.usage[k], k);

    const stream = await ai.models.generateContentStream({ model: 'gemini/gemini-2.5-flash', contents: 'Stream Gemini' });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    rec = calls().at(-1);
    assert.equal(rec.status, 200, rec.error);
    assert.equal(rec.path, '/v1beta/models/gemini-2.5-flash:streamGenerateContent');
    assert.equal(rec.alt, 'sse');
    assert.equal(chunks.map((c) => c.text ?? '').join(''), 'mock reply to: Stream Gemini');
    assert.equal(chunks.at(-1).candidates[0].finishReason, 'STOP');
    for (const k of ['promptTokenCount', 'candidatesTokenCount', 'totalTokenCount']) assert.equal(chunks.at(-1).usageMetadata[k], rec.usage[k], k);

    // Google-shaped errors: a bad virtual key, an upstream 429, a mid-stream error.
    const bad = await ctx.genai(GenAI, 'sk-fo-not-a-key').models.generateContent({ model: 'gemini/gemini-2.5-flash', contents: 'x' }).catch((e) => e);
    assert.equal(bad.status, 401, String(bad));
    assert.match(bad.message, /UNAUTHENTICATED/);
    const rl = await ai.models.generateContent({ model: 'gemini/gemini-error-429', contents: 'x' }).catch((e) => e);
    assert.equal(rl.status, 429, String(rl));
    assert.match(rl.message, /RESOURCE_EXHAUSTED/);
    const ms = await ai.models.generateContentStream({ model: 'gemini/gemini-midstream-error', contents: 'tell me' });
    let before = '';
    const mid = await (async () => {
      for await (const c of ms) before += c.text ?? '';
    })().catch((e) => e);
    assert.ok(mid instanceof Error, 'the stream must throw');
    assert.ok(mid.status >= 500, String(mid));
    assert.ok(before.length > 0);
  });

  scenario(`genai ${major} -> /genai/${version} -> openai/gpt-4o-mini (translated): generateContent, generateContentStream`, { label: `genai${major[0]}-oai`, openai: true }, async (ctx) => {
    const ai = ctx.genai(GenAI);
    const calls = () => ctx.mockO.requests.filter((r) => /\/chat\/completions$/.test(r.path));
    const res = await ai.models.generateContent({ model: 'openai/gpt-4o-mini', contents: 'Hello GPT', config: { systemInstruction: 'Be brief.', maxOutputTokens: 50, temperature: 0.2 } });
    let rec = calls().at(-1);
    assert.equal(rec.status, 200);
    assert.equal(rec.headers.authorization, `Bearer ${PROVIDER_KEYS.openai}`);
    assert.equal(rec.body.model, 'gpt-4o-mini');
    assert.deepEqual(rec.body.messages.map((m) => [m.role, blocksText(m.content)]), [['system', 'Be brief.'], ['user', 'Hello GPT']]);
    assert.equal(rec.body.max_tokens ?? rec.body.max_completion_tokens, 50);
    assert.equal(rec.body.temperature, 0.2);
    assert.equal(res.text, 'mock reply to: Hello GPT');
    assert.equal(res.candidates[0].finishReason, 'STOP');
    assert.equal(res.candidates[0].content.role, 'model');
    assert.equal(res.usageMetadata.promptTokenCount, rec.usage.prompt_tokens);
    assert.equal(res.usageMetadata.candidatesTokenCount, rec.usage.completion_tokens);
    assert.equal(res.usageMetadata.totalTokenCount, rec.usage.total_tokens);

    const stream = await ai.models.generateContentStream({ model: 'openai/gpt-4o-mini', contents: 'Stream GPT' });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    rec = calls().at(-1);
    assert.equal(rec.body.stream, true);
    assert.equal(chunks.map((c) => c.text ?? '').join(''), 'mock reply to: Stream GPT');
    const withCandidates = chunks.filter((c) => c.candidates?.length);
    assert.equal(withCandidates.at(-1).candidates[0].finishReason, 'STOP');
    assert.ok(rec.usage, 'the gateway asked the upstream for stream usage');
    const lastUsage = chunks.filter((c) => c.usageMetadata).at(-1)?.usageMetadata;
    assert.equal(lastUsage?.promptTokenCount, rec.usage.prompt_tokens);
    assert.equal(lastUsage?.candidatesTokenCount, rec.usage.completion_tokens);
  });
}

// =================================================================================================
// Vertex AI: the service-account token.

scenario('vertex: one token for many requests (Gemini and Claude, streamed and not)', { label: 'vx-token', vertex: true }, async (ctx) => {
  const client = ctx.openai();
  const messages = [{ role: 'user', content: 'hi' }];
  await client.chat.completions.create({ model: 'vertex/gemini-2.5-pro', messages });
  await collectChat(await client.chat.completions.create({ model: 'vertex/gemini-2.5-pro', messages, stream: true }));
  await client.chat.completions.create({ model: 'vertex/claude-sonnet-4-5@20250929', messages });
  await collectChat(await client.chat.completions.create({ model: 'vertex/claude-sonnet-4-5@20250929', messages, stream: true }));
  await Promise.all([1, 2, 3].map(() => client.chat.completions.create({ model: 'vertex/gemini-2.5-flash', messages })));
  assert.equal(ctx.mockG.tokenRequests, 1, 'one token exchange for all requests');
  const tok = ctx.mockG.requests.find((r) => r.route === 'token');
  assert.equal(tok.status, 200, tok.error);
  assert.equal(tok.jwtHeader.alg, 'RS256');
  if (tok.jwtHeader.kid !== undefined) assert.equal(tok.jwtHeader.kid, ctx.sa.private_key_id);
  assert.equal(tok.jwtClaims.iss, ctx.sa.client_email);
  assert.ok(tok.jwtClaims.scope.split(' ').includes(CLOUD_PLATFORM_SCOPE));
  assert.equal(tok.jwtClaims.aud, ctx.sa.token_uri);
  const calls = ctx.mockG.requests.filter((r) => r.vertex);
  assert.equal(calls.length, 7);
  for (const r of calls) {
    assert.equal(r.status, 200, r.error);
    assert.equal(r.bearer, tok.token);
  }
  assert.deepEqual(calls.map((r) => `${r.publisher}/${r.model}:${r.route}`).slice(0, 4), [
    'google/gemini-2.5-pro:generateContent',
    'google/gemini-2.5-pro:streamGenerateContent',
    'anthropic/claude-sonnet-4-5@20250929:rawPredict',
    'anthropic/claude-sonnet-4-5@20250929:streamRawPredict',
  ]);
});

scenario(
  'vertex: a token that expires is refreshed before use (tokenTtlSeconds 2; --token-url overrides token_uri)',
  {
    label: 'vx-refresh',
    vertex: true,
    tokenTtlSeconds: 2,
    // token_uri points nowhere: the gateway must use --token-url.
    vertexSa: (mockG) => mockG.registerServiceAccount({ ...makeServiceAccount('http://127.0.0.1:9/token', { projectId: VERTEX_PROJECT }) }),
    vertexTokenUrl: (mockG) => `${mockG.url}/token`,
  },
  async (ctx) => {
    const client = ctx.openai();
    const ask = (content) => client.chat.completions.create({ model: 'vertex/gemini-2.5-pro', messages: [{ role: 'user', content }] });
    assert.equal((await ask('one')).choices[0].message.content, 'mock reply to: one');
    assert.equal((await ask('two')).choices[0].message.content, 'mock reply to: two');
    const first = ctx.mockG.requests.filter((r) => r.vertex).map((r) => r.bearer);
    await sleep(2600);
    assert.equal((await ask('three')).choices[0].message.content, 'mock reply to: three');
    const r3 = ctx.mockG.requests.filter((r) => r.vertex).at(-1);
    assert.equal(r3.status, 200, r3.error);
    assert.ok(!first.includes(r3.bearer), 'a new token after the old one expired');
    assert.ok(ctx.mockG.tokenRequests >= 2, `token requests: ${ctx.mockG.tokenRequests}`);
    const expired = ctx.mockG.requests.filter((r) => r.vertex && r.tokenExpired);
    assert.deepEqual(expired.map((r) => r.seq), [], 'no request was sent with an expired token');
    const tokens = ctx.mockG.requests.filter((r) => r.route === 'token');
    for (const t of tokens) assert.equal(t.status, 200, t.error);
    assert.equal(tokens[0].jwtClaims.aud, `${ctx.mockG.url}/token`, 'aud is the token URL used');
  },
);

scenario(
  'vertex: a service account with the wrong key fails clearly, naming the token exchange',
  {
    label: 'vx-badsa',
    vertex: true,
    vertexSa: (mockG) => {
      const good = mockG.makeServiceAccount({ projectId: VERTEX_PROJECT });
      return { ...good, private_key: makeServiceAccount('x').private_key };
    },
  },
  async (ctx) => {
    const err = await ctx.openai().chat.completions.create({ model: 'vertex/gemini-2.5-pro', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    assert.ok(err instanceof OpenAI.APIError, String(err));
    assert.ok([401, 500, 502, 503].includes(err.status), `status ${err.status}: ${err.message}`);
    assert.match(err.message, /token/i, 'the message names the token exchange');
    assert.match(err.message, /invalid_grant|Invalid JWT Signature/, 'and says what the token endpoint answered');
    const tok = ctx.mockG.requests.filter((r) => r.route === 'token');
    assert.ok(tok.length >= 1 && tok.every((t) => t.status === 400), 'the token endpoint refused');
    assert.equal(ctx.mockG.requests.filter((r) => r.vertex).length, 0, 'no Vertex call without a token');
  },
);

// =================================================================================================
// Governance: cost from native usage, exact.

/** Nano-dollars of one request, as the data plane prices it (round half up per request). */
function costNano(price, { prompt, completion, cached = 0, writes = 0 }) {
  cached = Math.min(cached, prompt);
  writes = Math.min(writes, prompt - cached);
  const plain = prompt - cached - writes;
  const sum = BigInt(plain) * price.input + BigInt(completion) * price.output + BigInt(cached) * (price.cachedInput ?? price.input) + BigInt(writes) * (price.cacheWrite ?? price.input);
  return Number((sum + 500_000n) / 1_000_000n);
}

async function settleUsage(ctx, expected) {
  let last;
  try {
    await pollUntil(
      async () => {
        const r = await ctx.env.ctl(['usage', '--key', ctx.keyName, '-o', 'json']);
        last = r.json?.total;
        return last && last.requests === expected.requests && last.cost_nano === expected.cost_nano;
      },
      { timeoutMs: 8000, intervalMs: 100, what: 'usage to show the expected requests and cost' },
    );
  } catch (e) {
    throw new Error(`${e.message}; expected ${JSON.stringify(expected)}, last ${JSON.stringify(last)}`);
  }
  for (const k of ['prompt_tokens', 'completion_tokens', 'cached_tokens']) assert.equal(last[k], expected[k], `${k}: ${JSON.stringify(last)}`);
  return last;
}

const ANTHROPIC_PRICE = { input: 3_000_000_000n, output: 15_000_000_000n, cachedInput: 300_000_000n, cacheWrite: 3_750_000_000n };

scenario(
  'governance: anthropic usage with cache reads and writes is priced exactly (openai and anthropic sdks, streamed and not)',
  {
    label: 'gov-anth',
    anthropic: true,
    prices: [['anthropic/claude-sonnet-4-5-20250929', '--input-price', '3', '--output-price', '15', '--cached-input-price', '0.3', '--cache-write-price', '3.75']],
  },
  async (ctx) => {
    ctx.mockA.setBehavior({ cache: { read: 100, creation: 50 } });
    const model = 'anthropic/claude-sonnet-4-5-20250929';
    const client = ctx.openai();
    const c = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'priced one' }] });
    assert.equal(c.usage.prompt_tokens_details?.cached_tokens, 100, JSON.stringify(c.usage));
    const s = await collectChat(await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'priced two, streamed' }], stream: true, stream_options: { include_usage: true } }));
    assert.equal(s.usageChunks[0]?.usage?.prompt_tokens_details?.cached_tokens, 100);
    await ctx.anthropicSdk(Anthropic1).messages.stream({ model, max_tokens: 50, messages: [{ role: 'user', content: 'priced three, native' }] }).finalMessage();
    const recs = ctx.mockA.requests.filter((r) => r.route === 'messages' && r.status === 200 && r.usage);
    assert.equal(recs.length, 3);
    const usages = recs.map((r) => openaiUsageOf('anthropic', r));
    for (const u of usages) assert.ok(u.cached === 100 && u.writes === 50);
    assert.equal(c.usage.prompt_tokens, usages[0].prompt);
    const expected = {
      requests: 3,
      cost_nano: usages.reduce((a, u) => a + costNano(ANTHROPIC_PRICE, u), 0),
      prompt_tokens: usages.reduce((a, u) => a + u.prompt, 0),
      completion_tokens: usages.reduce((a, u) => a + u.completion, 0),
      cached_tokens: 300,
    };
    const total = await settleUsage(ctx, expected);
    log(`anthropic: ${JSON.stringify(total)}`);
  },
);

const GEMINI_PRICE = { input: 300_000_000n, output: 2_500_000_000n, cachedInput: 75_000_000n };

scenario(
  'governance: gemini usage with cached and thoughts tokens is priced exactly (openai and genai sdks, streamed and not)',
  {
    label: 'gov-gem',
    gemini: true,
    prices: [['gemini/gemini-2.5-flash', '--input-price', '0.3', '--output-price', '2.5', '--cached-input-price', '0.075']],
  },
  async (ctx) => {
    ctx.mockG.setBehavior({ cache: 100, thinking: true });
    const model = 'gemini/gemini-2.5-flash';
    const client = ctx.openai();
    const c = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'priced one' }] });
    assert.equal(c.usage.prompt_tokens_details?.cached_tokens, 100, JSON.stringify(c.usage));
    assert.ok(c.usage.completion_tokens_details?.reasoning_tokens > 0, `reasoning_tokens: ${JSON.stringify(c.usage)}`);
    await collectChat(await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'priced two, streamed' }], stream: true, stream_options: { include_usage: true } }));
    const ai = ctx.genai(GenAI3);
    await ai.models.generateContent({ model, contents: 'priced three, native' });
    const st = await ai.models.generateContentStream({ model, contents: 'priced four, native streamed' });
    for await (const _ of st) {
      /* drain */
    }
    const recs = ctx.mockG.requests.filter((r) => /GenerateContent$|generateContent$/.test(r.route ?? '') && r.status === 200 && r.usage);
    assert.equal(recs.length, 4);
    const usages = recs.map((r) => openaiUsageOf('gemini', r));
    assert.equal(c.usage.prompt_tokens, usages[0].prompt);
    assert.equal(c.usage.completion_tokens, usages[0].completion);
    const expected = {
      requests: 4,
      cost_nano: usages.reduce((a, u) => a + costNano(GEMINI_PRICE, u), 0),
      prompt_tokens: usages.reduce((a, u) => a + u.prompt, 0),
      completion_tokens: usages.reduce((a, u) => a + u.completion, 0),
      cached_tokens: 400,
    };
    const total = await settleUsage(ctx, expected);
    log(`gemini: ${JSON.stringify(total)}`);
  },
);

// A native provider puts the model id in the URL path: ids that would reach another endpoint
// with the gateway's own key are refused before any upstream call.
scenario('model ids that would escape the upstream URL path are refused (400), nothing sent', { label: 'path-inject', gemini: true, anthropic: true }, async (ctx) => {
  const bad = ['gemini/../../cachedContents', 'gemini/x?alt=json', 'gemini/a:countTokens', 'gemini/a b', 'gemini/a%2Fb'];
  for (const model of bad) {
    const err = await ctx.openai().chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }] }).then(() => null, (e) => e);
    assert.ok(err, `${model} was accepted`);
    assert.equal(err.status, 400, `${model}: ${err.message}`);
    assert.equal(err.code, 'invalid_value', model);
  }
  // The same through /genai, where the model comes from the URL (percent-decoded).
  for (const raw of ['gemini%2F..%2F..%2Ffiles', 'gemini%2Fa%3Fx%3D1']) {
    const r = await fetch(`${ctx.dp.url}/genai/v1beta/models/${raw}:generateContent`, {
      method: 'POST', headers: { 'content-type': 'application/json', 'x-goog-api-key': ctx.vk },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
    });
    assert.equal(r.status, 400, raw);
    const j = await r.json();
    assert.equal(j.error.status, 'INVALID_ARGUMENT', JSON.stringify(j));
  }
  const anth = await fetch(`${ctx.dp.url}/anthropic/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'x-api-key': ctx.vk, 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'anthropic/../models', max_tokens: 5, messages: [{ role: 'user', content: 'hi' }] }),
  });
  // Anthropic takes the model in the body, so its path cannot be reached; the id is still refused.
  assert.equal(anth.status, 400);
  assert.equal((await anth.json()).type, 'error');
  assert.equal(ctx.mockG.requests.length, 0, 'nothing reached the Gemini mock');
  assert.equal(ctx.mockA.requests.length, 0, 'nothing reached the Anthropic mock');
});

// Native clients to the other native provider: Anthropic SDK -> Gemini and @google/genai ->
// Anthropic, through OpenAI chat in the middle; count_tokens to Gemini via :countTokens.
scenario('cross-native: anthropic sdk 1.x -> gemini/, genai 3.x -> anthropic/ (create, stream, count_tokens)', { label: 'cross', gemini: true, anthropic: true }, async (ctx) => {
  const anth = ctx.anthropicSdk(Anthropic1);
  const gcalls = () => ctx.mockG.requests.filter((r) => /:(stream)?[gG]enerateContent$/.test(r.path));
  const msg = await anth.messages.create({ model: 'gemini/gemini-2.5-flash', max_tokens: 64, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello Gemini' }] });
  let rec = gcalls().at(-1);
  assert.equal(rec.status, 200);
  assert.equal(rec.headers['x-goog-api-key'], PROVIDER_KEYS.gemini);
  assert.match(rec.path, /\/models\/gemini-2\.5-flash:generateContent$/);
  assert.deepEqual(rec.body.systemInstruction.parts.map((p) => p.text), ['Be brief.']);
  assert.equal(rec.body.generationConfig.maxOutputTokens, 64);
  assert.equal(msg.model, 'gemini/gemini-2.5-flash');
  assert.equal(msg.content[0].text, 'mock reply to: Hello Gemini');
  assert.equal(msg.stop_reason, 'end_turn');
  assert.ok(msg.usage.input_tokens > 0 && msg.usage.output_tokens > 0, JSON.stringify(msg.usage));

  let text = '';
  const s = anth.messages.stream({ model: 'gemini/gemini-2.5-flash', max_tokens: 64, messages: [{ role: 'user', content: 'Stream Gemini' }] });
  s.on('text', (t) => (text += t));
  const fm = await s.finalMessage();
  rec = gcalls().at(-1);
  assert.match(rec.path, /:streamGenerateContent$/);
  assert.equal(text, 'mock reply to: Stream Gemini');
  assert.equal(fm.stop_reason, 'end_turn');
  assert.ok(fm.usage.output_tokens > 0);

  const count = await anth.messages.countTokens({ model: 'gemini/gemini-2.5-flash', messages: [{ role: 'user', content: 'Count these words please' }] });
  const crec = ctx.mockG.requests.at(-1);
  assert.match(crec.path, /\/models\/gemini-2\.5-flash:countTokens$/);
  assert.ok(Number.isInteger(count.input_tokens) && count.input_tokens > 0, JSON.stringify(count));

  // @google/genai 3.x to Anthropic.
  const ai = ctx.genai(GenAI3);
  const acalls = () => ctx.mockA.requests.filter((r) => /\/messages$/.test(r.path));
  const res = await ai.models.generateContent({ model: 'anthropic/claude-sonnet-4-5-20250929', contents: 'Hello Claude', config: { systemInstruction: 'Be brief.', maxOutputTokens: 70 } });
  let arec = acalls().at(-1);
  assert.equal(arec.status, 200);
  assert.equal(arec.headers['x-api-key'], PROVIDER_KEYS.anthropic);
  assert.equal(arec.body.model, 'claude-sonnet-4-5-20250929');
  assert.equal(arec.body.max_tokens, 70);
  assert.equal(res.text, 'mock reply to: Hello Claude');
  assert.equal(res.candidates[0].finishReason, 'STOP');
  assert.ok(res.usageMetadata.promptTokenCount > 0);

  const stream = await ai.models.generateContentStream({ model: 'anthropic/claude-sonnet-4-5-20250929', contents: 'Stream Claude' });
  const chunks = [];
  for await (const c of stream) chunks.push(c);
  arec = acalls().at(-1);
  assert.equal(arec.body.stream, true);
  assert.equal(arec.body.max_tokens, DEFAULT_MAX_TOKENS, 'the provider default fills max_tokens');
  assert.equal(chunks.map((c) => c.text ?? '').join(''), 'mock reply to: Stream Claude');
  assert.equal(chunks.filter((c) => c.candidates?.length).at(-1).candidates[0].finishReason, 'STOP');
});

// finopsctl: a Vertex provider's default host follows its location; keys show the account only.
test('finopsctl: vertex provider options, default host following the location, redacted key', { timeout: 30000 }, async () => {
  if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR}`);
  const env = new FinopsEnv('vx-cli');
  try {
    await env.startControlPlane();
    const sa = makeServiceAccount('https://oauth2.googleapis.com/token', { projectId: 'p1' });
    const saFile = path.join(env.dir, 'sa.json');
    fs.writeFileSync(saFile, JSON.stringify(sa), { mode: 0o600 });
    const add = await env.ctlOk(['providers', 'add', 'vertex', '--vertex-project', 'p1', '--vertex-location', 'us-east5', '--service-account-file', saFile, '-o', 'json']);
    assert.equal(add.json.type, 'vertex');
    assert.equal(add.json.base_url, 'https://us-east5-aiplatform.googleapis.com');
    assert.deepEqual(add.json.options, { vertex_project: 'p1', vertex_location: 'us-east5' });
    assert.equal(add.json.keys[0].redacted, `service-account ${sa.client_email}`);
    assert.ok(!add.stdout.includes('PRIVATE KEY'), 'the private key is never printed');
    const upd = await env.ctlOk(['providers', 'update', 'vertex', '--vertex-location', 'global', '-o', 'json']);
    assert.equal(upd.json.base_url, 'https://aiplatform.googleapis.com');
    assert.equal(upd.json.options.vertex_location, 'global');
    // Missing pieces are usage errors (exit 2) before anything is sent.
    const noSa = await env.ctl(['providers', 'add', 'vx2', '--type', 'vertex', '--vertex-project', 'p', '--vertex-location', 'l']);
    assert.equal(noSa.code, 2, noSa.stderr);
    const badType = await env.ctl(['providers', 'add', 'x', '--type', 'bedrock']);
    assert.equal(badType.code, 2, badType.stderr);
  } catch (err) {
    env.dumpLogs('vertex cli');
    throw err;
  } finally {
    await env.cleanup();
  }
});
