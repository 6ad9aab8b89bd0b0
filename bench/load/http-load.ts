/**
 * HTTP load generator, run as its own process so its CPU use is its own and
 * is reported. Bounded: a fixed duration or a fixed number of requests, on
 * loopback only. Closed loop (connections) through autocannon's programmatic
 * API; open loop at a fixed overall rate through `pacedLoad` below, because
 * autocannon's rate is a per-second budget per connection: each connection
 * fires its share back to back at every second boundary, so "117/s" arrives
 * as one burst of 117 requests a second, and the latency measured behind it
 * is the burst's queueing.
 *
 *   node --import tsx bench/load/http-load.ts '<HttpLoadSpec as JSON>'
 *
 * Prints one JSON line (HttpLoadResult) on stdout.
 */
import { Agent, request } from 'node:http';
import autocannon from 'autocannon';
import { SCOPES, tokenSigner } from '../../certs/index.ts';
import { loadTopology } from '../../federation/index.ts';
import type { HttpLoadResult, HttpLoadSpec } from '../lib/load.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as HttpLoadSpec;
const host = new URL(spec.url).hostname;
if (!/^127\.|^localhost$/.test(host)) throw new Error(`load generators stay on loopback; ${host} is not`);

// A unique token per request: signed before the clock starts, one per request, never reused.
let tokens: string[] = [];
let signMs = 0;
if (spec.uniqueTokens) {
  const t0 = performance.now();
  const sign = await tokenSigner({
    secretsDir: spec.uniqueTokens.certsDir,
    topology: loadTopology(spec.uniqueTokens.topologyFile),
    site: spec.uniqueTokens.site,
    scopes: [...SCOPES],
    subject: 'bench',
  });
  tokens = await Promise.all(Array.from({ length: spec.uniqueTokens.count }, () => sign()));
  signMs = performance.now() - t0;
}

/**
 * Open loop: request i is sent at start + i / rate, evenly spaced, whatever
 * the answers before it are doing (up to `connections` in flight; a request
 * with no free connection waits in the agent's queue). Each latency runs from
 * the request's scheduled time to its answer, so a stall counts against every
 * request it held back (no coordinated omission).
 */
async function pacedLoad(rate: number, durationSeconds: number) {
  const agent = new Agent({ keepAlive: true, maxSockets: spec.connections });
  const target = new URL(spec.url);
  const body = Buffer.from(spec.body);
  const headers = { 'content-type': 'application/json', 'content-length': String(body.length), ...spec.headers };
  const total = Math.round(rate * durationSeconds);
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  let errors = 0;
  let timeouts = 0;
  const t0 = performance.now();
  const send = (scheduled: number) =>
    new Promise<void>((resolve) => {
      const req = request(target, { method: 'POST', agent, headers, timeout: 30_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - scheduled);
          if (res.statusCode! >= 200 && res.statusCode! < 300) ok++;
          else non2xx++;
          resolve();
        });
      });
      let timedOut = false;
      req.on('timeout', () => {
        timedOut = true;
        timeouts++;
        req.destroy(new Error('timeout'));
      });
      req.on('error', () => {
        if (!timedOut) errors++;
        resolve();
      });
      req.end(body);
    });
  const inFlight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const scheduled = t0 + (i * 1000) / rate;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    inFlight.push(send(scheduled));
  }
  await Promise.all(inFlight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const q = (p: number) => Math.round((latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0) * 100) / 100;
  return { requests: total, ok, non2xx, errors, timeouts, q, max: latencies.at(-1) ?? 0 };
}

let next = 0;
const cpu = process.cpuUsage();
const started = performance.now();
if (spec.overallRate) {
  if (!spec.durationSeconds || spec.uniqueTokens) throw new Error('an open-loop run (overallRate) takes durationSeconds and no uniqueTokens');
  const r = await pacedLoad(spec.overallRate, spec.durationSeconds);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  const out: HttpLoadResult = {
    requests: r.requests,
    ok: r.ok,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    seconds,
    okPerSecond: r.ok / seconds,
    latencyMs: {
      p1: r.q(0.01),
      p2_5: r.q(0.025),
      p10: r.q(0.1),
      p25: r.q(0.25),
      p50: r.q(0.5),
      p75: r.q(0.75),
      p90: r.q(0.9),
      p97_5: r.q(0.975),
      p99: r.q(0.99),
      p99_9: r.q(0.999),
      max: r.max,
    },
    generatorCpuSeconds: (used.user + used.system) / 1e6,
    tokensSigned: 0,
    signMs: 0,
  };
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}
const result = await autocannon({
  url: spec.url,
  method: 'POST',
  headers: { 'content-type': 'application/json', ...spec.headers },
  body: spec.body,
  connections: spec.connections,
  ...(spec.durationSeconds ? { duration: spec.durationSeconds } : {}),
  ...(spec.uniqueTokens ? { amount: tokens.length } : spec.amount ? { amount: spec.amount } : {}),
  timeout: 30,
  requests: spec.uniqueTokens
    ? [{ setupRequest: (req: autocannon.Request) => ({ ...req, headers: { ...req.headers, authorization: `Bearer ${tokens[next++]}` } }) }]
    : undefined,
});
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
const l = result.latency as unknown as Record<string, number>;
const out: HttpLoadResult = {
  requests: result.requests.total,
  ok: result['2xx'],
  non2xx: result.non2xx,
  errors: result.errors,
  timeouts: result.timeouts,
  seconds,
  okPerSecond: result['2xx'] / seconds,
  latencyMs: {
    p1: l.p1!,
    p2_5: l.p2_5!,
    p10: l.p10!,
    p25: l.p25!,
    p50: l.p50!,
    p75: l.p75!,
    p90: l.p90!,
    p97_5: l.p97_5!,
    p99: l.p99!,
    p99_9: l.p99_9!,
    max: l.max!,
  },
  generatorCpuSeconds: (used.user + used.system) / 1e6,
  tokensSigned: tokens.length,
  signMs,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
