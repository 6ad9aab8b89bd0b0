import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Kafka, Partitioners } from 'kafkajs';
import { certPaths } from '../../certs/index.ts';
import { isOurProcess, readTopicToEnd, spawnJava, stopProcess } from '../../deploy/index.ts';
import { MM2_PRODUCER_LINGER_MS, MM2_SOURCE_CONSUMER, renderProperties, routedTopicsForSite, siteOf } from '../../federation/index.ts';
import { BENCH_ENV } from '../env.ts';
import type { PublishBench } from './federation.ts';

export interface Mm2Run {
  /** At least once, or exactly once (transactions, KIP-618); both over mTLS. */
  mode: 'mtls' | 'mtls-eos';
  records: number;
  /** Records per second between 10 % and 90 % copied: Connect's start-up is not in it. */
  recordsPerSecond: number;
  /** From the MM2 process start to the last record copied. */
  totalSeconds: number;
}

/**
 * MirrorMaker 2 throughput over mTLS: `records` 1 KB records wait on a topic
 * routed from `from` to `to`; a dedicated MM2 node (same jars, heap, GC and
 * client settings as the federation's) copies them to `to` as `to`'s MM2
 * identity, under the ACLs the topology renders: so it uses the
 * federation's own aliases (the site names), a topic routed to `to`, and
 * offset syncs at the target, as federation/mm2-config.ts does.
 */
/** Records a committed reader sees in `topic` (transaction markers take offsets but are no records). */
async function committedRecords(kafka: Kafka, topic: string): Promise<number> {
  let n = 0;
  await readTopicToEnd(kafka, topic, () => void n++, 120_000);
  return n;
}

