// Helpers for the whole-process integration tests: start the real binaries, wait for them,
// run the real finopsctl, clean up (always), and show each process's log tail on failure.
//
// Binaries come from $FINOPS_BIN_DIR, else <repo>/build/bin.
// Each environment gets its own temp dir holding the SQLite db, the admin token file, the
// finopsctl config dir and one log file per process (<name>.stderr.log / <name>.stdout.log).
// Set FINOPS_IT_KEEP_TMP=1 to keep temp dirs (they are always kept when a test failed).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

import assert from 'node:assert/strict';
const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO_ROOT = path.resolve(here, '..', '..');
// Every gateway process the tests start logs JSON unless a test passes --log-format itself (the
// tests read log lines as JSON).
process.env.FINOPS_LOG_FORMAT ??= 'json';

export const BIN_DIR = process.env.FINOPS_BIN_DIR
  ? path.resolve(process.env.FINOPS_BIN_DIR)
  : path.join(REPO_ROOT, 'build', 'bin');

// `listening on HOST:PORT` inside a log line (plain or JSON): host is a name, IPv4 or [IPv6].
const LISTEN_RE = /listening on\s+(?:\w+:\/\/)?\[?([A-Za-z0-9.\-]+|[0-9a-fA-F:]+)\]?:(\d+)/;

export const bin = (name) => path.join(BIN_DIR, name);

export function binariesPresent() {
  return ['finops-controlplane', 'finops-dataplane', 'finopsctl'].every((n) => fs.existsSync(bin(n)));
}

// ---------------------------------------------------------------------------------------------
// Every child process we start, so that they die with us whatever happens.
const live = new Set();

// Loopback traffic must never go through a proxy (gRPC and HTTP clients may honour these).
const NO_PROXY_ENV = { NO_PROXY: '127.0.0.1,localhost,::1', no_proxy: '127.0.0.1,localhost,::1' };

function killAllSync() {
  for (const p of live) {
    try {
      p.child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
process.on('exit', killAllSync);
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killAllSync();
    process.exit(130);
  });
}

/** A free TCP port on 127.0.0.1 (bind to port 0, read it, close). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function tailOf(file, lines = 40) {
  try {
    const txt = fs.readFileSync(file, 'utf8');
    const all = txt.split('\n');
    return all.slice(Math.max(0, all.length - lines - 1)).join('\n');
  } catch (e) {
    return `(cannot read ${file}: ${e.message})`;
  }
}

/**
 * A spawned binary. stdout and stderr are teed to files in `dir` and kept in memory, so tests
 * can wait for log lines (`waitForOutput`) and print the tail on failure.
 */
