// Whole-process test of the /logs page (issue 6) in headless Chromium (playwright-core driving
// Debian's chromium): real control plane, real data plane, the mock OpenAI upstream, traffic
// sent with the real openai SDK. The page is signed in to with a `read` admin token; rows are
// filtered by model and status, content is searched, one request is opened (its conversation
// and the reply are shown), older rows come with "load more", a new request appears live.
// A `keys:write` token gets "lacks the read scope"; the JSON API's errors are checked raw.
// Every request the page makes must go to the data plane's own origin (works offline).
// A screenshot is saved to tests/integration/artifacts/logs-page.png.
//
//   cd tests/integration && npm ci && node --test --test-concurrency=1 logs_ui.test.mjs
//
// Needs Chromium (Debian: apt-get install chromium; or set FINOPS_CHROMIUM to its path). A
// missing browser fails the test: nothing is skipped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { chromium } from 'playwright-core';

import { startMockOpenAI, mockReplyText } from '../fixtures/mock_openai.mjs';
import { BIN_DIR, binariesPresent, FinopsEnv, pollUntil, rawRequest, showCtl, assertCode, assertErrorShape, sleep } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = path.join(here, 'artifacts');
const SCREENSHOT = path.join(ARTIFACTS, 'logs-page.png');
const CHROMIUM = process.env.FINOPS_CHROMIUM || '/usr/bin/chromium';
const log = (...a) => console.log('[logs-ui]', ...a);

const MINI = 'openai/gpt-4o-mini';
const BIG = 'openai/gpt-4o';
const BULK = 'openai/bulk-model';
const LIMITED = 'openai/gpt-error-429'; // the mock answers 429 rate_limit_exceeded
const BULK_COUNT = 52; // more than one page (50)
const PHRASE_WORDS = 'ultraviolet marmalade';
const CONVERSATION = [
  { role: 'system', content: 'You are a terse assistant for the observatory.' },
  { role: 'user', content: 'Hello there.' },
  { role: 'assistant', content: 'Hi. What do you need?' },
  { role: 'user', content: `Describe the ${PHRASE_WORDS} telescope in one line.` },
];

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

/** A non-streamed chat completion with the SDK; returns {requestId, text}. */
async function chat(client, model, messages) {
  const { data, response } = await client.chat.completions.create({ model, messages }).withResponse();
  return { requestId: response.headers.get('x-request-id'), text: data.choices[0].message.content };
}

