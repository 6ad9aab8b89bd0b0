/**
 * HTTP load generator, run as its own process so its CPU use is its own and
 * is reported. Bounded: a fixed duration or a fixed number of requests, on
 * loopback only. autocannon's programmatic API; closed loop (connections) or
 * open loop at a fixed overall rate.
 *
 *   node --import tsx bench/load/http-load.ts '<HttpLoadSpec as JSON>'
 *
 * Prints one JSON line (HttpLoadResult) on stdout.
 */
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

let next = 0;
const cpu = process.cpuUsage();
const started = performance.now();
const result = await autocannon({
  url: spec.url,
  method: 'POST',
  headers: { 'content-type': 'application/json', ...spec.headers },
  body: spec.body,
  connections: spec.connections,
  ...(spec.durationSeconds ? { duration: spec.durationSeconds } : {}),
  ...(spec.uniqueTokens ? { amount: tokens.length } : spec.amount ? { amount: spec.amount } : {}),
  ...(spec.overallRate ? { overallRate: spec.overallRate } : {}),
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
