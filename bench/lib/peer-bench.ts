/**
 * fedgate's gateway side by side with the seed documents' own design, and
 * with the physical ceilings of the same broker, in one run: measure 3 of
 * `npm run bench` (on the publish bench's broker, after measures 1-4) and
 * all of `npm run bench:peer`.
 *
 * One broker (the publish bench's site `pub`) and its gateway. The peer is
 * bench/peer/app.py: FastAPI on uvicorn (uvloop, httptools, one worker) with
 * confluent-kafka on librdkafka, from Debian's packages, run with
 * /usr/bin/python3. It verifies the same ES256 token, validates the same
 * price event, writes the same records with the same headers as the
 * gateway's principal and answers 202 after acks=all (`identical`); its
 * `native` shape writes the seeds' one record per event.
 *
 * Rows, each from the same autocannon generator and connections, rounds
 * alternating so drift falls on every row (one round quick, three full):
 * - batched: 8 connections x 100 events per request: fedgate, peer identical;
 * - single: 32 connections x 1 event: fedgate, peer identical, peer native;
 * - ceilings: Kafka's own ProducerPerformance (1 KB records, acks=all, the
 *   Java client, 8 loops' worth of in-flight), and kafkajs writing exactly
 *   fedgate's records with no HTTP in front (bench/load/kafka-load.ts,
 *   `distributor`).
 * For each: events/s, CPU ms per 1,000 events of the serving process (from
 * /proc), and the records that landed per topic per acknowledged event
 * (topic end offsets before and after), so "identical" is checked, not
 * claimed. Every gateway figure is also shown as a ratio to each ceiling.
 *
 * Prints a table and writes bench/results/peer.json.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { audienceOf, certPaths, issuerOf, publicJwks } from '../../certs/index.ts';
import { EVENT_TYPES } from '../../contract/index.ts';
import { cachedKafkaRuntime } from '../../deploy/index.ts';
import { IDEMPOTENCY_TOPIC, MONITORING_TOPIC, renderProperties, routeEvent, siteOf } from '../../federation/index.ts';
import { BENCH_ENV } from '../env.ts';
import { type PublishBench, REPO_ROOT, STATE_DIR } from './federation.ts';
import { type HttpLoadResult, httpLoad, kafkaLoad } from './load.ts';
import { cpuSecondsOf } from './proc.ts';
import { table } from './report.ts';
import { createBenchTopics } from './topics.ts';

const BATCH = 100;
const BATCH_CONNECTIONS = 8;
const SINGLE_CONNECTIONS = 32;
const PYTHON = '/usr/bin/python3';
const REGION = 'us';
const round = (n: number, digits = 0) => Math.round(n * 10 ** digits) / 10 ** digits;

const priceEvent = (productId: string) => ({ type: EVENT_TYPES.price, data: { productId, region: REGION, price: { currency: 'USD', amount: '19.99' } } });
const batchBody = JSON.stringify(Array.from({ length: BATCH }, (_, i) => priceEvent(`bench-sku-${i}`)));
const singleBody = JSON.stringify(priceEvent('bench-sku-single'));

export interface PeerBenchResult {
  date: string;
  quick: boolean;
  rounds: number;
  secondsPerRun: number;
  topics: string[];
  summary: Array<{ name: string; events: number; eventsPerSecond: number; cpuMsPer1000: number; records: Record<string, number> }>;
  ratios: Record<string, number>;
  sameRecords: boolean;
}

/** The Python peer's own prerequisites: Debian's packages, named with the fix. */
export async function checkPeerPrerequisites(): Promise<void> {
  try {
    await promisify(execFile)(PYTHON, ['-c', 'import fastapi, uvicorn, uvloop, httptools, confluent_kafka, jwt, cryptography, pydantic']);
  } catch (err) {
    throw new Error(
      `the FastAPI peer needs Debian's packages: apt-get install python3-fastapi python3-uvicorn python3-uvloop python3-httptools python3-confluent-kafka python3-jwt python3-cryptography (${(err as { stderr?: string }).stderr?.trim().split('\n').at(-1) ?? (err as Error).message})`,
    );
  }
}

