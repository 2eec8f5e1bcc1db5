// Whole-process tests for TLS and mutual TLS on the gRPC links (issue 5): control plane <-> data
// planes and finopsctl <-> control plane, and the loopback rule for plaintext.
//
//   cd tests/integration && npm ci && node --test --test-concurrency=1 tls.test.mjs
//
// Certificates are made with the `openssl` CLI in a temp dir: a CA, a server certificate for
// localhost / 127.0.0.1, a client certificate from the same CA, and a client certificate from a
// second CA that the control plane does not trust.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startMockOpenAI } from '../fixtures/mock_openai.mjs';
import { BIN_DIR, bin, binariesPresent, FinopsEnv, pollUntil, rawRequest, readyz, showCtl, assertCode, sleep } from './helpers.mjs';

const log = (...a) => console.log('[tls]', ...a);
const MODEL = 'openai/gpt-4o-mini';

// ---- certificates --------------------------------------------------------------------------------

function openssl(args, cwd) {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

/** Makes the test PKI in a fresh temp dir; returns absolute paths. */
function makePki() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'finops-it-pki-'));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name, cn) =>
    openssl(['req', '-x509', ...ec, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`,
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const leaf = (name, caName, cn, ext) => {
    openssl(['req', '-new', ...ec, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
    fs.writeFileSync(path.join(dir, `${name}.ext`), ext.join('\n') + '\n');
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-set_serial',
      String(Math.floor(Math.random() * 1e9) + 1), '-days', '2', '-out', `${name}.crt`, '-extfile', `${name}.ext`], dir);
  };
  ca('ca', 'FinOps test CA');
  ca('other-ca', 'Another CA');
  leaf('server', 'ca', 'localhost', ['subjectAltName=DNS:localhost,IP:127.0.0.1', 'extendedKeyUsage=serverAuth', 'basicConstraints=CA:FALSE']);
  leaf('client', 'ca', 'dataplane', ['extendedKeyUsage=clientAuth', 'basicConstraints=CA:FALSE']);
  leaf('rogue', 'other-ca', 'rogue', ['extendedKeyUsage=clientAuth', 'basicConstraints=CA:FALSE']);
  const p = (f) => path.join(dir, f);
  return {
    dir,
    ca: p('ca.crt'),
    otherCa: p('other-ca.crt'),
    serverCert: p('server.crt'),
    serverKey: p('server.key'),
    clientCert: p('client.crt'),
    clientKey: p('client.key'),
    rogueCert: p('rogue.crt'),
    rogueKey: p('rogue.key'),
  };
}

// ---- helpers ---------------------------------------------------------------------------------

/** Runs a binary to completion (killed after timeoutMs): {code, signal, stdout, stderr}. */
function runBinary(name, args, { timeoutMs = 10000, env = {} } = {}) {
  return new Promise((resolve) => {
    const child = spawn(bin(name), args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
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

/** Empty values: finopsctl ignores an empty FINOPS_* variable (so a test can unset env.ctlEnv). */
const NO_TLS_ENV = { FINOPS_CA_FILE: '', FINOPS_CERT_FILE: '', FINOPS_KEY_FILE: '', FINOPS_TLS_SERVER_NAME: '' };

/** `finopsctl dataplanes list -o json` → array of data planes (throws on failure). */
async function dataPlanes(env) {
  const r = await env.ctl(['dataplanes', 'list', '-o', 'json']);
  assertCode(r, 0);
  assert.ok(r.json && Array.isArray(r.json.data_planes), `dataplanes list shape:\n${showCtl(r)}`);
  return r.json;
}

/** A non-streamed chat completion through a data plane; never throws. */
async function chat(dpUrl, key) {
  try {
    return await rawRequest(dpUrl, {
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hello over mTLS' }] }),
      timeoutMs: 15000,
    });
  } catch (err) {
    return { status: 0, headers: {}, text: '', json: null, error: err.message };
  }
}

/**
 * A data plane that must never get a config: it logs the link warning, /readyz stays 503 for a
 * while, and the control plane does not list it. Returns the warning's JSON line.
 */
async function assertRefused(env, dp, transport) {
  // A whole line (with its newline), so that it parses.
  const m = await dp.waitForOutput(/^\{.*"msg":"cannot reach the control plane[^\n]*\n/m, 20000);
  const line = JSON.parse(m[0].trim());
  assert.equal(line.level, 'warn', m[0]);
  assert.equal(line.transport, transport, m[0]);
  assert.equal(line.grpc_code, 14, `UNAVAILABLE expected: ${m[0]}`);
  assert.match(line.hint ?? '', /certificate|--control-plane-ca/, m[0]);
  // Not ready for the next 2 s (it has no config), and still running: it keeps retrying.
  const until = Date.now() + 2000;
  while (Date.now() < until) {
    const rz = await readyz(dp.url);
    assert.equal(rz.status, 503, `${dp.name} /readyz must stay 503: ${JSON.stringify(rz)}`);
    assert.ok(!dp.exited, `${dp.name} ${dp.describeExit()}`);
    await sleep(200);
  }
  const list = await dataPlanes(env);
  assert.ok(!list.data_planes.some((d) => d.node_id === dp.nodeId), `${dp.nodeId} must not be listed: ${JSON.stringify(list)}`);
  return line;
}

/** Runs body({env, pki, mock}) with a fresh environment; dumps logs on failure, always cleans up. */
function scenario(name, { timeout = 90000, label }, body) {
  test(name, { timeout }, async (t) => {
    if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR} (build first, or set FINOPS_BIN_DIR)`);
    const env = new FinopsEnv(label);
    const pki = makePki();
    const mock = await startMockOpenAI();
    try {
      await body({ env, pki, mock, t });
    } catch (err) {
      env.dumpLogs(name);
      console.error(`(certificates in ${pki.dir})`);
      throw err;
    } finally {
      await env.cleanup();
      await mock.close();
      if (!env.failed) fs.rmSync(pki.dir, { recursive: true, force: true });
    }
  });
}

