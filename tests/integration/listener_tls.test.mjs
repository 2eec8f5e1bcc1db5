// TLS on the data plane's HTTP listener (issue 5): --tls-cert/--tls-key, the real OpenAI SDK
// over HTTPS, reload on SIGHUP and on changed files (open connections keep their certificate,
// a broken key keeps the old one), and the plaintext-on-loopback-only rule.
//
//   cd tests/integration && npm ci && node --test --test-concurrency=1 listener_tls.test.mjs
//
// The PKI (a CA, server certificates for 127.0.0.1/localhost) is made with the openssl CLI in
// the environment's temp dir. The SDK runs in a child process with NODE_EXTRA_CA_CERTS (Node's
// built-in fetch takes no per-request CA).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';

import { startMockOpenAI, mockReplyText } from '../fixtures/mock_openai.mjs';
import { BIN_DIR, bin, binariesPresent, FinopsEnv, logged, pollUntil, rawRequest, sleep } from './helpers.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const MODEL = 'openai/gpt-4o-mini';
// The data plane's --header-timeout, which bounds the TLS handshake too.
const HEADER_TIMEOUT_S = 3;
const NO_PROXY_ENV = { NO_PROXY: '127.0.0.1,localhost,::1', no_proxy: '127.0.0.1,localhost,::1' };

/** A CA and a function issuing server certificates for 127.0.0.1 and localhost, in `dir`. */
function makePki(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const run = (args) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  run(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt',
    '-days', '2', '-subj', '/CN=FinOps Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  fs.writeFileSync(path.join(dir, 'server.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n');
  let serial = 1;
  const issue = (name) => {
    run(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/O=FinOps Test/CN=${name}`]);
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(serial++), '-days', '2', '-extfile', 'server.ext', '-out', `${name}.crt`]);
    const cert = fs.readFileSync(path.join(dir, `${name}.crt`), 'utf8');
    const key = fs.readFileSync(path.join(dir, `${name}.key`), 'utf8');
    return { cert, key, fingerprint: new crypto.X509Certificate(cert).fingerprint256 };
  };
  return { caFile: path.join(dir, 'ca.crt'), ca: fs.readFileSync(path.join(dir, 'ca.crt'), 'utf8'), issue };
}

/** Replaces a file the way Kubernetes and editors do: write beside it, rename over it. */
function replaceFile(file, text) {
  fs.writeFileSync(`${file}.tmp`, text);
  fs.renameSync(`${file}.tmp`, file);
}

/**
 * An HTTPS request trusting `ca`. Resolves {status, headers, text, json, fingerprint, reused}
 * where fingerprint is the server certificate's SHA-256 as Node prints it.
 */
function httpsRequest(url, { ca, path: p = '/', method = 'GET', headers = {}, body, agent, timeoutMs = 10000 } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(p, url);
    const hdrs = { ...headers };
    if (body !== undefined) hdrs['content-length'] = Buffer.byteLength(body);
    const req = https.request(
      { method, hostname: u.hostname, port: u.port, path: u.pathname + u.search, headers: hdrs, ca, agent: agent ?? false },
      (res) => {
        const fingerprint = res.socket.getPeerCertificate()?.fingerprint256;
        const parts = [];
        res.on('data', (d) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let json = null;
          try {
            json = JSON.parse(text);
          } catch {
            /* not JSON */
          }
          resolve({ status: res.statusCode, headers: res.headers, text, json, fingerprint, reused: req.reusedSocket });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${p}`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** The certificate a new TLS connection to the port is served (SHA-256 fingerprint). */
function peerFingerprint(port, ca) {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ca, ALPNProtocols: ['h2', 'http/1.1'] }, () => {
      const out = { fingerprint: s.getPeerCertificate().fingerprint256, alpn: s.alpnProtocol, protocol: s.getProtocol() };
      s.end();
      resolve(out);
    });
    s.setTimeout(5000, () => s.destroy(new Error('TLS connect timed out')));
    s.on('error', reject);
  });
}