export async function mm2Throughput(
  fed: Pick<PublishBench, 'topology' | 'launcher' | 'runDir' | 'certsDir' | 'local'>,
  options: { from: string; to: string; records: number; log: (l: string) => void },
): Promise<Mm2Run[]> {
  const from = siteOf(fed.topology, options.from);
  const to = siteOf(fed.topology, options.to);
  const source = fed.local(from.name);
  const value = 'x'.repeat(1024);
  // Each run copies its own topic (both routed to `to`) with its own Connect topics, so neither resumes the other.
  const topicOf = { mtls: routedTopicsForSite(to)[0]!, 'mtls-eos': routedTopicsForSite(to)[1]! } as const;
  const admin = source.admin();
  await admin.connect();
  await admin.createTopics({
    waitForLeaders: true,
    topics: Object.values(topicOf).map((topic) => ({ topic, numPartitions: fed.topology.partitions, replicationFactor: 1 })),
  });
  await admin.disconnect();
  const producer = source.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  for (const topic of Object.values(topicOf)) {
    for (let i = 0; i < options.records; i += 2000) {
      await producer.send({
        topic,
        acks: -1,
        messages: Array.from({ length: Math.min(2000, options.records - i) }, (_, j) => ({ key: `k${i + j}`, value })),
      });
    }
  }
  await producer.disconnect();
  options.log(`MM2 throughput: ${options.records} records of 1 KB on each of ${Object.values(topicOf).join(', ')} at ${from.name}`);

  const rt = await fed.launcher.prepare();
  const certs = certPaths(fed.certsDir);
  const dir = join(fed.runDir, 'bench-mm2');
  mkdirSync(dir, { recursive: true });
  const runs: Mm2Run[] = [];
  // Only mTLS: every listener requires a client certificate (there is no plaintext listener to compare).
  for (const mode of ['mtls', 'mtls-eos'] as const) {
    const SOURCE_TOPIC = topicOf[mode];
    const eos = mode === 'mtls-eos';
    const alias = from.name;
    const props = join(dir, `${mode}.properties`);
    const tls: Array<[string, string]> = [
      [`${alias}.bootstrap.servers`, `${from.address}:${from.ports.interSite}`],
      [`${alias}.security.protocol`, 'SSL'],
      [`${alias}.ssl.keystore.type`, 'PEM'],
      [`${alias}.ssl.keystore.location`, certs.role(to.name, 'mm2').keystore],
      [`${alias}.ssl.truststore.type`, 'PEM'],
      [`${alias}.ssl.truststore.location`, certs.caCert],
      [`${alias}.ssl.endpoint.identification.algorithm`, 'https'],
    ];
    writeFileSync(
      props,
      renderProperties(`fedgate bench: MM2 ${mode}`, [
        ['clusters', `${alias}, ${to.name}`],
        [`${to.name}.bootstrap.servers`, `${to.address}:${to.ports.kafka}`],
        [`${to.name}.security.protocol`, 'SSL'],
        [`${to.name}.ssl.keystore.type`, 'PEM'],
        [`${to.name}.ssl.keystore.location`, certs.role(to.name, 'mm2').keystore],
        [`${to.name}.ssl.truststore.type`, 'PEM'],
        [`${to.name}.ssl.truststore.location`, certs.caCert],
        [`${to.name}.ssl.endpoint.identification.algorithm`, 'https'],
        ...tls,
        [`${alias}->${to.name}.enabled`, 'true'],
        [`${alias}->${to.name}.topics`, SOURCE_TOPIC.replaceAll('.', '\\.')],
        [`${to.name}->${alias}.enabled`, 'false'],
        ['offset-syncs.topic.location', 'target'],
        ['tasks.max', '1'],
        ['emit.heartbeats.enabled', 'false'],
        ['emit.checkpoints.enabled', 'false'],
        ['sync.group.offsets.enabled', 'false'],
        ['sync.topic.acls.enabled', 'false'],
        ['sync.topic.configs.enabled', 'false'],
        ['refresh.topics.interval.seconds', '2'],
        ['replication.factor', '1'],
        ['offset-syncs.topic.replication.factor', '1'],
        ['heartbeats.topic.replication.factor', '1'],
        ['checkpoints.topic.replication.factor', '1'],
        ['offset.storage.replication.factor', '1'],
        ['status.storage.replication.factor', '1'],
        ['config.storage.replication.factor', '1'],
        // The federation's MM2 client settings (federation/mm2-config.ts).
        [`${to.name}.producer.linger.ms`, String(MM2_PRODUCER_LINGER_MS)],
        ...Object.entries(MM2_SOURCE_CONSUMER).map(([k, v]) => [`${alias}.consumer.${k}`, String(v)] as [string, string]),
        ['offset.storage.topic', `mm2-offsets.${alias}-${mode}.internal`],
        ['config.storage.topic', `mm2-configs.${alias}-${mode}.internal`],
        ['status.storage.topic', `mm2-status.${alias}-${mode}.internal`],
        // Exactly once as federation/mm2-config.ts renders it.
        ...(eos
          ? ([
              ['dedicated.mode.enable.internal.rest', 'true'],
              ['listeners', `http://${to.address}:${to.ports.mm2Rest}`],
              [`${to.name}.exactly.once.source.support`, 'enabled'],
              [`${alias}.consumer.isolation.level`, 'read_committed'],
            ] as Array<[string, string]>)
          : []),
      ]),
    );
    const log4j = join(dir, `log4j-${mode}.properties`);
    writeFileSync(
      log4j,
      renderProperties('bench MM2 log', [
        ['log4j.rootLogger', 'WARN, file'],
        ['log4j.appender.file', 'org.apache.log4j.FileAppender'],
        ['log4j.appender.file.File', join(dir, `${mode}.log`)],
        ['log4j.appender.file.layout', 'org.apache.log4j.PatternLayout'],
        ['log4j.appender.file.layout.ConversionPattern', '[%d] %p %m (%c)%n'],
      ]),
    );
    const started = performance.now();
    const pid = spawnJava({
      role: `bench/mm2-${mode}`,
      runDir: fed.runDir,
      classpath: rt.classpath,
      mainClass: 'org.apache.kafka.connect.mirror.MirrorMaker',
      args: [props, '--clusters', to.name],
      jvmOptions: ['-Xms64m', `-Xmx${fed.topology.heap.mm2}`, '-XX:+UseSerialGC', `-Dlog4j.configuration=file:${log4j}`],
      logFile: join(dir, `${mode}.out`),
      pidFile: join(dir, `${mode}.pid`),
      env: BENCH_ENV.system,
    });
    try {
      const target = fed.local(to.name).admin();
      await target.connect();
      const samples: Array<{ t: number; n: number }> = [];
      const deadline = performance.now() + 600_000;
      for (;;) {
        let n = 0;
        try {
          const offsets = await target.fetchTopicOffsets(`${alias}.${SOURCE_TOPIC}`);
          n = offsets.reduce((s, p) => s + Number(p.high), 0);
        } catch {
          // Not created yet.
        }
        samples.push({ t: performance.now(), n });
        // Exactly once, the end offsets also count each transaction's commit markers: done when a committed read has every record.
        if (n >= options.records && (!eos || (await committedRecords(fed.local(to.name), `${alias}.${SOURCE_TOPIC}`)) >= options.records)) break;
        if (performance.now() > deadline) throw new Error(`MM2 ${mode}: ${n} of ${options.records} copied after 10 minutes`);
        if (!isOurProcess(pid, fed.runDir)) throw new Error(`MM2 ${mode} exited after copying ${n} of ${options.records}; see ${join(dir, `${mode}.log`)}`);
        await sleep(100);
      }
      await target.disconnect();
      const at = (share: number) => samples.find((s) => s.n >= share * options.records)!;
      let lo = at(0.1);
      let hi = at(0.9);
      // Too fast to see inside 10-90 %: take the whole copy, first record to last.
      if (hi.t - lo.t < 1000) [lo, hi] = [samples.find((x) => x.n > 0)!, samples.at(-1)!];
      runs.push({
        mode,
        records: options.records,
        recordsPerSecond: ((hi.n - lo.n) * 1000) / Math.max(1, hi.t - lo.t),
        totalSeconds: (samples.at(-1)!.t - started) / 1000,
      });
      options.log(`MM2 ${mode}: ${Math.round(runs.at(-1)!.recordsPerSecond)} records/s`);
    } finally {
      await stopProcess(pid, fed.runDir);
    }
  }
  return runs;
}
