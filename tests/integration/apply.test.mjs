// finopsctl apply: a declarative file creates customers, teams, keys with their limits and
// prices; running it again changes nothing; a changed file updates only what changed; a bad
// file changes nothing and exits 2.
//
//   cd tests/integration && npm ci && node --test apply.test.mjs
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';

import { startMockOpenAI } from '../fixtures/mock_openai.mjs';
import { FinopsEnv, binariesPresent, BIN_DIR, logged, pollUntil } from './helpers.mjs';

const FILE_V1 = `
customers:
  - name: acme
    budgets:
      - {name: monthly, amount: 100, window: 1M}
teams:
  - name: ml
    customer: acme
    rate_limits:
      - {requests: 600, window: 1m}
keys:
  - name: ci-bot
    team: ml
    allowed_models: ["openai/gpt-4o*"]
    budgets:
      - {amount: 5, window: 1d}
    rate_limits:
      - {concurrency: 4}
    providers:
      openai:
        budgets: [{amount: 2, window: 1d}]
prices:
  - {model: openai/ft:gpt-4o-mini:acme, input: 0.30, output: 1.20, cached_input: 0.15}
`;

describe('finopsctl apply', { timeout: 60000 }, () => {
  let env;
  let mock;
  let dir;
  const T = (name, fn) => test(name, { timeout: 30000 }, logged(() => env, fn));
  const apply = async (text, extra = []) => {
    const f = path.join(dir, `apply-${Math.random().toString(36).slice(2)}.yaml`);
    fs.writeFileSync(f, text);
    return env.ctl(['apply', '-f', f, '-o', 'json', ...extra]);
  };
  const actions = (r) => Object.fromEntries(r.json.map((a) => [`${a.kind} ${a.name}${a.provider ? ' ' + a.provider : ''}${a.owner ? ' (' + a.owner + ')' : ''}`, a.action]));

  before(async () => {
    if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR}`);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'finops-apply-'));
    env = new FinopsEnv('apply');
    mock = await startMockOpenAI();
    await env.startControlPlane();
    const r = await env.ctl(['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
  });
  after(async () => {
    if (env) await env.cleanup();
    if (mock) await mock.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  let secret;
  T('a first apply creates everything and prints the new key once', async () => {
    const r = await apply(FILE_V1);
    assert.equal(r.code, 0, r.stderr);
    const a = actions(r);
    for (const [k, v] of Object.entries(a)) assert.equal(v, 'created', `${k}: ${v}`);
    const key = r.json.find((x) => x.kind === 'key');
    assert.match(key.key, /^sk-fo-/);
    secret = key.key;
    assert.equal(r.json.filter((x) => x.kind === 'budget').length, 3, JSON.stringify(r.json));
    // What was created is what the file says.
    const k = await env.ctl(['keys', 'get', 'ci-bot', '-o', 'json']);
    assert.equal(k.json.team, 'ml');
    assert.deepEqual(k.json.allowed_models, ['openai/gpt-4o*']);
    const t = await env.ctl(['teams', 'get', 'ml', '-o', 'json']);
    assert.equal(t.json.customer, 'acme');
    const b = await env.ctl(['budgets', 'list', '--customer', 'acme', '-o', 'json']);
    assert.equal(b.json.length, 1);
    assert.equal(b.json[0].amount_nano, 100 * 1e9);
    const p = await env.ctl(['prices', 'list', '--provider', 'openai', '--model', 'ft:gpt-4o-mini:acme', '-o', 'json']);
    assert.equal(p.json.prices.length, 1, p.stdout);
    assert.equal(p.json.prices[0].input_nano, 300000000);
    assert.equal(p.json.prices[0].source, 'custom');
  });

  T('the key from apply works through a data plane, within its rules', async () => {
    const dp = await env.startDataPlane({ nodeId: 'it-apply' });
    const c = new OpenAI({ baseURL: `${dp.url}/v1`, apiKey: secret, maxRetries: 2 });
    await pollUntil(async () => {
      try {
        await c.chat.completions.create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] });
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs: 5000, what: 'the applied key to work' });
    const err = await c.chat.completions.create({ model: 'openai/o3', messages: [{ role: 'user', content: 'hi' }] }).catch((e) => e);
    assert.equal(err.status, 403);
    assert.equal(err.code, 'model_not_allowed');
    // The cost is charged at every level: the key's budgets, its team's and its customer's.
    let keyUsage;
    let levels;
    await pollUntil(async () => {
      const u = await env.ctl(['usage', '--key', 'ci-bot', '-o', 'json']);
      keyUsage = u.json?.total;
      const key = await env.ctl(['budgets', 'list', '--key', 'ci-bot', '-o', 'json']);
      const cust = await env.ctl(['budgets', 'list', '--customer', 'acme', '-o', 'json']);
      const team = await env.ctl(['ratelimits', 'list', '--team', 'ml', '-o', 'json']);
      levels = {
        key: key.json.find((b) => !b.provider)?.used_nano,
        keyOpenai: key.json.find((b) => b.provider === 'openai')?.used_nano,
        customer: cust.json[0]?.used_nano,
        teamRequests: team.json[0]?.used,
      };
      return keyUsage?.requests >= 1 && levels.customer === keyUsage.cost_nano && levels.teamRequests === keyUsage.requests;
    }, { timeoutMs: 5000, what: 'usage to reach every level' }).catch(() => {});
    assert.ok(keyUsage.cost_nano > 0, JSON.stringify(keyUsage));
    assert.deepEqual(levels, {
      key: keyUsage.cost_nano,
      keyOpenai: keyUsage.cost_nano,
      customer: keyUsage.cost_nano,
      teamRequests: keyUsage.requests,
    });
  });

  T('a second apply of the same file changes nothing', async () => {
    const before = await env.ctl(['settings', 'get', '-o', 'json']);
    const r = await apply(FILE_V1);
    assert.equal(r.code, 0, r.stderr);
    for (const [k, v] of Object.entries(actions(r))) assert.equal(v, 'unchanged', `${k}: ${v}`);
    assert.ok(!r.json.some((x) => 'key' in x), 'a second apply must not print a secret');
    const after = await env.ctl(['settings', 'get', '-o', 'json']);
    assert.equal(after.json.config_version, before.json.config_version, 'unchanged apply bumped the config version');
  });

  T('a changed file updates only what changed', async () => {
    const v2 = FILE_V1.replace('{amount: 5, window: 1d}', '{amount: 7.5, window: 1d}').replace('{concurrency: 4}', '{concurrency: 4}\n      - {tokens: 1000, window: 1h}');
    const r = await apply(v2);
    assert.equal(r.code, 0, r.stderr);
    const changed = r.json.filter((x) => x.action !== 'unchanged').map((x) => `${x.kind} ${x.name} ${x.action}`);
    assert.deepEqual(changed.sort(), ['budget budget-1d updated', 'ratelimit tokens-1h created'].sort(), JSON.stringify(r.json));
    const b = await env.ctl(['budgets', 'list', '--key', 'ci-bot', '-o', 'json']);
    const daily = b.json.find((x) => x.name === 'budget-1d' && !x.provider);
    assert.equal(daily.amount_nano, 7.5e9);
  });

  T('a bad file exits 2, names the place and changes nothing', async () => {
    const before = await env.ctl(['settings', 'get', '-o', 'json']);
    const r = await apply(FILE_V1.replace('window: 1d}', 'windw: 1d}'));
    assert.equal(r.code, 2, r.stdout + r.stderr);
    assert.match(r.stderr, /keys\[0\]\.budgets\[0\]\.windw/);
    const unknownTeam = await apply('keys:\n  - name: other\n    team: nope\n');
    assert.equal(unknownTeam.code, 4, unknownTeam.stderr);
    const after = await env.ctl(['settings', 'get', '-o', 'json']);
    assert.equal(after.json.config_version, before.json.config_version);
  });
});