/** The real OpenAI SDK in a child process trusting `caFile` (or nothing extra when null). */
function runSdk(baseURL, apiKey, caFile) {
  const code = `
import OpenAI from 'openai';
const client = new OpenAI({ baseURL: process.env.FINOPS_BASE_URL, apiKey: process.env.FINOPS_KEY, maxRetries: 0, timeout: 15000 });
const out = {};
try {
  const r = await client.chat.completions.create({ model: ${JSON.stringify(MODEL)}, messages: [{ role: 'user', content: 'hello over tls' }] });
  out.chat = r.choices[0].message.content;
  const s = await client.chat.completions.create({ model: ${JSON.stringify(MODEL)}, messages: [{ role: 'user', content: 'stream over tls' }], stream: true });
  let text = '';
  let chunks = 0;
  for await (const c of s) { chunks++; text += c.choices[0]?.delta?.content ?? ''; }
  out.stream = text;
  out.chunks = chunks;
} catch (e) {
  out.error = String(e);
  out.cause = String(e?.cause?.cause ?? e?.cause ?? '');
}
console.log(JSON.stringify(out));
`;
  const env = { ...process.env, ...NO_PROXY_ENV, FINOPS_BASE_URL: baseURL, FINOPS_KEY: apiKey };
  delete env.NODE_EXTRA_CA_CERTS;
  if (caFile) env.NODE_EXTRA_CA_CERTS = caFile;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: here, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30000);
    child.on('close', (codeNum) => {
      clearTimeout(timer);
      let json = null;
      try {
        json = JSON.parse(stdout.trim().split('\n').pop());
      } catch {
        /* not JSON */
      }
      resolve({ code: codeNum, stdout, stderr, json });
    });
  });
}

const count = (text, re) => (text.match(re) || []).length;

