// Regenerates the seed files of tests/fuzz/corpus/<target>/ from the translator golden cases
// (tests/dataplane/translate/golden/), the event-stream test vector of the wire reference and
// a few hand-written HTTP requests as the official SDKs send them.
//
//   node tests/fuzz/make_corpus.mjs      (Node.js 20.15+ for zlib.crc32)
//
// Only files named seed-* are replaced; regression inputs (regress-*, added by hand when a
// fuzzer found a bug) are kept. The input layouts are described at the top of each
// tests/fuzz/*_fuzz.cc and in tests/fuzz/translate_driver.h.
import { crc32 } from 'node:zlib';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const golden = path.join(here, '..', 'dataplane', 'translate', 'golden');
const corpus = path.join(here, 'corpus');

const written = new Map();  // target -> Set of names
function reset(target) {
  const dir = path.join(corpus, target);
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) if (f.startsWith('seed-')) fs.rmSync(path.join(dir, f));
  written.set(target, new Set());
}
function put(target, name, bytes) {
  if (!written.has(target)) reset(target);
  const file = `seed-${name}`;
  if (written.get(target).has(file)) throw new Error(`duplicate seed ${target}/${file}`);
  written.get(target).add(file);
  fs.writeFileSync(path.join(corpus, target, file), bytes);
}

const read = (dir, f) => {
  const p = path.join(golden, dir, f);
  return fs.existsSync(p) ? fs.readFileSync(p) : null;
};
// JSON files are minified: smaller seeds, faster fuzzing (whitespace is the fuzzer's to add).
const readJson = (dir, f) => {
  const b = read(dir, f);
  return b === null ? null : Buffer.from(JSON.stringify(JSON.parse(b.toString('utf8'))));
};
const cases = (family) => fs.readdirSync(path.join(golden, family)).sort();

// ---- translators (layout: translate_driver.h) --------------------------------------------
const kStatuses = [400, 401, 403, 404, 408, 409, 413, 422, 429, 500, 502, 503, 504, 529, 418, 599];
function translatorInput(setup, mode, { pathStream = false, status = 0, beta = false, seed = 0 },
                         request, upstream) {
  let flags = mode;
  if (pathStream) flags |= 4;
  if (status) {
    const i = kStatuses.indexOf(status);
    flags |= (i < 0 ? 0 : i) << 3;
  }
  if (beta) flags |= 0x80;
  const parts = [Buffer.from([setup, flags, seed]), request];
  if (upstream !== null && upstream !== undefined) parts.push(Buffer.from([0]), upstream);
  return Buffer.concat(parts);
}

// Every golden case of `family` as inputs for `target`'s setup (vertex cases: vertexSetup).
function fromGolden(target, family, setup, vertexSetup, opts = {}) {
  for (const c of cases(family)) {
    const dir = path.join(family, c);
    const request = readJson(dir, 'request.json');
    if (!request) continue;
    const meta = JSON.parse((read(dir, 'meta.json') ?? '{}').toString());
    const s = c.startsWith('vertex') ? vertexSetup : setup;
    const o = { pathStream: !!meta.stream, beta: !!meta.anthropic_beta, ...opts };
    const name = `${family}-${c}`;
    let any = false;
    const response = read(dir, 'upstream_response.json');
    if (response) {
      put(target, `${name}-response`, translatorInput(s, 1, o, request, response));
      any = true;
    }
    const stream = read(dir, 'upstream_stream.txt');
    if (stream) {
      put(target, `${name}-stream`, translatorInput(s, 2, { ...o, seed: 7 }, request, stream));
      any = true;
    }
    const error = read(dir, 'upstream_error.json');
    if (error) {
      const e = JSON.parse(error.toString());
      const body = Buffer.from(typeof e.body === 'string' ? e.body : JSON.stringify(e.body));
      put(target, `${name}-error`, translatorInput(s, 3, { ...o, status: e.status }, request, body));
      any = true;
    }
    if (!any) put(target, `${name}-request`, translatorInput(s, 0, o, request, null));
  }
}

// OpenAI-shaped upstream bodies and streams (the fronts' golden cases talk to OpenAI).
function openAIUpstreams() {
  const out = [];
  for (const family of ['anthropic_front', 'gemini_front'])
    for (const c of cases(family)) {
      const r = read(path.join(family, c), 'upstream_response.json');
      if (r) out.push({ name: `${family}-${c}`, mode: 1, bytes: r });
      const s = read(path.join(family, c), 'upstream_stream.txt');
      if (s) out.push({ name: `${family}-${c}`, mode: 2, bytes: s });
    }
  return out;
}

