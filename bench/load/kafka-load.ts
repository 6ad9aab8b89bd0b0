/**
 * Raw kafkajs producer load, run as its own process: `connections` loops,
 * each awaiting `producer.sendBatch` of `batch` events with acks=all, for a
 * fixed duration.
 *
 * - mode `raw`: one record of `valueBytes` per event to one topic (the
 *   baseline the issue names).
 * - mode `distributor`: fedgate's own distributor, so exactly the records the
 *   gateway writes per event (routed topic, one monitoring record, one
 *   idempotency-window record), without HTTP, auth or validation.
 * - mode `distributor-copy`: the same, plus a second copy of each event's
 *   record to `topic` in the same request: the shape the gateway had while it
 *   also wrote a storage stream (`site.storage`, removed once the event store
 *   read the routed topics; bench/storage-copy.ts measures the difference).
 *
 *   node --import tsx bench/load/kafka-load.ts '<KafkaLoadSpec as JSON>'
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, Partitioners, type Producer, type ProducerBatch } from 'kafkajs';
import { clientTls } from '../../certs/index.ts';
import { completeEvent, PublishInputSchema } from '../../contract/index.ts';
import { isRoutedTopic, loadTopology, localKafkaConfig, siteOf } from '../../federation/index.ts';
import { createDistributor } from '../../gateway/distributor.ts';
import type { KafkaLoadResult, KafkaLoadSpec } from '../lib/load.ts';

const spec = JSON.parse(process.argv[2] ?? '{}') as KafkaLoadSpec;
const topology = loadTopology(spec.topologyFile);
const site = siteOf(topology, spec.site);
const kafka = new Kafka({ ...localKafkaConfig(site, 'bench-kafka-load', clientTls(spec.certsDir, site.name, 'admin')), logLevel: logLevel.NOTHING });
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
await producer.connect();
/** In `distributor-copy` mode, every request also carries a copy of each routed record to `spec.topic`. */
const copying: Producer =
  spec.mode === 'distributor-copy'
    ? Object.assign(Object.create(producer) as Producer, {
        sendBatch: (batch: ProducerBatch) => {
          const routed = (batch.topicMessages ?? []).filter((t) => isRoutedTopic(t.topic)).flatMap((t) => t.messages);
          return producer.sendBatch({ ...batch, topicMessages: [...(batch.topicMessages ?? []), { topic: spec.topic, messages: routed }] });
        },
      })
    : producer;
const distribute = createDistributor({ producer: copying, topology, monitorSite: site.name, window: true });
const input = PublishInputSchema.parse(spec.event);

// Values are made before the clock starts: a kafkajs user sends data it has, so
// generating it must not count against the baseline's rate or CPU.
const values = Array.from({ length: 1000 }, () => randomBytes(spec.valueBytes / 2).toString('hex'));
let seq = 0;
function rawBatch() {
  return Array.from({ length: spec.batch }, () => {
    const n = seq++;
    return { key: `bench-${n % 10_000}`, value: values[n % values.length]! };
  });
}

let events = 0;
const sendMs: number[] = [];
const cpu = process.cpuUsage();
const started = performance.now();
const deadline = started + spec.durationSeconds * 1000;
await Promise.all(
  Array.from({ length: spec.connections }, async () => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      if (spec.mode === 'raw') {
        await producer.sendBatch({ acks: -1, topicMessages: [{ topic: spec.topic, messages: rawBatch() }] });
      } else {
        await distribute(Array.from({ length: spec.batch }, () => completeEvent(input, site.name)));
      }
      sendMs.push(performance.now() - t0);
      events += spec.batch;
    }
  }),
);
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
await producer.disconnect();
sendMs.sort((a, b) => a - b);
const at = (q: number) => sendMs[Math.min(sendMs.length - 1, Math.floor(q * sendMs.length))] ?? 0;
const out: KafkaLoadResult = {
  events,
  seconds,
  eventsPerSecond: events / seconds,
  sendLatencyMs: { p50: at(0.5), p99: at(0.99) },
  cpuSeconds: (used.user + used.system) / 1e6,
};
process.stdout.write(`${JSON.stringify(out)}\n`);