export class Proc {
  constructor(name, file, args, { dir, env = {} } = {}) {
    this.name = name;
    this.args = args;
    this.stdout = '';
    this.stderr = '';
    this.stdoutFile = path.join(dir, `${name}.stdout.log`);
    this.stderrFile = path.join(dir, `${name}.stderr.log`);
    const header = `\n===== ${new Date().toISOString()} ${file} ${args.join(' ')}\n`;
    fs.appendFileSync(this.stdoutFile, header);
    fs.appendFileSync(this.stderrFile, header);
    // Credentials from the developer's shell must not change what a test sees.
    const inherited = { ...process.env };
    for (const k of ['FINOPS_DATAPLANE_TOKEN', 'FINOPS_MASTER_KEY', 'FINOPS_PREVIOUS_MASTER_KEYS']) delete inherited[k];
    this.child = spawn(file, args, {
      env: { ...inherited, ...NO_PROXY_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = false;
    this.exitCode = null;
    this.exitSignal = null;
    this.spawnError = null;
    this.exitPromise = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.spawnError = err;
        this.exited = true;
        live.delete(this);
        resolve();
      });
      this.child.on('exit', (code, signal) => {
        this.exited = true;
        this.exitCode = code;
        this.exitSignal = signal;
        live.delete(this);
        fs.appendFileSync(this.stderrFile, `\n===== exited code=${code} signal=${signal}\n`);
        resolve();
      });
    });
    this.child.stdout.on('data', (d) => {
      this.stdout += d.toString();
      fs.appendFileSync(this.stdoutFile, d);
    });
    this.child.stderr.on('data', (d) => {
      this.stderr += d.toString();
      fs.appendFileSync(this.stderrFile, d);
    });
    live.add(this);
  }

  get pid() {
    return this.child.pid;
  }

  describeExit() {
    if (this.spawnError) return `failed to spawn: ${this.spawnError.message}`;
    return `exited early (code=${this.exitCode} signal=${this.exitSignal})`;
  }

  /** Resolves with the first match of `re` in stdout+stderr; rejects on timeout or exit. */
  async waitForOutput(re, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = re.exec(this.stderr) || re.exec(this.stdout);
      if (m) return m;
      if (this.exited) throw new Error(`${this.name} ${this.describeExit()} before printing ${re}\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`${this.name}: no ${re} within ${timeoutMs} ms\n${this.tail()}`);
      await sleep(25);
    }
  }

  /** Waits up to `ms` for exit; true if it exited. */
  async waitExit(ms) {
    if (this.exited) return true;
    let timer;
    const res = await Promise.race([
      this.exitPromise.then(() => true),
      new Promise((r) => {
        timer = setTimeout(() => r(false), ms);
      }),
    ]);
    clearTimeout(timer);
    return res;
  }

  /** SIGTERM, then SIGKILL after graceMs. Returns {code, signal, graceful}. */
  async stop(graceMs = 3000) {
    if (!this.exited) {
      this.child.kill('SIGTERM');
      if (!(await this.waitExit(graceMs))) {
        this.child.kill('SIGKILL');
        await this.waitExit(5000);
        return { code: this.exitCode, signal: this.exitSignal, graceful: false };
      }
    }
    return { code: this.exitCode, signal: this.exitSignal, graceful: true };
  }

  async kill9() {
    if (!this.exited) {
      this.child.kill('SIGKILL');
      await this.waitExit(5000);
    }
  }

  tail(lines = 40) {
    return (
      `----- ${this.name} (pid ${this.pid}) stderr tail: ${this.stderrFile}\n${tailOf(this.stderrFile, lines)}\n` +
      `----- ${this.name} stdout tail: ${this.stdoutFile}\n${tailOf(this.stdoutFile, 10)}`
    );
  }
  /** The JSON log lines on stderr whose msg contains `text`. */
  logLines(text) {
    return this.stderr
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => {
        try {
          return JSON.parse(l);
        } catch {
          return null;
        }
      })
      .filter((j) => j && typeof j.msg === 'string' && j.msg.includes(text));
  }

}

// ---------------------------------------------------------------------------------------------
// Plain HTTP helpers (no SDK).

/**
 * A raw HTTP request with node:http (full control over bytes, no fetch quirks). Resolves
 * {status, headers, text, json, socketReused}. `agent` lets a caller reuse a kept-alive
 * connection (default: a fresh one). The body may be a string, a Buffer, or an array of Buffers/
 * strings sent as separate chunks without content-length (chunked transfer encoding).
 * Write errors after the server answered (it may answer 413 before reading everything) are
 * ignored.
 */
export function rawRequest(baseUrl, { method = 'GET', path: p = '/', headers = {}, body, timeoutMs = 10000, agent = false } = {}) {
  return new Promise((resolve, reject) => {
    const u = new URL(p, baseUrl);
    const chunked = Array.isArray(body);
    const hdrs = { ...headers };
    if (body !== undefined && !chunked) hdrs['content-length'] = Buffer.byteLength(body);
    const req = http.request(
      { method, hostname: u.hostname, port: u.port, path: u.pathname + u.search, headers: hdrs, agent },
      (res) => {
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
          resolve({ status: res.statusCode, headers: res.headers, text, json, socketReused: req.reusedSocket });
        });
        res.on('error', reject);
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timeout after ${timeoutMs} ms: ${method} ${p}`)));
    let answered = false;
    req.on('response', () => {
      answered = true;
    });
    req.on('error', (err) => {
      if (!answered) reject(err);
    });
    if (body === undefined) {
      req.end();
    } else if (chunked) {
      (async () => {
        for (const c of body) {
          if (answered || req.destroyed) break;
          req.write(c);
          await sleep(1);
        }
        if (!req.destroyed) req.end();
      })();
    } else {
      req.end(body);
    }
  });
}

