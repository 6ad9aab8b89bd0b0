/**
 * fedgate benchmarks: every measure of the performance issue, side by side in
 * one run on this machine. Prints a table, writes bench/results/latest.json
 * (and a dated copy) and bench/results/latency.svg.
 *
 *   npm run bench                 full run (longer loads)
 *   npm run bench -- --quick      shorter loads, same measures (the issue asks under 10 minutes)
 *   npm run bench -- --profile    also CPU-profiles the gateways and prints where the time goes
 *   npm run bench -- --skip-start leaves out the `npm start` timing (when a federation is already up)
 *
 * Never part of `npm test`: these are figures, not pass/fail checks.
 */
import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EVENT_TYPES } from '../contract/index.ts';
import { findManaged, stopProcess } from '../deploy/index.ts';
import { BENCH_ENV } from './env.ts';
import { type BenchFederation, type PublishBench, REPO_ROOT, STATE_DIR, startBenchFederation, startPublishBench, withBenchDb } from './lib/federation.ts';
import { ascending, consumerHop, percentile, priceBookConsumed, publishedCount } from './lib/latency-rows.ts';
import { type HttpLoadResult, httpLoad, type KafkaLoadResult, kafkaLoad } from './lib/load.ts';
import { type Mm2Run, mm2Throughput } from './lib/mm2-throughput.ts';
import { runPeerBench } from './lib/peer-bench.ts';
import { cpuSecondsOf, MiB, processGroup, totalRss, withDescendants } from './lib/proc.ts';
import { summarizeProfiles } from './lib/profile.ts';
import { type CdfSeries, cdfOf, cdfSvg, table } from './lib/report.ts';
import { createBenchTopics } from './lib/topics.ts';

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const profile = argv.includes('--profile');
const skipStart = argv.includes('--skip-start');
const P = quick
  ? { seconds: 8, latencySeconds: 12, replicationSeconds: 20, mm2Records: 200_000, rowsPerSite: 1_000_000, queries: 40, maxUniqueTokens: 30_000 }
  : { seconds: 20, latencySeconds: 30, replicationSeconds: 60, mm2Records: 500_000, rowsPerSite: 1_000_000, queries: 200, maxUniqueTokens: 100_000 };
/** Cores the federation uses with no load (its own polling, heartbeats and checkpoints), measured once after its start. */
let idleCores = 0;

const BATCH = 100;
const BATCH_CONNECTIONS = 8;
const SINGLE_CONNECTIONS = 32;
const SOURCE = 'cloud-a';
const TARGET = 'cloud-b';
const TARGET_REGION = 'us';
const RESULTS = join(REPO_ROOT, 'bench', 'results');

