import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { issueToken, SCOPES } from '../certs/index.ts';
import { failoverConsumers, readTopicToEnd, translatedOffsets } from '../deploy/consumer-failover.ts';
import type { Component, Launcher } from '../deploy/launcher.ts';
import type { NetnsLab } from '../deploy/netns.ts';
import { consumerGroup, flowLags, isKnownLag, remoteTopic, routedTopic, type SiteOffsets, siteOf, type Topology, upstreamSites } from '../federation/index.ts';
import {
  type AcceptedRecord,
  buildDrillReport,
  type CertRotation,
  type ConsumerFailover,
  type DrillKind,
  type DrillReport,
  type PartitionFigures,
} from './drill-report.ts';
import { createEventGenerator } from './event-generator.ts';

export interface DrillOptions {
  launcher: Launcher;
  topology: Topology;
  /** Where the sites' JWT keys are (the certs folder). */
  secretsDir: string;
  drill: DrillKind;
  site: string;
  durationMs: number;
  ratePerSecond: number;
  hard: boolean;
  convergeTimeoutMs?: number;
  /** Site-outage drill: events published while the site's price-book group is paused (default 3000). */
  backlogEvents?: number;
  /** Events routed to the drilled site, published at the other sites while it is down (default 0): what it owes on return. */
  outageBacklog?: number;
  /** The partition drill: cut the packets between `site` and `with` (deploy/netns.ts), every process running; heal after the outage. */
  partition?: { with: string; direction: 'both' | 'one-way'; lab: Pick<NetnsLab, 'partition' | 'heal' | 'rules'> };
  log: (line: string) => void;
}

const STOPPED: Record<DrillKind, Component[]> = {
  'site-outage': ['gateway', 'instance', 'mm2', 'broker'],
  'link-outage': ['mm2'],
  'broker-outage': ['broker'],
  // Nothing stops: the site's certificates are renewed under load (see rotateUnderLoad).
  'cert-rotation': [],
  // Nothing stops: the network between two sites drops their packets.
  partition: [],
};

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A failover drill on a running federation: publish at the other sites
 * throughout (events for the stopped site included), stop the site's
 * processes, keep going, bring them back, wait for convergence, and report
 * what was delayed and what was lost.
 */