reset('translate_openai_anthropic');
fromGolden('translate_openai_anthropic', 'openai_to_anthropic', 0, 1);

reset('translate_openai_gemini');
fromGolden('translate_openai_gemini', 'openai_to_gemini', 0, 1);

reset('translate_anthropic_front');
fromGolden('translate_anthropic_front', 'anthropic_front', 0, 0);
fromGolden('translate_anthropic_front', 'anthropic_passthrough', 3, 4);
// The same Anthropic requests in front of Gemini (setups 1 and 2), with Gemini upstreams.
for (const c of ['text', 'tool_round_trip']) {
  const request = readJson(path.join('anthropic_front', c), 'request.json');
  put('translate_anthropic_front', `to-gemini-${c}-response`,
      translatorInput(1, 1, {}, request, read(path.join('openai_to_gemini', 'tools'), 'upstream_response.json')));
  put('translate_anthropic_front', `to-vertex-gemini-${c}-stream`,
      translatorInput(2, 2, { seed: 3 }, request,
                      read(path.join('openai_to_gemini', 'tools_parallel_stream'), 'upstream_stream.txt')));
}

reset('translate_gemini_front');
fromGolden('translate_gemini_front', 'gemini_front', 0, 0);
fromGolden('translate_gemini_front', 'gemini_passthrough', 3, 4);
for (const c of ['text', 'tools']) {
  const request = readJson(path.join('gemini_front', c), 'request.json');
  put('translate_gemini_front', `to-anthropic-${c}-response`,
      translatorInput(1, 1, {}, request, read(path.join('openai_to_anthropic', 'tools'), 'upstream_response.json')));
  put('translate_gemini_front', `to-vertex-anthropic-${c}-stream`,
      translatorInput(2, 2, { pathStream: true, seed: 5 }, request,
                      read(path.join('openai_to_anthropic', 'tools_parallel_stream'), 'upstream_stream.txt')));
}

// OpenAI-compatible: the OpenAI chat requests with OpenAI upstream bodies and streams, and
// completions / embeddings.
reset('translate_openai_compat');
{
  const requests = ['text', 'text_stream', 'tools', 'include_usage', 'images', 'tool_round_trip']
    .map((c) => ({ c, body: readJson(path.join('openai_to_anthropic', c), 'request.json') }));
  const ups = openAIUpstreams();
  ups.forEach((u, i) => {
    const r = requests[i % requests.length];
    put('translate_openai_compat', `chat-${r.c}-${u.name}-${u.mode === 1 ? 'response' : 'stream'}`,
        translatorInput(0, u.mode, { seed: i }, r.body, u.bytes));
  });
  for (const r of requests)
    put('translate_openai_compat', `chat-${r.c}-error`,
        translatorInput(0, 3, { status: 429 }, r.body,
                        readJson(path.join('openai_to_anthropic', 'upstream_rate_limited'), 'upstream_error.json')));
  const completion = Buffer.from(JSON.stringify({ model: 'openai/gpt-3.5-turbo-instruct', prompt: 'Say hi', max_tokens: 5, stream: true, stream_options: { include_usage: false } }));
  put('translate_openai_compat', 'completions-stream',
      translatorInput(1, 2, {}, completion, Buffer.from(
        'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"gpt-3.5-turbo-instruct","choices":[{"text":"Hi","index":0,"logprobs":null,"finish_reason":null}]}\n\n' +
        'data: {"id":"cmpl-1","object":"text_completion","created":1,"model":"gpt-3.5-turbo-instruct","choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1,"total_tokens":3}}\n\n' +
        'data: [DONE]\n\n')));
  const embeddings = Buffer.from(JSON.stringify({ model: 'openai/text-embedding-3-small', input: ['a', 'b'], encoding_format: 'float' }));
  put('translate_openai_compat', 'embeddings-response',
      translatorInput(2, 1, {}, embeddings, Buffer.from(JSON.stringify({
        object: 'list', data: [{ object: 'embedding', index: 0, embedding: [0.1, -0.2] }],
        model: 'text-embedding-3-small', usage: { prompt_tokens: 2, total_tokens: 2 } }))));
}

