/**
 * The cost of encryption on a site-local Kafka listener, and the choice of
 * client identity, measured side by side in one run on one broker:
 *
 *   mTLS            SSL, client certificate (what fedgate runs)
 *   SCRAM over TLS  SASL_SSL, SCRAM-SHA-512, server-authenticated TLS
 *   SCRAM, no TLS   SASL_PLAINTEXT, SCRAM-SHA-512: authenticated, not encrypted
 *
 * Every listener authenticates and the broker authorizes with the same
 * StandardAuthorizer and no-ACL-means-deny rule as fedgate's brokers; the
 * only thing that changes is the transport. The broker is fedgate's own
 * rendered server.properties plus the two SCRAM listeners (this benchmark's
 * only). Each transport is driven by Kafka's Java producer
 * (ProducerPerformance: the broker's and the TLS stack's cost with the
 * fastest client) and by kafkajs (what the gateway uses), in rounds that
 * alternate the transports, after one unmeasured round that warms the
 * broker's JIT on every path; the medians are reported.
 *
 *   npm run bench:tls               (about 4 minutes)
 *   npm run bench:tls -- --quick    (about 2 minutes)
 *
 * Never part of `npm test`: these are figures, not pass/fail checks.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import kafkajs, { Kafka, type KafkaConfig, logLevel } from 'kafkajs';
import { certPaths, clientTls, initCerts } from '../certs/index.ts';
import { brokerAnswers, cachedKafkaRuntime, fetchKafka, renderBrokerProperties, spawnJava, stopProcess, waitUntil } from '../deploy/index.ts';
import { localKafkaConfig } from '../federation/index.ts';
import { BENCH_ENV } from './env.ts';
import { oneSiteTopology, REPO_ROOT, STATE_DIR } from './lib/federation.ts';
import { cpuSecondsOf } from './lib/proc.ts';
import { table } from './lib/report.ts';

const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;
const execFileAsync = promisify(execFile);
const quick = process.argv.includes('--quick');
const P = quick ? { rounds: 3, javaRecords: 200_000, jsRecords: 60_000 } : { rounds: 5, javaRecords: 500_000, jsRecords: 150_000 };
const RECORD_BYTES = 512;
const TOPIC = 'bench.tls-cost';
const SCRAM_USER = 'bench-scram';

const say = (line: string) => process.stderr.write(`[bench:tls ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (n: number, d = 0) => Math.round(n * 10 ** d) / 10 ** d;

const runDir = join(REPO_ROOT, '.fedgate', `bench-tls-${process.pid}`);
const topology = oneSiteTopology('bench-tls', 'tls', '127.0.77.1');
const site = topology.sites[0]!;
const PORTS = { scramTls: 29095, scram: 29096 };

type Transport = 'mTLS' | 'SCRAM over TLS' | 'SCRAM, no TLS';
const TRANSPORTS: Transport[] = ['mTLS', 'SCRAM over TLS', 'SCRAM, no TLS'];

async function main(): Promise<void> {
  rmSync(runDir, { recursive: true, force: true });
  mkdirSync(runDir, { recursive: true });
  const certsDir = join(runDir, 'certs');
  const rt = cachedKafkaRuntime(STATE_DIR) ?? (await fetchKafka(STATE_DIR, say));
  initCerts({ dir: certsDir, caKeyDir: join(runDir, 'ca-key'), topology, days: 2 });
  const certs = certPaths(certsDir);
  const password = randomBytes(24).toString('base64url');

  // fedgate's broker, plus this benchmark's two SCRAM listeners (Java properties: a later key wins).
  const dataDir = join(runDir, 'data');
  const props = join(runDir, 'server.properties');
  const h = site.address;
  const scramJaas = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  writeFileSync(
    props,
    `${renderBrokerProperties(topology, site.name, { dataDir, keystoreFile: certs.role(site.name, 'broker').keystore, caFile: certs.caCert })}
# bench:tls only: the same broker with SCRAM listeners beside the mTLS ones
listeners=LOCAL://${h}:${site.ports.kafka},FED://${h}:${site.ports.interSite},CONTROLLER://${h}:${site.ports.controller},SCRAMTLS://${h}:${PORTS.scramTls},SCRAM://${h}:${PORTS.scram}
advertised.listeners=LOCAL://${h}:${site.ports.kafka},FED://${h}:${site.ports.interSite},SCRAMTLS://${h}:${PORTS.scramTls},SCRAM://${h}:${PORTS.scram}
listener.security.protocol.map=LOCAL:SSL,FED:SSL,CONTROLLER:SSL,SCRAMTLS:SASL_SSL,SCRAM:SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-512
listener.name.scramtls.ssl.client.auth=none
listener.name.scramtls.scram-sha-512.sasl.jaas.config=${scramJaas}
listener.name.scram.scram-sha-512.sasl.jaas.config=${scramJaas}
`,
  );
  const java = (args: string[]) => execFileAsync('java', ['-cp', rt.classpath, ...args], { env: BENCH_ENV.system, maxBuffer: 1 << 24 });
  const clusterId = (await java(['kafka.tools.StorageTool', 'random-uuid'])).stdout.trim();
  await java(['kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', props, '--add-scram', `SCRAM-SHA-512=[name=${SCRAM_USER},password=${password}]`]);
  const brokerPid = spawnJava({
    role: 'tls/broker',
    runDir,
    classpath: rt.classpath,
    mainClass: 'kafka.Kafka',
    args: [props],
    jvmOptions: ['-Xms256m', '-Xmx512m', '-XX:+UseSerialGC'],
    env: BENCH_ENV.system,
    logFile: join(runDir, 'broker.out'),
    pidFile: join(runDir, 'broker.pid'),
  });
  const admin = localKafkaConfig(site, 'bench-tls-admin', clientTls(certsDir, site.name, 'admin'));
  try {
    await waitUntil(() => brokerAnswers(admin), { what: 'bench broker', timeoutMs: 90_000 });
    await setUp(admin);
    say(`broker up (pid ${brokerPid}); ${P.rounds} rounds of ${TRANSPORTS.join(', ')}`);

    const gatewayTls = clientTls(certsDir, site.name, 'gateway');
    const pemStore = join(runDir, 'gateway.keystore.pem');
    writeFileSync(pemStore, readFileSync(certs.role(site.name, 'gateway').keystore));
    const javaConfig: Record<Transport, string> = {
      mTLS: `security.protocol=SSL\nssl.keystore.type=PEM\nssl.keystore.location=${pemStore}\nssl.truststore.type=PEM\nssl.truststore.location=${certs.caCert}\n`,
      'SCRAM over TLS': `security.protocol=SASL_SSL\nssl.truststore.type=PEM\nssl.truststore.location=${certs.caCert}\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${SCRAM_USER}" password="${password}";\n`,
      'SCRAM, no TLS': `security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\nsasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${SCRAM_USER}" password="${password}";\n`,
    };
    const bootstrap: Record<Transport, string> = {
      mTLS: `${h}:${site.ports.kafka}`,
      'SCRAM over TLS': `${h}:${PORTS.scramTls}`,
      'SCRAM, no TLS': `${h}:${PORTS.scram}`,
    };
    const jsConfig: Record<Transport, KafkaConfig> = {
      mTLS: localKafkaConfig(site, 'bench-tls', gatewayTls),
      'SCRAM over TLS': {
        clientId: 'bench-tls',
        brokers: [bootstrap['SCRAM over TLS']],
        ssl: { ca: [gatewayTls.ca], servername: undefined, rejectUnauthorized: true },
        sasl: { mechanism: 'scram-sha-512', username: SCRAM_USER, password },
      },
      'SCRAM, no TLS': { clientId: 'bench-tls', brokers: [bootstrap['SCRAM, no TLS']], sasl: { mechanism: 'scram-sha-512', username: SCRAM_USER, password } },
    };

    const runs: Record<Transport, { java: JavaRun[]; js: JsRun[] }> = {
      mTLS: { java: [], js: [] },
      'SCRAM over TLS': { java: [], js: [] },
      'SCRAM, no TLS': { java: [], js: [] },
    };
    for (let r = -1; r < P.rounds; r++) {
      for (const t of TRANSPORTS) {
        const configFile = join(runDir, `client-${TRANSPORTS.indexOf(t)}.properties`);
        writeFileSync(configFile, javaConfig[t], { mode: 0o600 });
        const j = await javaProducer(rt.classpath, bootstrap[t], configFile, brokerPid);
        const s = await kafkajsProducer(jsConfig[t], brokerPid);
        if (r < 0) {
          say(`warm-up ${t}: java ${round(j.recordsPerSecond)} rec/s, kafkajs ${round(s.recordsPerSecond)} rec/s (not counted)`);
          continue;
        }
        runs[t].java.push(j);
        runs[t].js.push(s);
        say(
          `round ${r + 1} ${t}: java ${round(j.recordsPerSecond)} rec/s, p99 ${j.p99Ms} ms, broker ${round(j.brokerCpuPerGiB, 1)} CPU-s/GiB; kafkajs ${round(s.recordsPerSecond)} rec/s, client ${round(s.clientCpuPerGiB, 1)} CPU-s/GiB`,
        );
      }
    }
    report(runs);
  } finally {
    await stopProcess(brokerPid, runDir, {});
    rmSync(runDir, { recursive: true, force: true });
  }
}

async function setUp(admin: KafkaConfig): Promise<void> {
  const a = new Kafka({ ...admin, logLevel: logLevel.NOTHING }).admin();
  await a.connect();
  try {
    await a.createTopics({ waitForLeaders: true, topics: [{ topic: TOPIC, numPartitions: 3, replicationFactor: 1 }] });
    // The same least privilege as fedgate's gateway: write and describe this topic, nothing else.
    const grant = (principal: string, operation: number) => ({
      resourceType: AclResourceTypes.TOPIC,
      resourceName: TOPIC,
      resourcePatternType: ResourcePatternTypes.LITERAL,
      principal,
      host: '*',
      operation,
      permissionType: AclPermissionTypes.ALLOW,
    });
    const principals = [`User:${site.name}.gateway.fedgate`, `User:${SCRAM_USER}`];
    await a.createAcls({ acl: principals.flatMap((p) => [grant(p, AclOperationTypes.WRITE), grant(p, AclOperationTypes.DESCRIBE)]) });
    // The gateway's principal also needs IdempotentWrite on the cluster for the Java producer's default idempotence.
    await a.createAcls({
      acl: principals.map((principal) => ({
        resourceType: AclResourceTypes.CLUSTER,
        resourceName: 'kafka-cluster',
        resourcePatternType: ResourcePatternTypes.LITERAL,
        principal,
        host: '*',
        operation: AclOperationTypes.IDEMPOTENT_WRITE,
        permissionType: AclPermissionTypes.ALLOW,
      })),
    });
    await new Promise((r) => setTimeout(r, 1500));
  } finally {
    await a.disconnect();
  }
}

interface JavaRun {
  recordsPerSecond: number;
  mbPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  brokerCpuPerGiB: number;
}

/** Kafka's own ProducerPerformance, acks=all, 512-byte records, as fast as it goes. */
async function javaProducer(classpath: string, bootstrap: string, configFile: string, brokerPid: number): Promise<JavaRun> {
  const cpu0 = cpuSecondsOf(brokerPid);
  const { stdout } = await execFileAsync(
    'java',
    [
      '-Xmx256m',
      '-cp',
      classpath,
      'org.apache.kafka.tools.ProducerPerformance',
      '--topic',
      TOPIC,
      '--num-records',
      String(P.javaRecords),
      '--record-size',
      String(RECORD_BYTES),
      '--throughput',
      '-1',
      '--producer.config',
      configFile,
      '--producer-props',
      `bootstrap.servers=${bootstrap}`,
      'acks=all',
      'linger.ms=5',
      'batch.size=65536',
      'ssl.endpoint.identification.algorithm=https',
    ],
    { env: BENCH_ENV.system, maxBuffer: 1 << 24 },
  );
  const brokerCpu = cpuSecondsOf(brokerPid) - cpu0;
  const last = stdout.trim().split('\n').at(-1) ?? '';
  const m = /([\d.]+) records\/sec \(([\d.]+) MB\/sec\).* (\d+) ms 50th, \d+ ms 95th, (\d+) ms 99th/.exec(last);
  if (!m) throw new Error(`ProducerPerformance printed no summary: ${last}`);
  return {
    recordsPerSecond: Number(m[1]),
    mbPerSecond: Number(m[2]),
    p50Ms: Number(m[3]),
    p99Ms: Number(m[4]),
    brokerCpuPerGiB: brokerCpu / ((P.javaRecords * RECORD_BYTES) / 2 ** 30),
  };
}