/** GET /readyz: {status, json}. Never throws (status 0 on connection error). */
export async function readyz(dpUrl) {
  try {
    const r = await rawRequest(dpUrl, { path: '/readyz', timeoutMs: 2000 });
    return { status: r.status, json: r.json };
  } catch (e) {
    return { status: 0, json: null, error: e.message };
  }
}

/** Polls `fn` every `intervalMs` until it returns a truthy value; returns {value, ms}. */
export async function pollUntil(fn, { timeoutMs = 5000, intervalMs = 50, what = 'condition' } = {}) {
  const t0 = performance.now();
  let last;
  for (;;) {
    last = await fn();
    if (last) return { value: last, ms: performance.now() - t0 };
    if (performance.now() - t0 > timeoutMs) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await sleep(intervalMs);
  }
}

// ---------------------------------------------------------------------------------------------
// finopsctl

/**
 * Runs the real finopsctl (asynchronously: the mock upstream lives in this process, so the event
 * loop must keep running). Returns {code, signal, stdout, stderr, json} where json is stdout
 * parsed as JSON, or null.
 */
export function runCtl(args, { env = {}, input, timeoutMs = 20000 } = {}) {
  return new Promise((resolve) => {
    const baseEnv = { ...process.env };
    delete baseEnv.FINOPS_ADDR;
    delete baseEnv.FINOPS_TOKEN;
    for (const v of ['FINOPS_CA_FILE', 'FINOPS_CERT_FILE', 'FINOPS_KEY_FILE', 'FINOPS_TLS_SERVER_NAME']) delete baseEnv[v];
    const child = spawn(bin('finopsctl'), args, {
      env: { ...baseEnv, ...NO_PROXY_ENV, ...env },
      stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    if (input !== undefined) child.stdin.end(input);
    const done = (code, signal, spawnErr) => {
      clearTimeout(timer);
      let json = null;
      try {
        json = JSON.parse(stdout);
      } catch {
        /* not JSON */
      }
      if (spawnErr) stderr += `\n(spawn error: ${spawnErr.message})`;
      resolve({ code, signal, stdout, stderr, json, args });
    };
    child.on('error', (err) => done(null, null, err));
    child.on('close', (code, signal) => done(code, signal));
  });
}

/** Human-readable summary of a ctl result, for assertion messages. */
export function showCtl(r) {
  return `finopsctl ${r.args.join(' ')} -> code=${r.code} signal=${r.signal}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

// ---------------------------------------------------------------------------------------------
// An environment: one temp dir, a control plane, optionally a data plane.

export class FinopsEnv {
  constructor(label = 'env') {
    this.label = label;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `finops-it-${label}-`));
    this.cpDir = path.join(this.dir, 'cp');
    this.dbPath = path.join(this.cpDir, 'finops.db');
    this.tokenFile = path.join(this.cpDir, 'admin-token');
    this.xdg = path.join(this.dir, 'xdg');
    fs.mkdirSync(this.xdg, { recursive: true });
    this.procs = []; // every Proc ever started here (for log dumps)
    this.cp = null;
    this.dp = null;
    this.cpAddr = null;
    this.dpUrl = null;
    this.token = null;
    this.failed = false;
    this.cpStarts = 0;
    this.dpStarts = 0;
    // Extra environment for every finopsctl run by ctl() (e.g. FINOPS_CA_FILE for TLS).
    this.ctlEnv = {};
  }

  /**
   * Starts finops-controlplane. Port 0 unless `port` is given (a restart reuses the real port).
   * Resolves once `finopsctl whoami` succeeds with the admin token. `host` is the listen host
   * (finopsctl and data planes still dial 127.0.0.1); `extraArgs` are appended (e.g. TLS flags).
   * `logFormat` is --log-format (default json: tests read JSON log lines; null: the binary's
   * default); `metricsListen` is --metrics-listen (default 127.0.0.1:0, so parallel tests never
   * fight over the default port; null: not passed). See controlPlaneMetricsUrl().
   */
  async startControlPlane({ port = 0, waitReady = true, host = '127.0.0.1', extraArgs = [], logFormat = 'json', metricsListen = '127.0.0.1:0' } = {}) {
    this.cpStarts += 1;
    const name = `controlplane-${this.cpStarts}`;
    const args = ['--db', this.dbPath, '--listen', `${host}:${port}`, '--admin-token-file', this.tokenFile];
    if (logFormat) args.push('--log-format', logFormat);
    if (metricsListen && !extraArgs.includes('--metrics-listen')) args.push('--metrics-listen', metricsListen);
    args.push(...extraArgs);
    const proc = new Proc(name, bin('finops-controlplane'), args, { dir: this.dir });
    this.procs.push(proc);
    this.cp = proc;
    const m = await proc.waitForOutput(LISTEN_RE, 20000);
    const realPort = Number(m[2]);
    if (port !== 0 && realPort !== port) {
      throw new Error(`${name} says it listens on port ${realPort}, asked for ${port}`);
    }
    if (realPort === 0) throw new Error(`${name} printed port 0 in its "listening on" line:\n${proc.tail()}`);
    this.cpPort = realPort;
    this.cpAddr = `127.0.0.1:${realPort}`;
    if (waitReady) await this.waitControlPlaneReady(proc);
    return proc;
  }

  /**
   * The control plane's metrics base URL (http://HOST:PORT), from its log line
   * {"msg":"metrics listening","address":"HOST:PORT"} (or, in text format,
   * `... metrics listening address=HOST:PORT`).
   */
  async controlPlaneMetricsUrl(proc = this.cp, timeoutMs = 10000) {
    const m = await proc.waitForOutput(/"msg":"metrics listening"[^\n]*?"address":"([^"]+)"|metrics listening[^\n]*? address=(\S+)/, timeoutMs);
    return `http://${m[1] ?? m[2]}`;
  }

  /** Polls `finopsctl whoami` until it exits 0 (reads the token file first). */
  async waitControlPlaneReady(proc = this.cp, timeoutMs = 15000) {
    const deadline = Date.now() + timeoutMs;
    let last = null;
    for (;;) {
      if (proc.exited) throw new Error(`${proc.name} ${proc.describeExit()}\n${proc.tail()}`);
      if (!this.token && fs.existsSync(this.tokenFile)) {
        const t = fs.readFileSync(this.tokenFile, 'utf8').trim();
        if (t) this.token = t;
      }
      if (this.token) {
        last = await this.ctl(['whoami', '--timeout', '2']);
        if (last.code === 0) return;
      }
      if (Date.now() > deadline) {
        throw new Error(
          `control plane not ready after ${timeoutMs} ms (token file ${fs.existsSync(this.tokenFile) ? 'present' : 'missing'})` +
            (last ? `\nlast whoami: ${showCtl(last)}` : '') +
            `\n${proc.tail()}`,
        );
      }
      await sleep(100);
    }
  }

  /**
   * Starts finops-dataplane against this environment's control plane on 127.0.0.1:0 and waits
   * for /readyz 200. The returned Proc also carries `port` and `url` (http://127.0.0.1:PORT),
   * so several data planes can run in one environment (env.dp / env.dpUrl are the last one).
   * `env` adds environment variables (e.g. FINOPS_DATAPLANE_TOKEN). `logFormat` is --log-format
   * (default json; null: the binary's default).
   */
  async startDataPlane({ nodeId = 'it-dp-1', maxBodyBytes, threads = 2, drainTimeout = 2, extraArgs = [], waitReady = true, env = {}, logFormat = 'json' } = {}) {
    this.dpStarts += 1;
    const name = `dataplane-${this.dpStarts}`;
    const args = ['--control-plane', this.cpAddr, '--listen', '127.0.0.1:0', '--threads', String(threads), '--node-id', nodeId, '--drain-timeout', String(drainTimeout)];
    if (logFormat) args.push('--log-format', logFormat);
    if (maxBodyBytes !== undefined) args.push('--max-body-bytes', String(maxBodyBytes));
    args.push(...extraArgs);
    const proc = new Proc(name, bin('finops-dataplane'), args, { dir: this.dir, env });
    this.procs.push(proc);
    this.dp = proc;
    this.nodeId = nodeId;
    const m = await proc.waitForOutput(LISTEN_RE, 20000);
    const realPort = Number(m[2]);
    if (realPort === 0) throw new Error(`${name} printed port 0 in its "listening on" line:\n${proc.tail()}`);
    this.dpPort = realPort;
    this.dpUrl = `http://127.0.0.1:${realPort}`;
    proc.port = realPort;
    proc.url = this.dpUrl;
    proc.nodeId = nodeId;
    if (waitReady) {
      const deadline = Date.now() + 15000;
      let last;
      for (;;) {
        if (proc.exited) throw new Error(`${name} ${proc.describeExit()}\n${proc.tail()}`);
        last = await readyz(this.dpUrl);
        if (last.status === 200) break;
        if (Date.now() > deadline) {
          throw new Error(`${name}: /readyz not 200 after 15 s (last: ${last.status} ${JSON.stringify(last.json)})\n${proc.tail()}`);
        }
        await sleep(50);
      }
    }
    return proc;
  }

  /** finopsctl against this environment (FINOPS_ADDR/FINOPS_TOKEN set, private config dir). */
  ctl(args, { env = {}, input, timeoutMs, token, addr } = {}) {
    const e = {
      XDG_CONFIG_HOME: this.xdg,
      HOME: this.dir,
      ...(addr ?? this.cpAddr ? { FINOPS_ADDR: addr ?? this.cpAddr } : {}),
      ...(token ?? this.token ? { FINOPS_TOKEN: token ?? this.token } : {}),
      ...this.ctlEnv,
      ...env,
    };
    return runCtl(args, { env: e, input, timeoutMs });
  }

  /** finopsctl that must exit 0; returns parsed json (when -o json) or the result. */
  async ctlOk(args, opts) {
    const r = await this.ctl(args, opts);
    if (r.code !== 0) throw new Error(`expected exit 0:\n${showCtl(r)}`);
    return r;
  }

  dumpLogs(why = '') {
    this.failed = true;
    const out = [`\n######## FinOps process logs (${this.label}) ${why ? `after failure in: ${why}` : ''}`, `temp dir: ${this.dir}`];
    for (const p of this.procs) out.push(p.tail());
    console.error(out.join('\n'));
  }

  /** Stops every process (SIGTERM, then SIGKILL) and removes the temp dir unless a test failed. */
  async cleanup() {
    for (const p of this.procs) {
      try {
        await p.stop(3000);
      } catch {
        /* ignore */
      }
    }
    if (this.failed || process.env.FINOPS_IT_KEEP_TMP) {
      console.error(`(kept temp dir ${this.dir})`);
    } else {
      fs.rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

/**
 * Wraps a test body so that, if it throws, the environment's process logs are printed.
 * Usage: test('name', logged(env, async (t) => { ... }))
 */
export function logged(getEnv, fn) {
  return async (t) => {
    try {
      await fn(t);
    } catch (err) {
      const envs = [].concat(typeof getEnv === 'function' ? getEnv() : getEnv).filter(Boolean);
      for (const e of envs) e.dumpLogs(t.name);
      throw err;
    }
  };
}

// ---- assertions shared by the test files

export function assertCode(r, code) {
  assert.equal(r.code, code, `expected exit ${code}\n${showCtl(r)}`);
  if (code !== 0) assert.match(r.stderr, /^error: /m, `stderr should have a line starting with "error: "\n${showCtl(r)}`);
}

/** Asserts an OpenAI-shaped error response from the data plane; returns the error object. */
export function assertErrorShape(r, status, { code, type } = {}) {
  const ctx = `status=${r.status} headers=${JSON.stringify(r.headers)} body=${r.text.slice(0, 500)}`;
  assert.equal(r.status, status, ctx);
  assert.ok(r.headers['x-request-id'], `missing x-request-id; ${ctx}`);
  assert.match(String(r.headers['content-type']), /^application\/json/, `content-type; ${ctx}`);
  assert.ok(r.json && typeof r.json === 'object' && r.json.error && typeof r.json.error === 'object', `not {"error":{...}}; ${ctx}`);
  const e = r.json.error;
  assert.equal(typeof e.message, 'string', `error.message; ${ctx}`);
  assert.ok(e.message.length > 0, `empty error.message; ${ctx}`);
  assert.equal(typeof e.type, 'string', `error.type; ${ctx}`);
  assert.ok('param' in e, `error.param missing; ${ctx}`);
  assert.ok('code' in e, `error.code missing; ${ctx}`);
  if (code !== undefined) assert.equal(e.code, code, `error.code; ${ctx}`);
  if (type !== undefined) assert.equal(e.type, type, `error.type; ${ctx}`);
  return e;
}

// ---- Prometheus /metrics, parsed by a real text-format parser (prom2javascript)

/** Every label of `want` is in `have` with the same value (`have` may carry more). */
function labelsInclude(have, want) {
  return Object.entries(want).every(([k, v]) => have[k] === String(v));
}

const showLabels = (labels) => `{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;

/**
 * GET `path` (default /metrics) on `baseUrl` and parse it with prom2javascript, which throws on
 * any line that is not valid Prometheus text format and on a histogram whose +Inf bucket differs
 * from its _count: that is a real failure, never massaged here. Resolves a snapshot:
 *   families            {name: {type, help, data}} as the parser returns them
 *   text, contentType   the raw exposition
 *   has(name)           the family was exposed (a TYPE line or samples)
 *   type(name)          'counter' | 'gauge' | 'histogram' | ...
 *   series(name, labels) counters/gauges: [{labels, value}] whose labels include `labels`
 *   value(name, labels) the one series matching (throws if several match); undefined if none
 *   sum(name, labels)   the sum over every matching series (0 if none)
 *   histogram(name, labels) the one histogram matching: {labels, count, sum,
 *                       buckets: [{le (number, Infinity for +Inf), count}] sorted by le}; or
 *                       undefined if none
 */
export async function scrapeMetrics(baseUrl, { path: p = '/metrics', timeoutMs = 5000 } = {}) {
  const { getMetricsFromIterator } = await import('prom2javascript');
  const r = await rawRequest(baseUrl, { path: p, timeoutMs });
  if (r.status !== 200) throw new Error(`GET ${baseUrl}${p}: status ${r.status}: ${r.text.slice(0, 300)}`);
  let families;
  try {
    families = await getMetricsFromIterator(r.text.split('\n')[Symbol.iterator]());
  } catch (err) {
    throw new Error(`${baseUrl}${p}: not valid Prometheus text format: ${err.message}\n----\n${r.text.slice(0, 4000)}`);
  }
  const fam = (name) => families[name];
  const matching = (name, labels) => (fam(name)?.data ?? []).filter((d) => labelsInclude(d.labels ?? {}, labels));
  const one = (name, labels) => {
    const m = matching(name, labels);
    if (m.length > 1) {
      throw new Error(`${name}${showLabels(labels)} matches ${m.length} series: ${m.map((d) => showLabels(d.labels)).join(' ')}`);
    }
    return m[0];
  };
  return {
    families,
    text: r.text,
    contentType: r.headers['content-type'],
    has: (name) => Boolean(fam(name)),
    type: (name) => fam(name)?.type,
    series: (name, labels = {}) => matching(name, labels).map((d) => ({ labels: d.labels ?? {}, value: d.value })),
    value(name, labels = {}) {
      const d = one(name, labels);
      return d === undefined ? undefined : d.value;
    },
    sum: (name, labels = {}) => matching(name, labels).reduce((s, d) => s + d.value, 0),
    histogram(name, labels = {}) {
      if (fam(name) && fam(name).type !== 'histogram') throw new Error(`${name} is a ${fam(name).type}, not a histogram`);
      const h = one(name, labels);
      if (h === undefined) return undefined;
      const buckets = Object.entries(h.buckets)
        .map(([le, count]) => ({ le: le === '+Inf' ? Infinity : Number(le), count }))
        .sort((a, b) => a.le - b.le);
      return { labels: h.labels, count: h.count, sum: h.sum, buckets };
    },
  };
}
