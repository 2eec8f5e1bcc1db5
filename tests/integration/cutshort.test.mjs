// A request cut short is still charged: a client that goes away mid-stream leaves a usage
// record marked estimated, with the prompt and the content streamed so far priced.
//
//   cd tests/integration && npm ci && node --test cutshort.test.mjs
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';

import { startMockOpenAI } from '../fixtures/mock_openai.mjs';
import { FinopsEnv, binariesPresent, BIN_DIR, logged, pollUntil } from './helpers.mjs';

describe('requests cut short', { timeout: 60000 }, () => {
  let env;
  let mock;
  let dp;
  const T = (name, fn) => test(name, { timeout: 30000 }, logged(() => env, fn));

  before(async () => {
    if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR}`);
    env = new FinopsEnv('cutshort');
    mock = await startMockOpenAI();
    await env.startControlPlane();
    await env.ctlOk(['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '-o', 'json']);
    await env.ctlOk(['prices', 'set', 'openai/gpt-slow-3s', '--input-price', '1', '--output-price', '2', '-o', 'json']);
    dp = await env.startDataPlane({ nodeId: 'it-cut' });
  });
  after(async () => {
    if (env) await env.cleanup();
    if (mock) await mock.close();
  });

  T('a client that disconnects mid-stream is charged an estimate', async () => {
    const k = await env.ctlOk(['keys', 'create', '--name', 'cut', '--budget', '10/1d', '-o', 'json']);
    const client = new OpenAI({ baseURL: `${dp.url}/v1`, apiKey: k.json.key, maxRetries: 0 });
    const controller = new AbortController();
    const stream = await client.chat.completions.create(
      { model: 'openai/gpt-slow-3s', messages: [{ role: 'user', content: 'tell me a long story' }], stream: true },
      { signal: controller.signal },
    );
    let chunks = 0;
    try {
      for await (const c of stream) {
        if (c.choices[0]?.delta?.content) chunks++;
        if (chunks >= 2) controller.abort();
      }
    } catch (e) {
      assert.ok(controller.signal.aborted, `unexpected stream error: ${e}`);
    }
    assert.ok(chunks >= 2, `got ${chunks} content chunks before aborting`);
    let row;
    await pollUntil(async () => {
      const u = await env.ctl(['usage', '--key', 'cut', '-o', 'json']);
      row = u.json?.total;
      return row?.requests === 1;
    }, { timeoutMs: 8000, what: 'the cut request to be recorded' });
    assert.equal(row.estimated_requests, 1, JSON.stringify(row));
    assert.ok(row.prompt_tokens > 0, JSON.stringify(row));
    assert.ok(row.completion_tokens >= 2, JSON.stringify(row));
    assert.equal(row.cost_nano, row.prompt_tokens * 1000 + row.completion_tokens * 2000, JSON.stringify(row));
    // And the budget saw it.
    const b = await env.ctl(['budgets', 'list', '--key', 'cut', '-o', 'json']);
    assert.equal(b.json[0].used_nano, row.cost_nano);
  });

  T('an upstream that answers with an error is not charged', async () => {
    const k = await env.ctlOk(['keys', 'create', '--name', 'err', '-o', 'json']);
    const client = new OpenAI({ baseURL: `${dp.url}/v1`, apiKey: k.json.key, maxRetries: 0 });
    const err = await client.chat.completions.create({ model: 'openai/error-500-text', messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    assert.equal(err.status, 500);
    let row;
    await pollUntil(async () => {
      const u = await env.ctl(['usage', '--key', 'err', '-o', 'json']);
      row = u.json?.total;
      return row?.requests === 1;
    }, { timeoutMs: 8000, what: 'the failed request to be recorded' });
    assert.equal(row.cost_nano, 0);
    assert.equal(row.failed_requests, 1);
    assert.equal(row.estimated_requests, 0);
  });
});