const say = (line: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;

/** A valid price update routed from cloud-a to cloud-b only; the gateway gives each one a new id. */
const priceEvent = (productId: string) => ({
  type: EVENT_TYPES.price,
  data: { productId, region: TARGET_REGION, price: { currency: 'USD', amount: '19.99' } },
});
const batchBody = JSON.stringify(Array.from({ length: BATCH }, (_, i) => priceEvent(`bench-sku-${i}`)));
const singleBody = JSON.stringify(priceEvent('bench-sku-single'));

interface Figures {
  [k: string]: unknown;
}
const results: { date: string; quick: boolean; profile: boolean; machine: Figures; parameters: Figures; measures: Figures; runs: Figures; notes: string[] } = {
  date: new Date().toISOString(),
  quick,
  profile,
  machine: machine(),
  parameters: { ...P, batch: BATCH, batchConnections: BATCH_CONNECTIONS, singleConnections: SINGLE_CONNECTIONS },
  measures: {},
  runs: {},
  notes: [],
};
const plots: CdfSeries[] = [];

function machine(): Figures {
  const java = execFileSync('sh', ['-c', 'java -version 2>&1 | head -1'], { encoding: 'utf8' }).trim();
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? '?',
    memoryGiB: round(totalmem() / 2 ** 30, 1),
    node: process.version,
    java,
    kernel: readFileSync('/proc/version', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

const httpRow = (r: HttpLoadResult) => ({
  okPerSecond: round(r.okPerSecond),
  ok: r.ok,
  non2xx: r.non2xx,
  errors: r.errors,
  p50Ms: r.latencyMs.p50,
  p99Ms: r.latencyMs.p99,
  generatorCpuSeconds: round(r.generatorCpuSeconds, 2),
  seconds: round(r.seconds, 1),
});
const kafkaRow = (r: KafkaLoadResult) => ({
  eventsPerSecond: round(r.eventsPerSecond),
  events: r.events,
  sendP50Ms: round(r.sendLatencyMs.p50, 1),
  sendP99Ms: round(r.sendLatencyMs.p99, 1),
  generatorCpuSeconds: round(r.cpuSeconds, 2),
  seconds: round(r.seconds, 1),
});
const httpCdf = (name: string, r: HttpLoadResult): CdfSeries => ({
  name,
  points: (
    [
      [r.latencyMs.p1, 0.01],
      [r.latencyMs.p2_5, 0.025],
      [r.latencyMs.p10, 0.1],
      [r.latencyMs.p25, 0.25],
      [r.latencyMs.p50, 0.5],
      [r.latencyMs.p75, 0.75],
      [r.latencyMs.p90, 0.9],
      [r.latencyMs.p97_5, 0.975],
      [r.latencyMs.p99, 0.99],
      [r.latencyMs.p99_9, 0.999],
      [r.latencyMs.max, 1],
    ] as Array<[number, number]>
  ).map(([ms, s]) => [Math.max(ms, 0.1), s]),
});

/** Runs `load` while counting the gateway process's CPU seconds. */
async function withGatewayCpu<T extends { ok?: number }>(pid: number, load: () => Promise<T>): Promise<{ result: T; cpuSeconds: number }> {
  const before = cpuSecondsOf(pid);
  const result = await load();
  return { result, cpuSeconds: cpuSecondsOf(pid) - before };
}

// ---------------------------------------------------------------- npm start

async function measureNpmStart(): Promise<Figures> {
  say('npm start: timing the start of the three-site federation (jars cached)');
  const child = spawn('npm', ['start'], { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...BENCH_ENV.system, FORCE_COLOR: '0' } });
  const started = performance.now();
  let out = '';
  const ready = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => resolve(null), 240_000);
    const onData = (d: Buffer) => {
      out += d;
      if (/\[5\/5\] ready in/.test(out)) {
        clearTimeout(timer);
        resolve((performance.now() - started) / 1000);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', () => resolve(null));
  });
  let rss: number | null = null;
  if (ready !== null) {
    await sleep(10_000);
    const own = processGroup(child.pid!);
    // Each managed process with every process below it: PostgreSQL's backends and workers are the postmaster's children.
    const managed = findManaged(join(STATE_DIR, 'run')).flatMap((p) => withDescendants(p.pid));
    rss = totalRss([...new Set([...own, ...managed])]);
  }
  try {
    process.kill(-child.pid!, 'SIGINT');
  } catch {
    // gone
  }
  const stopping = performance.now();
  const deadline = Date.now() + 90_000;
  // npm ends by the signal (exitCode stays null, signalCode is set): waiting on exitCode alone sat out the whole deadline.
  const stillRunning = () => (child.exitCode === null && child.signalCode === null) || findManaged(join(STATE_DIR, 'run')).length > 0;
  let left = stillRunning();
  while (left && Date.now() < deadline) {
    await sleep(500);
    left = stillRunning();
  }
  const stopSeconds = left ? null : round((performance.now() - stopping) / 1000, 1);
  if (ready === null) results.notes.push(`npm start did not print ready within 240 s: ${out.trim().split('\n').slice(-3).join(' | ')}`);
  if (stopSeconds === null) results.notes.push('npm start: something still ran 90 s after Ctrl-C');
  return {
    readySeconds: ready === null ? null : round(ready, 1),
    rssMiB10sAfterReady: rss === null ? null : round(rss / MiB),
    stopSecondsAfterCtrlC: stopSeconds,
    demoPisRunning: true,
  };
}

// ---------------------------------------------------------------- main

mkdirSync(RESULTS, { recursive: true });
const runDir = join(STATE_DIR, 'bench-runs', randomUUID().slice(0, 8));
const profileDir = join(runDir, 'profiles');
let fed: BenchFederation | null = null;
/** pid -> role of the processes to profile. */
const profiled = new Map<number, string>();
const started = performance.now();
// Ctrl-C or a kill mid-run: stop every broker, MM2 node and Node process this
// run started (they carry its run folder), then leave with the signal's code.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    say(`${signal}: stopping what this run started`);
    void Promise.all(findManaged(runDir).map((p) => stopProcess(p.pid, p.runDir, { hard: true }).catch(() => undefined))).finally(() =>
      process.exit(signal === 'SIGINT' ? 130 : 143),
    );
  });
}
try {
  if (!skipStart) results.measures.startup = await measureNpmStart();

  // ---- Phase 1: the publish path (measures 1-4, 9) on a broker nothing consumes from.
  say('publish bench: a broker and a gateway (nothing consumes what they write), plus a second broker for MM2');
  const pubDir = join(runDir, 'publish');
  const pb = await startPublishBench({ runDir: pubDir, log: say, nodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [] });
  try {
    const gatewayPid = pb.launcher.pidOf('pub', 'gateway')!;
    profiled.set(gatewayPid, 'publish-bench gateway');
    await measurePublish(pb, gatewayPid);
    // Measure 3 on the same broker and gateway: the FastAPI peer and the ceilings.
    say('3: the FastAPI peer and the ceilings (bench/lib/peer-bench.ts)');
    await measurePeer(pb);
    // ---- Phase 2: MirrorMaker 2 over mTLS and plaintext, pub -> sink.
    say(`6: MirrorMaker 2 throughput over mTLS (${P.mm2Records} records of 1 KB)`);
    const mm2: Mm2Run[] = await mm2Throughput(pb, { from: 'pub', to: 'sink', records: P.mm2Records, log: say });
    results.runs.mm2 = mm2;
    const tls = mm2.find((r) => r.mode === 'mtls')!;
    const eos = mm2.find((r) => r.mode === 'mtls-eos')!;
    // Every listener requires mTLS now, so there is no plaintext path to compare against.
    results.measures.m6b = {
      mm2MtlsRecordsPerSecond: round(tls.recordsPerSecond),
      mm2PlaintextRecordsPerSecond: null,
      mtlsOverPlaintext: null,
      // Exactly-once MM2 (transactions) against at least once, same records, same run.
      mm2ExactlyOnceRecordsPerSecond: round(eos.recordsPerSecond),
      exactlyOnceOverAtLeastOnce: round(eos.recordsPerSecond / tls.recordsPerSecond, 2),
    };
    results.notes.push('6: MM2 over plaintext is not measured: every Kafka listener requires mTLS (no PLAINTEXT listener remains)');
  } finally {
    await pb.stop();
  }

  // ---- Phase 3: the three-site federation (measures 5-8).
  say('starting the benchmark federation (3 sites, PostgreSQL)');
  fed = await startBenchFederation({
    runDir: join(runDir, 'federation'),
    log: (l) => say(l),
    nodeArgs: profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [],
  });
  const f = fed;
  const gateway = f.launcher.gatewayUrl(SOURCE);
  const auth = { authorization: `Bearer ${await f.token(SOURCE)}` };
  profiled.set(f.launcher.pidOf(SOURCE, 'gateway')!, `federation ${SOURCE} gateway`);
  profiled.set(f.launcher.pidOf(TARGET, 'instance')!, `federation ${TARGET} instance`);
  results.runs.benchFederationUpSeconds = round(f.upSeconds, 1);
  await sleep(10_000);
  const idleRss = totalRss(f.pids());
  // Just after "ready" the federation still uses most of the two cores (JIT compilation in seven JVMs, first
  // checkpoints and group joins): loads measured then say more about its start than about its path. Wait until
  // it uses under one core, at most 120 s (60 s quick), then take its idle use as the floor quiesce returns to.
  const settling = performance.now();
  let settleCores = await coresUsed(f.pids(), 5);
  while (settleCores >= 1 && performance.now() - settling < (quick ? 60_000 : 120_000)) settleCores = await coresUsed(f.pids(), 5);
  idleCores = await coresUsed(f.pids(), 10);
  results.runs.federationSettleSeconds = round((performance.now() - settling) / 1000, 1);
  results.runs.federationIdleCores = round(idleCores, 2);
  say(
    `idle RSS of the federation: ${round(idleRss / MiB)} MiB; idle CPU ${round(idleCores, 2)} cores after ${results.runs.federationSettleSeconds} s of settling`,
  );
  say('warm-up: 5 s of publishes through the federation');
  await httpLoad({ url: `${gateway}/v1/events`, headers: auth, body: singleBody, connections: 8, durationSeconds: 5 });
  await quiesce(f.pids());

  // The federation's own peaks: its publish rate is bounded by the downstream
  // work every event causes at every site (MM2, consumers, monitoring), all on this machine.
  say(`federation peaks: single-event and batched publish at ${SOURCE}, ${P.seconds} s each`);
  const fedSingle = await httpLoad({
    url: `${gateway}/v1/events`,
    headers: auth,
    body: singleBody,
    connections: SINGLE_CONNECTIONS,
    durationSeconds: P.seconds,
  });
  await quiesce(f.pids());
  const fedBatched = await httpLoad({
    url: `${gateway}/v1/events`,
    headers: auth,
    body: batchBody,
    connections: BATCH_CONNECTIONS,
    durationSeconds: P.seconds,
  });
  results.runs.federationSingle = httpRow(fedSingle);
  results.runs.federationBatched = { ...httpRow(fedBatched), eventsPerSecond: round(fedBatched.okPerSecond * BATCH) };
  await quiesce(f.pids());

  // 5. Cross-site latency, open loop at half the single-event peak.
  const rate = Math.max(20, Math.round(fedSingle.okPerSecond * 0.5));
  const tag = `lat-${randomUUID().slice(0, 8)}`;
  say(`5: cross-site latency ${SOURCE} -> ${TARGET}: open loop at ${rate} events/s (50 % of the federation's single-event peak) for ${P.latencySeconds} s`);
  const latencyLoad = await httpLoad({
    url: `${gateway}/v1/events`,
    headers: auth,
    body: JSON.stringify(priceEvent(tag)),
    connections: 64,
    overallRate: rate,
    durationSeconds: P.latencySeconds,
  });
  const lat = await consumedLatencies(f, TARGET, tag, latencyLoad.ok);
  results.runs.latencyLoad = httpRow(latencyLoad);
  results.measures.m5 = {
    ratePerSecond: rate,
    acknowledgedAtSource: latencyLoad.ok,
    publishedAtSource: lat.published,
    consumedAtTarget: lat.consumed.length,
    p50Ms: percentile(lat.consumed, 0.5),
    p90Ms: percentile(lat.consumed, 0.9),
    p99Ms: percentile(lat.consumed, 0.99),
    maxMs: lat.consumed.at(-1),
    mm2Hop: { what: 'accept -> copy landed at the target broker', p50Ms: percentile(lat.replicated, 0.5), p99Ms: percentile(lat.replicated, 0.99) },
    consumerHop: {
      what: 'copy landed -> consumed (price book updated in the DB)',
      p50Ms: percentile(lat.consumerHop, 0.5),
      p99Ms: percentile(lat.consumerHop, 0.99),
    },
    target: 'p50 <= 10 ms, p99 <= 50 ms',
  };
  // The same path at a low rate: what the hops cost when the machine is not busy.
  const lowRate = 20;
  const lowTag = `lat-${randomUUID().slice(0, 8)}`;
  say(`5: the same at ${lowRate} events/s for 10 s (the unloaded floor)`);
  await quiesce(f.pids());
  const lowLoad = await httpLoad({
    url: `${gateway}/v1/events`,
    headers: auth,
    body: JSON.stringify(priceEvent(lowTag)),
    connections: 8,
    overallRate: lowRate,
    durationSeconds: 10,
  });
  const low = await consumedLatencies(f, TARGET, lowTag, lowLoad.ok);
  (results.measures.m5 as Figures).atLowRate = {
    ratePerSecond: lowRate,
    consumed: low.consumed.length,
    p50Ms: percentile(low.consumed, 0.5),
    p99Ms: percentile(low.consumed, 0.99),
    mm2HopP50Ms: percentile(low.replicated, 0.5),
    mm2HopP99Ms: percentile(low.replicated, 0.99),
  };
  plots.push(
    { name: `cross-site ${SOURCE} HTTP accept -> consumed at ${TARGET} (MM2, mTLS), ${rate}/s open loop`, points: cdfOf(lat.consumed) },
    { name: `  the same at ${lowRate}/s`, points: cdfOf(low.consumed) },
    { name: `  of which accept -> copy landed at ${TARGET} (MM2 hop)`, points: cdfOf(lat.replicated) },
  );

  // 6. Replication at 80 % of the federation's batched peak; RSS under load.
  await quiesce(f.pids());
  const repRate = Math.max(1, Math.round((fedBatched.okPerSecond * BATCH * 0.8) / BATCH));
  say(`6: replication at ${repRate * BATCH} events/s (80 % of the federation's batched peak) for ${P.replicationSeconds} s`);
  results.measures.m6 = { ...(await measureReplication(f, gateway, auth, repRate)), ...(results.measures.m6b as Figures) };
  delete results.measures.m6b;

  // 7. Federated view with a million monitoring rows per site.
  results.measures.m7 = await measureFederatedView(f, gateway);

  // 8. Footprint.
  results.measures.m8 = {
    ...((results.measures.startup as Figures) ?? {}),
    benchIdleRssMiB: round(idleRss / MiB),
    benchLoadRssMiB: (results.measures.m6 as Figures).peakRssMiB,
    target: '<= 4096 MiB; ready <= 60 s',
  };
} finally {
  if (fed) {
    // Its data is discarded: SIGKILL at once (a graceful stop took ~35 s), unless the Node processes must write their profiles.
    say(`stopping the benchmark federation${profile ? '' : ' (SIGKILL: nothing in it is kept)'}`);
    await fed.stop({ hard: !profile });
  }
}