export async function runDrill(o: DrillOptions): Promise<DrillReport> {
  const { launcher, topology, log } = o;
  const others = topology.sites.filter((s) => s.name !== o.site);
  if (others.length === 0) throw new Error('a drill needs at least two sites');
  if (o.drill === 'partition' && !o.partition)
    throw new Error('the partition drill needs its sites in network namespaces: run `npx fedgate drill partition`, which builds that lab itself');
  if (o.partition && !others.some((s) => s.name === o.partition!.with)) throw new Error(`no other site "${o.partition.with}" to partition from`);
  const status = await launcher.status();
  const notReady = status.filter((s) => !s.broker.ready || !s.gateway.ready || !s.instance.ready);
  if (notReady.length)
    throw new Error(`every site must be up before a drill (not ready: ${notReady.map((s) => s.site).join(', ')}); run \`npx fedgate up --detach\``);

  const tokens: Record<string, string> = {};
  for (const s of topology.sites)
    tokens[s.name] = await issueToken({ secretsDir: o.secretsDir, topology, site: s.name, scopes: [...SCOPES], subject: 'drill', ttlSeconds: 3600 });
  const gen = createEventGenerator({ topology, products: 1000, seed: Date.now() % 100_000 });
  const gatewayUrl = (site: string) => launcher.gatewayUrl(site);
  const accepted: AcceptedRecord[] = [];
  let refused = 0;
  let running = true;
  const startedAt = new Date().toISOString();
  const drillStart = Date.now();

  async function post(site: string, events: unknown[]): Promise<{ ok: true; body: { events: AcceptedRecord[] } } | { ok: false }> {
    try {
      const res = await fetch(`${gatewayUrl(site)}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[site]}` },
        body: JSON.stringify(events),
        signal: AbortSignal.timeout(3000),
      });
      if (res.status !== 202) {
        await res.body?.cancel();
        return { ok: false };
      }
      return { ok: true, body: (await res.json()) as { events: AcceptedRecord[] } };
    } catch {
      return { ok: false };
    }
  }

  // Main load: the other sites' gateways, round robin, every 100 ms.
  const perTick = Math.max(1, Math.round(o.ratePerSecond / 10));
  let tick = 0;
  const mainLoad = (async () => {
    while (running) {
      const next = Date.now() + 100;
      const site = others[tick++ % others.length]!.name;
      const events = Array.from({ length: perTick }, () => ({ ...gen.next(), id: `drill-${randomUUID()}` }));
      const r = await post(site, events);
      if (r.ok) accepted.push(...r.body.events.map((e) => ({ id: e.id, writtenAt: e.writtenAt, routedTo: e.routedTo })));
      else refused += events.length;
      await sleep(Math.max(0, next - Date.now()));
    }
  })();

  // A client whose home is the drilled site: on any failure it sends the same event to the next site.
  let windowMs = 0;
  let switches = 0;
  const failoverClient = (async () => {
    while (running) {
      const next = Date.now() + 100;
      const event = { ...gen.next(), id: `drill-fo-${randomUUID()}` };
      const first = Date.now();
      for (const site of [o.site, ...others.map((s) => s.name)]) {
        const r = await post(site, [event]);
        if (r.ok) {
          const e = r.body.events[0]!;
          accepted.push({ id: e.id, writtenAt: e.writtenAt, routedTo: e.routedTo });
          windowMs = Math.max(windowMs, site === o.site ? 0 : Date.now() - first);
          break;
        }
        switches++;
      }
      await sleep(Math.max(0, next - Date.now()));
    }
  })();

  // Peak lag per flow: each site's offsets read directly, with a generous timeout
  // (a restarting site answers slowly, and its backlog is exactly what counts).
  const peakLag: Record<string, { records: number; seconds: number }> = {};
  // Records a flow never copied because its source deleted them first (the target site's retention monitor).
  const lostToRetention: Record<string, number> = {};
  // Sampling goes on through convergence, when a restarted site's links catch up.
  let samplingAfter = true;
  // A site that does not answer is down: its copies cannot advance, so its last
  // reported offsets still hold, and the backlog owed to it keeps growing.
  const offsets = new Map<string, SiteOffsets>();
  const lagSampler = (async () => {
    while (running || samplingAfter) {
      await Promise.all(
        topology.sites.map(async (s) => {
          try {
            const res = await fetch(`${launcher.instanceUrl(s.name)}/v1/offsets`, {
              headers: launcher.instanceHeaders(s.name),
              signal: AbortSignal.timeout(5000),
            });
            if (res.ok) offsets.set(s.name, (await res.json()) as SiteOffsets);
          } catch {
            // down: keep its last offsets (see above)
          }
        }),
      );
      for (const l of flowLags(topology, offsets, Date.now()).filter(isKnownLag)) {
        const p = peakLag[`${l.from}->${l.to}`] ?? { records: 0, seconds: 0 };
        peakLag[`${l.from}->${l.to}`] = p;
        p.records = Math.max(p.records, l.records);
        p.seconds = Math.max(p.seconds, l.seconds);
        if (l.lostToRetention > 0) lostToRetention[`${l.from}->${l.to}`] = Math.max(lostToRetention[`${l.from}->${l.to}`] ?? 0, l.lostToRetention);
      }
      await sleep(1000);
    }
  })();

  const warmup = Math.min(5000, o.durationMs / 4);
  await sleep(warmup);

  const rotation = o.drill === 'cert-rotation' ? await rotateUnderLoad(o) : undefined;
  // The site-outage drill first pauses the site's price-book group and gives it a backlog.
  const paused = o.drill === 'site-outage' ? await pauseWithBacklog(o, (site, events) => post(site, events), accepted) : undefined;
  if (STOPPED[o.drill].length > 0) log(`stopping ${STOPPED[o.drill].join(', ')} of ${o.site} (${o.hard ? 'SIGKILL' : 'SIGTERM'})`);
  for (const c of STOPPED[o.drill]) await launcher.stop(o.site, c, { hard: o.hard });
  let partition: PartitionFigures | undefined;
  const cutAt = Date.now();
  if (o.partition) {
    await o.partition.lab.partition(o.site, o.partition.with, o.partition.direction);
    partition = { with: o.partition.with, direction: o.partition.direction, rules: await o.partition.lab.rules(), cutSeconds: 0 };
    log(`partitioned ${o.site} ${o.partition.direction === 'both' ? '<->' : '->'} ${o.partition.with}: ${partition.rules.join('; ')}`);
  }

  const consumerFailover =
    paused === undefined
      ? ({ skipped: 'only the site-outage drill moves a consumer group' } as const)
      : 'skipped' in paused
        ? paused
        : await resumeGroupElsewhere(o, paused);

  // Optionally a large backlog owed to the site while it is down; the outage lasts until it is all acknowledged.
  const outage = sleep(Math.max(0, o.durationMs - warmup));
  const outageBacklog = o.outageBacklog ? await publishOutageBacklog(o, accepted) : 0;
  await outage;
  // The stopped components come back as `up` brings a site back: the broker, then the instance (consuming what is
  // already there), then MM2 and the gateway together.
  const stopped = STOPPED[o.drill];
  const restartAt = Date.now();
  if (stopped.length > 0) log(`restarting ${o.site}`);
  await launcher.startComponents(o.site, stopped);
  const restartSeconds = stopped.length > 0 ? Math.round((Date.now() - restartAt) / 100) / 10 : undefined;
  if (o.partition && partition) {
    // The rules once more just before they go: their counters hold the packets dropped during the cut.
    partition.rules = await o.partition.lab.rules();
    await o.partition.lab.heal();
    partition.cutSeconds = Math.round((Date.now() - cutAt) / 100) / 10;
    log(`healed after ${partition.cutSeconds} s`);
  }
  const backAt = Date.now();
  await sleep(2000);
  running = false;
  await Promise.all([mainLoad, failoverClient]);
  log(`load stopped: ${accepted.length} accepted, ${refused} refused; waiting for every site to converge`);

  // Convergence: every owed event consumed at its target sites.
  const owed = new Map<string, string[]>();
  for (const a of accepted) for (const t of a.routedTo) (owed.get(t) ?? owed.set(t, []).get(t)!).push(a.id);
  const delivered: Record<string, Set<string>> = Object.fromEntries([...owed.keys()].map((s) => [s, new Set<string>()]));
  let convergeSeconds: number | null = null;
  const deadline = Date.now() + (o.convergeTimeoutMs ?? 240_000);
  for (;;) {
    let missing = 0;
    for (const [site, ids] of owed) {
      // Ask only about what is not yet known to be delivered: a delivery never goes away.
      const pending = ids.filter((id) => !delivered[site]!.has(id));
      if (pending.length) for (const id of await deliveredAt(launcher, site, pending).catch(() => [])) delivered[site]!.add(id);
      missing += ids.length - delivered[site]!.size;
    }
    if (missing === 0) {
      convergeSeconds = Math.round((Date.now() - backAt) / 100) / 10;
      break;
    }
    if (Date.now() > deadline) break;
    await sleep(1000);
  }
  samplingAfter = false;
  await lagSampler;
  const exited = await exitedComponents(launcher);
  if (exited.length > 0) log(`not running at the end: ${exited.map((e) => `${e.site} ${e.component}`).join(', ')}`);

  const duplicates: Record<string, number> = {};
  const ids = new Set(accepted.map((a) => a.id));
  for (const s of topology.sites) duplicates[s.name] = await countDuplicateCopies(launcher, topology, s.name, ids, drillStart);

  return buildDrillReport({
    drill: o.drill,
    site: o.site,
    hard: o.hard,
    durationSeconds: Math.round(o.durationMs / 1000),
    ratePerSecond: o.ratePerSecond,
    startedAt,
    accepted,
    refused,
    delivered: Object.fromEntries(Object.entries(delivered).map(([s, ids]) => [s, [...ids]])),
    duplicates,
    unavailabilityWindowMs: windowMs,
    failoverClientSwitches: switches,
    convergeSeconds,
    peakLag,
    lostToRetention,
    consumerFailover,
    outageBacklog,
    ...(restartSeconds !== undefined ? { restartSeconds } : {}),
    ...(rotation ? { rotation } : {}),
    ...(partition ? { partition } : {}),
    ...(exited.length > 0 ? { exited } : {}),
  });
}

