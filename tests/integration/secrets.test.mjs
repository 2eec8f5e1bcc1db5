// Whole-process tests for provider secrets at rest (issue 5): provider API keys (and a Vertex AI
// service-account key) are encrypted in the control plane's SQLite file with the master key,
// shown redacted by finopsctl, decrypted into the config the data planes use, re-encrypted on
// rotation, never written to the logs; a missing or wrong key stops the control plane.
//
//   cd tests/integration && npm ci && node --test --test-concurrency=1 secrets.test.mjs
//
// The control plane is started here (not with FinopsEnv.startControlPlane) because these tests
// pass it master keys through the environment and flags, and start it with keys that must make
// it refuse to start. Everything else (finopsctl, data planes, clean-up, logs) is FinopsEnv's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

import { startMockOpenAI } from '../fixtures/mock_openai.mjs';
import { makeServiceAccount } from '../fixtures/mock_gemini.mjs';
import { BIN_DIR, bin, binariesPresent, FinopsEnv, Proc, rawRequest, showCtl, assertCode, sleep } from './helpers.mjs';

const log = (...a) => console.log('[secrets]', ...a);

const LISTEN_RE = /listening on\s+(?:\w+:\/\/)?\[?([A-Za-z0-9.\-]+|[0-9a-fA-F:]+)\]?:(\d+)/;
const MODEL = 'openai/gpt-4o-mini';

/** The id FinOps gives a master key: SHA-256("finops master key id\0" || key)[0..8] in hex. */
function keyIdOf(keyBytes) {
  return crypto.createHash('sha256').update(Buffer.concat([Buffer.from('finops master key id\0'), keyBytes])).digest('hex').slice(0, 16);
}

function newMasterKey() {
  const bytes = crypto.randomBytes(32);
  return { bytes, base64: bytes.toString('base64'), hex: bytes.toString('hex'), id: keyIdOf(bytes) };
}

/**
 * finops-controlplane with the given extra flags and environment (helpers' Proc never passes
 * FINOPS_MASTER_KEY or FINOPS_PREVIOUS_MASTER_KEYS from the test runner), registered in
 * env.procs so that env.cleanup() stops it and env.dumpLogs() shows its log. The command line
 * carries only file paths, so the log files hold no keys either.
 */
function controlPlane(env, { args = [], extraEnv = {}, port = 0 } = {}) {
  env.cpStarts += 1;
  const cpArgs = ['--db', env.dbPath, '--listen', `127.0.0.1:${port}`, '--admin-token-file', env.tokenFile, '--log-format', 'json', '--metrics-listen', '127.0.0.1:0', ...args];
  const proc = new Proc(`controlplane-${env.cpStarts}`, bin('finops-controlplane'), cpArgs, { dir: env.dir, env: extraEnv });
  env.procs.push(proc);
  return proc;
}

/** Starts a control plane that must come up; resolves once finopsctl whoami works. */
async function startCp(env, opts) {
  const cp = controlPlane(env, opts);
  const m = await cp.waitForOutput(LISTEN_RE);
  env.cp = cp;
  env.cpPort = Number(m[2]);
  env.cpAddr = `127.0.0.1:${env.cpPort}`;
  await env.waitControlPlaneReady(cp);
  return cp;
}

/** Starts a control plane that must refuse to start; returns it once it has exited. */
async function startCpExpectingRefusal(env, opts) {
  const cp = controlPlane(env, opts);
  const exited = await cp.waitExit(15000);
  if (!exited) {
    await cp.stop();
    assert.fail(`the control plane should have refused to start, but it is running\n${cp.tail()}`);
  }
  return cp;
}

/** Every byte of the SQLite database and its -wal / -shm files. */
function dbBytes(env) {
  const parts = [];
  for (const suffix of ['', '-wal', '-shm', '-journal']) {
    const f = env.dbPath + suffix;
    if (fs.existsSync(f)) parts.push(fs.readFileSync(f));
  }
  return Buffer.concat(parts);
}