if (profile) {
  const report = summarizeProfiles(profileDir, readdirSafe(profileDir), profiled);
  writeFileSync(join(RESULTS, 'profile.txt'), report);
  console.log(report);
}
rmSync(runDir, { recursive: true, force: true });
results.runs.totalSeconds = round((performance.now() - started) / 1000);
printSummary();
writeFileSync(join(RESULTS, 'latest.json'), JSON.stringify(results, null, 2));
writeFileSync(join(RESULTS, `bench-${results.date.replace(/[:.]/g, '-')}.json`), JSON.stringify(results, null, 2));
writeFileSync(join(RESULTS, 'latency.svg'), cdfSvg(`fedgate latency distributions (${results.date.slice(0, 10)}, ${quick ? 'quick' : 'full'} run)`, plots));
say(`wrote ${join('bench', 'results', 'latest.json')} and ${join('bench', 'results', 'latency.svg')}`);

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------- publish path

/** Measures 1-4 and 9 against the publish bench's broker and gateway. */
async function measurePublish(pb: PublishBench, gatewayPid: number): Promise<void> {
  const gateway = pb.launcher.gatewayUrl('pub');
  const auth = { authorization: `Bearer ${await pb.token()}` };
  const admin = pb.local('pub').admin();
  await admin.connect();
  await createBenchTopics(admin, [{ topic: 'bench.raw', numPartitions: pb.topology.partitions, replicationFactor: 1 }]);
  await admin.disconnect();
  say('warm-up: 5 s of publishes');
  await httpLoad({ url: `${gateway}/v1/events`, headers: auth, body: singleBody, connections: 8, durationSeconds: 5 });

  // 1. Batched publish against raw kafkajs on the same broker.
  const kafkaSpec = {
    topologyFile: pb.topologyFile,
    certsDir: pb.certsDir,
    site: 'pub',
    topic: 'bench.raw',
    connections: BATCH_CONNECTIONS,
    batch: BATCH,
    valueBytes: 1024,
    durationSeconds: P.seconds,
    event: priceEvent('bench-sku-raw'),
  };
  say(`1: raw kafkajs sendBatch, ${BATCH_CONNECTIONS} loops x ${BATCH} records of 1 KB, acks=all, ${P.seconds} s`);
  const raw = await kafkaLoad({ ...kafkaSpec, mode: 'raw' });
  say(`1: fedgate distributor without HTTP (the gateway's records: routed topic, one monitoring record), ${P.seconds} s`);
  const distributor = await kafkaLoad({ ...kafkaSpec, mode: 'distributor' });
  say(`1: gateway batched publish, ${BATCH_CONNECTIONS} connections x ${BATCH} events, ${P.seconds} s`);
  const batched = await withGatewayCpu(gatewayPid, () =>
    httpLoad({ url: `${gateway}/v1/events`, headers: auth, body: batchBody, connections: BATCH_CONNECTIONS, durationSeconds: P.seconds }),
  );
  const batchedEventsPerSecond = batched.result.okPerSecond * BATCH;
  results.runs.rawKafkajs = kafkaRow(raw);
  results.runs.distributorOnly = kafkaRow(distributor);
  results.runs.gatewayBatched = { ...httpRow(batched.result), eventsPerSecond: round(batchedEventsPerSecond), gatewayCpuSeconds: round(batched.cpuSeconds, 2) };
  results.measures.m1 = {
    fedgateEventsPerSecond: round(batchedEventsPerSecond),
    rawEventsPerSecond: round(raw.eventsPerSecond),
    ratio: round(batchedEventsPerSecond / raw.eventsPerSecond, 2),
    sameRecordsEventsPerSecond: round(distributor.eventsPerSecond),
    ratioToSameRecords: round(batchedEventsPerSecond / distributor.eventsPerSecond, 2),
    target: '>= 0.8',
  };
  say(
    `1: ${round(batchedEventsPerSecond)} events/s through the gateway, ${round(raw.eventsPerSecond)} raw, ${round(distributor.eventsPerSecond)} distributor only`,
  );
  plots.push(httpCdf(`gateway batched publish (${BATCH} events/request), request latency`, batched.result));

  // 2. Single-event publish with a JWT against a no-op POST on the same server.
  say(`2: no-op Hono POST, ${SINGLE_CONNECTIONS} connections, ${P.seconds} s`);
  const noop = await httpLoad({
    url: `${gateway}/v1/bench/noop`,
    headers: auth,
    body: singleBody,
    connections: SINGLE_CONNECTIONS,
    durationSeconds: P.seconds,
  });
  say(`2: single-event publish with a JWT, ${SINGLE_CONNECTIONS} connections, ${P.seconds} s`);
  const single = await withGatewayCpu(gatewayPid, () =>
    httpLoad({ url: `${gateway}/v1/events`, headers: auth, body: singleBody, connections: SINGLE_CONNECTIONS, durationSeconds: P.seconds }),
  );
  results.runs.noopPost = httpRow(noop);
  results.runs.singlePublish = { ...httpRow(single.result), gatewayCpuSeconds: round(single.cpuSeconds, 2) };
  results.measures.m2 = {
    publishPerSecond: round(single.result.okPerSecond),
    noopPerSecond: round(noop.okPerSecond),
    ratio: round(single.result.okPerSecond / noop.okPerSecond, 2),
    target: '>= 0.5',
  };
  say(`2: ${round(single.result.okPerSecond)} publishes/s, ${round(noop.okPerSecond)} no-op POSTs/s`);
  plots.push(httpCdf('single-event publish with a JWT, request latency', single.result), httpCdf('no-op Hono POST, request latency', noop));

  // 4. A unique token per request against one reused token.
  const count = Math.min(P.maxUniqueTokens, Math.max(2000, Math.round(single.result.okPerSecond * P.seconds)));
  say(`4: single-event publish with a unique token per request (${count} tokens, signed before the clock starts)`);
  const unique = await httpLoad({
    url: `${gateway}/v1/events`,
    body: singleBody,
    connections: SINGLE_CONNECTIONS,
    uniqueTokens: { count, certsDir: pb.certsDir, topologyFile: pb.topologyFile, site: 'pub' },
  });
  results.runs.uniqueTokens = { ...httpRow(unique), tokensSigned: unique.tokensSigned, signSeconds: round(unique.signMs / 1000, 1) };
  results.measures.m4 = {
    uniquePerSecond: round(unique.okPerSecond),
    reusedPerSecond: round(single.result.okPerSecond),
    ratio: round(unique.okPerSecond / single.result.okPerSecond, 2),
    target: '>= 0.6',
  };

  // 9. Gateway CPU per event.
  results.measures.m9 = {
    singleUsPerEvent: round((single.cpuSeconds * 1e6) / single.result.ok, 1),
    batchedUsPerEvent: round((batched.cpuSeconds * 1e6) / (batched.result.ok * BATCH), 1),
    // Floors, same run: kafkajs alone on one 1 KB record, and the gateway's own records for one event (distributor, no HTTP).
    rawKafkajsUsPerRecord: round((raw.cpuSeconds * 1e6) / raw.events, 1),
    distributorUsPerEvent: round((distributor.cpuSeconds * 1e6) / distributor.events, 1),
    target: '<= 100 µs single, <= 20 µs batched',
  };
}