/** What should run at every site after a drill and does not: broker, MM2 (where a flow comes in), instance, gateway, the PIS's Connect worker and the databases fedgate runs. */
async function exitedComponents(launcher: Launcher): Promise<Array<{ site: string; component: string }>> {
  const out: Array<{ site: string; component: string }> = [];
  for (const s of await launcher.status()) {
    const expected: Array<[string, { running: boolean } | null]> = [
      ['broker', s.broker],
      ['mm2', s.mm2.upstream.length > 0 ? s.mm2 : null],
      ['instance', s.instance],
      ['gateway', s.gateway],
      ['connect', s.pis?.connect ?? null],
      ['pisdb', s.pis && !s.pis.database.external ? s.pis.database : null],
      ['db', s.database.managed ? s.database : null],
    ];
    for (const [component, st] of expected) if (st && !st.running) out.push({ site: s.site, component });
  }
  return out;
}

/**
 * `certs rotate` in the middle of the load: the site's broker reloads its
 * listeners in place, then each running client of the site (MM2, instance,
 * gateway) is restarted on its own, gracefully, to present its new
 * certificate. The ledger then shows whether anything acknowledged was lost.
 */
async function rotateUnderLoad(o: DrillOptions): Promise<CertRotation> {
  o.log(`renewing ${o.site}'s certificates under load`);
  const result = await o.launcher.rotateCerts(o.site);
  for (const c of result.restartToRenew) {
    o.log(`restarting ${o.site} ${c} onto its new certificate`);
    await o.launcher.restart(o.site, [c], { hard: o.hard });
  }
  return {
    brokerSerial: result.certs.find((c) => c.role === 'broker')?.serial ?? '',
    listeners: result.listeners,
    restarted: result.restartToRenew,
  };
}

