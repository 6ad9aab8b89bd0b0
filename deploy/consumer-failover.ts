import { setTimeout as sleep } from 'node:timers/promises';
import type { Kafka, KafkaMessage } from 'kafkajs';
import {
  type Checkpoint,
  checkpointsTopic,
  decodeCheckpoint,
  decodeOffsetSync,
  groupPrefix,
  isRoutedTopic,
  latestCheckpoints,
  offsetSyncsTopic,
  parseRemoteTopic,
} from '../federation/index.ts';

/** One offset sync of a partition: the copy at `downstreamOffset` is the upstream record at `upstreamOffset`. */
export interface SyncPoint {
  upstreamOffset: number;
  downstreamOffset: number;
}

/**
 * Consumer failover, the operator's step (`fedgate failover consumers`): a
 * failed site's consumer groups resume at a surviving site on the copies of
 * the failed site's topics, from the offsets MM2 translated there
 * (checkpoints), tightened by the flow's own offset syncs (`resumeOffset`).
 * Translation is conservative: a group resumes at or before where it
 * stopped, never after, so it skips nothing.
 */
export interface PartitionFailover {
  topic: string;
  partition: number;
  /** The group's committed offset at the failed site, as MM2 last saw it. */
  upstreamOffset: number;
  /** MM2's translation into the copy at the surviving site (its checkpoint). */
  translated: number;
  /** The last offset sync at or before `upstreamOffset`, and where it puts the group on the copy (null: no sync). */
  sync: SyncPoint | null;
  /** `upstreamOffset` translated through `sync` where the syncs prove it exact (`resumeOffset`); null otherwise. */
  fromSync: number | null;
  /** The group's committed offset at the surviving site before this step (null: none). */
  previous: number | null;
  /** Where the group resumes now: the later of the two translations, or `previous` when that was already further. */
  resumesAt: number;
}

/**
 * Where a group at upstream offset p resumes on a copy (pure), from the
 * flow's offset syncs: exact where the syncs prove it, null otherwise.
 *
 * MM2's checkpoint translates a position to one past the last sync its
 * checkpoint task still holds at or before it. That store keeps syncs the
 * sparser the further back they lie (KAFKA-14666), and the source task sends
 * only a few syncs at a time, replacing a partition's pending sync with the
 * newer one, so under load a position can translate tens of records early
 * (31 in one CI run, against offset.lag.max 10). The offset-syncs topic
 * itself holds every sync that was sent. A sync (u, d) says the copy at d is
 * record u. With the last sync (u, d) at or before p and the first (u2, d2)
 * at or after it, and d2 - d = u2 - u, the copy advanced in lockstep with the
 * upstream between them: no upstream gap (retention, compaction,
 * transactions), no record copied twice, no transaction marker. Record p
 * is then at d + (p - u). Without such a pair (p is past the last sync, or
 * the step between them is not lockstep) it says nothing, and MM2's
 * checkpoint is used alone. The offset-syncs topic is compacted, so long
 * after, that is the case for old positions.
 */
export function resumeOffset(syncs: readonly SyncPoint[], upstreamOffset: number): { sync: SyncPoint | null; fromSync: number | null } {
  let before: SyncPoint | null = null;
  let after: SyncPoint | null = null;
  for (const s of syncs) {
    if (s.upstreamOffset <= upstreamOffset && (!before || s.downstreamOffset > before.downstreamOffset)) before = s;
    if (s.upstreamOffset >= upstreamOffset && (!after || s.downstreamOffset < after.downstreamOffset)) after = s;
  }
  if (!before || !after || after.downstreamOffset < before.downstreamOffset) return { sync: before, fromSync: null };
  if (after.downstreamOffset - before.downstreamOffset !== after.upstreamOffset - before.upstreamOffset) return { sync: before, fromSync: null };
  return { sync: before, fromSync: before.downstreamOffset + (upstreamOffset - before.upstreamOffset) };
}