/**
 * Measure 3 and the ceilings on the publish bench's broker, beside its
 * gateway (bench/lib/peer-bench.ts): the FastAPI peer doing identical work,
 * its native shape, Kafka's ProducerPerformance and kafkajs writing
 * fedgate's records, in one run.
 */
async function measurePeer(pb: PublishBench): Promise<void> {
  try {
    const peer = await runPeerBench(pb, { quick, runDir: join(runDir, 'peer'), log: say });
    results.runs.peer = peer.summary;
    results.measures.m3 = {
      batchedRatio: round(peer.ratios.batchedRate!, 2),
      singleRatio: round(peer.ratios.singleRate!, 2),
      batchedCpuRatio: round(peer.ratios.batchedCpu!, 2),
      singleCpuRatio: round(peer.ratios.singleCpu!, 2),
      sameRecords: peer.sameRecords,
      target: '>= 3 events/s, <= 1/3 CPU',
    };
    results.measures.ceilings = {
      batchedToKafkajsSameRecords: round(peer.ratios.batchedToKafkajs!, 2),
      batchedToProducerPerformance: round(peer.ratios.batchedToJava!, 2),
      target: '>= 0.9; >= 0.5',
    };
  } catch (err) {
    say(`3: ${(err as Error).message}`);
    results.measures.m3 = { unavailable: (err as Error).message, target: '>= 3 events/s, <= 1/3 CPU' };
  }
}