reset('translate_count_tokens');
{
  const bodies = ['text', 'tool_round_trip', 'bad_no_max_tokens']
    .map((c) => ({ c, body: readJson(path.join('anthropic_front', c), 'request.json') }));
  for (const { c, body } of bodies) {
    put('translate_count_tokens', `anthropic-${c}`, translatorInput(0, 1, { beta: true }, body, Buffer.from('{"input_tokens":14}')));
    put('translate_count_tokens', `vertex-anthropic-${c}`, translatorInput(1, 1, {}, body, Buffer.from('{"input_tokens":14}')));
    put('translate_count_tokens', `gemini-${c}`, translatorInput(2, 1, {}, body, Buffer.from('{"totalTokens":14,"promptTokensDetails":[{"modality":"TEXT","tokenCount":14}]}')));
    put('translate_count_tokens', `vertex-gemini-${c}`, translatorInput(3, 1, {}, body, Buffer.from('{"totalTokens":14,"totalBillableCharacters":40}')));
  }
  put('translate_count_tokens', 'gemini-error', translatorInput(2, 3, { status: 429 }, bodies[0].body,
      readJson(path.join('gemini_passthrough', 'error_429'), 'upstream_error.json')));
}

// ---- JSON request bodies (json_request_fuzz.cc) ------------------------------------------
reset('json_request');
{
  const seen = new Set();
  for (const family of fs.readdirSync(golden).sort())
    for (const c of cases(family)) {
      const b = read(path.join(family, c), 'request.json');
      if (!b) continue;
      const key = b.toString();
      if (seen.has(key) || seen.size >= 30) continue;
      seen.add(key);
      put('json_request', `${family}-${c}`, b);  // as written: whitespace included
    }
  put('json_request', 'escapes', Buffer.from('{"mod\\u0065l":"a/b","messages":[{"role":"user","content":"\\ud83d\\ude00 \\"\\\\\\/\\b\\f\\n\\r\\t"}],"messages":[]}'));
  put('json_request', 'numbers', Buffer.from('{"model":"a/b","n":-0.5e+10,"t":0,"x":[1E3,-0,1.25,12345678901234567890]}'));
  put('json_request', 'deep', Buffer.from('{"a":' + '['.repeat(63) + ']'.repeat(63) + '}'));
  put('json_request', 'too-deep', Buffer.from('['.repeat(65) + ']'.repeat(65)));
  put('json_request', 'utf8', Buffer.from('{"contents":[{"parts":[{"text":"h\u00e9llo \u4e16\u754c \ud83d\ude00"}]}],"model":"x/y"}'));
  put('json_request', 'not-object', Buffer.from('[{"model":"a/b"}, null, true, false, "s"]'));
}

// ---- SSE streams (sse_fuzz.cc: seed byte, then the stream) --------------------------------
reset('sse');
{
  let i = 0;
  for (const family of fs.readdirSync(golden).sort())
    for (const c of cases(family))
      for (const f of ['upstream_stream.txt', 'stream.txt']) {
        const b = read(path.join(family, c), f);
        if (!b || i >= 30) continue;
        put('sse', `${family}-${c}-${f.replace('.txt', '')}`, Buffer.concat([Buffer.from([i++ * 37 % 256]), b]));
      }
  put('sse', 'line-ends', Buffer.from('\x05: comment\r\nevent: a\rdata: 1\r\ndata:2\n\r\nid: 7\nretry: 10\ndata\n\nevent:\n\ndata: x'));
  put('sse', 'openrouter', Buffer.from('\x00: OPENROUTER PROCESSING\n\ndata: {"choices":[]}\n\ndata: [DONE]\n\n'));
}

