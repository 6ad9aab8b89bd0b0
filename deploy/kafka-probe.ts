import { setTimeout as sleep } from 'node:timers/promises';
import { Kafka, type KafkaConfig, logLevel } from 'kafkajs';

/** Where and as whom a probe connects (every listener requires a client certificate). */
export type ProbeTarget = Pick<KafkaConfig, 'brokers' | 'ssl'>;

/** A silent admin client that fails fast: probes answer "not yet", they never retry. */
function probeAdmin(target: ProbeTarget, timeoutMs: number) {
  return new Kafka({
    ...target,
    clientId: 'fedgate-probe',
    logLevel: logLevel.NOTHING,
    connectionTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    retry: { retries: 0 },
  }).admin();
}

/** One short metadata round trip; true when the site's brokers answer: at least `brokers` registered, and a controller. */
export async function brokerAnswers(target: ProbeTarget, timeoutMs = 3000, brokers = 1): Promise<boolean> {
  const admin = probeAdmin(target, timeoutMs);
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    return cluster.brokers.length >= brokers && cluster.controller !== null;
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * True when `topic` received a record in the last `withinMs`: MM2's heartbeat
 * connector writes the local `heartbeats` topic every second while it runs.
 */
export async function topicHasRecentRecords(target: ProbeTarget, topic: string, withinMs: number): Promise<boolean> {
  const admin = probeAdmin(target, 3000);
  try {
    await admin.connect();
    const [latest, since] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchTopicOffsetsByTimestamp(topic, Date.now() - withinMs)]);
    return since.some((p) => {
      const high = latest.find((l) => l.partition === p.partition)?.high;
      return high !== undefined && Number(p.offset) >= 0 && Number(p.offset) < Number(high);
    });
  } catch {
    return false;
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

export interface WaitOptions {
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Checked between tries; a string ends the wait with that reason. */
  abort?: () => string | null;
}

export async function waitUntil(check: () => Promise<boolean>, options: WaitOptions): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await check()) return Date.now() - started;
    const reason = options.abort?.();
    if (reason) throw new Error(`${options.what}: ${reason}`);
    if (Date.now() - started > options.timeoutMs) throw new Error(`${options.what}: not ready after ${Math.round(options.timeoutMs / 1000)} s`);
    await sleep(options.intervalMs ?? 250);
  }
}