/** CPU-seconds the processes have used so far (a process gone counts nothing). */
function cpuOf(pids: number[]): number {
  return pids.reduce((s, p) => {
    try {
      return s + cpuSecondsOf(p);
    } catch {
      return s;
    }
  }, 0);
}

/** Cores the processes use together over the next `seconds`. */
async function coresUsed(pids: number[], seconds: number): Promise<number> {
  const before = cpuOf(pids);
  await sleep(seconds * 1000);
  return (cpuOf(pids) - before) / seconds;
}

/**
 * Waits until the processes are back within 0.3 of a core of their idle use
 * (the previous load's downstream work is done), at most 30 s (15 s quick).
 * A fixed threshold below the idle use would always sit out the whole wait.
 */
async function quiesce(pids: number[]): Promise<void> {
  const started = performance.now();
  for (;;) {
    const cores = await coresUsed(pids, 2);
    if (cores < idleCores + 0.3 || performance.now() - started > (quick ? 15_000 : 30_000)) break;
  }
  say(`quiet after ${round((performance.now() - started) / 1000, 1)} s`);
}

// ---------------------------------------------------------------- helpers

/**
 * The tagged events' latencies at `site`, per event: accept -> landed as a
 * copy (`replicated`: the MM2 hop) and accept -> consumed (the whole path).
 * Waits until every event the load saw acknowledged (202) has been consumed
 * and its `published` row is in (or 60 s). The monitoring rows arrive in
 * batches, so the published count read at one moment is no ledger: the
 * acknowledged count is.
 */