// ---- AWS event-stream (eventstream_fuzz.cc) -----------------------------------------------
function be(n, v) {
  const b = Buffer.alloc(n);
  if (n === 8) b.writeBigInt64BE(BigInt(v)); else b.writeIntBE(v, 0, n);
  return b;
}
function header(name, type, value) {
  const n = Buffer.from(name);
  let v;
  switch (type) {
    case 0: case 1: v = Buffer.alloc(0); break;
    case 2: v = be(1, value); break;
    case 3: v = be(2, value); break;
    case 4: v = be(4, value); break;
    case 5: case 8: v = be(8, value); break;
    case 6: case 7: { const d = Buffer.from(value); v = Buffer.concat([be(2, d.length), d]); break; }
    case 9: v = Buffer.from(value); break;
  }
  return Buffer.concat([Buffer.from([n.length]), n, Buffer.from([type]), v]);
}
function frame(headers, payload) {
  const h = Buffer.concat(headers);
  const p = Buffer.from(payload);
  const prelude = Buffer.concat([be(4, 16 + h.length + p.length), be(4, h.length)]);
  const withCrc = Buffer.concat([prelude, be(4, crc32(prelude) | 0), h, p]);
  return Buffer.concat([withCrc, be(4, crc32(withCrc) | 0)]);
}
const event = (type, payload) => frame([header(':event-type', 7, type), header(':content-type', 7, 'application/json'), header(':message-type', 7, 'event')], JSON.stringify({ ...payload, p: 'abcdefgh' }));
reset('eventstream');
{
  const vector = Buffer.from('0000009f00000057c37babff0b3a6576656e742d74797065070011636f6e74656e74426c6f636b44656c74610d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576656e747b22636f6e74656e74426c6f636b496e646578223a302c2264656c7461223a7b2274657874223a224869227d2c2270223a2261626364227df2ace5ff', 'hex');
  put('eventstream', 'wire-md-vector', Buffer.concat([Buffer.from([0]), vector]));
  put('eventstream', 'wire-md-vector-fixcrc', Buffer.concat([Buffer.from([0x80 | 9]), vector]));
  const conversation = Buffer.concat([
    event('messageStart', { role: 'assistant' }),
    event('contentBlockStart', { contentBlockIndex: 0, start: { toolUse: { toolUseId: 't1', name: 'get_weather' } } }),
    event('contentBlockDelta', { contentBlockIndex: 0, delta: { toolUse: { input: '{"city":' } } }),
    event('contentBlockDelta', { contentBlockIndex: 1, delta: { reasoningContent: { text: 'hmm' } } }),
    event('contentBlockStop', { contentBlockIndex: 0 }),
    event('messageStop', { stopReason: 'tool_use' }),
    event('metadata', { usage: { inputTokens: 12, outputTokens: 5, totalTokens: 17 }, metrics: { latencyMs: 100 } }),
  ]);
  put('eventstream', 'converse-stream', Buffer.concat([Buffer.from([3]), conversation]));
  put('eventstream', 'converse-stream-fixcrc', Buffer.concat([Buffer.from([0x80 | 40]), conversation]));
  const exception = frame([header(':exception-type', 7, 'throttlingException'), header(':content-type', 7, 'application/json'), header(':message-type', 7, 'exception')], '{"message":"Too many requests, please wait before trying again."}');
  put('eventstream', 'exception', Buffer.concat([Buffer.from([1]), event('messageStart', { role: 'assistant' }), exception]));
  const allTypes = frame([
    header('t', 0), header('f', 1), header('b', 2, -2), header('s', 3, -300), header('i', 4, -70000),
    header('l', 5, -5000000000), header('bytes', 6, '\x00\xff'), header('str', 7, 'h\u00e9llo'),
    header('ts', 8, 1700000000123), header('uuid', 9, '0123456789abcdef')], '');
  put('eventstream', 'all-header-types', Buffer.concat([Buffer.from([0x80 | 2]), allTypes, frame([], '')]));
  put('eventstream', 'truncated', Buffer.concat([Buffer.from([0]), conversation.subarray(0, conversation.length - 7)]));
}

