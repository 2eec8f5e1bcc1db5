// Self-checks of the mock upstreams (tests/fixtures/mock_anthropic.mjs, mock_gemini.mjs) with
// the real SDKs, no gateway involved: if @anthropic-ai/sdk and @google/genai (both majors each)
// are happy with what the mocks send, and the mocks accept what the SDKs send, the mocks speak
// the real wire formats. The Vertex token endpoint is checked with google-auth-library's own JWT
// client (what @google/genai uses for Vertex) as well as with hand-made assertions.
//
//   cd tests/integration && npm ci && node --test mocks.test.mjs
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic0 from 'anthropic-sdk-0';
import Anthropic1 from 'anthropic-sdk-1';
import { GoogleGenAI as GenAI2, FunctionCallingConfigMode } from 'genai-2';
import { GoogleGenAI as GenAI3 } from 'genai-3';
import { JWT } from 'google-auth-library';

import { startMockAnthropic, mockReplyText, inputTokensFor, thinkingSignature, CACHE_USAGE, ANTHROPIC_KEY } from '../fixtures/mock_anthropic.mjs';
import { startMockGemini, geminiReplyText, signatureFor, signJwt, makeServiceAccount, GEMINI_KEY, CLOUD_PLATFORM_SCOPE, JWT_GRANT, GEMINI_CACHED_TOKENS } from '../fixtures/mock_gemini.mjs';

const WEATHER_SCHEMA = { type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'] };
const anthropicTool = { name: 'get_weather', description: 'Current weather in a city', input_schema: WEATHER_SCHEMA };
const TIME_SCHEMA = { type: 'object', properties: { zone: { type: 'string' } }, required: ['zone'] };

/** Raw POST, JSON in, {status, headers, text, json} out. */
async function post(url, body, headers = {}) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  const text = await r.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: r.status, headers: Object.fromEntries(r.headers), text, json };
}

/** Splits an SSE body into {event, data} (data parsed). */
function sseEvents(text) {
  return text
    .replace(/\r\n/g, '\n')
    .split('\n\n')
    .filter((b) => b.trim())
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event:'))?.slice(6).trim() ?? null;
      const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('\n');
      return { event, data: JSON.parse(data) };
    });
}

const lastRec = (mock) => mock.requests[mock.requests.length - 1];