async function consumedLatencies(
  f: BenchFederation,
  site: string,
  productId: string,
  acknowledged: number,
): Promise<{ published: number; consumed: number[]; replicated: number[]; consumerHop: number[] }> {
  return withBenchDb(f.databaseUrl, async (db) => {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const n = await publishedCount(db, f, SOURCE, productId);
      const rows = await priceBookConsumed(db, f, site, productId);
      if ((n >= acknowledged && rows.length >= acknowledged) || Date.now() > deadline) {
        if (rows.length < acknowledged)
          results.notes.push(`5: ${acknowledged - rows.length} of ${acknowledged} acknowledged events not consumed at ${site} after 60 s`);
        const withCopy = rows.filter((r) => r.replicated !== null);
        return {
          published: n,
          consumed: ascending(rows, (r) => r.consumed),
          replicated: ascending(withCopy, (r) => r.replicated),
          consumerHop: ascending(withCopy, consumerHop),
        };
      }
      await sleep(1000);
    }
  });
}

async function measureReplication(f: BenchFederation, gateway: string, auth: Record<string, string>, requestsPerSecond: number): Promise<Figures> {
  const sourceTopic = `fed.price.${TARGET_REGION}`;
  const copyTopic = `${SOURCE}.${sourceTopic}`;
  const src = f.local(SOURCE).admin();
  const dst = f.local(TARGET).admin();
  await Promise.all([src.connect(), dst.connect()]);
  const end = async (a: typeof src, topic: string) => (await a.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
  const samples: Array<{ t: number; published: number; replicated: number; rss: number }> = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const [published, replicated] = await Promise.all([end(src, sourceTopic), end(dst, copyTopic)]);
      samples.push({ t: performance.now() / 1000, published, replicated, rss: totalRss(f.pids()) });
      await sleep(1000);
    }
  })();
  const load = await httpLoad({
    url: `${gateway}/v1/events`,
    headers: auth,
    body: batchBody,
    connections: 16,
    overallRate: requestsPerSecond,
    durationSeconds: P.replicationSeconds,
  });
  sampling = false;
  await sampler;
  // Drain: how long until the copy caught up after the load stopped.
  const stopAt = performance.now();
  const target = await end(src, sourceTopic);
  let drained = await end(dst, copyTopic);
  while (drained < target && performance.now() - stopAt < 120_000) {
    await sleep(250);
    drained = await end(dst, copyTopic);
  }
  const drainSeconds = (performance.now() - stopAt) / 1000;
  await Promise.all([src.disconnect(), dst.disconnect()]);
  // Steady state: the second half of the load, where both rates are settled.
  const steady = samples.slice(Math.floor(samples.length / 2));
  const first = steady[0]!;
  const last = steady.at(-1)!;
  const dt = last.t - first.t;
  const publishedRate = (last.published - first.published) / dt;
  const replicatedRate = (last.replicated - first.replicated) / dt;
  const lag = steady.map((s) => s.published - s.replicated);
  const lagSlope = slope(
    steady.map((s) => s.t),
    lag,
  );
  results.runs.replicationLoad = {
    ...httpRow(load),
    eventsPerSecond: round(load.okPerSecond * BATCH),
    lagSamples: samples.map((s) => s.published - s.replicated),
  };
  return {
    offeredEventsPerSecond: requestsPerSecond * BATCH,
    publishedPerSecond: round(publishedRate),
    replicatedPerSecond: round(replicatedRate),
    ratio: round(replicatedRate / publishedRate, 3),
    lagAtEndRecords: lag.at(-1),
    lagSlopeRecordsPerSecond: round(lagSlope, 1),
    drainSecondsAfterLoad: round(drainSeconds, 1),
    peakRssMiB: round(Math.max(...samples.map((s) => s.rss)) / MiB),
    target: 'ratio >= 0.98 with lag not growing; mTLS / plaintext >= 0.7',
  };
}