// ---- HTTP requests (http_request_fuzz.cc: flags byte, then the bytes) ----------------------
reset('http_request');
{
  const req = (flags, lines, body = '') =>
    Buffer.concat([Buffer.from([flags]), Buffer.from(lines.join('\r\n') + '\r\n\r\n' + body)]);
  const chat = JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'Hi' }], stream: true });
  put('http_request', 'openai-sdk', req(0x10, [
    'POST /v1/chat/completions HTTP/1.1', 'Host: localhost:8080', 'Accept: application/json',
    'Content-Type: application/json', 'User-Agent: OpenAI/JS 4.104.0', 'X-Stainless-Lang: js',
    'X-Stainless-Package-Version: 4.104.0', 'X-Stainless-OS: Linux', 'X-Stainless-Arch: x64',
    'X-Stainless-Runtime: node', 'X-Stainless-Runtime-Version: v20.19.2', 'X-Stainless-Retry-Count: 0',
    'X-Stainless-Timeout: 600', 'Authorization: Bearer sk-fo-0123456789abcdef', `Content-Length: ${chat.length}`], chat));
  const msgs = JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hi' }] });
  put('http_request', 'anthropic-sdk', req(0x25, [
    'POST /anthropic/v1/messages HTTP/1.1', 'Host: gw', 'anthropic-version: 2023-06-01',
    'anthropic-beta: prompt-caching-2024-07-31', 'x-api-key: sk-fo-key', 'content-type: application/json',
    'x-stainless-helper-method: stream', 'anthropic-dangerous-direct-browser-access: true',
    'Origin: http://localhost:5173', `content-length: ${msgs.length}`], msgs));
  const gen = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'Hi' }] }] });
  put('http_request', 'genai-sdk', req(0x39, [
    'POST /genai/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse&key=sk-fo-q HTTP/1.1',
    'Host: gw', 'x-goog-api-key: sk-fo-goog', 'x-goog-api-client: google-genai-sdk/1.9.0 gl-node/v20.19.2',
    'Content-Type: application/json', 'Transfer-Encoding: chunked'],
    `${gen.length.toString(16)}\r\n${gen}\r\n0\r\n\r\n`));
  put('http_request', 'preflight-allowed', req(0x41, [
    'OPTIONS /v1/chat/completions HTTP/1.1', 'Host: gw', 'Origin: https://app.example.com',
    'Access-Control-Request-Method: POST',
    'Access-Control-Request-Headers: authorization, content-type, x-stainless-timeout, x-stainless-os']));
  put('http_request', 'preflight-refused', req(0x52, [
    'OPTIONS /v1/models HTTP/1.1', 'Host: gw', 'Origin: https://evil.example.net',
    'Access-Control-Request-Method: PUT', 'Access-Control-Request-Headers: x-secret, cookie']));
  put('http_request', 'preflight-subdomain', req(0x62, [
    'OPTIONS /genai/v1/models/gemini-2.5-pro:generateContent HTTP/1.1', 'Host: gw',
    'Origin: https://a.b.example.org:8443', 'Access-Control-Request-Method: POST',
    'Access-Control-Request-Headers: x-goog-api-key,content-type']));
  put('http_request', 'forward-headers', req(0x04, [
    'POST /openai/v1/embeddings HTTP/1.1', 'Host: gw', 'Authorization: bearer  sk-fo-x',
    'X-Custom: 1', 'x-bf-eh-x-trace-id: abc', 'x-bf-eh-authorization: Bearer stolen', 'x-bf-vk: sk-fo-vk',
    'Connection: keep-alive, x-custom', 'OpenAI-Organization: org-1', 'Cookie: a=b', 'TE: trailers',
    'Content-Length: 2'], '{}'));
  put('http_request', 'forward-extra', req(0x08, [
    'POST /v1/completions HTTP/1.1', 'Host: gw', 'x-bf-eh-x-trace-id: abc', 'x-bf-eh-helicone-auth: k',
    'x-bf-eh-host: evil', 'x-bf-eh-x-bf-vk: k', 'openai-beta: assistants=v2', 'Content-Length: 0']));
  put('http_request', 'get-model', req(0x00, ['GET /v1/models/openai%2Fgpt-4o?x=1 HTTP/1.1', 'Host: gw', 'x-bf-vk: k']));
  put('http_request', 'pipelined', Buffer.concat([req(0x13, ['GET /healthz HTTP/1.1', 'Host: gw']),
    Buffer.from('GET /readyz HTTP/1.1\r\nHost: gw\r\n\r\n')]));
  put('http_request', 'expect-continue', req(0x20, [
    'POST /anthropic/v1/messages/count_tokens/ HTTP/1.1', 'Host: gw', 'Expect: 100-continue',
    'Content-Length: 5'], 'hello'));
  put('http_request', 'http10', req(0x00, ['GET /metrics HTTP/1.0']));
  put('http_request', 'huge-content-length', req(0x00, ['POST /v1/chat/completions HTTP/1.1', 'Host: gw', 'Content-Length: 99999999999']));
}

for (const [t, names] of written) console.log(`${t}: ${names.size} seeds`);