interface JsRun {
  recordsPerSecond: number;
  clientCpuPerGiB: number;
  brokerCpuPerGiB: number;
}

/** kafkajs as the gateway drives it: batches of 1000 records, acks=all, four requests in flight. */
async function kafkajsProducer(config: KafkaConfig, brokerPid: number): Promise<JsRun> {
  const producer = new Kafka({ ...config, logLevel: logLevel.NOTHING }).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const value = Buffer.alloc(RECORD_BYTES, 'x');
  const batch = Array.from({ length: 1000 }, (_, i) => ({ key: `k${i}`, value }));
  try {
    await producer.send({ topic: TOPIC, acks: -1, messages: batch.slice(0, 10) });
    const cpu0 = process.cpuUsage();
    const broker0 = cpuSecondsOf(brokerPid);
    const started = performance.now();
    let sent = 0;
    const worker = async () => {
      while (sent < P.jsRecords) {
        sent += batch.length;
        await producer.send({ topic: TOPIC, acks: -1, messages: batch });
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const gib = (sent * RECORD_BYTES) / 2 ** 30;
    return {
      recordsPerSecond: sent / seconds,
      clientCpuPerGiB: (cpu.user + cpu.system) / 1e6 / gib,
      brokerCpuPerGiB: (cpuSecondsOf(brokerPid) - broker0) / gib,
    };
  } finally {
    await producer.disconnect();
  }
}

function report(runs: Record<Transport, { java: JavaRun[]; js: JsRun[] }>): void {
  const base = runs['SCRAM, no TLS'];
  const rows = TRANSPORTS.map((t) => {
    const r = runs[t];
    const jRate = median(r.java.map((x) => x.recordsPerSecond));
    const jsRate = median(r.js.map((x) => x.recordsPerSecond));
    return [
      t,
      String(round(jRate)),
      String(round(median(r.java.map((x) => x.mbPerSecond)), 1)),
      String(median(r.java.map((x) => x.p99Ms))),
      String(round(median(r.java.map((x) => x.brokerCpuPerGiB)), 1)),
      String(round(jsRate)),
      String(round(median(r.js.map((x) => x.clientCpuPerGiB)), 1)),
      `${round(jRate / median(base.java.map((x) => x.recordsPerSecond)), 2)} / ${round(jsRate / median(base.js.map((x) => x.recordsPerSecond)), 2)}`,
    ];
  });
  process.stdout.write(
    `\nsite-local listener, ${RECORD_BYTES}-byte records, acks=all, one broker on this machine; medians of ${P.rounds} alternating rounds\n\n${table(
      ['transport', 'java rec/s', 'java MB/s', 'java p99 ms', 'broker CPU-s/GiB', 'kafkajs rec/s', 'kafkajs CPU-s/GiB', 'rate vs no TLS (java / kafkajs)'],
      rows,
    )}\n`,
  );
  const out = join(REPO_ROOT, 'bench', 'results', 'tls-cost.json');
  mkdirSync(join(REPO_ROOT, 'bench', 'results'), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ date: new Date().toISOString(), quick, parameters: { ...P, recordBytes: RECORD_BYTES }, runs }, null, 2)}\n`);
  say(`wrote ${out}`);
}

main().catch((err) => {
  process.stderr.write(`bench:tls failed: ${(err as Error).stack ?? err}\n`);
  process.exitCode = 1;
});