/** Which of `ids` were consumed at `site`, from its read API. */
async function deliveredAt(launcher: Launcher, site: string, ids: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < ids.length; i += 2000) {
    const res = await fetch(`${launcher.instanceUrl(site)}/v1/delivered`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...launcher.instanceHeaders(site) },
      body: JSON.stringify({ ids: ids.slice(i, i + 2000) }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) throw new Error(`${site}: ${res.status}`);
    out.push(...((await res.json()) as { delivered: string[] }).delivered);
  }
  return out;
}

/**
 * Publishes `o.outageBacklog` prices routed to the drilled site (for a region
 * only it serves, when it has one) at the other sites' gateways, in batches
 * of 1,000, all sites at once. Each publisher keeps to the gateways' rate
 * limit (a token of its own, 'drill-backlog'), waiting out a 429. Returns the
 * events acknowledged; each goes into the ledger.
 */
async function publishOutageBacklog(o: DrillOptions, accepted: AcceptedRecord[]): Promise<number> {
  const site = siteOf(o.topology, o.site);
  const others = o.topology.sites.filter((s) => s.name !== o.site);
  const region = site.regions.find((r) => others.every((s) => !s.regions.includes(r))) ?? site.regions[0]!;
  const gen = createEventGenerator({ topology: o.topology, products: 5000, seed: Date.now() % 100_000 });
  const total = o.outageBacklog ?? 0;
  let sent = 0;
  let acknowledged = 0;
  const started = Date.now();
  o.log(`publishing a backlog of ${total} ${region} prices owed to ${o.site} while it is down`);
  await Promise.all(
    others.map(async (s) => {
      const token = await issueToken({
        secretsDir: o.secretsDir,
        topology: o.topology,
        site: s.name,
        scopes: ['publish:price'],
        subject: 'drill-backlog',
        ttlSeconds: 3600,
      });
      while (sent < total) {
        const n = Math.min(1000, total - sent);
        sent += n;
        const events = Array.from({ length: n }, () => ({ ...gen.price(undefined, region), id: `drill-owed-${randomUUID()}` }));
        for (;;) {
          const res = await fetch(`${o.launcher.gatewayUrl(s.name)}/v1/events`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
            body: JSON.stringify(events),
            signal: AbortSignal.timeout(30_000),
          });
          if (res.status === 202) {
            const body = (await res.json()) as { events: AcceptedRecord[] };
            accepted.push(...body.events.map((e) => ({ id: e.id, writtenAt: e.writtenAt, routedTo: e.routedTo })));
            acknowledged += body.events.length;
            break;
          }
          await res.body?.cancel();
          if (res.status !== 429) throw new Error(`the outage backlog was refused at ${s.name}: ${res.status}`);
          await sleep(Number(res.headers.get('retry-after') ?? '1') * 1000);
        }
      }
    }),
  );
  o.log(`backlog of ${acknowledged} events acknowledged in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return acknowledged;
}

interface PausedGroup {
  group: string;
  survivor: string;
  /** The copy at the survivor of the drilled site's topic the group reads. */
  copy: string;
  /** Ids the group had processed at the drilled site (below its committed offsets). */
  before: Set<string>;
  /** Ids published while it was paused: its backlog when the site fails. */
  backlog: Set<string>;
}

/**
 * Consumer failover, part one (before the site fails): stop the drilled
 * site's instance, so its price-book group pauses with committed offsets;
 * publish a backlog of `backlogEvents` prices for a region a surviving site
 * also serves; wait until MM2 has copied it to the survivor and checkpointed
 * the group's position there. The ledger of what the group had processed and
 * what it owes comes from the site's own topic, read while the site is up.
 */
async function pauseWithBacklog(
  o: DrillOptions,
  post: (site: string, events: unknown[]) => Promise<{ ok: true; body: { events: AcceptedRecord[] } } | { ok: false }>,
  accepted: AcceptedRecord[],
): Promise<PausedGroup | { skipped: string }> {
  const site = siteOf(o.topology, o.site);
  const survivor = o.topology.sites.find(
    (s) => s.name !== o.site && upstreamSites(o.topology, s.name).some((u) => u.name === o.site) && s.regions.some((r) => site.regions.includes(r)),
  );
  if (!survivor) return { skipped: `no surviving site holds copies of ${o.site}'s price topics` };
  const region = survivor.regions.find((r) => site.regions.includes(r))!;
  const local = routedTopic('price', region);
  const copy = remoteTopic(o.site, local);
  const group = consumerGroup(o.site, 'price-book');
  const backlogEvents = o.backlogEvents ?? 3000;

  const atSite = new Kafka({ ...o.launcher.adminKafka(o.site), clientId: 'fedgate-drill-pause', logLevel: logLevel.NOTHING });
  const gen = createEventGenerator({ topology: o.topology, products: 1000, seed: Date.now() % 100_000 });
  const publishPrices = async (count: number, label: string) => {
    for (let sent = 0; sent < count; ) {
      const events = Array.from({ length: Math.min(500, count - sent) }, () => ({ ...gen.price(undefined, region), id: `drill-${label}-${randomUUID()}` }));
      // The drill's publisher shares the gateway's rate limit with the drill's load: a refused batch waits and goes again.
      let r = await post(o.site, events);
      for (let attempt = 1; !r.ok && attempt < 10; attempt++) {
        await sleep(1000);
        r = await post(o.site, events);
      }
      if (!r.ok) throw new Error(`the drill could not publish its ${label} at ${o.site}: the gateway refused a batch 10 times`);
      accepted.push(...r.body.events.map((e) => ({ id: e.id, writtenAt: e.writtenAt, routedTo: e.routedTo })));
      sent += events.length;
    }
  };

  // First a history the group processes (so resuming from earliest has something to process again), then the pause.
  const history = Math.ceil(backlogEvents / 3);
  o.log(`${group}: publishing ${history} ${region} prices at ${o.site} and waiting until the group has processed them`);
  await publishPrices(history, 'history');
  // Other load goes on at the site, so "processed" means past where the topic ended after the history.
  const historyEnds = await endOffsets(atSite, local);
  const caughtUp = async () => {
    const committed = await committedOffsets(atSite, group, local);
    return [...historyEnds].every(([p, end]) => end === 0 || (committed.get(p) ?? 0) >= end);
  };
  const caughtUpBy = Date.now() + 60_000;
  while (!(await caughtUp())) {
    if (Date.now() > caughtUpBy) throw new Error(`${group} did not process ${local} to its end at ${o.site} within 60 s`);
    await sleep(500);
  }
  o.log(
    `pausing ${group}: stopping ${o.site}'s instance, waiting for MM2's checkpoint of its position at ${survivor.name}, then publishing a backlog of ${backlogEvents} ${region} prices at ${o.site}`,
  );
  await o.launcher.stop(o.site, 'instance', { hard: false });
  const committed = await committedOffsets(atSite, group, local);
  const atSurvivor = new Kafka({ ...o.launcher.adminKafka(survivor.name), clientId: 'fedgate-drill-pause', logLevel: logLevel.NOTHING });
  // The checkpoint is awaited before the backlog: MM2's checkpoint task keeps a sparse history of offset syncs
  // (KAFKA-14666), so once thousands of newer syncs arrive, a position behind them translates less precisely,
  // and MM2 never moves a checkpoint backwards to correct it. Checkpointed first, the translation is the one
  // within offset.lag.max of the position.
  await waitForCheckpoint(o, atSurvivor, group, copy, committed);
  await publishPrices(backlogEvents, 'backlog');

  // The group's ledger, from the site's own topic: below its committed offset, processed; at or above, owed.
  const before = new Set<string>();
  const backlog = new Set<string>();
  await readTopicToEnd(atSite, local, (partition, m) => {
    const id = m.headers?.ce_id?.toString();
    if (!id) return;
    if (Number(m.offset) < (committed.get(partition) ?? 0)) before.add(id);
    else backlog.add(id);
  });

  // Wait until the survivor holds every owed event.
  const deadline = Date.now() + 90_000;
  for (;;) {
    const copied = new Set<string>();
    await readTopicToEnd(atSurvivor, copy, (_p, m) => void copied.add(m.headers?.ce_id?.toString() ?? '')).catch(() => {});
    const missing = [...backlog].filter((id) => !copied.has(id)).length;
    if (missing === 0) break;
    if (Date.now() > deadline) throw new Error(`${survivor.name} did not receive ${o.site}'s backlog within 90 s (${missing} missing)`);
    await sleep(1000);
  }
  o.log(`${group} paused with ${backlog.size} events owed and ${before.size} processed; ${survivor.name} holds them all, checkpointed`);
  return { group, survivor: survivor.name, copy, before, backlog };
}