/** Every offset sync in `topic` (an `mm2-offset-syncs.<upstream>.internal`), per `<topic>/<partition>` of the upstream topic. */
async function readOffsetSyncs(kafka: Kafka, topic: string): Promise<Map<string, SyncPoint[]>> {
  const syncs = new Map<string, SyncPoint[]>();
  await readTopicToEnd(kafka, topic, (_p, m) => {
    if (!m.key || !m.value) return;
    const s = decodeOffsetSync(m.key, m.value);
    const key = `${s.topic}/${s.partition}`;
    (syncs.get(key) ?? syncs.set(key, []).get(key)!).push({ upstreamOffset: s.upstreamOffset, downstreamOffset: s.downstreamOffset });
  });
  return syncs;
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
    // No offset syncs here (no such flow): MM2's checkpoints alone.
    const syncs = (await admin.listTopics()).includes(offsetSyncsTopic(o.from))
      ? await readOffsetSyncs(o.kafka, offsetSyncsTopic(o.from))
      : new Map<string, SyncPoint[]>();
    const out: GroupFailover[] = [];
    for (const group of groups) {
      const mine = checkpoints.filter((c) => c.group === group);
      const topics = [...new Set(mine.map((c) => c.topic))];
      const current = await admin.fetchOffsets({ groupId: group, topics });
      const partitions: PartitionFailover[] = mine.map((c) => {
        const had = Number(current.find((t) => t.topic === c.topic)?.partitions.find((p) => p.partition === c.partition)?.offset ?? -1);
        const previous = had >= 0 ? had : null;
        // The copy `<from>.<topic>` holds the upstream topic's records; the syncs name the upstream topic.
        const upstreamTopic = parseRemoteTopic(c.topic, [o.from])?.topic ?? c.topic;
        const { sync, fromSync } = resumeOffset(syncs.get(`${upstreamTopic}/${c.partition}`) ?? [], c.upstreamOffset);
        return {
          topic: c.topic,
          partition: c.partition,
          upstreamOffset: c.upstreamOffset,
          translated: c.downstreamOffset,
          sync,
          fromSync,
          previous,
          resumesAt: Math.max(previous ?? -1, c.downstreamOffset, fromSync ?? -1),
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

export interface PartitionFailback {
  /** The topic at the home site (the copy at the survivor is `<home>.<topic>`). */
  topic: string;
  partition: number;
  /** The group's committed offset on the copy at the survivor. */
  copyOffset: number;
  /** The offset sync used: the last at or before `copyOffset` (null: none, the partition is left as it was at home). */
  sync: SyncPoint | null;
  /** `copyOffset` translated back to the home topic (null without a sync). */
  translated: number | null;
  /** The group's committed offset at home before this step (null: none). */
  previous: number | null;
  /** Where the group resumes at home. */
  resumesAt: number | null;
}

export interface GroupFailback {
  group: string;
  partitions: PartitionFailback[];
}

/**
 * A position on a copy, back on the upstream topic (pure): the last offset
 * sync at or before it gives its upstream offset, plus one when the copy of
 * that record lies below the position (it was processed). Null without one.
 */
export function translateBack(syncs: readonly SyncPoint[], copyOffset: number): { sync: SyncPoint | null; translated: number | null } {
  let sync: SyncPoint | null = null;
  for (const s of syncs) if (s.downstreamOffset <= copyOffset && (!sync || s.downstreamOffset >= sync.downstreamOffset)) sync = s;
  return { sync, translated: sync ? sync.upstreamOffset + (copyOffset > sync.downstreamOffset ? 1 : 0) : null };
}

/**
 * Failing back (`fedgate failover consumers --back`): `home`'s consumer
 * groups, which ran at `survivor` on the copies of home's topics while home
 * was down, resume at home on the original topics. There is no checkpoint
 * for this direction (MM2 does not copy home's topics back to home), so the
 * translation runs the flow home → survivor's own offset syncs backwards:
 * for the group's position o on a copy, the last sync (upstream u, copy d)
 * with d ≤ o gives u, or u + 1 when o > d (the copy of u was processed).
 * Like MM2's own translation it never skips: it resumes at or before the
 * record after the last one processed, and processes again at most what lay
 * between that sync and o (offset.lag.max records per partition). Refuses
 * while the group has members at either site, and never moves a group back
 * at home.
 */
export async function failbackConsumers(o: {
  atSurvivor: Kafka;
  atHome: Kafka;
  home: string;
  groups?: readonly string[];
  dryRun?: boolean;
}): Promise<GroupFailback[]> {
  const survivor = o.atSurvivor.admin();
  const home = o.atHome.admin();
  await Promise.all([survivor.connect(), home.connect()]);
  try {
    const listed = (await survivor.listGroups()).groups.map((g) => g.groupId);
    const groups = o.groups ? [...o.groups] : listed.filter((g) => g.startsWith(groupPrefix(o.home)));
    const unknown = groups.filter((g) => !listed.includes(g));
    if (unknown.length > 0) throw new FailoverRefused(`${unknown.join(', ')} never ran at this survivor: nothing to fail back`);
    if (groups.length === 0) throw new FailoverRefused(`no group of ${o.home} ran at this survivor`);
    for (const [where, admin] of [
      ['the survivor', survivor],
      [o.home, home],
    ] as const) {
      const active = (await admin.describeGroups(groups)).groups.filter((g) => g.members.length > 0);
      if (active.length > 0)
        throw new FailoverRefused(
          `${active.map((g) => `${g.groupId} has ${g.members.length} active member(s)`).join('; ')} at ${where}; stop them (at ${o.home}: its instance), then fail back`,
        );
    }
    const topics = await survivor.listTopics();
    const copies = topics.filter((t) => t.startsWith(`${o.home}.`) && isRoutedTopic(t.slice(o.home.length + 1)));
    const syncsTopic = offsetSyncsTopic(o.home);
    if (!topics.includes(syncsTopic))
      throw new FailoverRefused(`no offset syncs from ${o.home} here (${syncsTopic} does not exist): does a flow run from ${o.home} to this site?`);
    const syncs = await readOffsetSyncs(o.atSurvivor, syncsTopic);

    const out: GroupFailback[] = [];
    for (const group of groups) {
      const atSurvivor = copies.length > 0 ? await survivor.fetchOffsets({ groupId: group, topics: copies }) : [];
      const originals = [...new Set(atSurvivor.map((t) => t.topic.slice(o.home.length + 1)))];
      const atHome = originals.length > 0 ? await home.fetchOffsets({ groupId: group, topics: originals }) : [];
      const partitions: PartitionFailback[] = [];
      for (const t of atSurvivor) {
        const topic = t.topic.slice(o.home.length + 1);
        for (const p of t.partitions) {
          const copyOffset = Number(p.offset);
          if (copyOffset < 0) continue;
          const { sync, translated } = translateBack(syncs.get(`${topic}/${p.partition}`) ?? [], copyOffset);
          const had = Number(atHome.find((x) => x.topic === topic)?.partitions.find((x) => x.partition === p.partition)?.offset ?? -1);
          const previous = had >= 0 ? had : null;
          partitions.push({
            topic,
            partition: p.partition,
            copyOffset,
            sync,
            translated,
            previous,
            resumesAt: translated === null ? previous : Math.max(previous ?? -1, translated),
          });
        }
      }
      if (!o.dryRun) {
        for (const topic of new Set(partitions.map((p) => p.topic))) {
          const moved = partitions.filter((p) => p.topic === topic && p.resumesAt !== null && p.resumesAt !== p.previous);
          if (moved.length > 0)
            await home.setOffsets({ groupId: group, topic, partitions: moved.map((p) => ({ partition: p.partition, offset: String(p.resumesAt) })) });
        }
      }
      out.push({ group, partitions: partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition) });
    }
    return out;
  } finally {
    await Promise.all([survivor.disconnect(), home.disconnect()]);
  }
}