/**
 * Runs the peers beside `pb`'s gateway on its broker, then stops them (the
 * publish bench itself is the caller's). `runDir` holds the peers' configs
 * and logs.
 */
export async function runPeerBench(pb: PublishBench, options: { quick: boolean; runDir: string; log: (line: string) => void }): Promise<PeerBenchResult> {
  await checkPeerPrerequisites();
  const { quick, runDir } = options;
  const say = options.log;
  const ROUNDS = quick ? 1 : 3;
  const SECONDS = quick ? 8 : 15;
  const CEILING_RECORDS = quick ? 300_000 : 1_000_000;
  const currencyCodes = (await import('currency-codes')).default as unknown as { data: { code: string; digits: number }[] };
  mkdirSync(runDir, { recursive: true });
  const peers: ChildProcess[] = [];
  const admin = pb.local('pub').admin();
  try {
    const site = siteOf(pb.topology, 'pub');
    const gatewayPid = pb.launcher.pidOf('pub', 'gateway')!;
    const route = routeEvent(pb.topology, { kind: 'price', region: REGION });
    const topics = [...route.topics, MONITORING_TOPIC, IDEMPOTENCY_TOPIC];
    await admin.connect();
    await createBenchTopics(admin, [{ topic: 'bench.ceiling', numPartitions: pb.topology.partitions, replicationFactor: 1 }]);
    const endOffsets = async () =>
      Object.fromEntries(
        await Promise.all(topics.map(async (t) => [t, (await admin.fetchTopicOffsets(t)).reduce((s, p) => s + Number(p.high), 0)] as const)),
      ) as Record<string, number>;

    // The peer, in each shape, on its own port of the site's address, as the gateway's Kafka principal.
    const paths = certPaths(pb.certsDir);
    const gatewayCert = paths.role('pub', 'gateway');
    const baseConfig = {
      site: 'pub',
      host: site.address,
      bootstrap: `${site.address}:${site.ports.kafka}`,
      ca: paths.caCert,
      cert: gatewayCert.cert,
      key: gatewayCert.key,
      jwks: await publicJwks(pb.certsDir, 'pub'),
      issuer: issuerOf('pub'),
      audience: audienceOf(pb.topology),
      currencyDigits: Object.fromEntries(currencyCodes.data.map((c) => [c.code, c.digits])),
      priceRoutes: Object.fromEntries(
        [...new Set(pb.topology.sites.flatMap((s) => s.regions))].map((r) => {
          const x = routeEvent(pb.topology, { kind: 'price', region: r });
          return [r, { topics: x.topics, targets: x.targets }];
        }),
      ),
      monitoringTopic: MONITORING_TOPIC,
      windowTopic: IDEMPOTENCY_TOPIC,
    };
    async function startPeer(mode: 'identical' | 'native', port: number): Promise<{ url: string; pid: number }> {
      const config = join(runDir, `peer-${mode}.json`);
      writeFileSync(config, JSON.stringify({ ...baseConfig, mode, port }), { mode: 0o600 });
      const log = openSync(join(runDir, `peer-${mode}.log`), 'a');
      const child = spawn(PYTHON, [join(REPO_ROOT, 'bench', 'peer', 'app.py'), config], {
        cwd: REPO_ROOT,
        stdio: ['ignore', log, log],
        env: BENCH_ENV.system,
      });
      peers.push(child);
      const url = `http://${site.address}:${port}`;
      const deadline = Date.now() + 60_000;
      for (;;) {
        if (child.exitCode !== null) throw new Error(`the ${mode} peer exited with ${child.exitCode}; see ${join(runDir, `peer-${mode}.log`)}`);
        try {
          if ((await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(1000) })).ok) break;
        } catch {
          // starting
        }
        if (Date.now() > deadline) throw new Error(`the ${mode} peer did not answer within 60 s; see ${join(runDir, `peer-${mode}.log`)}`);
        await sleep(300);
      }
      return { url, pid: child.pid! };
    }
    const identical = await startPeer('identical', 28091);
    const native = await startPeer('native', 28092);
    const auth = { authorization: `Bearer ${await pb.token()}` };

    // Every contender must accept the same request before anything is timed: a 202 per event.
    for (const [name, url] of [
      ['fedgate', pb.launcher.gatewayUrl('pub')],
      ['peer identical', identical.url],
      ['peer native', native.url],
    ] as const) {
      const res = await fetch(`${url}/v1/events`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: batchBody });
      const body = (await res.json()) as { events?: unknown[] };
      if (res.status !== 202 || body.events?.length !== BATCH) throw new Error(`${name} answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
    }
    say('warm-up: 5 s of single publishes at each');
    for (const url of [pb.launcher.gatewayUrl('pub'), identical.url, native.url]) {
      await httpLoad({ url: `${url}/v1/events`, headers: auth, body: singleBody, connections: 8, durationSeconds: 5 });
    }

    interface Row {
      events: number;
      seconds: number;
      cpuSeconds: number;
      records: Record<string, number>;
      latencyP99Ms?: number;
    }
    const rows = new Map<string, Row[]>();
    const add = (name: string, row: Row) => rows.set(name, [...(rows.get(name) ?? []), row]);
    async function http(name: string, url: string, pid: number, body: string, perRequest: number, connections: number): Promise<void> {
      const offsets0 = await endOffsets();
      const cpu0 = cpuSecondsOf(pid);
      const r: HttpLoadResult = await httpLoad({ url: `${url}/v1/events`, headers: auth, body, connections, durationSeconds: SECONDS });
      const cpuSeconds = cpuSecondsOf(pid) - cpu0;
      await sleep(500);
      const offsets1 = await endOffsets();
      if (r.non2xx > 0 || r.errors > 0) say(`  ${name}: ${r.non2xx} non-2xx answers, ${r.errors} errors, ${r.timeouts} timeouts`);
      const events = r.ok * perRequest;
      add(name, {
        events,
        seconds: r.seconds,
        cpuSeconds,
        records: Object.fromEntries(topics.map((t) => [t, offsets1[t]! - offsets0[t]!])),
        latencyP99Ms: r.latencyMs.p99,
      });
      say(`  ${name}: ${round(events / r.seconds)} events/s, ${round((cpuSeconds * 1e6) / events, 1)} µs CPU per event`);
    }

    // Kafka's own producer, the Java client, on the same broker as the site's admin; CPU from the shell's reaped-children times.
    const runtime = cachedKafkaRuntime(STATE_DIR);
    if (!runtime) throw new Error('the Kafka jars are not fetched: run `npm start` or `npx fedgate fetch` once');
    const admins = paths.role('pub', 'admin');
    const producerConfig = join(runDir, 'producer-performance.properties');
    writeFileSync(
      producerConfig,
      renderProperties('ProducerPerformance for the fedgate benchmark', [
        ['bootstrap.servers', `${site.address}:${site.ports.kafka}`],
        ['security.protocol', 'SSL'],
        ['ssl.keystore.type', 'PEM'],
        ['ssl.keystore.location', admins.keystore],
        ['ssl.truststore.type', 'PEM'],
        ['ssl.truststore.location', paths.caCert],
        ['acks', 'all'],
      ]),
    );
    async function producerPerformance(): Promise<void> {
      const ticks = Number((await promisify(execFile)('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
      const java = [
        'java',
        '-Xmx512m',
        '-cp',
        `'${runtime!.classpath}'`,
        'org.apache.kafka.tools.ProducerPerformance',
        '--topic bench.ceiling',
        `--num-records ${CEILING_RECORDS}`,
        '--record-size 1024',
        '--throughput -1',
        `--producer.config '${producerConfig}'`,
      ].join(' ');
      // The shell reaps java, then prints its own stat: fields 16-17 are the reaped children's CPU ticks.
      const { stdout } = await promisify(execFile)('sh', ['-c', `${java} && cat /proc/$$/stat`], { maxBuffer: 64 * 1024 * 1024, env: BENCH_ENV.system });
      const lines = stdout.trim().split('\n');
      const stat = lines
        .at(-1)!
        .slice(lines.at(-1)!.lastIndexOf(')') + 2)
        .split(' ');
      const cpuSeconds = (Number(stat[13]) + Number(stat[14])) / ticks;
      const summary = [...lines].reverse().find((l) => /records sent, .* records\/sec/.test(l));
      const m =
        /^(\d+) records sent, ([\d.]+) records\/sec .*?([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th/.exec(
          summary ?? '',
        );
      if (!m) throw new Error(`ProducerPerformance printed no summary: ${lines.slice(-3).join(' | ')}`);
      const events = Number(m[1]);
      const seconds = events / Number(m[2]);
      add('ceiling: Kafka ProducerPerformance, 1 KB records', { events, seconds, cpuSeconds, records: {}, latencyP99Ms: Number(m[7]) });
      say(`  ProducerPerformance: ${Math.round(Number(m[2]))} records/s, ${round((cpuSeconds * 1e6) / events, 1)} µs CPU per record (JVM start included)`);
    }

    for (let r = 1; r <= ROUNDS; r++) {
      say(`round ${r} of ${ROUNDS}: batched (${BATCH_CONNECTIONS} connections x ${BATCH} events), ${SECONDS} s each`);
      await http('batched: fedgate', pb.launcher.gatewayUrl('pub'), gatewayPid, batchBody, BATCH, BATCH_CONNECTIONS);
      await http('batched: FastAPI peer, identical work', identical.url, identical.pid, batchBody, BATCH, BATCH_CONNECTIONS);
      say(`round ${r}: single events (${SINGLE_CONNECTIONS} connections), ${SECONDS} s each`);
      await http('single: fedgate', pb.launcher.gatewayUrl('pub'), gatewayPid, singleBody, 1, SINGLE_CONNECTIONS);
      await http('single: FastAPI peer, identical work', identical.url, identical.pid, singleBody, 1, SINGLE_CONNECTIONS);
      await http('single: FastAPI peer, native shape (one record)', native.url, native.pid, singleBody, 1, SINGLE_CONNECTIONS);
      say(`round ${r}: ceilings`);
      const d = await kafkaLoad({
        topologyFile: pb.topologyFile,
        certsDir: pb.certsDir,
        site: 'pub',
        mode: 'distributor',
        topic: 'bench.ceiling',
        connections: BATCH_CONNECTIONS,
        batch: BATCH,
        valueBytes: 0,
        durationSeconds: SECONDS,
        event: priceEvent('bench-sku-raw'),
      });
      add("ceiling: kafkajs writing fedgate's records, no HTTP", { events: d.events, seconds: d.seconds, cpuSeconds: d.cpuSeconds, records: {} });
      say(`  kafkajs, fedgate's records: ${round(d.eventsPerSecond)} events/s, ${round((d.cpuSeconds * 1e6) / d.events, 1)} µs CPU per event`);
      await producerPerformance();
    }

    const summary = [...rows].map(([name, rs]) => {
      const events = rs.reduce((s, x) => s + x.events, 0);
      const seconds = rs.reduce((s, x) => s + x.seconds, 0);
      const cpu = rs.reduce((s, x) => s + x.cpuSeconds, 0);
      const records = Object.fromEntries(topics.map((t) => [t, rs.reduce((s, x) => s + (x.records[t] ?? 0), 0) / events]));
      return { name, events, eventsPerSecond: events / seconds, cpuMsPer1000: (cpu * 1e6) / events, records, rounds: rs };
    });
    const of = (name: string) => summary.find((s) => s.name === name)!;
    const ratios = {
      batchedRate: of('batched: fedgate').eventsPerSecond / of('batched: FastAPI peer, identical work').eventsPerSecond,
      batchedCpu: of('batched: fedgate').cpuMsPer1000 / of('batched: FastAPI peer, identical work').cpuMsPer1000,
      singleRate: of('single: fedgate').eventsPerSecond / of('single: FastAPI peer, identical work').eventsPerSecond,
      singleCpu: of('single: fedgate').cpuMsPer1000 / of('single: FastAPI peer, identical work').cpuMsPer1000,
      singleRateToNative: of('single: fedgate').eventsPerSecond / of('single: FastAPI peer, native shape (one record)').eventsPerSecond,
      batchedToKafkajs: of('batched: fedgate').eventsPerSecond / of("ceiling: kafkajs writing fedgate's records, no HTTP").eventsPerSecond,
      batchedToJava: of('batched: fedgate').eventsPerSecond / of('ceiling: Kafka ProducerPerformance, 1 KB records').eventsPerSecond,
      singleToKafkajs: of('single: fedgate').eventsPerSecond / of("ceiling: kafkajs writing fedgate's records, no HTTP").eventsPerSecond,
      singleToJava: of('single: fedgate').eventsPerSecond / of('ceiling: Kafka ProducerPerformance, 1 KB records').eventsPerSecond,
    };
    const shape = (s: (typeof summary)[number]) =>
      s.name.startsWith('ceiling') ? '' : topics.map((t) => `${t.replace(/^site\./, '')} ${round(s.records[t]!, 2)}`).join(', ');
    console.log(
      `\n${table(
        ['contender', 'events/s', 'CPU ms per 1,000 events', 'records per acknowledged event'],
        summary.map((s) => [s.name, round(s.eventsPerSecond), round(s.cpuMsPer1000, 1), shape(s)]),
      )}\n`,
    );
    console.log(
      table(
        ['ratio (same run)', 'value'],
        [
          ['batched: fedgate ÷ peer, events/s', round(ratios.batchedRate, 2)],
          ['batched: fedgate ÷ peer, CPU per event', round(ratios.batchedCpu, 2)],
          ['single: fedgate ÷ peer, events/s', round(ratios.singleRate, 2)],
          ['single: fedgate ÷ peer, CPU per event', round(ratios.singleCpu, 2)],
          ['single: fedgate ÷ peer native shape, events/s', round(ratios.singleRateToNative, 2)],
          ["batched fedgate ÷ kafkajs with fedgate's records", round(ratios.batchedToKafkajs, 2)],
          ['batched fedgate ÷ ProducerPerformance (1 KB)', round(ratios.batchedToJava, 2)],
          ["single fedgate ÷ kafkajs with fedgate's records", round(ratios.singleToKafkajs, 2)],
          ['single fedgate ÷ ProducerPerformance (1 KB)', round(ratios.singleToJava, 2)],
        ],
      ),
    );
    // Requests still in flight when a run's clock stops land records that no counted answer acknowledged: shapes compare at one decimal.
    const identicalShape = JSON.stringify(topics.map((t) => round(of('batched: FastAPI peer, identical work').records[t]!, 1)));
    const fedgateShape = JSON.stringify(topics.map((t) => round(of('batched: fedgate').records[t]!, 1)));
    if (identicalShape !== fedgateShape) say(`WARNING: the identical peer's records per event ${identicalShape} differ from fedgate's ${fedgateShape}`);
    const out = join(REPO_ROOT, 'bench', 'results');
    mkdirSync(out, { recursive: true });
    const result: PeerBenchResult = {
      date: new Date().toISOString(),
      quick,
      rounds: ROUNDS,
      secondsPerRun: SECONDS,
      topics,
      summary,
      ratios,
      sameRecords: identicalShape === fedgateShape,
    };
    writeFileSync(join(out, 'peer.json'), `${JSON.stringify(result, null, 2)}\n`);
    return result;
  } finally {
    for (const p of peers) p.kill('SIGTERM');
    // Also on a failure: a connected admin would keep the calling process alive.
    await admin.disconnect().catch(() => undefined);
  }
}