/**
 * Wait until MM2 has checkpointed a paused group's position at the survivor. MM2 emits a checkpoint only when
 * the translated offset moves, so the position may never get its own (it translates like an earlier commit's).
 * Either a checkpoint at the position, or one within offset.lag.max + 1 of it that has not changed for three
 * checkpoint intervals, is the translation MM2 will keep.
 */
async function waitForCheckpoint(o: DrillOptions, atSurvivor: Kafka, group: string, copy: string, committed: Map<number, number>): Promise<void> {
  const lagMax = o.topology.mm2.offsetLagMax;
  const settleMs = 3 * o.topology.mm2.checkpointSeconds * 1000;
  let lastSeen = '';
  let seenSince = Date.now();
  const deadline = Date.now() + 90_000;
  for (;;) {
    const checkpoints = await translatedOffsets(atSurvivor, o.site, [group]).catch(() => []);
    const mine = [...committed].map(([p, offset]) => ({ offset, c: checkpoints.find((c) => c.topic === copy && c.partition === p) }));
    const seen = JSON.stringify(mine.map((m) => [m.c?.upstreamOffset, m.c?.downstreamOffset]));
    if (seen !== lastSeen) [lastSeen, seenSince] = [seen, Date.now()];
    const exact = mine.every((m) => m.c?.upstreamOffset === m.offset);
    const near = mine.every((m) => m.c !== undefined && m.c.upstreamOffset <= m.offset && m.c.upstreamOffset >= m.offset - lagMax - 1);
    if (exact || (near && Date.now() - seenSince >= settleMs)) return;
    if (Date.now() > deadline) throw new Error(`MM2 did not checkpoint ${group}'s position at ${o.site} within 90 s (last seen ${seen})`);
    await sleep(1000);
  }
}