describe('TLS on the data plane listener', { timeout: 180000 }, () => {
  let env;
  let mock;
  let pki;
  let dp;
  let base;
  let key;
  let certFile;
  let keyFile;
  const certs = {};
  const T = (name, fn) => test(name, { timeout: 60000 }, logged(() => env, fn));

  before(async () => {
    if (!binariesPresent()) throw new Error(`FinOps binaries not found in ${BIN_DIR}`);
    env = new FinopsEnv('listener-tls');
    pki = makePki(path.join(env.dir, 'pki'));
    for (const name of ['first', 'second', 'third']) certs[name] = pki.issue(name);
    certFile = path.join(env.dir, 'pki', 'tls.crt');
    keyFile = path.join(env.dir, 'pki', 'tls.key');
    replaceFile(certFile, certs.first.cert);
    replaceFile(keyFile, certs.first.key);

    mock = await startMockOpenAI();
    await env.startControlPlane();
    await env.ctlOk(['providers', 'add', 'openai', '--base-url', `${mock.url}/v1`, '-o', 'json']);
    key = (await env.ctlOk(['keys', 'create', '--name', 'tls', '-o', 'json'])).json.key;
    // All interfaces: allowed because the listener speaks TLS (no --allow-plaintext).
    dp = await env.startDataPlane({
      nodeId: 'it-tls',
      extraArgs: ['--listen', '0.0.0.0:0', '--tls-cert', certFile, '--tls-key', keyFile, '--header-timeout', String(HEADER_TIMEOUT_S)],
      waitReady: false,
    });
    base = `https://127.0.0.1:${dp.port}`;
    await dp.waitForOutput(/listening on https:\/\//);
    await pollUntil(
      async () => {
        const r = await httpsRequest(base, { ca: pki.ca, path: '/readyz', timeoutMs: 2000 }).catch(() => null);
        return r?.status === 200;
      },
      { timeoutMs: 15000, what: 'https /readyz 200' },
    );
    // The key reaches the data plane with the next snapshot.
    await pollUntil(
      async () => {
        const r = await httpsRequest(base, {
          ca: pki.ca,
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'warm up' }] }),
        }).catch(() => null);
        return r?.status === 200;
      },
      { timeoutMs: 10000, what: 'a first chat request over https' },
    );
  });
  after(async () => {
    if (env) await env.cleanup();
    if (mock) await mock.close();
  });

  T('the certificate is logged with its subject and expiry, and served with TLS 1.2+ and ALPN http/1.1', async () => {
    const line = dp.stderr.split('\n').find((l) => l.includes('listener TLS certificate loaded'));
    assert.ok(line, dp.stderr);
    const j = JSON.parse(line);
    assert.match(j.subject, /CN=first/);
    assert.match(j.not_after, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(j.sha256, certs.first.fingerprint);
    const p = await peerFingerprint(dp.port, pki.ca);
    assert.equal(p.fingerprint, certs.first.fingerprint);
    assert.equal(p.alpn, 'http/1.1');
    assert.match(p.protocol, /^TLSv1\.[23]$/);
    // TLS 1.1 is refused.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = tls.connect({ host: '127.0.0.1', port: dp.port, ca: pki.ca, minVersion: 'TLSv1', maxVersion: 'TLSv1.1', ciphers: 'DEFAULT:@SECLEVEL=0' }, () => {
          s.end();
          resolve();
        });
        s.on('error', reject);
      }),
    );
  });

  T('the real OpenAI SDK completes a chat request and a stream over HTTPS', async () => {
    const r = await runSdk(`${base}/v1`, key, pki.caFile);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.json && !r.json.error, `SDK failed: ${r.stdout} ${r.stderr}`);
    assert.equal(r.json.chat, mockReplyText({ messages: [{ role: 'user', content: 'hello over tls' }] }));
    assert.equal(r.json.stream, mockReplyText({ messages: [{ role: 'user', content: 'stream over tls' }] }));
    assert.ok(r.json.chunks >= 2, r.stdout);
    // Without our CA the SDK refuses the certificate: TLS is really in use.
    const untrusted = await runSdk(`${base}/v1`, key, null);
    assert.ok(untrusted.json?.error, `expected a connection error: ${untrusted.stdout} ${untrusted.stderr}`);
    assert.match(untrusted.json.cause + untrusted.json.error, /certificate|self.signed|issuer|UNABLE_TO|verify/i);
  });

  T('over TLS: a connection is reused after a stream, and a client leaving mid-stream cancels the upstream', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: pki.ca });
    const streamBody = (content, model = MODEL) => JSON.stringify({ model, messages: [{ role: 'user', content }], stream: true });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
    try {
      // The relay watches the TLS connection while it streams; afterwards the same connection
      // must still carry the next request.
      const s = await httpsRequest(base, { ca: pki.ca, agent, method: 'POST', path: '/v1/chat/completions', headers, body: streamBody('first stream') });
      assert.equal(s.status, 200, s.text.slice(0, 300));
      assert.match(s.text, /data: \[DONE\]/);
      const again = await httpsRequest(base, { ca: pki.ca, agent, method: 'POST', path: '/v1/chat/completions', headers, body: streamBody('second stream') });
      assert.equal(again.status, 200, again.text.slice(0, 300));
      assert.equal(again.reused, true, 'the second request should reuse the kept-alive TLS connection');
      assert.match(again.text, /data: \[DONE\]/);
      const plain = await httpsRequest(base, { ca: pki.ca, agent, path: '/healthz' });
      assert.equal(plain.status, 200);
      assert.equal(plain.reused, true);
    } finally {
      agent.destroy();
    }
    // A client that goes away mid-stream: the upstream request is cancelled at once.
    const mark = mock.requests.length;
    await new Promise((resolve, reject) => {
      const req = https.request(
        { method: 'POST', hostname: '127.0.0.1', port: dp.port, path: '/v1/chat/completions', headers, ca: pki.ca, agent: false },
        (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', () => {});
      req.setTimeout(10000, () => reject(new Error('no stream data')));
      req.end(streamBody('leave early', 'openai/gpt-slow-5s'));
    });
    const { value: rec } = await pollUntil(() => mock.requests.slice(mark).find((r) => r.aborted), {
      timeoutMs: 3000,
      what: 'the upstream request to be cancelled',
    });
    assert.ok(rec.closedAt - rec.startedAt < 4000, 'cancelled long before the 5 s stream would end');
  });

  T('plain HTTP to the TLS port fails cleanly, and the port keeps serving HTTPS', async () => {
    const t0 = performance.now();
    await assert.rejects(rawRequest(`http://127.0.0.1:${dp.port}`, { path: '/healthz', timeoutMs: 5000 }), (err) => {
      assert.doesNotMatch(err.message, /timeout/, 'plain HTTP should be refused at once, not left hanging');
      return true;
    });
    assert.ok(performance.now() - t0 < 4000);
    const r = await httpsRequest(base, { ca: pki.ca, path: '/metrics' });
    assert.equal(r.status, 200);
    const m = /^finops_tls_handshake_failures_total (\d+)$/m.exec(r.text);
    assert.ok(m && Number(m[1]) >= 1, r.text);
    assert.match(r.text, /^finops_tls_certificate_expiry_timestamp_seconds \d{10}$/m);
  });

  T('a client that never finishes the TLS handshake is closed after --header-timeout', async () => {
    const handshakeTimeouts = async () => {
      const r = await httpsRequest(base, { ca: pki.ca, path: '/metrics' });
      const m = /^finops_client_timeouts_total\{phase="tls_handshake"\} (\d+)$/m.exec(r.text);
      assert.ok(m, r.text.slice(0, 2000));
      return Number(m[1]);
    };
    const counted = await handshakeTimeouts();
    // One connects and says nothing; one sends the first bytes of a ClientHello and stops.
    const stalled = (bytes) =>
      new Promise((resolve) => {
        const sock = net.connect(dp.port, '127.0.0.1');
        let t0 = 0;
        let received = 0;
        sock.on('connect', () => {
          t0 = performance.now();
          if (bytes) sock.write(bytes);
        });
        sock.on('data', (d) => (received += d.length));
        sock.on('error', () => {});
        const giveUp = setTimeout(() => sock.destroy(), 20000);
        sock.on('close', () => {
          clearTimeout(giveUp);
          resolve({ closedAfterMs: performance.now() - t0, received });
        });
      });
    const results = await Promise.all([stalled(null), stalled(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]))]);
    for (const r of results) {
      assert.ok(r.closedAfterMs >= HEADER_TIMEOUT_S * 1000 - 300, `closed after ${r.closedAfterMs} ms: too early`);
      assert.ok(r.closedAfterMs < HEADER_TIMEOUT_S * 1000 + 2500, `closed after ${r.closedAfterMs} ms: too late`);
      assert.equal(r.received, 0, 'a timed-out handshake gets no answer, just a close');
    }
    assert.equal(await handshakeTimeouts(), counted + 2);
  });

  T('SIGHUP with a new certificate: new connections get it, an open connection keeps working', async () => {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1, ca: pki.ca });
    try {
      const r1 = await httpsRequest(base, { ca: pki.ca, path: '/healthz', agent });
      assert.equal(r1.status, 200);
      assert.equal(r1.fingerprint, certs.first.fingerprint);

      replaceFile(certFile, certs.second.cert);
      replaceFile(keyFile, certs.second.key);
      dp.child.kill('SIGHUP');
      await pollUntil(() => dp.stderr.includes(certs.second.fingerprint), { timeoutMs: 10000, what: 'the second certificate to be loaded' });
      assert.equal((await peerFingerprint(dp.port, pki.ca)).fingerprint, certs.second.fingerprint);
      const fresh = await httpsRequest(base, { ca: pki.ca, path: '/healthz' });
      assert.equal(fresh.fingerprint, certs.second.fingerprint);

      // The kept-alive connection from before the reload: same socket, old certificate, served.
      const r2 = await httpsRequest(base, { ca: pki.ca, path: '/healthz', agent });
      assert.equal(r2.status, 200);
      assert.equal(r2.reused, true, 'the request should reuse the kept-alive connection');
      assert.equal(r2.fingerprint, certs.first.fingerprint);
    } finally {
      agent.destroy();
    }
  });

  T('a broken key keeps the current certificate and logs an error', async () => {
    const failures = count(dp.stderr, /listener TLS reload failed/g);
    replaceFile(keyFile, '-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----\n');
    dp.child.kill('SIGHUP');
    await pollUntil(() => count(dp.stderr, /listener TLS reload failed/g) > failures, { timeoutMs: 10000, what: 'the reload failure to be logged' });
    const line = dp.stderr.split('\n').filter((l) => l.includes('listener TLS reload failed')).pop();
    const j = JSON.parse(line);
    assert.equal(j.level, 'error');
    assert.match(j.error, /--tls-key/);
    assert.ok(!dp.exited, 'the data plane must keep running');
    // Still the second certificate, still serving.
    assert.equal((await peerFingerprint(dp.port, pki.ca)).fingerprint, certs.second.fingerprint);
    const r = await httpsRequest(base, { ca: pki.ca, path: '/healthz' });
    assert.equal(r.status, 200);
    const m = await httpsRequest(base, { ca: pki.ca, path: '/metrics' });
    assert.match(m.text, /^finops_tls_certificate_reloads_total\{result="error"\} [1-9]\d*$/m);
  });

  T('changed files are picked up without a signal (checked every 10 s)', async () => {
    replaceFile(certFile, certs.third.cert);
    replaceFile(keyFile, certs.third.key);
    await pollUntil(async () => (await peerFingerprint(dp.port, pki.ca)).fingerprint === certs.third.fingerprint, {
      timeoutMs: 25000,
      intervalMs: 500,
      what: 'the third certificate to be served',
    });
    const r = await httpsRequest(base, { ca: pki.ca, path: '/healthz' });
    assert.equal(r.status, 200);
  });

  T('plaintext on a non-loopback address needs --allow-plaintext; bad TLS flags exit 2', async () => {
    const start = (args) =>
      spawnSync(bin('finops-dataplane'), ['--control-plane', env.cpAddr, ...args], {
        env: { ...process.env, ...NO_PROXY_ENV },
        encoding: 'utf8',
        timeout: 15000,
      });
    const plain = start(['--listen', '0.0.0.0:0']);
    assert.equal(plain.status, 2, plain.stderr);
    assert.match(plain.stderr, /plaintext/);
    assert.match(plain.stderr, /--allow-plaintext/);
    assert.match(plain.stderr, /--tls-cert/);

    const half = start(['--listen', '127.0.0.1:0', '--tls-cert', certFile]);
    assert.equal(half.status, 2, half.stderr);
    assert.match(half.stderr, /--tls-cert and --tls-key go together/);

    const missing = start(['--listen', '127.0.0.1:0', '--tls-cert', path.join(env.dir, 'nope.crt'), '--tls-key', keyFile]);
    assert.equal(missing.status, 2, missing.stderr);
    assert.match(missing.stderr, /nope\.crt/);

    const mismatched = path.join(env.dir, 'pki', 'mismatched.key');
    fs.writeFileSync(mismatched, certs.first.key);
    const wrongKey = start(['--listen', '127.0.0.1:0', '--tls-cert', certFile, '--tls-key', mismatched]);
    assert.equal(wrongKey.status, 2, wrongKey.stderr);
    assert.match(wrongKey.stderr, /does not belong to the certificate/);

    // Loopback needs nothing; all interfaces with --allow-plaintext start (TLS terminated in front).
    const open = await env.startDataPlane({ nodeId: 'it-tls-plain', extraArgs: ['--listen', '0.0.0.0:0', '--allow-plaintext'] });
    const r = await rawRequest(`http://127.0.0.1:${open.port}`, { path: '/healthz' });
    assert.equal(r.status, 200);
    await open.stop();
  });
});