/** A streamed chat completion with the SDK; returns {requestId, text, chunks}. */
async function chatStream(client, model, messages) {
  const { data, response } = await client.chat.completions.create({ model, messages, stream: true }).withResponse();
  let text = '';
  let chunks = 0;
  for await (const chunk of data) {
    chunks += 1;
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  return { requestId: response.headers.get('x-request-id'), text, chunks };
}

/** GET /logs/api/... on the data plane with an admin token (raw HTTP). */
function logsApi(dpUrl, p, token) {
  return rawRequest(dpUrl, { path: p, headers: token ? { authorization: `Bearer ${token}` } : {} });
}

/** The rows in the page's table, top to bottom. */
function rows(page) {
  return page.$$eval('[data-testid="log-row"]', (trs) =>
    trs.map((tr) => ({
      id: tr.getAttribute('data-request-id'),
      model: tr.getAttribute('data-model'),
      status: Number(tr.getAttribute('data-status')),
      streamed: tr.querySelector('[data-testid="streamed"]') !== null,
      text: tr.textContent,
    })),
  );
}

/** Polls the table until `pred(rows)` holds; returns the rows. */
async function waitRows(page, pred, what, timeoutMs = 15000) {
  let last = [];
  await pollUntil(
    async () => {
      last = await rows(page);
      return pred(last);
    },
    { timeoutMs, intervalMs: 100, what },
  ).catch((e) => {
    throw new Error(`${e.message}; ${last.length} rows: ${JSON.stringify(last.map((r) => [r.id, r.model, r.status])).slice(0, 1500)}`);
  });
  return last;
}

/** Waits until the sign-in error shows text matching `re`; returns the text. */
async function waitSignInError(page, re, timeoutMs = 10000) {
  let text = '';
  await pollUntil(
    async () => {
      text = await page.$eval('[data-testid="sign-in-error"]', (e) => (e.hidden ? '' : e.textContent));
      return re.test(text);
    },
    { timeoutMs, intervalMs: 100, what: `a sign-in error matching ${re}` },
  ).catch((e) => {
    throw new Error(`${e.message}; shown: ${JSON.stringify(text)}`);
  });
  return text;
}

/** Sets the filter inputs and clicks Apply. */
async function applyFilters(page, { provider = '', model = '', key = '', search = '' } = {}) {
  await page.getByTestId('filter-provider').fill(provider);
  await page.getByTestId('filter-model').fill(model);
  await page.getByTestId('filter-key').fill(key);
  await page.getByTestId('search').fill(search);
  await page.getByTestId('apply').click();
}

// =================================================================================================
test('the /logs page: sign in, filter, search, open a request, load more, live', { timeout: 240000 }, async (t) => {
  if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM} (apt-get install chromium, or set FINOPS_CHROMIUM)`);
  const env = new FinopsEnv('logsui');
  const mock = await startMockOpenAI();
  let browser = null;
  try {
    await env.startControlPlane();
    await ctlJson(env, ['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '--api-key-env', 'PROVIDER_KEY'], { env: { PROVIDER_KEY: 'sk-mock-logsui' } });
    const dp = await env.startDataPlane({ nodeId: 'it-logsui-1' });
    const key = await ctlJson(env, ['keys', 'create', '--name', 'ui-app']);
    assert.match(key.key ?? '', /^sk-fo-/, JSON.stringify(key));
    await waitAcked(env, dp.nodeId);
    const origin = new URL(dp.url).origin;
    const client = new OpenAI({ baseURL: `${dp.url}/v1`, apiKey: key.key, maxRetries: 0, timeout: 15000 });
    // A subtest that prints the processes' logs when it fails.
    const step = (name, fn) =>
      t.test(name, async (st) => {
        try {
          await fn(st);
        } catch (err) {
          env.dumpLogs(`${t.name} > ${name}`);
          throw err;
        }
      });

    // ---- traffic: a page and a bit of bulk first (oldest), then the interesting requests.
    for (let i = 0; i < BULK_COUNT; i += 8) {
      await Promise.all(
        Array.from({ length: Math.min(8, BULK_COUNT - i) }, (_, k) => chat(client, BULK, [{ role: 'user', content: `bulk request ${i + k}` }])),
      );
    }
    const mini1 = await chat(client, MINI, [{ role: 'user', content: 'first small question' }]);
    const mini2 = await chat(client, MINI, [{ role: 'user', content: 'second small question' }]);
    const streamed = await chatStream(client, MINI, [{ role: 'user', content: 'stream this answer' }]);
    assert.equal(streamed.text, mockReplyText({ messages: [{ role: 'user', content: 'stream this answer' }] }));
    assert.ok(streamed.chunks > 1, JSON.stringify(streamed));
    const phrase = await chat(client, BIG, CONVERSATION);
    const phraseReply = mockReplyText({ messages: CONVERSATION });
    assert.equal(phrase.text, phraseReply);
    let limitedId = null;
    try {
      await client.chat.completions.create({ model: LIMITED, messages: [{ role: 'user', content: 'too many' }] });
      assert.fail('the mock should have answered 429');
    } catch (e) {
      assert.equal(e.status, 429, String(e));
      limitedId = e.requestID;
    }
    const ids = { mini1: mini1.requestId, mini2: mini2.requestId, streamed: streamed.requestId, phrase: phrase.requestId, limited: limitedId };
    for (const [name, id] of Object.entries(ids)) assert.match(id ?? '', /^req_/, `${name}: ${id}`);
    log('traffic sent', JSON.stringify(ids));

    // ---- the records reach the control plane (the data plane ships them in batches).
    const everyId = Object.values(ids);
    let listed = null;
    await pollUntil(
      async () => {
        const r = await logsApi(dp.url, '/logs/api/logs?limit=1000', env.token);
        listed = r;
        if (r.status !== 200 || !r.json || !Array.isArray(r.json.entries)) return false;
        const have = new Set(r.json.entries.map((e) => e.request_id));
        return everyId.every((id) => have.has(id)) && r.json.entries.filter((e) => e.model === BULK).length === BULK_COUNT;
      },
      { timeoutMs: 20000, intervalMs: 200, what: 'every request in /logs/api/logs' },
    ).catch((e) => {
      throw new Error(`${e.message}; last: ${listed ? `${listed.status} ${listed.text.slice(0, 800)}` : 'none'}`);
    });
    const entries = listed.json.entries;
    assert.equal(entries.length, BULK_COUNT + 5, `only the traffic is logged (not /logs itself): ${entries.map((e) => e.route).join(' ')}`);
    for (let i = 1; i < entries.length; i++) {
      const [a, b] = [entries[i - 1], entries[i]];
      assert.ok(a.ts_ms > b.ts_ms || (a.ts_ms === b.ts_ms && a.id > b.id), `newest first: ${JSON.stringify([a.ts_ms, a.id, b.ts_ms, b.id])}`);
    }
    const phraseEntry = entries.find((e) => e.request_id === ids.phrase);
    assert.equal(phraseEntry.model, BIG);
    assert.equal(phraseEntry.key_name, 'ui-app');
    assert.equal(phraseEntry.status, 200);
    assert.equal(typeof phraseEntry.cost_usd, 'number');
    assert.equal(phraseEntry.request_content, undefined, 'no content in the list');
    assert.equal(entries.find((e) => e.request_id === ids.streamed).streamed, true);
    assert.equal(entries.find((e) => e.request_id === ids.limited).status, 429);

    // ---- the API's errors, raw.
    await step('API: no token 401, wrong token 401, bad parameter 400, same-origin only', async () => {
      const none = await logsApi(dp.url, '/logs/api/logs');
      assertErrorShape(none, 401, { code: 'invalid_admin_token' });
      const wrong = await logsApi(dp.url, '/logs/api/logs', 'not-a-token');
      assertErrorShape(wrong, 401, { code: 'invalid_admin_token' });
      const bad = await logsApi(dp.url, '/logs/api/logs?limit=abc', env.token);
      const e = assertErrorShape(bad, 400);
      assert.equal(e.param, 'limit', JSON.stringify(e));
      const since = await logsApi(dp.url, '/logs/api/logs?since=last-tuesday', env.token);
      assert.equal(assertErrorShape(since, 400).param, 'since');
      const one = await logsApi(dp.url, `/logs/api/logs/${ids.phrase}`, env.token);
      assert.equal(one.status, 200, one.text.slice(0, 500));
      assert.ok(one.json.request_content.includes(PHRASE_WORDS), one.text.slice(0, 500));
      assert.ok(one.json.response_content.includes(phraseReply), one.text.slice(0, 500));
      const missing = await logsApi(dp.url, '/logs/api/logs/req_doesnotexist', env.token);
      assertErrorShape(missing, 404, { code: 'not_found' });
      // A cross-origin page cannot use the API: no CORS, preflights refused.
      const preflight = await rawRequest(dp.url, {
        method: 'OPTIONS',
        path: '/logs/api/logs',
        headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
      });
      assert.equal(preflight.status, 405);
      assert.equal(preflight.headers['access-control-allow-origin'], undefined);
      const html = await rawRequest(dp.url, { path: '/logs' });
      assert.equal(html.status, 200);
      assert.match(String(html.headers['content-type']), /^text\/html/);
      assert.match(String(html.headers['content-security-policy']), /default-src 'self'/);
      assert.match(String(html.headers['content-security-policy']), /frame-ancestors 'none'/);
      assert.equal(html.headers['x-content-type-options'], 'nosniff');
    });

    // ---- tokens for the page.
    const reader = await ctlJson(env, ['tokens', 'create', '--name', 'logs-viewer', '--scope', 'read']);
    const writer = await ctlJson(env, ['tokens', 'create', '--name', 'ci-writer', '--scope', 'keys:write']);
    assert.ok(reader.secret && writer.secret, JSON.stringify({ reader: Object.keys(reader), writer: Object.keys(writer) }));
    const denied = await logsApi(dp.url, '/logs/api/logs', writer.secret);
    assertErrorShape(denied, 403, { code: 'insufficient_scope' });

    // ---- the browser.
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-proxy-server'] });
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    const requested = [];
    context.on('request', (r) => requested.push(r.url()));
    const page = await context.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const consoleErrors = [];
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });

    await step('sign-in: a wrong token is refused, a read token is accepted', async () => {
      await page.goto(`${dp.url}/logs`);
      await page.getByTestId('token-input').waitFor({ state: 'visible', timeout: 10000 });
      await page.getByTestId('token-input').fill('definitely-not-a-token');
      await page.getByTestId('sign-in').click();
      const text = await waitSignInError(page, /not accepted/);
      assert.match(text, /invalid or revoked/i, text);
      assert.equal(await page.getByTestId('app').isHidden(), true);
      await page.getByTestId('token-input').fill(reader.secret);
      await page.getByTestId('sign-in').click();
      await page.getByTestId('log-table').waitFor({ state: 'visible', timeout: 10000 });
      assert.match(await page.getByTestId('who').textContent(), /logs-viewer.*read/);
      const stored = await page.evaluate(() => Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)));
      assert.ok(stored.includes(reader.secret), 'the token is kept in sessionStorage');
      const local = await page.evaluate(() => Object.keys(localStorage).length);
      assert.equal(local, 0, 'nothing in localStorage');
    });

    await step('the table: newest first, one page, fields shown', async () => {
      const all = await waitRows(page, (rs) => rs.length === 50, 'the first page of 50 rows');
      // The API's order (checked above: newest first), page for page.
      assert.deepEqual(
        all.map((r) => r.id),
        entries.slice(0, 50).map((e) => e.request_id),
        'newest first, as the control plane lists them',
      );
      assert.deepEqual(new Set(all.slice(0, 5).map((r) => r.id)), new Set(everyId), 'the five latest requests on top');
      assert.equal(all.find((r) => r.id === ids.streamed).streamed, true, 'the streamed mark');
      assert.equal(all.find((r) => r.id === ids.mini1).streamed, false);
      const phraseRow = all.find((r) => r.id === ids.phrase);
      assert.match(phraseRow.text, /gpt-4o/);
      assert.match(phraseRow.text, /ui-app/);
      assert.match(phraseRow.text, /200/);
      assert.equal(await page.getByTestId('load-more').isVisible(), true, 'more than one page: load more is offered');
    });

    await step('filter by model: only that model, reflected in the URL, kept on reload', async () => {
      await applyFilters(page, { model: MINI });
      const rs = await waitRows(page, (r) => r.length === 3 && r.every((x) => x.model === MINI), `3 rows of ${MINI}`);
      assert.deepEqual(new Set(rs.map((r) => r.id)), new Set([ids.mini1, ids.mini2, ids.streamed]));
      assert.equal(new URL(page.url()).searchParams.get('model'), MINI);
      assert.equal(await page.getByTestId('load-more').isVisible(), false);
      await page.reload();
      await waitRows(page, (r) => r.length === 3 && r.every((x) => x.model === MINI), 'the same 3 rows after a reload');
      assert.equal(await page.getByTestId('filter-model').inputValue(), MINI);
      assert.equal(await page.getByTestId('token-input').isVisible(), false, 'still signed in after a reload');
    });

    await step('filter by status: 4xx shows the 429', async () => {
      await applyFilters(page, {});
      await page.getByTestId('filter-status').selectOption('4xx');
      const rs = await waitRows(page, (r) => r.length === 1 && r[0].id === ids.limited, 'only the 429 row');
      assert.equal(rs[0].status, 429);
      assert.equal(new URL(page.url()).searchParams.get('status'), '4xx');
      await page.getByTestId('filter-status').selectOption('');
      await waitRows(page, (r) => r.length === 50, 'all rows again');
    });

    await step('search content: one row; open it: the conversation and the reply', async () => {
      await applyFilters(page, { search: PHRASE_WORDS });
      await waitRows(page, (r) => r.length === 1 && r[0].id === ids.phrase, 'the one row whose content has the phrase');
      assert.equal(new URL(page.url()).searchParams.get('search'), PHRASE_WORDS);
      await page.locator(`[data-testid="log-row"][data-request-id="${ids.phrase}"]`).click();
      const panel = page.getByTestId('detail-panel');
      await panel.waitFor({ state: 'visible', timeout: 5000 });
      const request = page.getByTestId('detail-request');
      await pollUntil(async () => (await request.textContent()).includes(PHRASE_WORDS), { timeoutMs: 5000, what: 'the phrase in the request' });
      const roles = await request.locator('[data-testid="message"]').evaluateAll((ms) => ms.map((m) => m.getAttribute('data-role')));
      assert.deepEqual(roles, ['system', 'user', 'assistant', 'user'], 'the request rendered as a conversation');
      const requestText = await request.textContent();
      assert.ok(requestText.includes('You are a terse assistant for the observatory.'), requestText);
      assert.ok(requestText.includes('Hi. What do you need?'), requestText);
      const responseText = await page.getByTestId('detail-response').textContent();
      assert.ok(responseText.includes(phraseReply), `response panel: ${responseText}`);
      const panelText = await panel.textContent();
      assert.ok(panelText.includes(ids.phrase), 'the request id is shown');
      assert.ok(panelText.includes('ui-app'), 'the key is shown');
      assert.equal(new URL(page.url()).searchParams.get('open') !== null, true, 'the open request is in the URL');
      await page.keyboard.press('Escape');
      await panel.waitFor({ state: 'hidden', timeout: 5000 });
    });

    await step('load more: the next page with the cursor', async () => {
      await applyFilters(page, { model: BULK });
      await waitRows(page, (r) => r.length === 50 && r.every((x) => x.model === BULK), `the first 50 rows of ${BULK}`);
      await page.getByTestId('load-more').click();
      const rs = await waitRows(page, (r) => r.length === BULK_COUNT, `all ${BULK_COUNT} rows of ${BULK}`);
      assert.equal(new Set(rs.map((r) => r.id)).size, BULK_COUNT, 'no row twice');
      await page.getByTestId('load-more').waitFor({ state: 'hidden', timeout: 5000 });
    });

    await step('live: a new request appears on top; not while Live is off', async () => {
      await page.getByTestId('reset').click();
      await waitRows(page, (r) => r.length === 50 && r[0].id === ids.limited, 'the unfiltered first page');
      assert.equal(await page.getByTestId('live-toggle').isChecked(), true, 'Live is on by default');

      await page.getByTestId('live-toggle').uncheck({ force: true });
      const quiet = await chat(client, MINI, [{ role: 'user', content: 'sent while live is off' }]);
      await pollUntil(
        async () => {
          const r = await logsApi(dp.url, `/logs/api/logs/${quiet.requestId}`, env.token);
          return r.status === 200;
        },
        { timeoutMs: 15000, intervalMs: 200, what: 'the quiet request to be stored' },
      );
      await sleep(3000); // more than one polling interval
      assert.equal((await rows(page)).some((r) => r.id === quiet.requestId), false, 'no update while Live is off');

      await page.getByTestId('live-toggle').check({ force: true });
      await waitRows(page, (r) => r[0]?.id === quiet.requestId, 'the quiet request once Live is back on');
      const fresh = await chat(client, BIG, [{ role: 'user', content: 'a live update please' }]);
      const t0 = Date.now();
      const rs = await waitRows(page, (r) => r[0]?.id === fresh.requestId, 'the new request on top', 15000);
      log(`live row after ${Date.now() - t0} ms`);
      assert.equal(rs[1].id, quiet.requestId);
      assert.equal(new Set(rs.map((r) => r.id)).size, rs.length, 'no row twice');
    });

    await step('screenshot', async () => {
      await page.locator(`[data-testid="log-row"][data-request-id="${ids.phrase}"]`).click();
      const request = page.getByTestId('detail-request');
      await pollUntil(async () => (await request.textContent()).includes(PHRASE_WORDS), { timeoutMs: 5000, what: 'the detail panel' });
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await page.screenshot({ path: SCREENSHOT });
      assert.ok(fs.statSync(SCREENSHOT).size > 10000, 'a real screenshot');
      log(`screenshot: ${SCREENSHOT}`);
    });

    await step('a token without the read scope: "lacks the read scope"', async () => {
      const other = await browser.newContext();
      other.on('request', (r) => requested.push(r.url()));
      try {
        const p2 = await other.newPage();
        p2.on('pageerror', (e) => pageErrors.push(e.message));
        await p2.goto(`${dp.url}/logs`);
        await p2.getByTestId('token-input').fill(writer.secret);
        await p2.getByTestId('sign-in').click();
        const text = await waitSignInError(p2, /lacks the read scope/);
        log(`keys:write token: ${text}`);
        assert.equal(await p2.getByTestId('token-input').isVisible(), true, 'back on the sign-in form');
        const stored = await p2.evaluate(() => Object.keys(sessionStorage).length);
        assert.equal(stored, 0, 'a refused token is not kept');
      } finally {
        await other.close();
      }
    });

    await step('the page loaded nothing from elsewhere and broke no rule', async () => {
      const foreign = requested.filter((u) => !u.startsWith(`${origin}/`) && !u.startsWith('data:'));
      assert.deepEqual(foreign, [], 'every request goes to the data plane');
      assert.ok(requested.some((u) => u === `${origin}/logs/app.js`), requested.join('\n'));
      assert.ok(requested.some((u) => u.startsWith(`${origin}/logs/api/logs?`)), 'the page used the API');
      assert.deepEqual(pageErrors, [], 'no script errors');
      const csp = consoleErrors.filter((m) => /Content Security Policy/i.test(m));
      assert.deepEqual(csp, [], 'no CSP violations');
    });
  } catch (err) {
    env.dumpLogs(t.name);
    throw err;
  } finally {
    if (browser) await browser.close().catch(() => {});
    await env.cleanup();
    await mock.close();
  }
});