/** The end offsets of `topic`'s partitions. */
async function endOffsets(kafka: Kafka, topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  const ends = await admin.fetchTopicOffsets(topic).finally(() => admin.disconnect());
  return new Map(ends.map((e) => [e.partition, Number(e.high)]));
}

/** A group's committed offsets on one topic (partitions without one are left out). */
async function committedOffsets(kafka: Kafka, group: string, topic: string): Promise<Map<number, number>> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return new Map((t?.partitions ?? []).filter((p) => Number(p.offset) >= 0).map((p) => [p.partition, Number(p.offset)]));
  } finally {
    await admin.disconnect();
  }
}

/**
 * Consumer failover, part two (the site is down): commit the MM2-translated
 * offsets at the survivor (what `fedgate failover consumers` does), resume
 * the group there on the copy until it is caught up, and compare what it
 * processed against the ledger: skipped must be 0, and processed again is
 * bounded by offset.lag.max per partition. Resuming from earliest would
 * have processed again everything processed before; from latest, skipped
 * the whole backlog.
 */
async function resumeGroupElsewhere(o: DrillOptions, p: PausedGroup): Promise<ConsumerFailover> {
  const kafka = new Kafka({ ...o.launcher.adminKafka(p.survivor), clientId: `fedgate-drill-${o.site}`, logLevel: logLevel.NOTHING });
  const [moved] = await failoverConsumers({ kafka, from: o.site, groups: [p.group] });
  const processed = new Map<string, number>();
  const inCopy = new Set<string>();
  await readTopicToEnd(kafka, p.copy, (_p, m) => void inCopy.add(m.headers?.ce_id?.toString() ?? ''));

  // The group itself, from its committed offsets at the survivor, until it reaches the copy's end.
  const ends = await endOffsets(kafka, p.copy);
  // A partition without a translated offset starts at its end (nothing to wait for); what it held counts as skipped.
  const resumesAt = new Map((moved?.partitions ?? []).map((x) => [x.partition, x.resumesAt]));
  const pending = new Set([...ends].filter(([partition, high]) => resumesAt.has(partition) && resumesAt.get(partition)! < high).map(([x]) => x));
  const consumer = kafka.consumer({ groupId: p.group, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    if (Number(payload.lastOffset) >= ends.get(payload.partition)! - 1) pending.delete(payload.partition);
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [p.copy], fromBeginning: false });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const id = message.headers?.ce_id?.toString();
      if (id) processed.set(id, partition);
    },
  });
  const deadline = Date.now() + 60_000;
  while (pending.size > 0 && Date.now() < deadline) await sleep(200);
  await consumer.disconnect();
  if (pending.size > 0) throw new Error(`${p.group} did not catch up at ${p.survivor} within 60 s (partitions ${[...pending].join(', ')})`);

  const reprocessedByPartition = new Map<number, number>();
  for (const [id, partition] of processed) if (p.before.has(id)) reprocessedByPartition.set(partition, (reprocessedByPartition.get(partition) ?? 0) + 1);
  const skipped = [...p.backlog].filter((id) => !processed.has(id));
  const result: ConsumerFailover = {
    group: p.group,
    resumedAt: p.survivor,
    topics: [p.copy],
    processedBefore: p.before.size,
    backlog: p.backlog.size,
    processed: processed.size,
    skippedEvents: skipped.length,
    reprocessed: [...reprocessedByPartition.values()].reduce((a, b) => a + b, 0),
    reprocessBoundPerPartition: o.topology.mm2.offsetLagMax,
    reprocessedMaxPerPartition: Math.max(0, ...reprocessedByPartition.values()),
    fromEarliest: { reprocessed: [...p.before].filter((id) => inCopy.has(id)).length, skipped: 0 },
    fromLatest: { reprocessed: 0, skipped: p.backlog.size },
    resumedFrom: (moved?.partitions ?? []).map((x) => ({ partition: x.partition, upstreamOffset: x.upstreamOffset, offset: x.resumesAt })),
  };
  o.log(
    `consumer failover: ${p.group} resumed at ${p.survivor} on ${p.copy}: ${result.processed} processed, ${result.skippedEvents} of ${result.backlog} owed skipped, ${result.reprocessed} processed again (at most ${result.reprocessedMaxPerPartition} per partition, bound ${result.reprocessBoundPerPartition})`,
  );
  return result;
}

