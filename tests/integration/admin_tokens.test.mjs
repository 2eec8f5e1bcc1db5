// Whole-process tests for scoped admin tokens and the audit log (security issue): an admin
// provisions CI with a `keys:write` token that can create virtual keys and budgets but cannot
// read or change providers, settings or tokens; a `read` token reads (provider keys redacted)
// but never writes; a revoked token is refused; `finopsctl audit` shows who did what and when,
// refused calls included; no token secret is ever stored in the SQLite files.
//
//   cd tests/integration && npm ci && node --test --test-concurrency=1 admin_tokens.test.mjs
//
// The steps share one control plane and run in order, each building on the previous ones.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { BIN_DIR, binariesPresent, FinopsEnv, logged, showCtl, assertCode } from './helpers.mjs';

// finopsctl exit codes (docs/cli.md).
const EXIT = { ok: 0, error: 1, usage: 2, unauthenticated: 3, notFound: 4, exists: 5, permission: 7 };
const UPSTREAM_KEY = 'sk-upstream-admintokens-5f2c9a7e1b3d4c6f';

describe('admin tokens with scopes, and the audit log', { timeout: 120000 }, () => {
  let env;
  let adminId;
  const secrets = []; // every secret seen in this test: none may reach the db or the audit
  const tokens = {}; // name -> {id, secret}
  let virtualKey;
  const started = Date.now();
  const T = (name, fn, opts = {}) => test(name, { timeout: 30000, ...opts }, logged(() => env, fn));

  /** finopsctl with `token` (a secret), -o json, must exit 0; returns parsed JSON. */
  async function ctlJson(args, token) {
    const r = await env.ctl([...args, '-o', 'json'], token ? { token } : {});
    assertCode(r, 0);
    assert.ok(r.json !== null, `finopsctl printed no JSON:\n${showCtl(r)}`);
    return r.json;
  }

  /** finopsctl with `token` that must be refused for scope: exit 7 and the documented message. */
  async function refused(args, token, { name, scope, method, needs }, env_ = {}) {
    const r = await env.ctl(args, { token, env: env_ });
    assertCode(r, EXIT.permission);
    const msg = `admin token '${name}' (scope ${scope}) may not call ${method}; it needs scope ${needs}`;
    assert.ok(r.stderr.includes(msg), `expected "${msg}" in stderr\n${showCtl(r)}`);
    return r;
  }

  before(async () => {
    if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
    env = new FinopsEnv('admintokens');
    await env.startControlPlane();
    secrets.push(env.token);
    // A provider with an upstream key (nothing calls it: no data plane here).
    const add = await env.ctl(['providers', 'add', 'openai', '--base-url', 'http://127.0.0.1:9/v1', '--api-key-env', 'PROVIDER_KEY', '--models', 'gpt-4o-mini', '--no-list-models', '-o', 'json'], {
      env: { PROVIDER_KEY: UPSTREAM_KEY },
    });
    assertCode(add, 0);
    const who = await ctlJson(['whoami']);
    assert.equal(who.scope, 'admin', JSON.stringify(who));
    adminId = who.token_id;
  });
  after(async () => {
    if (env) await env.cleanup();
  });

  T('1. an admin creates a keys:write token and a read token; the secret is shown once', async () => {
    const ci = await ctlJson(['tokens', 'create', '--name', 'ci', '--scope', 'keys:write']);
    assert.match(ci.secret ?? '', /^fo-admin-[A-Za-z0-9_-]{43}$/, JSON.stringify(ci));
    assert.match(ci.token?.id ?? '', /^at_/, JSON.stringify(ci));
    assert.equal(ci.token.name, 'ci');
    assert.equal(ci.token.scope, 'keys:write');
    assert.equal(ci.token.created_by, adminId);
    assert.equal(ci.token.revoked_at, null);
    tokens.ci = { id: ci.token.id, secret: ci.secret };
    secrets.push(ci.secret);

    const ro = await ctlJson(['tokens', 'create', '--name', 'auditor', '--scope', 'read']);
    assert.equal(ro.token.scope, 'read');
    tokens.auditor = { id: ro.token.id, secret: ro.secret };
    secrets.push(ro.secret);

    // Table output: the token on stdout, the "only once" warning on stderr.
    const t = await env.ctl(['tokens', 'create', '--name', 'spare-admin', '--scope', 'admin']);
    assertCode(t, 0);
    const m = /(fo-admin-[A-Za-z0-9_-]{43})/.exec(t.stdout);
    assert.ok(m, `no token in table output\n${showCtl(t)}`);
    assert.match(t.stderr, /only once/);
    tokens['spare-admin'] = { secret: m[1] };
    secrets.push(m[1]);

    // Bad input: unknown scope (usage, client side), duplicate active name (already exists).
    assertCode(await env.ctl(['tokens', 'create', '--name', 'x', '--scope', 'root']), EXIT.usage);
    assertCode(await env.ctl(['tokens', 'create', '--name', 'ci', '--scope', 'read']), EXIT.exists);

    const list = await ctlJson(['tokens', 'list']);
    assert.ok(Array.isArray(list), JSON.stringify(list));
    assert.deepEqual(list.map((x) => x.name).sort(), ['auditor', 'ci', 'initial', 'spare-admin']);
    const initial = list.find((x) => x.name === 'initial');
    assert.equal(initial.scope, 'admin');
    assert.equal(initial.created_by, null, 'the first-start token was created by nobody');
    assert.ok(initial.last_used_at, 'the first token has been used (whoami)');
  });

  T('2. the keys:write token provisions a key, a budget, a team', async () => {
    const who = await ctlJson(['whoami'], tokens.ci.secret);
    assert.equal(who.scope, 'keys:write');
    assert.equal(who.name, 'ci');
    const team = await ctlJson(['teams', 'create', 'ci-team'], tokens.ci.secret);
    assert.equal(team.name, 'ci-team', JSON.stringify(team));
    const k = await ctlJson(['keys', 'create', '--name', 'ci-app', '--team', 'ci-team'], tokens.ci.secret);
    assert.match(k.key ?? '', /^sk-fo-/, JSON.stringify(k));
    virtualKey = k.key;
    secrets.push(k.key);
    const b = await ctlJson(['budgets', 'create', '--key', 'ci-app', '--amount', '5', '--window', '1d'], tokens.ci.secret);
    assert.equal(b.owner_kind, 'key', JSON.stringify(b));
    assert.equal(b.owner, 'ci-app', JSON.stringify(b));
    const keys = await ctlJson(['keys', 'list'], tokens.ci.secret);
    assert.ok(keys.some((x) => x.name === 'ci-app'), JSON.stringify(keys));
    await ctlJson(['prices', 'list', '--provider', 'openai'], tokens.ci.secret);
  });

  T('3. the keys:write token cannot read or change providers, settings, tokens, usage or the audit', async () => {
    const ci = { name: 'ci', scope: 'keys:write' };
    const s = tokens.ci.secret;
    for (const r of [
      await refused(['providers', 'list'], s, { ...ci, method: 'ListProviders', needs: 'admin or read' }),
      await refused(['providers', 'get', 'openai'], s, { ...ci, method: 'GetProvider', needs: 'admin or read' }),
    ]) {
      assert.ok(!r.stdout.includes('openai') && !r.stdout.includes('127.0.0.1:9'), `provider config leaked\n${showCtl(r)}`);
    }
    await refused(['providers', 'add', 'evil', '--base-url', 'http://127.0.0.1:9/v1', '--api-key-env', 'K'], s, { ...ci, method: 'CreateProvider', needs: 'admin' }, { K: 'sk-evil-0123456789abcdef' });
    await refused(['settings', 'set', 'enforce_keys=false'], s, { ...ci, method: 'UpdateSettings', needs: 'admin' });
    await refused(['tokens', 'create', '--name', 'escalate', '--scope', 'admin'], s, { ...ci, method: 'CreateAdminToken', needs: 'admin' });
    await refused(['tokens', 'list'], s, { ...ci, method: 'ListAdminTokens', needs: 'admin or read' });
    await refused(['usage'], s, { ...ci, method: 'GetUsage', needs: 'admin or read' });
    await refused(['audit'], s, { ...ci, method: 'ListAudit', needs: 'admin or read' });
    await refused(['prices', 'set', 'openai/gpt-4o-mini', '--input-price', '0', '--output-price', '0'], s, { ...ci, method: 'SetPrice', needs: 'admin' });

    // Nothing refused took effect.
    const providers = await ctlJson(['providers', 'list']);
    assert.deepEqual(providers.map((p) => p.name), ['openai']);
    const settings = await ctlJson(['settings', 'get']);
    assert.equal(settings.enforce_keys, true, JSON.stringify(settings));
    const list = await ctlJson(['tokens', 'list']);
    assert.ok(!list.some((x) => x.name === 'escalate'), JSON.stringify(list));
  });

  T('4. the read token reads (provider keys redacted, usage, tokens) but cannot write', async () => {
    const s = tokens.auditor.secret;
    const r = await env.ctl(['providers', 'list', '-o', 'json'], { token: s });
    assertCode(r, 0);
    assert.equal(r.json.length, 1);
    assert.equal(r.json[0].keys.length, 1, JSON.stringify(r.json));
    assert.notEqual(r.json[0].keys[0].redacted, UPSTREAM_KEY);
    assert.ok(!r.stdout.includes(UPSTREAM_KEY) && !r.stdout.includes(UPSTREAM_KEY.slice(3, -4)), `upstream key leaked\n${showCtl(r)}`);
    const usage = await ctlJson(['usage'], s);
    assert.ok(usage.total, JSON.stringify(usage));
    await ctlJson(['keys', 'list'], s);
    await ctlJson(['settings', 'get'], s);
    const list = await env.ctl(['tokens', 'list', '--all', '-o', 'json'], { token: s });
    assertCode(list, 0);
    for (const secret of secrets) assert.ok(!list.stdout.includes(secret), 'tokens list shows a secret');
    assert.ok(!list.stdout.includes('fo-admin-'), `tokens list shows something like a token\n${list.stdout}`);
    await ctlJson(['audit', '--limit', '5'], s);

    const ro = { name: 'auditor', scope: 'read' };
    await refused(['keys', 'create', '--name', 'ro-key'], s, { ...ro, method: 'CreateKey', needs: 'admin or keys:write' });
    await refused(['tokens', 'revoke', 'ci'], s, { ...ro, method: 'RevokeAdminToken', needs: 'admin' });
    await refused(['providers', 'delete', 'openai'], s, { ...ro, method: 'DeleteProvider', needs: 'admin' });
    const keys = await ctlJson(['keys', 'list']);
    assert.ok(!keys.some((x) => x.name === 'ro-key'), JSON.stringify(keys));
  });

  T('5. missing, wrong and revoked tokens are unauthenticated (exit 3, not 7)', async () => {
    const wrong = await env.ctl(['whoami'], { token: 'fo-admin-not-a-real-token-value' });
    assertCode(wrong, EXIT.unauthenticated);

    const rev = await ctlJson(['tokens', 'revoke', 'ci']);
    assert.equal(rev.id, tokens.ci.id);
    assert.ok(rev.revoked_at, JSON.stringify(rev));
    const after = await env.ctl(['keys', 'list'], { token: tokens.ci.secret });
    assertCode(after, EXIT.unauthenticated);
    assert.match(after.stderr, /invalid or revoked admin token/);

    const active = await ctlJson(['tokens', 'list']);
    assert.ok(!active.some((x) => x.name === 'ci'), JSON.stringify(active));
    const all = await ctlJson(['tokens', 'list', '--all']);
    const ci = all.find((x) => x.id === tokens.ci.id);
    assert.ok(ci && ci.revoked_at, JSON.stringify(all));
    assertCode(await env.ctl(['tokens', 'revoke', 'no-such-token']), EXIT.notFound);
  });

  T('6. the last active admin token cannot be revoked; the first token can be rotated', async () => {
    // Rotate the first-start token: revoke it with the spare admin token...
    const spare = tokens['spare-admin'].secret;
    const rev = await ctlJson(['tokens', 'revoke', 'initial'], spare);
    assert.ok(rev.revoked_at, JSON.stringify(rev));
    assertCode(await env.ctl(['whoami']), EXIT.unauthenticated);
    // ...and now the spare is the last admin: refused, and it keeps working.
    const last = await env.ctl(['tokens', 'revoke', 'spare-admin'], { token: spare });
    assertCode(last, EXIT.error);
    assert.match(last.stderr, /last active token with scope admin/, showCtl(last));
    env.token = spare;
    const who = await ctlJson(['whoami']);
    assert.equal(who.name, 'spare-admin');
  });

  T('7. finopsctl audit shows who did what, when, allowed or refused, without secrets', async () => {
    const r = await env.ctl(['audit', '--limit', '1000', '-o', 'json']);
    assertCode(r, 0);
    const entries = r.json;
    assert.ok(Array.isArray(entries) && entries.length > 20, `audit: ${r.stdout.slice(0, 500)}`);
    for (let i = 1; i < entries.length; i++) assert.ok(entries[i - 1].id > entries[i].id, 'newest first');
    for (const e of entries) {
      const at = Date.parse(e.at);
      assert.ok(at >= started - 1000 && at <= Date.now() + 1000, `time ${e.at}`);
      assert.match(e.peer ?? '', /127\.0\.0\.1/, JSON.stringify(e));
      assert.match(e.code, /^[A-Z_]+$/);
    }
    const find = (pred, what) => {
      const e = entries.find(pred);
      assert.ok(e, `no audit entry for ${what}`);
      return e;
    };
    const byCi = (method, code) => (e) => e.token_id === tokens.ci.id && e.method === method && e.code === code;
    const created = find(byCi('CreateKey', 'OK'), 'ci CreateKey');
    assert.equal(created.token_name, 'ci');
    assert.equal(created.scope, 'keys:write');
    assert.equal(created.target, 'ci-app');
    assert.equal(created.message, null);
    assert.equal(find(byCi('CreateLimit', 'OK'), 'ci CreateLimit').target, 'key:ci-app');
    const denied = find(byCi('CreateProvider', 'PERMISSION_DENIED'), 'ci CreateProvider refused');
    assert.equal(denied.target, 'evil');
    assert.equal(denied.message, "admin token 'ci' (scope keys:write) may not call CreateProvider; it needs scope admin");
    find(byCi('ListProviders', 'PERMISSION_DENIED'), 'ci ListProviders refused');
    find(byCi('GetProvider', 'PERMISSION_DENIED'), 'ci GetProvider refused');
    find(byCi('UpdateSettings', 'PERMISSION_DENIED'), 'ci UpdateSettings refused');
    find(byCi('CreateAdminToken', 'PERMISSION_DENIED'), 'ci CreateAdminToken refused');
    find((e) => e.token_name === 'auditor' && e.method === 'CreateKey' && e.code === 'PERMISSION_DENIED', 'auditor CreateKey refused');
    const unauth = entries.filter((e) => e.code === 'UNAUTHENTICATED');
    assert.ok(unauth.length >= 3, `unauthenticated calls: ${JSON.stringify(unauth)}`);
    for (const e of unauth) {
      assert.equal(e.token_id, null, JSON.stringify(e));
      assert.equal(e.token_name, null, JSON.stringify(e));
    }
    find((e) => e.method === 'RevokeAdminToken' && e.target === 'ci' && e.code === 'OK' && e.token_id === adminId, 'admin revoked ci');
    find((e) => e.method === 'RevokeAdminToken' && e.target === 'spare-admin' && e.code === 'FAILED_PRECONDITION', 'last admin refused');

    for (const secret of [...secrets, UPSTREAM_KEY, 'sk-evil-0123456789abcdef']) {
      assert.ok(!r.stdout.includes(secret), `the audit shows a secret (${secret.slice(0, 12)}...)`);
      assert.ok(!r.stdout.includes(secret.slice(9, 30)), `the audit shows part of a secret (${secret.slice(0, 12)}...)`);
    }

    // Filters.
    const byName = await ctlJson(['audit', '--caller', 'ci', '--limit', '1000']);
    assert.ok(byName.length >= 10, JSON.stringify(byName).slice(0, 300));
    assert.ok(byName.every((e) => e.token_name === 'ci' || e.token_id === 'ci'));
    const byId = await ctlJson(['audit', '--caller', tokens.ci.id, '--limit', '1000']);
    assert.ok(byId.length >= 10 && byId.every((e) => e.token_id === tokens.ci.id));
    const cp = await ctlJson(['audit', '--method', 'CreateProvider']);
    assert.ok(cp.length >= 2 && cp.every((e) => e.method === 'CreateProvider'), JSON.stringify(cp));
    assert.ok(cp.some((e) => e.code === 'OK') && cp.some((e) => e.code === 'PERMISSION_DENIED'));
    assert.equal((await ctlJson(['audit', '--limit', '2'])).length, 2);
    assert.ok((await ctlJson(['audit', '--since', '1h'])).length > 20);
    assert.deepEqual(await ctlJson(['audit', '--since', '2099-01-01T00:00:00Z']), []);
    assert.deepEqual(await ctlJson(['audit', '--until', '2000-01-01']), []);
    const page1 = await ctlJson(['audit', '--limit', '3']);
    const page2 = await ctlJson(['audit', '--limit', '3', '--before-id', String(page1[2].id)]);
    assert.ok(page2.length === 3 && page2[0].id < page1[2].id, JSON.stringify({ page1, page2 }));
    assertCode(await env.ctl(['audit', '--limit', '0']), EXIT.usage);
    assertCode(await env.ctl(['audit', '--since', 'yesterday']), EXIT.usage);

    // Table output.
    const table = await env.ctl(['audit', '--limit', '50']);
    assertCode(table, 0);
    assert.match(table.stdout.split('\n')[0], /^TIME\s+TOKEN\s+SCOPE\s+METHOD\s+TARGET\s+RESULT\s+PEER\s*$/);
    assert.match(table.stdout, /PERMISSION_DENIED/);
  });

  T('8. the SQLite files hold no token secret (only hashes) and no virtual key', async () => {
    await env.cp.stop(5000); // flush the WAL into the main file too
    const files = fs.readdirSync(env.cpDir).filter((f) => f.startsWith(path.basename(env.dbPath)));
    assert.ok(files.length >= 1, `no database files in ${env.cpDir}: ${fs.readdirSync(env.cpDir)}`);
    for (const f of files) {
      const bytes = fs.readFileSync(path.join(env.cpDir, f)).toString('latin1');
      for (const secret of [...secrets, virtualKey]) {
        assert.ok(!bytes.includes(secret), `${f} contains a secret (${secret.slice(0, 12)}...)`);
        assert.ok(!bytes.includes(secret.slice(9)), `${f} contains the random part of a secret`);
      }
    }
    // Restart: the audit survives, tokens still authenticate.
    await env.startControlPlane();
    const entries = await ctlJson(['audit', '--method', 'RevokeAdminToken']);
    assert.ok(entries.length >= 2, JSON.stringify(entries));
  });
});
