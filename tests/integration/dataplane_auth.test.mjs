// Whole-process tests for the data-plane credential (issue 5): the config stream (every provider
// API key) and usage reports are for data planes only.
//
//   cd tests/integration && npm ci && node --test --test-concurrency=1 dataplane_auth.test.mjs
//
// - A control plane on a non-loopback address with neither a data-plane token nor mutual TLS
//   does not start (unless --allow-unauthenticated-dataplanes).
// - With --dataplane-token-file: a data plane without the token (or with a wrong one) never gets
//   a config (/readyz 503, not listed); a raw gRPC client (HTTP/2 by hand, node:http2) cannot
//   read the snapshot or report usage; a data plane with either token of the file serves a
//   request to the mock upstream and its usage is recorded.
// - On loopback without a token (the quick start), data planes need nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import http2 from 'node:http2';
import path from 'node:path';

import { startMockOpenAI } from '../fixtures/mock_openai.mjs';
import { BIN_DIR, bin, binariesPresent, FinopsEnv, pollUntil, rawRequest, readyz, showCtl, assertCode, sleep } from './helpers.mjs';

const log = (...a) => console.log('[dataplane-auth]', ...a);
const MODEL = 'openai/gpt-4o-mini';
const PROVIDER_KEY = 'sk-mock-provider-key-dpauth-0123456789';
const TOKEN_NEW = 'dpt-new-8f3a2c1e9b7d4f60a5c3e1d2b4f6a8c0';
const TOKEN_OLD = 'dpt-old-1b2c3d4e5f60718293a4b5c6d7e8f901';
const TOKEN_WRONG = 'dpt-wrong-00000000000000000000000000';

// ---- helpers -------------------------------------------------------------------------------------

/** Runs a binary to completion (killed after timeoutMs): {code, signal, stdout, stderr}. */
function runBinary(name, args, { timeoutMs = 10000, env = {} } = {}) {
  return new Promise((resolve) => {
    const base = { ...process.env };
    delete base.FINOPS_DATAPLANE_TOKEN;
    const child = spawn(bin(name), args, { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: stderr + `\n(spawn error: ${err.message})` });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const show = (r) => `code=${r.code} signal=${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

/** A self-signed certificate for localhost / 127.0.0.1 (openssl CLI), for the start-up checks. */
function selfSigned(dir) {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'self.key', '-out', 'self.crt', '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  return { cert: path.join(dir, 'self.crt'), key: path.join(dir, 'self.key') };
}

// A gRPC call by hand over node:http2 (no gRPC library): one length-prefixed protobuf message,
// then the client half-closes. Resolves {grpcStatus, grpcMessage, data} where data is every
// response byte (frames included). Never rejects.
function rawGrpc(addr, method, message, { authorization, timeoutMs = 5000 } = {}) {
  return new Promise((resolve) => {
    const out = { grpcStatus: null, grpcMessage: '', data: Buffer.alloc(0), error: null };
    let settled = false;
    const client = http2.connect(`http://${addr}`);
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.close();
      resolve(out);
    };
    const timer = setTimeout(() => {
      out.error = `no answer within ${timeoutMs} ms`;
      client.destroy();
      finish();
    }, timeoutMs);
    client.on('error', (err) => {
      out.error = err.message;
      finish();
    });
    const headers = { ':method': 'POST', ':path': method, 'content-type': 'application/grpc', te: 'trailers' };
    if (authorization) headers.authorization = authorization;
    const req = client.request(headers);
    const takeStatus = (h) => {
      if (h['grpc-status'] !== undefined) out.grpcStatus = Number(h['grpc-status']);
      if (h['grpc-message'] !== undefined) out.grpcMessage = decodeURIComponent(String(h['grpc-message']));
    };
    req.on('response', takeStatus); // a trailers-only answer carries the status here
    req.on('trailers', takeStatus);
    req.on('data', (d) => (out.data = Buffer.concat([out.data, d])));
    req.on('close', finish);
    req.on('error', (err) => {
      out.error = err.message;
      finish();
    });
    const frame = Buffer.alloc(5 + message.length);
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    req.end(frame);
  });
}