/**
 * Extra copies of the drill's events in the replicated topics of `site` since
 * the drill began: the same id twice in the same topic. (A discount without a
 * region is written to every region's topic by design, so one id in two
 * topics is not a duplicate.)
 */
async function countDuplicateCopies(launcher: Launcher, topology: Topology, siteName: string, ids: Set<string>, sinceMs: number): Promise<number> {
  const site = siteOf(topology, siteName);
  const kafka = new Kafka({ ...launcher.adminKafka(site.name), clientId: 'fedgate-drill-scan', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const all = await admin.listTopics();
  const copies = all.filter((t) => upstreamSites(topology, siteName).some((u) => t.startsWith(`${u.name}.fed.`)));
  const ranges: { topic: string; partition: number; from: number; to: number }[] = [];
  for (const topic of copies) {
    const [start, end] = await Promise.all([admin.fetchTopicOffsetsByTimestamp(topic, sinceMs), admin.fetchTopicOffsets(topic)]);
    for (const e of end) {
      const from = Number(start.find((s) => s.partition === e.partition)?.offset ?? e.high);
      const to = Number(e.high);
      if (from >= 0 && from < to) ranges.push({ topic, partition: e.partition, from, to });
    }
  }
  await admin.disconnect();
  if (ranges.length === 0) return 0;
  const seen = new Map<string, number>();
  const done = new Set<string>();
  const consumer = kafka.consumer({ groupId: `fedgate-drill-scan-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [...new Set(ranges.map((r) => r.topic))], fromBeginning: false });
  // A range is read when a batch ends at its last offset. With exactly-once MM2
  // that offset is a transaction marker: it reaches no eachMessage, but the
  // batch that holds it still ends (END_BATCH_PROCESS names its last offset).
  consumer.on(consumer.events.END_BATCH_PROCESS, ({ payload }) => {
    const r = ranges.find((x) => x.topic === payload.topic && x.partition === payload.partition);
    if (r && Number(payload.lastOffset) >= r.to - 1) done.add(`${r.topic}/${r.partition}`);
  });
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const r = ranges.find((x) => x.topic === topic && x.partition === partition);
      if (!r || Number(message.offset) >= r.to) return;
      const id = message.headers?.ce_id?.toString();
      if (id && ids.has(id)) seen.set(`${topic}|${id}`, (seen.get(`${topic}|${id}`) ?? 0) + 1);
    },
  });
  for (const r of ranges) consumer.seek({ topic: r.topic, partition: r.partition, offset: String(r.from) });
  const deadline = Date.now() + 30_000;
  while (done.size < ranges.length && Date.now() < deadline) await sleep(200);
  await consumer.disconnect();
  // A partial scan would understate the duplicates: say so instead.
  if (done.size < ranges.length) throw new Error(`the duplicate scan at ${siteName} read ${done.size} of ${ranges.length} partitions in 30 s`);
  return [...seen.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
}