/** A chat completion through the data plane (raw HTTP, fresh connection). */
function chat(dpUrl, vk, content) {
  return rawRequest(dpUrl, {
    method: 'POST',
    path: '/v1/chat/completions',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${vk}` },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }] }),
    timeoutMs: 15000,
  });
}

/** Sends one request through a fresh data plane and returns what the mock upstream received. */
async function requestThroughDataPlane(env, mock, vk, label) {
  const dp = await env.startDataPlane({ nodeId: `it-secrets-${label}`, threads: 1 });
  const before = mock.requests.length;
  const r = await chat(dp.url, vk, `hello ${label}`);
  assert.equal(r.status, 200, `${label}: ${r.status} ${r.text.slice(0, 300)}`);
  const recs = mock.requests.slice(before).filter((q) => q.path.endsWith('/chat/completions'));
  assert.equal(recs.length, 1, `${label}: the mock upstream should have received one chat completion`);
  await dp.stop();
  return recs[0];
}

function assertNotIn(haystack, needles, where) {
  const text = Buffer.isBuffer(haystack) ? haystack.toString('latin1') : haystack;
  for (const [name, value] of Object.entries(needles)) {
    assert.ok(!text.includes(value), `${where} contains ${name}`);
  }
}

test('provider keys are encrypted at rest, decrypted for the data planes, rotated, and never logged', { timeout: 120000 }, async () => {
  if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
  const env = new FinopsEnv('secrets');
  const mock = await startMockOpenAI();
  try {
    const keyA = newMasterKey();
    const keyB = newMasterKey();
    const providerKey = `sk-it-secrets-${crypto.randomBytes(16).toString('hex')}`;
    const sa = makeServiceAccount('https://oauth2.googleapis.com/token', { projectId: 'it-secrets' });
    const saFile = path.join(env.dir, 'service-account.json');
    fs.writeFileSync(saFile, JSON.stringify(sa, null, 2), { mode: 0o600 });
    // A distinctive run of the service account's private key (its PEM body), and the key itself.
    const pemBody = sa.private_key.split('\n').filter((l) => l && !l.startsWith('-----')).join('');
    const pemChunk = pemBody.slice(100, 160);
    const secrets = {
      'the provider key': providerKey,
      'the provider key without its prefix': providerKey.slice('sk-it-secrets-'.length),
      'the service-account private key': pemChunk,
      'master key A (base64)': keyA.base64,
      'master key A (hex)': keyA.hex,
      'master key B (base64)': keyB.base64,
      'master key B (hex)': keyB.hex,
    };

    // ---- 1. Start with FINOPS_MASTER_KEY (base64), add an OpenAI-compatible and a Vertex provider.
    const cp1 = await startCp(env, { extraEnv: { FINOPS_MASTER_KEY: keyA.base64 } });
    const started = cp1.logLines('provider keys are encrypted at rest');
    assert.equal(started.length, 1, `expected one "encrypted at rest" log line\n${cp1.tail()}`);
    assert.equal(started[0].key_id, keyA.id, 'the logged key id is the digest of the key given');
    assert.ok(!fs.existsSync(path.join(env.cpDir, 'master-key')), 'no key is generated when one is given');

    let r = await env.ctl(['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '--api-key-env', 'PROVIDER_KEY', '-o', 'json'], { env: { PROVIDER_KEY: providerKey } });
    assertCode(r, 0);
    r = await env.ctl(['providers', 'add', 'vertex', '--type', 'vertex', '--vertex-project', 'it-secrets', '--vertex-location', 'us-east5', '--service-account-file', saFile, '--no-list-models', '-o', 'json']);
    assertCode(r, 0);

    // ---- 2. The database files hold ciphertext under key A, never the secrets.
    let bytes = dbBytes(env);
    assert.ok(bytes.includes(`fenc1:${keyA.id}:`), 'test setup: the database should hold values sealed under key A');
    assertNotIn(bytes, secrets, 'the SQLite files');

    // ---- 3. finopsctl shows the keys redacted.
    r = await env.ctl(['providers', 'get', 'openai', '-o', 'json']);
    assertCode(r, 0);
    assert.equal(r.json.keys.length, 1, showCtl(r));
    assert.equal(r.json.keys[0].redacted, `sk-...${providerKey.slice(-4)}`, showCtl(r));
    assertNotIn(r.stdout, { 'the provider key': providerKey }, 'providers get');
    r = await env.ctl(['providers', 'get', 'vertex', '-o', 'json']);
    assertCode(r, 0);
    assert.equal(r.json.keys[0].redacted, `service-account ${sa.client_email}`, showCtl(r));
    assertNotIn(r.stdout, { 'the service-account private key': pemChunk }, 'providers get vertex');
    r = await env.ctl(['providers', 'list']);
    assertCode(r, 0);
    assertNotIn(r.stdout, secrets, 'providers list');

    // ---- 4. A request through the data plane reaches the upstream with the decrypted key.
    r = await env.ctl(['keys', 'create', '--name', 'secrets-app', '-o', 'json']);
    assertCode(r, 0);
    const vk = r.json.key;
    assert.match(vk ?? '', /^sk-fo-/, showCtl(r));
    let rec = await requestThroughDataPlane(env, mock, vk, 'key-a');
    assert.equal(rec.headers.authorization, `Bearer ${providerKey}`);

    // ---- 5. Rotate: key B (hex, in the environment) is current, key A (a file) is previous.
    await cp1.stop();
    const keyAFile = path.join(env.dir, 'master-key-a');
    fs.writeFileSync(keyAFile, `${keyA.base64}\n`, { mode: 0o600 });
    const cp2 = await startCp(env, { extraEnv: { FINOPS_MASTER_KEY: keyB.hex }, args: ['--previous-master-key-file', keyAFile] });
    const rotated = cp2.logLines('provider keys are encrypted at rest');
    assert.equal(rotated.length, 1, cp2.tail());
    assert.equal(rotated[0].key_id, keyB.id);
    assert.equal(rotated[0].re_encrypted, 2, `both provider keys re-encrypted: ${JSON.stringify(rotated[0])}`);
    assert.deepEqual(rotated[0].previous_key_ids, [keyA.id]);
    assert.ok(!cp2.stderr.includes('accessible by group or others'), `a 0600 key file draws no warning\n${cp2.tail()}`);
    bytes = dbBytes(env);
    assert.ok(bytes.includes(`fenc1:${keyB.id}:`), 'the database holds values sealed under key B');
    assert.ok(!bytes.includes(keyA.id), 'the old key id is gone from the database files');
    assertNotIn(bytes, secrets, 'the SQLite files after rotation');
    rec = await requestThroughDataPlane(env, mock, vk, 'key-b');
    assert.equal(rec.headers.authorization, `Bearer ${providerKey}`);
    r = await env.ctl(['providers', 'get', 'openai', '-o', 'json']);
    assertCode(r, 0);
    assert.equal(r.json.keys[0].redacted, `sk-...${providerKey.slice(-4)}`, showCtl(r));

    // ---- 6. Key B alone is enough now; a wrong key, or none, stops the control plane.
    await cp2.stop();
    const cp3 = await startCp(env, { extraEnv: { FINOPS_MASTER_KEY: keyB.base64 } });
    assert.equal(cp3.logLines('provider keys are encrypted at rest')[0]?.re_encrypted, 0, cp3.tail());
    await cp3.stop();

    const wrong = newMasterKey();
    const cp4 = await startCpExpectingRefusal(env, { extraEnv: { FINOPS_MASTER_KEY: wrong.hex } });
    assert.equal(cp4.exitCode, 1, cp4.tail());
    assert.match(cp4.stderr, new RegExp(`encrypted with master key ${keyB.id}, which is not configured`), cp4.tail());
    assert.ok(!LISTEN_RE.test(cp4.stderr), 'it never listened');

    const cp5 = await startCpExpectingRefusal(env, {});
    assert.equal(cp5.exitCode, 1, cp5.tail());
    assert.match(cp5.stderr, new RegExp(`encrypted with master key ${keyB.id}, but no master key is configured`), cp5.tail());
    assert.ok(!fs.existsSync(path.join(env.cpDir, 'master-key')), 'no new key may be generated over encrypted secrets');

    const cp6 = await startCpExpectingRefusal(env, { extraEnv: { FINOPS_MASTER_KEY: crypto.randomBytes(16).toString('base64') } });
    assert.equal(cp6.exitCode, 1, cp6.tail());
    assert.match(cp6.stderr, /FINOPS_MASTER_KEY\) is 16 bytes long once decoded; it must be 32 bytes/, cp6.tail());

    // ---- 7. No log of any process ever held a secret.
    for (const p of env.procs) {
      assertNotIn(p.stderr ?? '', secrets, `${p.name} stderr`);
      assertNotIn(p.stdout ?? '', secrets, `${p.name} stdout`);
      for (const f of [p.stderrFile, p.stdoutFile]) if (f && fs.existsSync(f)) assertNotIn(fs.readFileSync(f), secrets, f);
    }
    log('ok: keys A', keyA.id, 'and B', keyB.id);
  } catch (err) {
    env.dumpLogs('secrets at rest');
    throw err;
  } finally {
    await env.cleanup();
    await mock.close();
  }
});

test('without a master key the first start generates one beside the database, and later starts need it', { timeout: 60000 }, async () => {
  if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
  const env = new FinopsEnv('secrets-gen');
  try {
    const keyFile = path.join(env.cpDir, 'master-key');
    const providerKey = `sk-it-generated-${crypto.randomBytes(12).toString('hex')}`;
    const cp1 = await startCp(env, {});
    const warned = cp1.logLines('generated one to encrypt provider keys at rest');
    assert.equal(warned.length, 1, `expected the generated-key warning\n${cp1.tail()}`);
    assert.equal(warned[0].level, 'warn');
    assert.equal(warned[0].path, keyFile);
    assert.match(warned[0].msg, /Back up this file/);
    assert.ok(fs.existsSync(keyFile), 'the key file exists');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600, 'the key file is private');
    const keyHex = fs.readFileSync(keyFile, 'utf8').trim();
    assert.match(keyHex, /^[0-9a-f]{64}$/);
    const id = keyIdOf(Buffer.from(keyHex, 'hex'));
    assert.equal(warned[0].key_id, id);
    assert.ok(!cp1.stderr.includes(keyHex) && !cp1.stdout.includes(keyHex), 'the generated key is not logged');

    let r = await env.ctl(['providers', 'add', 'groq', '--base-url', 'https://api.groq.com/openai/v1', '--api-key-env', 'K', '--no-list-models', '-o', 'json'], { env: { K: providerKey } });
    assertCode(r, 0);
    assert.ok(dbBytes(env).includes(`fenc1:${id}:`), 'sealed under the generated key');
    assert.ok(!dbBytes(env).includes(providerKey), 'the provider key is not in the database files');
    await cp1.stop();

    // A later start picks the file up by itself.
    const cp2 = await startCp(env, {});
    assert.equal(cp2.logLines('generated one').length, 0, cp2.tail());
    assert.equal(cp2.logLines('provider keys are encrypted at rest')[0]?.key_id, id, cp2.tail());
    r = await env.ctl(['providers', 'get', 'groq', '-o', 'json']);
    assertCode(r, 0);
    assert.equal(r.json.keys[0].redacted, `sk-...${providerKey.slice(-4)}`, showCtl(r));
    await cp2.stop();

    // A group-readable key file is used, with a warning.
    fs.chmodSync(keyFile, 0o640);
    const cp3 = await startCp(env, {});
    assert.match(cp3.stderr, /is accessible by group or others \(mode 0640\); restrict it: chmod 600/, cp3.tail());
    await cp3.stop();

    // The key file gone: refusal naming the key id, and no new key generated.
    fs.renameSync(keyFile, `${keyFile}.moved`);
    const cp4 = await startCpExpectingRefusal(env, {});
    assert.equal(cp4.exitCode, 1, cp4.tail());
    assert.match(cp4.stderr, new RegExp(`master key ${id}`), cp4.tail());
    assert.ok(!fs.existsSync(keyFile), 'no new key may be generated over encrypted secrets');

    // Given explicitly, the moved file works again.
    const cp5 = await startCp(env, { args: ['--master-key-file', `${keyFile}.moved`] });
    assert.equal(cp5.logLines('provider keys are encrypted at rest')[0]?.key_id, id, cp5.tail());

    for (const p of env.procs) assertNotIn(`${p.stderr}${p.stdout}`, { 'the provider key': providerKey, 'the master key': keyHex }, `${p.name} output`);
  } catch (err) {
    env.dumpLogs('generated master key');
    throw err;
  } finally {
    await env.cleanup();
  }
});