function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  const num = xs.reduce((s, x, i) => s + (x - mx) * (ys[i]! - my), 0);
  const den = xs.reduce((s, x) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

async function measureFederatedView(f: BenchFederation, gateway: string): Promise<Figures> {
  // The federated view needs a read token (its tokens carry every scope).
  const auth = { authorization: `Bearer ${await f.token(SOURCE)}` };
  say(`7: loading ${P.rowsPerSite} monitoring rows into each site's database (over the last hour, in time order as the monitoring consumer writes them)`);
  const seedStarted = performance.now();
  await Promise.all(
    f.topology.sites.map((s) =>
      withBenchDb(f.databaseUrl, async (db) => {
        const schema = f.schemaOf(s.name);
        await db.query(
          `insert into ${schema}.monitoring_events (event_id, stage, site, consumer, product_id, event_type, source_site, topic, partition, "offset", at, latency_ms, detail)
           select 'seed-' || (g / 4), (array['published','routed','replicated','consumed'])[g % 4 + 1], $1,
                  case when g % 4 = 3 then 'price-book' else '' end, 'seed-sku-' || (g / 4 % 20000), $2, $1, 'fed.price.us', g % 3, g,
                  now() - interval '1 hour' + (g + random() * 50) * (interval '1 hour' / $3::int), (random() * 40)::int, '{}'::jsonb
           from generate_series(0, $3::int - 1) g`,
          [s.name, EVENT_TYPES.price, P.rowsPerSite],
        );
      }),
    ),
  );
  // A real site accumulates these rows over the hour while autovacuum visits
  // the table; one bulk insert gets no such visit before the queries, so do
  // what it would have done. After every insert: a vacuum running beside
  // another site's insert cannot mark pages all-visible.
  await withBenchDb(f.databaseUrl, async (db) => {
    for (const s of f.topology.sites) {
      await db.query(`vacuum analyze ${f.schemaOf(s.name)}.monitoring_events`);
      await db.query(`vacuum analyze ${f.schemaOf(s.name)}.monitoring_rollups`);
    }
  });
  const seedSeconds = (performance.now() - seedStarted) / 1000;
  const queries: Record<string, string> = {
    stats: '/v1/federation/stats?windowSeconds=300',
    productHistory: '/v1/federation/products/seed-sku-4242/events?limit=50',
    trace: '/v1/federation/events/seed-123456/trace',
    deadLetters: '/v1/federation/dead-letters?limit=50',
    health: '/v1/federation/health',
  };
  const out: Figures = { rowsPerSite: P.rowsPerSite, seedSeconds: round(seedSeconds, 1), queriesPerEndpoint: P.queries, target: 'p95 <= 100 ms' };
  let worst = 0;
  for (const [name, path] of Object.entries(queries)) {
    const times: number[] = [];
    for (let i = 0; i < P.queries + 5; i++) {
      const t0 = performance.now();
      const res = await fetch(`${gateway}${path}`, { headers: auth });
      const body = (await res.json()) as { unreachable?: string[]; sites?: unknown };
      if (!res.ok) throw new Error(`7: ${path} answered ${res.status}`);
      if (i >= 5) times.push(performance.now() - t0);
      if (i === 0 && Array.isArray(body.unreachable) && body.unreachable.length > 0)
        results.notes.push(`7: ${path}: unreachable ${body.unreachable.join(', ')}`);
    }
    times.sort((a, b) => a - b);
    const p = (q: number) => round(times[Math.min(times.length - 1, Math.floor(q * times.length))]!, 1);
    out[name] = { p50Ms: p(0.5), p95Ms: p(0.95), p99Ms: p(0.99) };
    worst = Math.max(worst, p(0.95));
    plots.push({ name: `federated view ${name} (${P.rowsPerSite / 1e6}M rows/site), query time`, points: cdfOf(times) });
  }
  out.worstP95Ms = worst;
  return out;
}

function printSummary(): void {
  const m = results.measures as Record<string, Figures>;
  const v = (x: unknown) => (x === undefined || x === null ? 'n/a' : String(x));
  const rows: Array<Array<string | number>> = [
    ['1 gateway batched ÷ raw kafkajs sendBatch', `${v(m.m1?.fedgateEventsPerSecond)} / ${v(m.m1?.rawEventsPerSecond)} ev/s`, v(m.m1?.ratio), '>= 0.8'],
    ['  (÷ same records via fedgate distributor)', '', v(m.m1?.ratioToSameRecords), ''],
    ['2 single publish w/ JWT ÷ no-op POST', `${v(m.m2?.publishPerSecond)} / ${v(m.m2?.noopPerSecond)} req/s`, v(m.m2?.ratio), '>= 0.5'],
    [
      '3 fedgate ÷ FastAPI peer, identical work (events/s; CPU)',
      m.m3?.unavailable
        ? v(m.m3.unavailable)
        : `batched ${v(m.m3?.batchedRatio)}; ${v(m.m3?.batchedCpuRatio)}, single ${v(m.m3?.singleRatio)}; ${v(m.m3?.singleCpuRatio)}`,
      m.m3?.unavailable ? 'n/a' : v(m.m3?.batchedRatio),
      '>= 3; <= 0.33',
    ],
    [
      '  ceilings: batched ÷ kafkajs same records; ÷ ProducerPerformance 1 KB',
      '',
      `${v(m.ceilings?.batchedToKafkajsSameRecords)}; ${v(m.ceilings?.batchedToProducerPerformance)}`,
      '>= 0.9; >= 0.5',
    ],
    ['4 unique token ÷ reused token', `${v(m.m4?.uniquePerSecond)} / ${v(m.m4?.reusedPerSecond)} req/s`, v(m.m4?.ratio), '>= 0.6'],
    [
      '5 cross-site accept -> consumed',
      `${v(m.m5?.ratePerSecond)}/s, ${v(m.m5?.consumedAtTarget)}/${v(m.m5?.acknowledgedAtSource)} acknowledged consumed; ` +
        `MM2 hop p50 ${v((m.m5?.mm2Hop as Figures)?.p50Ms)} p99 ${v((m.m5?.mm2Hop as Figures)?.p99Ms)} ms; ` +
        `at ${v((m.m5?.atLowRate as Figures)?.ratePerSecond)}/s: p50 ${v((m.m5?.atLowRate as Figures)?.p50Ms)} p99 ${v((m.m5?.atLowRate as Figures)?.p99Ms)} ms`,
      `p50 ${v(m.m5?.p50Ms)} ms, p99 ${v(m.m5?.p99Ms)} ms`,
      'p50 <= 10, p99 <= 50 ms',
    ],
    [
      '6 replicated ÷ published at 80% peak',
      `${v(m.m6?.replicatedPerSecond)} / ${v(m.m6?.publishedPerSecond)} rec/s, lag slope ${v(m.m6?.lagSlopeRecordsPerSecond)}/s`,
      v(m.m6?.ratio),
      '>= 0.98',
    ],
    ['  MM2 mTLS ÷ plaintext', `${v(m.m6?.mm2MtlsRecordsPerSecond)} / ${v(m.m6?.mm2PlaintextRecordsPerSecond)} rec/s`, v(m.m6?.mtlsOverPlaintext), '>= 0.7'],
    [
      '  MM2 exactly once ÷ at least once',
      `${v(m.m6?.mm2ExactlyOnceRecordsPerSecond)} / ${v(m.m6?.mm2MtlsRecordsPerSecond)} rec/s`,
      v(m.m6?.exactlyOnceOverAtLeastOnce),
      'reported',
    ],
    ['7 federated view p95, 1M rows/site', `worst endpoint`, `${v(m.m7?.worstP95Ms)} ms`, '<= 100 ms'],
    [
      '8 RSS idle / under load (3 sites)',
      `${v(m.m8?.benchIdleRssMiB)} / ${v(m.m8?.benchLoadRssMiB)} MiB`,
      `npm start ready ${v(m.m8?.readySeconds)} s`,
      '<= 4096 MiB, <= 60 s',
    ],
    [
      '9 gateway CPU per event',
      `single / batched; floors: kafkajs ${v(m.m9?.rawKafkajsUsPerRecord)} µs/record, same records without HTTP ${v(m.m9?.distributorUsPerEvent)} µs/event`,
      `${v(m.m9?.singleUsPerEvent)} / ${v(m.m9?.batchedUsPerEvent)} µs`,
      '<= 100 / <= 20 µs',
    ],
  ];
  const mach = results.machine;
  console.log(
    `\nfedgate benchmarks, ${results.date.slice(0, 16).replace('T', ' ')} UTC, ${quick ? 'quick' : 'full'} run, ` +
      `${mach.cpus} x ${mach.cpuModel}, ${mach.memoryGiB} GiB, Node ${mach.node}, ${mach.java}\n`,
  );
  console.log(table(['measure', 'figures', 'result', 'target'], rows));
  console.log('\nload runs (generator CPU is the load generator process, not the system under test):');
  const runRows = Object.entries(results.runs)
    .filter(([, r]) => typeof r === 'object' && r !== null && !Array.isArray(r) && ('okPerSecond' in r || 'eventsPerSecond' in r))
    .map(([name, r]) => {
      const x = r as Figures;
      return [
        name,
        v(x.okPerSecond ?? ''),
        v(x.eventsPerSecond ?? ''),
        v(x.p50Ms ?? x.sendP50Ms),
        v(x.p99Ms ?? x.sendP99Ms),
        v(x.generatorCpuSeconds),
        v(x.seconds),
        v(x.non2xx ?? 0),
      ];
    });
  console.log(table(['run', 'req/s', 'events/s', 'p50 ms', 'p99 ms', 'gen CPU s', 's', 'non-2xx'], runRows));
  if (results.notes.length > 0) console.log(`\nnotes:\n${results.notes.map((n) => `  - ${n}`).join('\n')}`);
}