// Protobuf by hand: field 1 (length-delimited) = tag 0x0a.
const lenField = (tag, bytes) => Buffer.concat([Buffer.from([tag, bytes.length]), bytes]);
/** finops.v1.DataPlaneMessage { hello: Hello { node_id } } */
const helloMessage = (nodeId) => lenField(0x0a, lenField(0x0a, Buffer.from(nodeId)));
/** finops.v1.UsageReport { node_id } */
const usageReport = (nodeId) => lenField(0x0a, Buffer.from(nodeId));

const UNAUTHENTICATED = 16;

/** `finopsctl dataplanes list -o json` → the node ids of connected data planes. */
async function connectedNodes(env) {
  const r = await env.ctl(['dataplanes', 'list', '-o', 'json']);
  assertCode(r, 0);
  return (r.json?.data_planes ?? []).filter((d) => d.connected).map((d) => d.node_id);
}

/** A non-streamed chat completion through a data plane; never throws. */
async function chat(dpUrl, key) {
  try {
    return await rawRequest(dpUrl, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hello with a data-plane token' }] }),
      timeoutMs: 15000,
    });
  } catch (err) {
    return { status: 0, headers: {}, text: '', json: null, error: err.message };
  }
}

/** A data plane the control plane refuses: logs why, stays 503, keeps retrying, is not listed. */
async function assertRefusedByControlPlane(env, dp, hintRe) {
  const m = await dp.waitForOutput(/^\{.*"msg":"the control plane refused this data plane \(UNAUTHENTICATED\)[^\n]*\n/m, 20000);
  const line = JSON.parse(m[0].trim());
  assert.equal(line.level, 'error', m[0]);
  assert.equal(line.grpc_code, UNAUTHENTICATED, m[0]);
  assert.match(line.hint ?? '', hintRe, m[0]);
  const until = Date.now() + 2000;
  while (Date.now() < until) {
    const rz = await readyz(dp.url);
    assert.equal(rz.status, 503, `${dp.name} /readyz must stay 503: ${JSON.stringify(rz)}`);
    assert.ok(!dp.exited, `${dp.name} ${dp.describeExit()}`);
    await sleep(200);
  }
  assert.ok(!(await connectedNodes(env)).includes(dp.nodeId), `${dp.nodeId} must not be listed`);
  return line;
}

/** Runs body({env, mock, dir}) in a fresh environment; dumps logs on failure; always cleans up. */
function scenario(name, { timeout = 90000, label }, body) {
  test(name, { timeout }, async () => {
    if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
    const env = new FinopsEnv(label);
    const mock = await startMockOpenAI();
    try {
      await body({ env, mock, dir: env.dir });
    } catch (err) {
      env.dumpLogs(name);
      throw err;
    } finally {
      await env.cleanup();
      await mock.close();
    }
  });
}

// =================================================================================================
scenario('1. a non-loopback control plane without a data-plane credential does not start', { label: 'dpauth-start' }, async ({ env, dir }) => {
  const base = ['--db', path.join(dir, 'x.db'), '--admin-token-file', path.join(dir, 'x-token')];

  // Plaintext allowed, but nothing to tell data planes from strangers: exit 2, both ways out named.
  let r = await runBinary('finops-controlplane', [...base, '--listen', '0.0.0.0:0', '--allow-plaintext']);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /refusing to serve data planes on 0\.0\.0\.0:0, which is not a loopback address, without a credential/, show(r));
  assert.match(r.stderr, /--dataplane-token-file FILE/, show(r));
  assert.match(r.stderr, /--tls-client-ca FILE/, show(r));
  assert.match(r.stderr, /--allow-unauthenticated-dataplanes \(unsafe\)/, show(r));
  assert.ok(!fs.existsSync(path.join(dir, 'x.db')), 'it must exit before creating the database');

  // TLS without client certificates is not a data-plane credential either.
  const cert = selfSigned(dir);
  r = await runBinary('finops-controlplane', [...base, '--listen', '0.0.0.0:0', '--tls-cert', cert.cert, '--tls-key', cert.key]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /refusing to serve data planes on 0\.0\.0\.0:0/, show(r));

  // Token files that cannot be used: exit 2, naming the file and line, never quoting a token.
  const missing = path.join(dir, 'missing-token');
  r = await runBinary('finops-controlplane', [...base, '--listen', '0.0.0.0:0', '--allow-plaintext', '--dataplane-token-file', missing]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, new RegExp(`--dataplane-token-file ${missing}: does not exist`), show(r));
  const short = path.join(dir, 'short-token');
  fs.writeFileSync(short, `${TOKEN_NEW}\nhunter2-secret\n`, { mode: 0o600 });
  r = await runBinary('finops-controlplane', [...base, '--listen', '0.0.0.0:0', '--allow-plaintext', '--dataplane-token-file', short]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /line 2: a token must have at least 16 characters/, show(r));
  assert.ok(!r.stderr.includes('hunter2') && !r.stderr.includes(TOKEN_NEW), `a token was printed:\n${show(r)}`);
  // A file and the variable together: which one would win is not guessed.
  r = await runBinary('finops-controlplane', [...base, '--listen', '127.0.0.1:0', '--dataplane-token-file', short], {
    env: { FINOPS_DATAPLANE_TOKEN: TOKEN_NEW },
  });
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /--dataplane-token-file and FINOPS_DATAPLANE_TOKEN are both given/, show(r));
  assert.ok(!fs.existsSync(path.join(dir, 'x.db')), 'no database after refused starts');

  // The data plane checks its token source the same way.
  r = await runBinary('finops-dataplane', ['--listen', '127.0.0.1:0', '--control-plane-token-file', missing]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /--control-plane-token-file .*missing-token: does not exist/, show(r));
  // An unknown flag is named without its value (it may be a secret).
  r = await runBinary('finops-dataplane', ['--control-plane-tokn-file=hunter2-secret-value']);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /unknown argument '--control-plane-tokn-file'/, show(r));
  assert.ok(!r.stderr.includes('hunter2'), show(r));

  // The explicit, unsafe way: starts, and says so.
  const cp = await env.startControlPlane({ host: '0.0.0.0', extraArgs: ['--allow-plaintext', '--allow-unauthenticated-dataplanes'] });
  assert.match(cp.stderr, /"level":"warn","msg":"accepting data planes WITHOUT any credential \(--allow-unauthenticated-dataplanes\)/, cp.tail());
  const dp = await env.startDataPlane({ nodeId: 'it-dpauth-unsafe' });
  assert.equal((await readyz(dp.url)).status, 200);
});