// =================================================================================================
describe('mock_anthropic with @anthropic-ai/sdk', () => {
  let mock;
  before(async () => {
    mock = await startMockAnthropic();
  });
  after(async () => {
    await mock?.close();
  });

  for (const [major, Anthropic] of [['0.x', Anthropic0], ['1.x', Anthropic1]]) {
    describe(`sdk ${major}`, () => {
      const client = () => new Anthropic({ apiKey: ANTHROPIC_KEY, baseURL: mock.url, maxRetries: 0 });

      test('messages.create: text, usage, auth headers', async () => {
        const params = { model: 'claude-mock-4-5-20250929', max_tokens: 100, system: 'Be brief.', messages: [{ role: 'user', content: 'Hello there' }] };
        const msg = await client().messages.create(params);
        const rec = lastRec(mock);
        assert.equal(rec.path, '/v1/messages');
        assert.equal(rec.status, 200, rec.error);
        assert.equal(msg.type, 'message');
        assert.equal(msg.role, 'assistant');
        assert.equal(msg.model, 'claude-mock-4-5-20250929');
        assert.deepEqual(msg.content, [{ type: 'text', text: 'mock reply to: Hello there' }]);
        assert.equal(msg.stop_reason, 'end_turn');
        assert.deepEqual(msg.usage, rec.usage);
        assert.deepEqual(msg.usage, mock.usageFor(params));
        assert.equal(msg.usage.input_tokens, inputTokensFor(params));
        if (major === '0.x') {
          assert.equal(rec.auth, 'x-api-key');
          assert.equal(rec.anthropicVersion, '2023-06-01');
        } else {
          assert.equal(rec.auth, 'bearer');
          assert.equal(rec.headers.authorization, `Bearer ${ANTHROPIC_KEY}`);
          assert.equal(rec.anthropicVersion, '2026-10-21');
        }
        assert.ok(msg._request_id?.startsWith('req_mock'), `request-id header: ${msg._request_id}`);
      });

      test('messages.stream().finalMessage() with a tool: text + tool_use with parsed input', async () => {
        const params = { model: 'claude-tools', max_tokens: 200, tools: [anthropicTool], messages: [{ role: 'user', content: 'Weather in Paris?' }] };
        const stream = client().messages.stream(params);
        const texts = [];
        const json = [];
        stream.on('text', (t) => texts.push(t));
        stream.on('inputJson', (partial) => json.push(partial));
        const msg = await stream.finalMessage();
        const rec = lastRec(mock);
        assert.equal(rec.stream, true);
        assert.equal(msg.stop_reason, 'tool_use');
        assert.equal(msg.content.length, 2, JSON.stringify(msg.content));
        assert.deepEqual(msg.content[0], { type: 'text', text: 'mock reply to: Weather in Paris?', ...(msg.content[0].citations !== undefined ? { citations: msg.content[0].citations } : {}) });
        assert.equal(texts.join(''), 'mock reply to: Weather in Paris?');
        assert.equal(msg.content[1].type, 'tool_use');
        assert.equal(msg.content[1].name, 'get_weather');
        assert.deepEqual(msg.content[1].input, { city: 'Paris' });
        assert.ok(json.length >= 2, 'several input_json_delta pieces');
        assert.equal(msg.usage.output_tokens, rec.usage.output_tokens);
        assert.equal(msg.usage.input_tokens, rec.usage.input_tokens);

        // Round trip: the tool result gets a text answer.
        const params2 = {
          ...params,
          messages: [...params.messages, { role: 'assistant', content: msg.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: msg.content[1].id, content: '18C and sunny' }] }],
        };
        const msg2 = await client().messages.create(params2);
        assert.equal(msg2.stop_reason, 'end_turn');
        assert.equal(msg2.content[0].text, 'mock got tool results: 18C and sunny');
        assert.equal(mockReplyText(params2), 'mock got tool results: 18C and sunny');
      });

      test('parallel tool calls; a missing tool_result is a 400 like the real API', async () => {
        const params = { model: 'claude-parallel', max_tokens: 200, tools: [anthropicTool], messages: [{ role: 'user', content: 'Paris and Tokyo?' }] };
        const msg = await client().messages.stream(params).finalMessage();
        const uses = msg.content.filter((b) => b.type === 'tool_use');
        assert.deepEqual(uses.map((u) => u.input), [{ city: 'Paris' }, { city: 'Tokyo' }]);
        assert.notEqual(uses[0].id, uses[1].id);
        const err = await client()
          .messages.create({
            ...params,
            messages: [...params.messages, { role: 'assistant', content: msg.content }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: '18C' }] }],
          })
          .catch((e) => e);
        assert.ok(err instanceof Anthropic.BadRequestError, String(err));
        assert.match(err.message, /tool_use` ids were found without `tool_result`/);
        // Both results in one user turn (or two consecutive user turns, merged): fine.
        const ok = await client().messages.create({
          ...params,
          messages: [
            ...params.messages,
            { role: 'assistant', content: msg.content },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[0].id, content: '18C' }] },
            { role: 'user', content: [{ type: 'tool_result', tool_use_id: uses[1].id, content: [{ type: 'text', text: '25C' }] }] },
          ],
        });
        assert.equal(ok.content[0].text, 'mock got tool results: 18C | 25C');
      });

      test('forced tool_choice: tool_use only; thinking stream with signature_delta round-trips', async () => {
        const forced = await client().messages.create({
          model: 'claude-x',
          max_tokens: 200,
          tools: [anthropicTool, { name: 'get_time', input_schema: TIME_SCHEMA }],
          tool_choice: { type: 'tool', name: 'get_time' },
          messages: [{ role: 'user', content: 'time?' }],
        });
        assert.deepEqual(forced.content.map((b) => b.type), ['tool_use']);
        assert.equal(forced.content[0].name, 'get_time');
        assert.deepEqual(forced.content[0].input, { zone: 'mock-zone' });

        const params = { model: 'claude-thinking', max_tokens: 4000, thinking: { type: 'enabled', budget_tokens: 2048 }, messages: [{ role: 'user', content: 'Think!' }] };
        const msg = await client().messages.stream(params).finalMessage();
        assert.equal(msg.content[0].type, 'thinking');
        assert.equal(msg.content[0].thinking, 'mock thinking about: Think!');
        assert.equal(msg.content[0].signature, thinkingSignature('mock thinking about: Think!'));
        assert.equal(msg.content[1].text, 'mock reply to: Think!');
        const back = await client().messages.create({ ...params, messages: [...params.messages, { role: 'assistant', content: msg.content }, { role: 'user', content: 'more' }] });
        assert.equal(back.content[1].text, 'mock reply to: more');
        const tampered = [{ ...msg.content[0], thinking: 'edited' }, msg.content[1]];
        const err = await client()
          .messages.create({ ...params, messages: [...params.messages, { role: 'assistant', content: tampered }, { role: 'user', content: 'more' }] })
          .catch((e) => e);
        assert.ok(err instanceof Anthropic.BadRequestError, String(err));
        assert.match(err.message, /Invalid `signature`/);
      });

      test('errors: 529 overloaded, 429 with retry-after, mid-stream error event, bad key', async () => {
        const over = await client()
          .messages.create({ model: 'claude-overloaded', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
          .catch((e) => e);
        assert.equal(over.status, 529, String(over));
        assert.equal(over.error?.error?.type, 'overloaded_error');
        const rl = await client()
          .messages.create({ model: 'claude-error-429', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
          .catch((e) => e);
        assert.ok(rl instanceof Anthropic.RateLimitError, String(rl));
        assert.equal(rl.headers.get('retry-after'), '1');

        const stream = client().messages.stream({ model: 'claude-midstream-error', max_tokens: 100, messages: [{ role: 'user', content: 'tell me' }] });
        let text = '';
        stream.on('text', (t) => (text += t));
        const mid = await stream.finalMessage().catch((e) => e);
        assert.ok(mid instanceof Anthropic.APIError, String(mid));
        assert.match(mid.message, /overloaded_error|Overloaded/);
        assert.ok(text.length > 0, 'some text arrived before the error');
        assert.equal(lastRec(mock).midstreamError, true);

        const bad = await new Anthropic({ apiKey: 'sk-wrong', baseURL: mock.url, maxRetries: 0 })
          .messages.create({ model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
          .catch((e) => e);
        assert.ok(bad instanceof Anthropic.AuthenticationError, String(bad));
        assert.equal(bad.error?.error?.type, 'authentication_error');
      });

      test('count_tokens, cache usage, stop_sequences and max_tokens', async () => {
        const params = { model: 'claude-x', system: 'sys', messages: [{ role: 'user', content: 'count me' }] };
        const c = await client().messages.countTokens(params);
        assert.deepEqual(c, { input_tokens: inputTokensFor(params) });
        assert.equal(lastRec(mock).path, '/v1/messages/count_tokens');

        const cached = await client().messages.create({ model: 'claude-cache-test', max_tokens: 50, messages: [{ role: 'user', content: 'cached' }] });
        assert.equal(cached.usage.cache_read_input_tokens, CACHE_USAGE.read);
        assert.equal(cached.usage.cache_creation_input_tokens, CACHE_USAGE.creation);

        const stopped = await client().messages.create({ model: 'claude-x', max_tokens: 50, stop_sequences: ['to:'], messages: [{ role: 'user', content: 'abc' }] });
        assert.equal(stopped.stop_reason, 'stop_sequence');
        assert.equal(stopped.stop_sequence, 'to:');
        assert.equal(stopped.content[0].text, 'mock reply ');
        const cut = await client().messages.create({ model: 'claude-x', max_tokens: 2, messages: [{ role: 'user', content: 'a long question here' }] });
        assert.equal(cut.stop_reason, 'max_tokens');
        assert.equal(cut.content[0].text, 'mock rep');
      });
    });
  }

  test('validation like api.anthropic.com (raw HTTP)', async () => {
    const h = { 'x-api-key': ANTHROPIC_KEY, 'anthropic-version': '2023-06-01' };
    const u = `${mock.url}/v1/messages`;
    const base = { model: 'claude-x', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] };
    const cases = [
      [{ ...base, max_tokens: undefined }, /max_tokens: Field required/],
      [{ ...base, model: undefined }, /model: Field required/],
      [{ ...base, stream_options: { include_usage: true } }, /stream_options: Extra inputs are not permitted/],
      [{ ...base, messages: [{ role: 'system', content: 'x' }, { role: 'user', content: 'hi' }] }, /role: Input should be 'user' or 'assistant'/],
      [{ ...base, messages: [{ role: 'user', content: [{ type: 'text', text: '' }] }] }, /text content blocks must be non-empty/],
      [{ ...base, temperature: 1.5 }, /temperature/],
      [{ ...base, tool_choice: { type: 'any' } }, /tool_choice may only be specified while providing tools/],
      [{ ...base, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'data:image/png;base64,AAAA' } }] }] }, /data: URL prefix/],
      [{ ...base, messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_x', content: 'r' }] }] }, /unexpected `tool_use_id`/],
      [{ ...base, tools: [{ name: 'f', parameters: {} }] }, /parameters: Extra inputs are not permitted/],
    ];
    for (const [body, re] of cases) {
      const r = await post(u, body, h);
      assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.status} ${r.text}`);
      assert.equal(r.json.type, 'error');
      assert.equal(r.json.error.type, 'invalid_request_error');
      assert.match(r.json.error.message, re);
    }
    // Consecutive user turns are merged (accepted); an image block reaches the reply unharmed.
    const ok = await post(u, { ...base, messages: [{ role: 'user', content: 'a' }, { role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'iVBORw0KGgo=' } }, { type: 'text', text: 'b' }] }] }, h);
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.content[0].text, 'mock reply to: ab');
    // role system inside messages: only for anthropic-version 2026-10-21 (what SDK 1.x sends).
    const sys = await post(u, { ...base, messages: [{ role: 'system', content: 'x' }, { role: 'user', content: 'hi' }] }, { ...h, 'anthropic-version': '2026-10-21' });
    assert.equal(sys.status, 200, sys.text);
    // Missing anthropic-version, wrong key, no key.
    const nov = await post(u, base, { 'x-api-key': ANTHROPIC_KEY });
    assert.equal(nov.status, 400);
    assert.match(nov.json.error.message, /anthropic-version/);
    const wrong = await post(u, base, { ...h, 'x-api-key': 'sk-fo-virtual' });
    assert.equal(wrong.status, 401);
    assert.deepEqual(Object.keys(wrong.json).sort(), ['error', 'request_id', 'type']);
    assert.equal(wrong.json.error.type, 'authentication_error');
    // The raw stream: event lines, exact sequence.
    const s = await post(u, { ...base, model: 'claude-tools', stream: true, tools: [anthropicTool] }, h);
    assert.match(s.headers['content-type'], /^text\/event-stream/);
    const evs = sseEvents(s.text);
    for (const e of evs) assert.equal(e.event, e.data.type, 'every event has an event: line naming its type');
    assert.deepEqual(
      evs.map((e) => e.event + (e.data.delta?.type ? `:${e.data.delta.type}` : '')),
      [
        'message_start',
        'content_block_start',
        'ping',
        ...Array(4).fill('content_block_delta:text_delta'),
        'content_block_stop',
        'content_block_start',
        ...Array(4).fill('content_block_delta:input_json_delta'),
        'content_block_stop',
        'message_delta:',
        'message_stop',
      ].map((x) => x.replace(/:$/, '')),
    );
    assert.equal(evs[0].data.message.usage.output_tokens, 1);
    assert.equal(evs.at(-2).data.delta.stop_reason, 'tool_use');
    assert.equal(evs.at(-2).data.usage.output_tokens, lastRec(mock).usage.output_tokens);
    assert.equal(evs[8].data.content_block.type, 'tool_use');
    assert.deepEqual(evs[8].data.content_block.input, {});
    assert.equal(evs[9].data.delta.partial_json, '', 'the first input_json_delta is empty, as upstream');
  });
});