// =================================================================================================
scenario('1. mutual TLS: only data planes and finopsctl with a certificate from the client CA get in', { label: 'mtls', timeout: 120000 }, async ({ env, pki, mock }) => {
  env.ctlEnv = { FINOPS_CA_FILE: pki.ca, FINOPS_CERT_FILE: pki.clientCert, FINOPS_KEY_FILE: pki.clientKey };
  const cp = await env.startControlPlane({
    extraArgs: ['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey, '--tls-client-ca', pki.ca],
  });
  assert.match(cp.stderr, /"msg":"listening on [^"]*"[^\n]*"transport":"mtls"/, cp.tail());
  // Under mutual TLS the client certificate is the data planes' credential (no token needed).
  assert.match(cp.stderr, /"msg":"data planes must authenticate"[^\n]*"dataplane_auth":"mtls"/, cp.tail());

  // Set up with finopsctl over mTLS (through FINOPS_CA_FILE / FINOPS_CERT_FILE / FINOPS_KEY_FILE).
  let r = await env.ctl(['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '--api-key-env', 'PROVIDER_KEY', '-o', 'json'], {
    env: { PROVIDER_KEY: 'sk-mock-mtls' },
  });
  assertCode(r, 0);
  r = await env.ctl(['keys', 'create', '--name', 'mtls', '-o', 'json']);
  assertCode(r, 0);
  const key = r.json.key;
  assert.match(key ?? '', /^sk-fo-/, showCtl(r));

  // A data plane with the right client certificate: gets the config and serves a request.
  const good = await env.startDataPlane({
    nodeId: 'it-mtls-good',
    extraArgs: ['--control-plane-ca', pki.ca, '--control-plane-cert', pki.clientCert, '--control-plane-key', pki.clientKey],
  });
  assert.match(good.stderr, /"msg":"control plane link"[^\n]*"transport":"mtls"/, good.tail());
  const mark = mock.mark();
  const res = await chat(good.url, key);
  assert.equal(res.status, 200, `chat through the mTLS data plane: ${res.status} ${res.text?.slice(0, 300)} ${res.error ?? ''}`);
  assert.ok(res.json?.choices?.length > 0, res.text);
  const seen = mock.since(mark).filter((q) => /\/chat\/completions$/.test(q.path));
  assert.equal(seen.length, 1, 'the mock upstream must have served exactly that request');
  await pollUntil(async () => (await dataPlanes(env)).data_planes.some((d) => d.node_id === 'it-mtls-good' && d.connected === true), {
    timeoutMs: 5000,
    what: 'it-mtls-good listed as connected',
  });

  // Without a client certificate: refused (never ready, no config, not listed).
  const noCert = await env.startDataPlane({ nodeId: 'it-mtls-nocert', waitReady: false, extraArgs: ['--control-plane-ca', pki.ca] });
  await assertRefused(env, noCert, 'tls');

  // With a client certificate from a CA the control plane does not trust: refused too.
  const rogue = await env.startDataPlane({
    nodeId: 'it-mtls-rogue',
    waitReady: false,
    extraArgs: ['--control-plane-ca', pki.ca, '--control-plane-cert', pki.rogueCert, '--control-plane-key', pki.rogueKey],
  });
  await assertRefused(env, rogue, 'mtls');

  // Plaintext to a TLS control plane (loopback, so allowed to try): refused.
  const plain = await env.startDataPlane({ nodeId: 'it-mtls-plain', waitReady: false });
  await assertRefused(env, plain, 'plaintext');

  // The good data plane still serves.
  assert.equal((await chat(good.url, key)).status, 200);

  // finopsctl with flags (the environment variables emptied).
  r = await env.ctl(['whoami', '-o', 'json', '--tls-ca', pki.ca, '--tls-cert', pki.clientCert, '--tls-key', pki.clientKey], { env: NO_TLS_ENV });
  assertCode(r, 0);
  assert.equal(r.json.scope, 'admin', showCtl(r));
  // localhost is in the server certificate too; https:// is accepted.
  r = await env.ctl(['whoami', '--tls-ca', pki.ca, '--tls-cert', pki.clientCert, '--tls-key', pki.clientKey], {
    env: NO_TLS_ENV,
    addr: `https://localhost:${env.cpPort}`,
  });
  assertCode(r, 0);

  // Without --tls-cert: the handshake is refused; exit 6 (unavailable) with a hint about certificates.
  r = await env.ctl(['whoami', '--timeout', '5', '--tls-ca', pki.ca], { env: NO_TLS_ENV });
  assertCode(r, 6);
  assert.match(r.stderr, /certificate/i, showCtl(r));
  assert.match(r.stderr, /--tls-cert/, showCtl(r));
  // A client certificate from another CA: same.
  r = await env.ctl(['whoami', '--timeout', '5', '--tls-ca', pki.ca, '--tls-cert', pki.rogueCert, '--tls-key', pki.rogueKey], { env: NO_TLS_ENV });
  assertCode(r, 6);
  assert.match(r.stderr, /certificate/i, showCtl(r));
  // Plaintext: exit 6 too, and the message says to pass --tls-ca.
  r = await env.ctl(['whoami', '--timeout', '5'], { env: NO_TLS_ENV });
  assertCode(r, 6);
  assert.match(r.stderr, /--tls-ca/, showCtl(r));
  // A certificate without its key is a usage error.
  r = await env.ctl(['whoami', '--tls-ca', pki.ca, '--tls-cert', pki.clientCert], { env: NO_TLS_ENV });
  assertCode(r, 2);
  assert.match(r.stderr, /private key/, showCtl(r));
  // A CA file that does not exist is named.
  r = await env.ctl(['whoami', '--tls-ca', path.join(pki.dir, 'missing.crt')], { env: NO_TLS_ENV });
  assertCode(r, 2);
  assert.match(r.stderr, /missing\.crt: does not exist/, showCtl(r));

  // Only the good data plane is connected.
  const list = await dataPlanes(env);
  const connected = list.data_planes.filter((d) => d.connected).map((d) => d.node_id);
  assert.deepEqual(connected, ['it-mtls-good'], JSON.stringify(list));
  log('mTLS: good data plane served; no-cert, rogue-cert and plaintext data planes refused');
});

// =================================================================================================
scenario('2. TLS without client certificates: the CA decides', { label: 'tls', timeout: 90000 }, async ({ env, pki }) => {
  env.ctlEnv = { FINOPS_CA_FILE: pki.ca };
  const cp = await env.startControlPlane({ extraArgs: ['--tls-cert', pki.serverCert, '--tls-key', pki.serverKey] });
  assert.match(cp.stderr, /"msg":"listening on [^"]*"[^\n]*"transport":"tls"/, cp.tail());

  let r = await env.ctl(['whoami', '-o', 'json', '--tls-ca', pki.ca], { env: NO_TLS_ENV });
  assertCode(r, 0);
  // FINOPS_CA_FILE alone works as well.
  r = await env.ctl(['whoami']);
  assertCode(r, 0);

  // TLS with the system's roots (https://, no --tls-ca): our test CA is not among them.
  r = await env.ctl(['whoami', '--timeout', '5'], { env: NO_TLS_ENV, addr: `https://127.0.0.1:${env.cpPort}` });
  assertCode(r, 6);
  assert.match(r.stderr, /certificate/i, showCtl(r));
  // A CA that did not sign the server certificate.
  r = await env.ctl(['whoami', '--timeout', '5', '--tls-ca', pki.otherCa], { env: NO_TLS_ENV });
  assertCode(r, 6);
  assert.match(r.stderr, /certificate verify failed|certificate/i, showCtl(r));
  // A server name the certificate does not carry; then the right one while dialling the IP.
  r = await env.ctl(['whoami', '--timeout', '5', '--tls-ca', pki.ca, '--tls-server-name', 'cp.example.com'], { env: NO_TLS_ENV });
  assertCode(r, 6);
  r = await env.ctl(['whoami', '--tls-ca', pki.ca, '--tls-server-name', 'localhost'], { env: NO_TLS_ENV });
  assertCode(r, 0);
  // http:// with TLS flags is contradictory.
  r = await env.ctl(['whoami', '--tls-ca', pki.ca], { env: NO_TLS_ENV, addr: `http://127.0.0.1:${env.cpPort}` });
  assertCode(r, 2);

  // A data plane with only the CA (no client certificate) is served.
  const dp = await env.startDataPlane({ nodeId: 'it-tls-1', extraArgs: ['--control-plane-ca', pki.ca] });
  assert.match(dp.stderr, /"msg":"control plane link"[^\n]*"transport":"tls"/, dp.tail());
  // One that trusts another CA is not.
  const wrong = await env.startDataPlane({ nodeId: 'it-tls-wrongca', waitReady: false, extraArgs: ['--control-plane-ca', pki.otherCa] });
  const line = await assertRefused(env, wrong, 'tls');
  assert.match(line.error, /certificate verify failed|handshake/i, JSON.stringify(line));
});

// =================================================================================================
scenario('3. plaintext only on loopback unless --allow-plaintext', { label: 'loopback', timeout: 90000 }, async ({ env, pki }) => {
  const cpBase = ['--db', path.join(env.dir, 'x.db'), '--admin-token-file', path.join(env.dir, 'x-token')];

  // Control plane on all interfaces without TLS: exit 2 with what to pass instead.
  let r = await runBinary('finops-controlplane', [...cpBase, '--listen', '0.0.0.0:0']);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /refusing to serve plaintext gRPC on 0\.0\.0\.0:0/, show(r));
  assert.match(r.stderr, /--tls-cert FILE --tls-key FILE/, show(r));
  assert.match(r.stderr, /--allow-plaintext/, show(r));
  assert.ok(!fs.existsSync(path.join(env.dir, 'x.db')), 'it must exit before creating the database');

  // TLS flags that do not fit: exit 2, naming the problem.
  r = await runBinary('finops-controlplane', [...cpBase, '--listen', '127.0.0.1:0', '--tls-cert', pki.serverCert]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /--tls-cert and --tls-key go together/, show(r));
  r = await runBinary('finops-controlplane', [...cpBase, '--listen', '127.0.0.1:0', '--tls-cert', pki.serverCert, '--tls-key', pki.clientKey]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /does not belong to the certificate/, show(r));
  r = await runBinary('finops-controlplane', [...cpBase, '--listen', '127.0.0.1:0', '--tls-client-ca', pki.ca]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /--tls-client-ca \(mutual TLS\) needs --tls-cert/, show(r));

  // With --allow-plaintext it starts (and says it serves plaintext). Data planes need a
  // credential on a non-loopback address (dataplane_auth.test.mjs); this scenario is about
  // plaintext, so it waives that explicitly.
  const cp = await env.startControlPlane({ host: '0.0.0.0', extraArgs: ['--allow-plaintext', '--allow-unauthenticated-dataplanes'] });
  assert.match(cp.stderr, /"msg":"listening on 0\.0\.0\.0:\d+"[^\n]*"transport":"plaintext"/, cp.tail());
  assert.match(cp.stderr, /serving plaintext gRPC on a non-loopback address/, cp.tail());

  // A data plane pointed at a non-loopback control plane in plaintext: exit 2.
  const dpBase = ['--listen', '127.0.0.1:0', '--node-id', 'it-loopback'];
  r = await runBinary('finops-dataplane', [...dpBase, '--control-plane', '192.0.2.10:50051']);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /refusing a plaintext link to the control plane at 192\.0\.2\.10:50051/, show(r));
  assert.match(r.stderr, /--control-plane-ca FILE/, show(r));
  assert.match(r.stderr, /--allow-plaintext/, show(r));
  // A client certificate without its key: exit 2.
  r = await runBinary('finops-dataplane', [...dpBase, '--control-plane', env.cpAddr, '--control-plane-ca', pki.ca, '--control-plane-cert', pki.clientCert]);
  assert.equal(r.code, 2, show(r));
  assert.match(r.stderr, /without its private key/, show(r));

  // A loopback control plane in plaintext is fine without any flag (the default setup).
  const dp = await env.startDataPlane({ nodeId: 'it-loopback-ok' });
  assert.match(dp.stderr, /"msg":"control plane link"[^\n]*"transport":"plaintext"/, dp.tail());

  // finopsctl will not send the admin token in plaintext to a non-loopback address ...
  r = await env.ctl(['whoami'], { addr: '192.0.2.10:50051' });
  assertCode(r, 2);
  assert.match(r.stderr, /refusing to send the admin token in plaintext to 192\.0\.2\.10:50051/, showCtl(r));
  assert.match(r.stderr, /--tls-ca/, showCtl(r));
  assert.match(r.stderr, /--allow-plaintext/, showCtl(r));
  // ... unless told to (then it tries, and that address does not answer: exit 6).
  r = await env.ctl(['whoami', '--allow-plaintext', '--timeout', '2'], { addr: '192.0.2.10:50051' });
  assertCode(r, 6);
  // Loopback names are fine.
  r = await env.ctl(['whoami'], { addr: `localhost:${env.cpPort}` });
  assertCode(r, 0);
});