// =================================================================================================
scenario('2. with --dataplane-token-file only data planes with a token get the config', { label: 'dpauth-token', timeout: 120000 }, async ({ env, mock, dir }) => {
  const tokenFile = path.join(dir, 'dataplane-tokens');
  // Two tokens, as during a rotation; comments and blank lines are ignored.
  fs.writeFileSync(tokenFile, `# data-plane tokens, one a line\n${TOKEN_NEW}\n\n${TOKEN_OLD}\n`, { mode: 0o600 });
  const cp = await env.startControlPlane({ host: '0.0.0.0', extraArgs: ['--allow-plaintext', '--dataplane-token-file', tokenFile] });
  assert.match(cp.stderr, /"msg":"data planes must authenticate"[^\n]*"dataplane_auth":"token"/, cp.tail());
  assert.match(cp.stderr, /"msg":"data planes must authenticate"[^\n]*"tokens":2/, cp.tail());

  let r = await env.ctl(['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '--api-key-env', 'PROVIDER_KEY', '-o', 'json'], {
    env: { PROVIDER_KEY },
  });
  assertCode(r, 0);
  r = await env.ctl(['keys', 'create', '--name', 'dpauth', '-o', 'json']);
  assertCode(r, 0);
  const key = r.json.key;
  assert.match(key ?? '', /^sk-fo-/, showCtl(r));

  // A raw gRPC client (any program that can reach the port) gets nothing without a token ...
  const none = await rawGrpc(env.cpAddr, '/finops.v1.ConfigService/StreamConfig', helloMessage('raw-client'));
  assert.equal(none.grpcStatus, UNAUTHENTICATED, JSON.stringify({ ...none, data: none.data.length }));
  assert.match(none.grpcMessage, /missing data-plane token/);
  assert.ok(!none.data.includes(Buffer.from(PROVIDER_KEY)), 'the provider key leaked to a client without a token');
  const wrong = await rawGrpc(env.cpAddr, '/finops.v1.ConfigService/StreamConfig', helloMessage('raw-client'), {
    authorization: `Bearer ${TOKEN_WRONG}`,
  });
  assert.equal(wrong.grpcStatus, UNAUTHENTICATED, wrong.grpcMessage);
  assert.match(wrong.grpcMessage, /invalid data-plane token/);
  assert.ok(!wrong.data.includes(Buffer.from(PROVIDER_KEY)), 'the provider key leaked to a wrong token');
  // ... and cannot report usage.
  const report = await rawGrpc(env.cpAddr, '/finops.v1.UsageService/Report', usageReport('raw-client~1'));
  assert.equal(report.grpcStatus, UNAUTHENTICATED, report.grpcMessage);
  // The same raw client with a token does read the snapshot (so the refusals above are real).
  const withToken = await rawGrpc(env.cpAddr, '/finops.v1.ConfigService/StreamConfig', helloMessage('raw-client'), {
    authorization: `Bearer ${TOKEN_OLD}`,
  });
  assert.equal(withToken.grpcStatus, 0, `${withToken.grpcMessage} ${withToken.error ?? ''}`);
  assert.ok(withToken.data.includes(Buffer.from(PROVIDER_KEY)), 'the snapshot should carry the provider key');
  const reported = await rawGrpc(env.cpAddr, '/finops.v1.UsageService/Report', usageReport('raw-client~1'), {
    authorization: `Bearer ${TOKEN_NEW}`,
  });
  assert.equal(reported.grpcStatus, 0, reported.grpcMessage);
  // The control plane logged the refusals (rate-limited), with the peer and never a token.
  await cp.waitForOutput(/"msg":"data plane refused: no valid data-plane credential"[^\n]*"peer":"ipv4:127\.0\.0\.1:\d+"/);
  for (const t of [TOKEN_NEW, TOKEN_OLD, TOKEN_WRONG]) assert.ok(!cp.stderr.includes(t) && !cp.stdout.includes(t), 'a token is in the control plane log');

  // A data plane without a token: never ready, never listed.
  const noToken = await env.startDataPlane({ nodeId: 'it-dpauth-none', waitReady: false });
  await assertRefusedByControlPlane(env, noToken, /--control-plane-token-file/);
  // With a token the control plane does not know (from the environment): the same.
  const bad = await env.startDataPlane({ nodeId: 'it-dpauth-wrong', waitReady: false, env: { FINOPS_DATAPLANE_TOKEN: TOKEN_WRONG } });
  await assertRefusedByControlPlane(env, bad, /does not accept this data plane's token/);

  // The second token of the file, from a token file: ready, serves, its usage is recorded.
  const dpTokenFile = path.join(dir, 'dp-token');
  fs.writeFileSync(dpTokenFile, `${TOKEN_OLD}\n`, { mode: 0o600 });
  const good = await env.startDataPlane({ nodeId: 'it-dpauth-file', extraArgs: ['--control-plane-token-file', dpTokenFile] });
  assert.match(good.stderr, /"msg":"control plane link"[^\n]*"token":"given"/, good.tail());
  const mark = mock.mark();
  const res = await chat(good.url, key);
  assert.equal(res.status, 200, `chat through the data plane with a token: ${res.status} ${res.text?.slice(0, 300)} ${res.error ?? ''}`);
  const seen = mock.since(mark).filter((q) => /\/chat\/completions$/.test(q.path));
  assert.equal(seen.length, 1, 'the mock upstream must have served exactly that request');
  assert.equal(seen[0].headers.authorization, `Bearer ${PROVIDER_KEY}`);
  let total;
  await pollUntil(async () => {
    const u = await env.ctl(['usage', '--key', 'dpauth', '-o', 'json']);
    total = u.json?.total;
    return total?.requests >= 1;
  }, { timeoutMs: 8000, what: 'the request to be recorded (usage reports carry the token)' });
  assert.equal(total.requests, 1, JSON.stringify(total));
  assert.ok(!/usage report refused/.test(good.stderr), good.tail());

  // The first token, from FINOPS_DATAPLANE_TOKEN: ready too.
  const fromEnv = await env.startDataPlane({ nodeId: 'it-dpauth-env', env: { FINOPS_DATAPLANE_TOKEN: TOKEN_NEW } });
  assert.equal((await chat(fromEnv.url, key)).status, 200);

  const connected = (await connectedNodes(env)).sort();
  assert.deepEqual(connected, ['it-dpauth-env', 'it-dpauth-file'], JSON.stringify(connected));
  // The refused ones are still running and still not ready.
  for (const dp of [noToken, bad]) {
    assert.ok(!dp.exited, `${dp.name} ${dp.describeExit()}`);
    assert.equal((await readyz(dp.url)).status, 503);
  }
  log('token: raw client and token-less / wrong-token data planes refused; both tokens accepted');
});

// =================================================================================================
scenario('3. on loopback without a token, data planes on the same host need none', { label: 'dpauth-loopback' }, async ({ env }) => {
  const cp = await env.startControlPlane();
  assert.match(cp.stderr, /"msg":"data planes on this host are accepted without a credential[^\n]*"dataplane_auth":"loopback"/, cp.tail());
  const dp = await env.startDataPlane({ nodeId: 'it-dpauth-local' });
  assert.equal((await readyz(dp.url)).status, 200);
  // A token sent anyway does no harm.
  const extra = await env.startDataPlane({ nodeId: 'it-dpauth-local-token', env: { FINOPS_DATAPLANE_TOKEN: TOKEN_NEW } });
  assert.equal((await readyz(extra.url)).status, 200);
});

// =================================================================================================
scenario('4. mutual TLS alone is enough on a non-loopback address', { label: 'dpauth-mtls' }, async ({ dir }) => {
  // The self-signed certificate serves as the client CA too: only the start-up rule is at issue.
  const cert = selfSigned(dir);
  const r = await runBinary('finops-controlplane', ['--db', path.join(dir, 'm.db'), '--admin-token-file', path.join(dir, 'm-token'),
    '--listen', '0.0.0.0:0', '--tls-cert', cert.cert, '--tls-key', cert.key, '--tls-client-ca', cert.cert,
    '--log-format', 'json', '--metrics-listen', '127.0.0.1:0'], { timeoutMs: 3000 });
  // Still running after 3 s (killed by the timeout), having said how data planes authenticate.
  assert.equal(r.signal, 'SIGKILL', show(r));
  assert.match(r.stderr, /"msg":"data planes must authenticate"[^\n]*"dataplane_auth":"mtls"/, show(r));
  assert.ok(fs.existsSync(path.join(dir, 'm.db')));
});