// =================================================================================================
describe('mock_gemini (Gemini API) with @google/genai', () => {
  let mock;
  before(async () => {
    mock = await startMockGemini();
  });
  after(async () => {
    await mock?.close();
  });

  for (const [major, GenAI, version] of [['2.x', GenAI2, 'v1beta'], ['3.x', GenAI3, 'v1']]) {
    describe(`genai ${major}`, () => {
      const ai = (apiKey = GEMINI_KEY) => new GenAI({ apiKey, httpOptions: { baseUrl: mock.url } });

      test('generateContent: text, usage, path and key header', async () => {
        const res = await ai().models.generateContent({ model: 'gemini-2.5-flash', contents: 'Hello Gemini', config: { systemInstruction: 'Be brief.', temperature: 0.5, maxOutputTokens: 100 } });
        const rec = lastRec(mock);
        assert.equal(rec.status, 200, rec.error);
        assert.equal(rec.path, `/${version}/models/gemini-2.5-flash:generateContent`);
        assert.equal(rec.headers['x-goog-api-key'], GEMINI_KEY);
        assert.equal(rec.auth, 'x-goog-api-key');
        assert.deepEqual(rec.body.systemInstruction.parts, [{ text: 'Be brief.' }]);
        assert.equal(res.text, 'mock reply to: Hello Gemini');
        assert.equal(res.text, geminiReplyText(rec.body));
        assert.equal(res.candidates[0].finishReason, 'STOP');
        assert.equal(res.modelVersion, 'gemini-2.5-flash');
        assert.ok(res.responseId);
        assert.deepEqual(res.usageMetadata, mock.usageFor(rec.body, 'gemini-2.5-flash'));
        assert.equal(res.usageMetadata.totalTokenCount, res.usageMetadata.promptTokenCount + res.usageMetadata.candidatesTokenCount);
      });

      test('generateContentStream: pieces, cumulative usage, finishReason last', async () => {
        const stream = await ai().models.generateContentStream({ model: 'gemini-2.5-flash-thinking', contents: 'Stream please', config: { thinkingConfig: { thinkingBudget: 512, includeThoughts: true } } });
        const chunks = [];
        for await (const c of stream) chunks.push(c);
        const rec = lastRec(mock);
        assert.equal(rec.path, `/${version}/models/gemini-2.5-flash-thinking:streamGenerateContent`);
        assert.equal(rec.alt, 'sse');
        assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
        const parts = chunks.flatMap((c) => c.candidates?.[0]?.content?.parts ?? []);
        assert.equal(parts.filter((p) => p.thought).map((p) => p.text).join(''), 'mock thoughts about: Stream please');
        assert.equal(parts.filter((p) => !p.thought).map((p) => p.text).join(''), 'mock reply to: Stream please');
        assert.deepEqual(chunks.map((c) => c.candidates[0].finishReason ?? null).filter(Boolean), ['STOP']);
        assert.equal(chunks.at(-1).candidates[0].finishReason, 'STOP');
        const counts = chunks.map((c) => c.usageMetadata.candidatesTokenCount);
        assert.deepEqual([...counts].sort((a, b) => a - b), counts, 'cumulative');
        assert.deepEqual(chunks.at(-1).usageMetadata, rec.usage);
        assert.deepEqual(rec.usage, mock.usageFor(rec.body, 'gemini-2.5-flash-thinking'));
        assert.ok(rec.usage.thoughtsTokenCount > 0);
      });

      test('function calls with thoughtSignature, echoed back; functionResponse answered with text', async () => {
        const config = { tools: [{ functionDeclarations: [{ name: 'get_weather', description: 'Weather', parameters: WEATHER_SCHEMA }] }] };
        const model = 'gemini-3-tools-signature';
        const user = { role: 'user', parts: [{ text: 'Weather in Paris?' }] };
        const res = await ai().models.generateContent({ model, contents: [user], config });
        assert.deepEqual(res.functionCalls.map((f) => [f.name, f.args]), [['get_weather', { city: 'Paris' }]]);
        const modelTurn = res.candidates[0].content;
        const fcPart = modelTurn.parts.find((p) => p.functionCall);
        assert.equal(fcPart.thoughtSignature, signatureFor('get_weather', { city: 'Paris' }));
        const answer = { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { result: '18C' } } }] };
        const res2 = await ai().models.generateContent({ model, contents: [user, modelTurn, answer], config });
        assert.equal(res2.text, 'mock got tool results: 18C');
        assert.deepEqual(lastRec(mock).thoughtSignatures, { checked: 1, ok: 1, missing: [], mismatched: [], corrupted: [] });
        // Dropping the signature: 400, and the mock says so.
        const stripped = { role: 'model', parts: modelTurn.parts.map(({ thoughtSignature, ...p }) => p) };
        const err = await ai().models.generateContent({ model, contents: [user, stripped, answer], config }).catch((e) => e);
        assert.equal(err.status, 400, String(err));
        assert.match(err.message, /thought_signature/);
        assert.equal(lastRec(mock).thoughtSignatures.missing.length, 1);

        // Parallel calls, streamed: two functionCall parts in one chunk, signature on the first only.
        const stream = await ai().models.generateContentStream({
          model: 'gemini-parallel-signature',
          contents: 'Paris and Tokyo',
          config: { ...config, toolConfig: { functionCallingConfig: { mode: FunctionCallingConfigMode.ANY, allowedFunctionNames: ['get_weather'] } } },
        });
        const calls = [];
        for await (const c of stream) for (const p of c.candidates?.[0]?.content?.parts ?? []) if (p.functionCall) calls.push(p);
        assert.deepEqual(calls.map((p) => p.functionCall.args), [{ city: 'Paris' }, { city: 'Tokyo' }]);
        assert.ok(calls[0].thoughtSignature && !calls[1].thoughtSignature);
      });

      test('errors: 429 RESOURCE_EXHAUSTED, mid-stream error chunk, safety, bad key', async () => {
        const rl = await ai().models.generateContent({ model: 'gemini-error-429', contents: 'x' }).catch((e) => e);
        assert.equal(rl.status, 429, String(rl));
        assert.match(rl.message, /RESOURCE_EXHAUSTED/);
        assert.match(rl.message, /retryDelay/);
        const stream = await ai().models.generateContentStream({ model: 'gemini-midstream-error', contents: 'tell me a story' });
        let text = '';
        const mid = await (async () => {
          for await (const c of stream) text += c.text ?? '';
        })().catch((e) => e);
        assert.ok(mid instanceof Error, 'the stream must throw');
        assert.equal(mid.status, 503, String(mid));
        assert.ok(text.length > 0, 'text before the error');
        const safe = await ai().models.generateContent({ model: 'gemini-safety', contents: 'x' });
        assert.equal(safe.candidates[0].finishReason, 'SAFETY');
        assert.equal(safe.text, undefined);
        const bad = await ai('wrong-key').models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }).catch((e) => e);
        assert.equal(bad.status, 400, String(bad));
        assert.match(bad.message, /API key not valid/);
      });
    });
  }

  test('validation and wire details (raw HTTP)', async () => {
    const u = (m, method = 'generateContent', q = '') => `${mock.url}/v1beta/models/${m}:${method}${q}`;
    const h = { 'x-goog-api-key': GEMINI_KEY };
    const base = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };
    const decl = (parameters) => ({ ...base, tools: [{ functionDeclarations: [{ name: 'f', parameters }] }] });
    const cases = [
      [{ contents: [] }, /contents is not specified/],
      [{ ...base, stream_options: {} }, /Unknown name "stream_options"/],
      [{ contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }, /valid role: user, model/],
      [{ ...base, generationConfig: { max_tokens: 5 } }, /Unknown name "max_tokens" at 'generation_config'/],
      [decl({ type: 'object', properties: { a: { type: 'string' } }, additionalProperties: false }), /Unknown name "additionalProperties"/],
      [decl({ type: 'object', properties: { a: { $ref: '#/$defs/x' } } }), /Unknown name "\$ref"/],
      [{ contents: [{ role: 'user', parts: [{ text: 'x', inlineData: { mimeType: 'image/png', data: 'AAAA' } }] }] }, /oneof field 'data'/],
      [
        {
          contents: [
            { role: 'user', parts: [{ text: 'x' }] },
            { role: 'model', parts: [{ functionCall: { name: 'f', args: {} } }, { functionCall: { name: 'f', args: { a: 1 } } }] },
            { role: 'user', parts: [{ functionResponse: { name: 'f', response: { r: 1 } } }] },
          ],
        },
        /number of function response parts is equal to the number of function call parts/,
      ],
      [
        { contents: [{ role: 'user', parts: [{ text: 'x' }] }, { role: 'model', parts: [{ functionCall: { name: 'f', args: {} } }] }, { role: 'user', parts: [{ functionResponse: { name: 'f', response: '18C' } }] }] },
        /function_response.response' \(type.googleapis.com\/google.protobuf.Struct\)/,
      ],
      [{ ...base, systemInstruction: 'be brief' }, /system_instruction/],
      [{ ...base, toolConfig: { functionCallingConfig: { mode: 'AUTO', allowedFunctionNames: ['f'] } } }, /allowed_function_names/],
    ];
    for (const [body, re] of cases) {
      const r = await post(u('gemini-2.5-flash'), body, h);
      assert.equal(r.status, 400, `${JSON.stringify(body)} -> ${r.status} ${r.text}`);
      assert.equal(r.json.error.code, 400);
      assert.equal(r.json.error.status, 'INVALID_ARGUMENT');
      assert.match(r.json.error.message, re);
    }
    // snake_case names are accepted (proto JSON), lowercase schema types too; ?key= works.
    const snake = await post(u('gemini-2.5-flash', 'generateContent', `?key=${GEMINI_KEY}`), { ...decl({ type: 'OBJECT', properties: { a: { type: 'string' } } }), system_instruction: { parts: [{ text: 's' }] }, generation_config: { max_output_tokens: 50 } });
    assert.equal(snake.status, 200, snake.text);
    assert.equal(lastRec(mock).auth, 'query');
    // Auth: no key -> 403 PERMISSION_DENIED.
    const nokey = await post(u('gemini-2.5-flash'), base);
    assert.equal(nokey.status, 403);
    assert.equal(nokey.json.error.status, 'PERMISSION_DENIED');
    // 429 body carries RetryInfo 7s.
    const rl = await post(u('gemini-error-429'), base, h);
    assert.equal(rl.status, 429);
    assert.deepEqual(rl.json.error.details.find((d) => d['@type'].endsWith('RetryInfo')), { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '7s' });
    // SSE framing: data: ...\r\n\r\n, no [DONE]; without alt=sse, a JSON array.
    const sse = await post(u('gemini-2.5-flash', 'streamGenerateContent', '?alt=sse'), base, h);
    assert.match(sse.headers['content-type'], /^text\/event-stream/);
    assert.ok(sse.text.endsWith('}\r\n\r\n') && !sse.text.includes('[DONE]'), JSON.stringify(sse.text.slice(-40)));
    const events = sseEvents(sse.text).map((e) => e.data);
    assert.equal(events.map((e) => e.candidates[0].content.parts[0].text).join(''), 'mock reply to: hi');
    const arr = await post(u('gemini-2.5-flash', 'streamGenerateContent'), base, h);
    assert.ok(Array.isArray(arr.json), arr.text.slice(0, 100));
    assert.deepEqual(arr.json.at(-1).usageMetadata, events.at(-1).usageMetadata);
    // Cached tokens: included in promptTokenCount, reported apart.
    const c = await post(u('gemini-cache'), base, h);
    assert.equal(c.json.usageMetadata.cachedContentTokenCount, GEMINI_CACHED_TOKENS);
    assert.ok(c.json.usageMetadata.promptTokenCount > GEMINI_CACHED_TOKENS);
    // Blocked prompt: no candidates.
    const b = await post(u('gemini-blocked-prompt'), base, h);
    assert.equal(b.json.promptFeedback.blockReason, 'SAFETY');
    assert.equal(b.json.candidates, undefined);
    // GET models.
    const list = await fetch(`${mock.url}/v1beta/models`, { headers: h }).then((r) => r.json());
    assert.ok(list.models.some((m) => m.name === 'models/gemini-2.5-flash'));
  });
});

