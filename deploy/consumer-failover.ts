import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { type Checkpoint, checkpointsTopic, decodeCheckpoint, groupPrefix, latestCheckpoints } from '../federation/index.ts';

/**
 * Consumer failover, the operator's step (`fedgate failover consumers`): a
 * failed site's consumer groups resume at a surviving site on the copies of
 * the failed site's topics, from the offsets MM2 translated there
 * (checkpoints). Translation is conservative: a group resumes at or before
 * where it stopped, never after, so it skips nothing and processes again at
 * most what lay between its position and MM2's last offset sync before it
 * (offset.lag.max records per partition).
 */
export interface PartitionFailover {
  topic: string;
  partition: number;
  /** The group's committed offset at the failed site, as MM2 last saw it. */
  upstreamOffset: number;
  /** Its translation into the copy at the surviving site. */
  translated: number;
  /** The group's committed offset at the surviving site before this step (null: none). */
  previous: number | null;
  /** Where the group resumes now (the translation, or `previous` when that was already further). */
  resumesAt: number;
}

export interface GroupFailover {
  group: string;
  partitions: PartitionFailover[];
}

/** Refused for a reason the operator can fix (an active group, no checkpoints). */
export class FailoverRefused extends Error {}

/**
 * Reads every record of `topic` up to the end offsets it had when called. A
 * partition is done when a batch ends at its last offset, which may be a
 * transaction marker (exactly-once MM2) that reaches no message handler.
 */
export async function readTopicToEnd(kafka: Kafka, topic: string, each: (partition: number, message: KafkaMessage) => void, timeoutMs = 30_000): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  const high = new Map(offsets.map((o) => [o.partition, Number(o.high)]));
  const pending = new Set(offsets.filter((o) => Number(o.high) > Number(o.low)).map((o) => o.partition));
  if (pending.size === 0) return;
  const consumer = kafka.consumer({ groupId: `fedgate-read-${process.pid}-${Date.now()}` });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (payload.topic === topic && Number(payload.lastOffset) >= high.get(payload.partition)! - 1) pending.delete(payload.partition);
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (Number(message.offset) < high.get(partition)!) each(partition, message);
      },
    });
    const deadline = Date.now() + timeoutMs;
    while (pending.size > 0 && Date.now() < deadline) await sleep(100);
  } finally {
    await consumer.disconnect();
  }
  if (pending.size > 0) throw new Error(`${topic}: partitions ${[...pending].join(', ')} were not read to their end in ${timeoutMs / 1000} s`);
}

/** The latest checkpoints MM2 wrote at the site `kafka` reaches for the groups of `from` (all of them, or `groups`). */
export async function translatedOffsets(kafka: Kafka, from: string, groups?: readonly string[]): Promise<Checkpoint[]> {
  const topic = checkpointsTopic(from);
  const admin = kafka.admin();
  await admin.connect();
  const exists = await admin
    .listTopics()
    .then((t) => t.includes(topic))
    .finally(() => admin.disconnect());
  if (!exists) throw new FailoverRefused(`no checkpoints from ${from} here (${topic} does not exist): does a flow run from ${from} to this site?`);
  const read: Checkpoint[] = [];
  await readTopicToEnd(kafka, topic, (_p, m) => {
    if (m.key && m.value) read.push(decodeCheckpoint(m.key, m.value));
  });
  const wanted = (g: string) => (groups ? groups.includes(g) : g.startsWith(groupPrefix(from)));
  return latestCheckpoints(read).filter((c) => wanted(c.group));
}

/**
 * Commits the translated offsets of `from`'s groups at the site `kafka`
 * reaches. Refuses while a group has members there (their positions would
 * overwrite these), and never moves a group backwards from an offset it
 * already committed there.
 */
export async function failoverConsumers(o: { kafka: Kafka; from: string; groups?: readonly string[]; dryRun?: boolean }): Promise<GroupFailover[]> {
  const checkpoints = await translatedOffsets(o.kafka, o.from, o.groups);
  const groups = [...new Set(checkpoints.map((c) => c.group))];
  const missing = (o.groups ?? []).filter((g) => !groups.includes(g));
  if (missing.length > 0)
    throw new FailoverRefused(`no checkpoints for ${missing.join(', ')}: MM2 translates a group once it has committed offsets on a topic that flows here`);
  if (groups.length === 0) throw new FailoverRefused(`no checkpoints for any group of ${o.from} yet`);

  const admin = o.kafka.admin();
  await admin.connect();
  try {
    const described = await admin.describeGroups(groups);
    const active = described.groups.filter((g) => g.members.length > 0);
    if (active.length > 0)
      throw new FailoverRefused(
        `${active.map((g) => `${g.groupId} has ${g.members.length} active member(s)`).join('; ')} here; stop them, then fail over (their positions would overwrite the translated ones)`,
      );
    const out: GroupFailover[] = [];
    for (const group of groups) {
      const mine = checkpoints.filter((c) => c.group === group);
      const topics = [...new Set(mine.map((c) => c.topic))];
      const current = await admin.fetchOffsets({ groupId: group, topics });
      const partitions: PartitionFailover[] = mine.map((c) => {
        const had = Number(current.find((t) => t.topic === c.topic)?.partitions.find((p) => p.partition === c.partition)?.offset ?? -1);
        const previous = had >= 0 ? had : null;
        return {
          topic: c.topic,
          partition: c.partition,
          upstreamOffset: c.upstreamOffset,
          translated: c.downstreamOffset,
          previous,
          resumesAt: Math.max(previous ?? -1, c.downstreamOffset),
        };
      });
      if (!o.dryRun) {
        for (const topic of topics) {
          const moved = partitions.filter((p) => p.topic === topic && p.resumesAt !== p.previous);
          if (moved.length > 0)
            await admin.setOffsets({ groupId: group, topic, partitions: moved.map((p) => ({ partition: p.partition, offset: String(p.resumesAt) })) });
        }
      }
      out.push({ group, partitions: partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition) });
    }
    return out;
  } finally {
    await admin.disconnect();
  }
}