// =================================================================================================
describe('mock_gemini: OAuth2 token endpoint and Vertex AI', () => {
  let mock;
  before(async () => {
    // google-auth-library signs for Google's own token URL; the mock accepts it as an audience
    // for this check (the gateway signs for the configured token URL).
    mock = await startMockGemini({ acceptAudiences: ['https://oauth2.googleapis.com/token'] });
  });
  after(async () => {
    await mock?.close();
  });

  const claimsFor = (sa, over = {}) => {
    const now = Math.floor(Date.now() / 1000);
    return { iss: sa.client_email, scope: CLOUD_PLATFORM_SCOPE, aud: sa.token_uri, iat: now, exp: now + 3600, ...over };
  };
  const exchange = (assertion, grant = JWT_GRANT) =>
    fetch(mock.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: grant, assertion }) }).then(async (r) => ({ status: r.status, json: await r.json() }));

  test('service-account JSON; JWT checks: signature, kid, iss, scope, aud, iat/exp, grant type', async () => {
    const sa = mock.makeServiceAccount();
    assert.equal(sa.type, 'service_account');
    assert.equal(sa.token_uri, `${mock.url}/token`);
    assert.match(sa.private_key, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.match(sa.client_email, /@mock-project\.iam\.gserviceaccount\.com$/);
    assert.match(sa.private_key_id, /^[0-9a-f]{40}$/);
    const header = { alg: 'RS256', typ: 'JWT', kid: sa.private_key_id };
    const before = mock.tokenRequests;
    const ok = await exchange(signJwt(header, claimsFor(sa), sa.private_key));
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    assert.deepEqual(Object.keys(ok.json).sort(), ['access_token', 'expires_in', 'token_type']);
    assert.equal(ok.json.token_type, 'Bearer');
    assert.equal(ok.json.expires_in, 3600);
    const other = makeServiceAccount(mock.tokenUrl); // not registered: its key is "wrong" for sa
    const bad = [
      [signJwt(header, claimsFor(sa), other.private_key), 'invalid_grant', /Invalid JWT Signature/],
      [signJwt({ ...header, kid: 'nope' }, claimsFor(sa), sa.private_key), 'invalid_grant', /Signature/],
      [signJwt({ ...header, alg: 'RS512' }, claimsFor(sa), sa.private_key), 'invalid_grant', /RS256/],
      [signJwt(header, claimsFor(sa, { iss: 'x@y.iam.gserviceaccount.com' }), sa.private_key), 'invalid_grant', /account not found/],
      [signJwt(header, claimsFor(sa, { scope: 'https://www.googleapis.com/auth/userinfo.email' }), sa.private_key), 'invalid_scope', /scope/],
      [signJwt(header, claimsFor(sa, { aud: 'https://example.invalid/token' }), sa.private_key), 'invalid_grant', /audience/],
      [signJwt(header, claimsFor(sa, { exp: Math.floor(Date.now() / 1000) + 7200 }), sa.private_key), 'invalid_grant', /short-lived/],
      [signJwt(header, claimsFor(sa, { iat: Math.floor(Date.now() / 1000) - 4000, exp: Math.floor(Date.now() / 1000) - 400 }), sa.private_key), 'invalid_grant', /iat and exp/],
      ['not-a-jwt', 'invalid_grant', /Invalid JWT/],
    ];
    for (const [assertion, error, re] of bad) {
      const r = await exchange(assertion);
      assert.equal(r.status, 400, JSON.stringify(r.json));
      assert.equal(r.json.error, error, JSON.stringify(r.json));
      assert.match(r.json.error_description, re);
    }
    const g = await exchange(signJwt(header, claimsFor(sa), sa.private_key), 'client_credentials');
    assert.equal(g.json.error, 'unsupported_grant_type');
    assert.equal(mock.tokenRequests - before, 1 + bad.length + 1);
    // A JWT without kid (what google-auth-library sends) is fine.
    const nokid = await exchange(signJwt({ alg: 'RS256', typ: 'JWT' }, claimsFor(sa), sa.private_key));
    assert.equal(nokid.status, 200);
  });

  test('@google/genai in Vertex mode, authenticated by google-auth-library against the mock token endpoint', async () => {
    const sa = mock.makeServiceAccount({ projectId: 'vx-proj' });
    const redirect = (input, init) => {
      const href = typeof input === 'string' ? input : input.href ?? input.url;
      return fetch(href.replace('https://oauth2.googleapis.com', mock.url), init);
    };
    for (const GenAI of [GenAI2, GenAI3]) {
      const authClient = new JWT({ email: sa.client_email, key: sa.private_key, keyId: sa.private_key_id, scopes: [CLOUD_PLATFORM_SCOPE], transporterOptions: { fetchImplementation: redirect } });
      const ai = new GenAI({ vertexai: true, project: 'vx-proj', location: 'europe-west4', googleAuthOptions: { authClient }, httpOptions: { baseUrl: mock.url } });
      const mark = mock.mark();
      const res = await ai.models.generateContent({ model: 'gemini-2.5-pro', contents: 'Hi Vertex' });
      assert.equal(res.text, 'mock reply to: Hi Vertex');
      const stream = await ai.models.generateContentStream({ model: 'gemini-2.5-pro', contents: 'Stream Vertex' });
      let text = '';
      for await (const c of stream) text += c.text ?? '';
      assert.equal(text, 'mock reply to: Stream Vertex');
      const recs = mock.since(mark);
      const tok = recs.filter((r) => r.route === 'token');
      assert.equal(tok.length, 1, 'one token for both calls');
      assert.equal(tok[0].status, 200, tok[0].error);
      assert.equal(tok[0].jwtClaims.iss, sa.client_email);
      const calls = recs.filter((r) => r.vertex);
      assert.equal(calls.length, 2);
      for (const r of calls) {
        assert.equal(r.status, 200, r.error);
        assert.equal(r.project, 'vx-proj');
        assert.equal(r.location, 'europe-west4');
        assert.equal(r.publisher, 'google');
        assert.equal(r.model, 'gemini-2.5-pro');
        assert.equal(r.headers.authorization, `Bearer ${tok[0].token}`);
        assert.match(r.path, /^\/v1(beta1)?\/projects\/vx-proj\/locations\/europe-west4\/publishers\/google\/models\/gemini-2\.5-pro:(generateContent|streamGenerateContent)$/);
      }
    }
  });

  test('Vertex routes: bearer required and must not be expired; Anthropic rawPredict/streamRawPredict rules', async () => {
    const base = `${mock.url}/v1/projects/p1/locations/us-east5/publishers`;
    const gem = `${base}/google/models/gemini-2.5-pro:generateContent`;
    const body = { contents: [{ role: 'user', parts: [{ text: 'hi' }] }] };
    const none = await post(gem, body);
    assert.equal(none.status, 401);
    assert.equal(none.json.error.status, 'UNAUTHENTICATED');
    const unknown = await post(gem, body, { authorization: 'Bearer ya29.made-up' });
    assert.equal(unknown.status, 401);
    const short = mock.issueToken({ ttlSeconds: 1 });
    assert.equal((await post(gem, body, { authorization: `Bearer ${short}` })).status, 200);
    await new Promise((r) => setTimeout(r, 1100));
    const expired = await post(gem, body, { authorization: `Bearer ${short}` });
    assert.equal(expired.status, 401);
    assert.equal(lastRec(mock).tokenExpired, true);
    // An API key is not enough on Vertex.
    assert.equal((await post(gem, body, { 'x-goog-api-key': GEMINI_KEY })).status, 401);

    const auth = { authorization: `Bearer ${mock.issueToken()}` };
    const claude = (m) => `${base}/anthropic/models/${encodeURIComponent('claude-sonnet-4-5@20250929')}:${m}`;
    const msg = { anthropic_version: 'vertex-2023-10-16', max_tokens: 50, system: 'sys', messages: [{ role: 'user', content: 'Hello Claude' }] };
    const r = await post(claude('rawPredict'), msg, auth);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, 'claude-sonnet-4-5@20250929');
    assert.equal(r.json.content[0].text, 'mock reply to: Hello Claude');
    assert.equal(lastRec(mock).model, 'claude-sonnet-4-5@20250929');
    const withModel = await post(claude('rawPredict'), { ...msg, model: 'claude-sonnet-4-5' }, auth);
    assert.equal(withModel.status, 400);
    assert.equal(withModel.json.error.type, 'invalid_request_error');
    assert.match(withModel.json.error.message, /model/);
    const noVersion = await post(claude('rawPredict'), { ...msg, anthropic_version: undefined }, auth);
    assert.equal(noVersion.status, 400);
    assert.match(noVersion.json.error.message, /anthropic_version/);
    const s = await post(claude('streamRawPredict'), { ...msg, stream: true }, auth);
    assert.equal(s.status, 200);
    const evs = sseEvents(s.text);
    assert.equal(evs[0].event, 'message_start');
    assert.equal(evs.at(-1).event, 'message_stop');
    assert.equal(evs.filter((e) => e.data.delta?.type === 'text_delta').map((e) => e.data.delta.text).join(''), 'mock reply to: Hello Claude');
    assert.equal(lastRec(mock).stream, true);
    const noAuth = await post(claude('rawPredict'), msg);
    assert.equal(noAuth.status, 401);
    assert.equal(noAuth.json.error.status, 'UNAUTHENTICATED');
  });

  test('tokenTtlSeconds: expires_in and expiry follow the option', async () => {
    const m2 = await startMockGemini({ tokenTtlSeconds: 2 });
    try {
      const sa = m2.makeServiceAccount();
      const now = Math.floor(Date.now() / 1000);
      const r = await fetch(m2.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: JWT_GRANT, assertion: signJwt({ alg: 'RS256', kid: sa.private_key_id }, { iss: sa.client_email, scope: CLOUD_PLATFORM_SCOPE, aud: sa.token_uri, iat: now, exp: now + 3600 }, sa.private_key) }),
      }).then((x) => x.json());
      assert.equal(r.expires_in, 2);
      assert.equal(m2.tokensIssued.length, 1);
      assert.equal(m2.tokensIssued[0].kid, sa.private_key_id);
      assert.ok(m2.tokensIssued[0].expiresAt - m2.tokensIssued[0].issuedAt === 2000);
    } finally {
      await m2.close();
    }
  });
});
