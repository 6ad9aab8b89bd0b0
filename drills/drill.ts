import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { issueToken, SCOPES } from '../certs/index.ts';
import type { Component, Launcher } from '../deploy/launcher.ts';
import { consumerGroup, flowLags, isKnownLag, remoteTopic, routedTopic, type SiteOffsets, siteOf, type Topology, upstreamSites } from '../federation/index.ts';
import { type AcceptedRecord, buildDrillReport, type CertRotation, type ConsumerFailover, type DrillKind, type DrillReport } from './drill-report.ts';
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
  log: (line: string) => void;
}

const STOPPED: Record<DrillKind, Component[]> = {
  'site-outage': ['gateway', 'instance', 'mm2', 'broker'],
  'link-outage': ['mm2'],
  'broker-outage': ['broker'],
  // Nothing stops: the site's certificates are renewed under load (see rotateUnderLoad).
  'cert-rotation': [],
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
      }
      await sleep(1000);
    }
  })();

  const warmup = Math.min(5000, o.durationMs / 4);
  await sleep(warmup);

  // What the drilled site's price-book group had processed before the outage.
  const group = consumerGroup(o.site, 'price-book');
  const before = new Set(
    await deliveredAt(
      launcher,
      o.site,
      accepted.map((a) => a.id),
    ),
  );

  const rotation = o.drill === 'cert-rotation' ? await rotateUnderLoad(o) : undefined;
  if (STOPPED[o.drill].length > 0) log(`stopping ${STOPPED[o.drill].join(', ')} of ${o.site} (${o.hard ? 'SIGKILL' : 'SIGTERM'})`);
  for (const c of STOPPED[o.drill]) await launcher.stop(o.site, c, { hard: o.hard });

  const consumerFailover =
    o.drill === 'site-outage' ? await resumeGroupElsewhere(o, group, before) : ({ skipped: 'only the site-outage drill moves a consumer group' } as const);

  await sleep(Math.max(0, o.durationMs - warmup));
  const restart = [...STOPPED[o.drill]].reverse();
  if (restart.length > 0) log(`restarting ${o.site}`);
  for (const c of restart) await launcher.start(o.site, c);
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
    consumerFailover,
    ...(rotation ? { rotation } : {}),
  });
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
 * Consumer failover: the drilled site's price-book group resumes at a
 * surviving site that holds copies of the group's local topics, from the
 * offsets MM2 translated there (checkpoints plus group offset sync).
 */
async function resumeGroupElsewhere(o: DrillOptions, group: string, before: Set<string>): Promise<ConsumerFailover | { skipped: string }> {
  const site = siteOf(o.topology, o.site);
  const survivor = o.topology.sites.find(
    (s) => s.name !== o.site && upstreamSites(o.topology, s.name).some((u) => u.name === o.site) && s.regions.some((r) => site.regions.includes(r)),
  );
  if (!survivor) return { skipped: `no surviving site holds copies of ${o.site}'s price topics` };
  const topics = survivor.regions.filter((r) => site.regions.includes(r)).map((r) => remoteTopic(o.site, routedTopic('price', r)));
  const kafka = new Kafka({ ...o.launcher.adminKafka(survivor.name), clientId: `fedgate-drill-${o.site}`, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: group, sessionTimeout: 10_000, heartbeatInterval: 1000 });
  const processed = new Set<string>();
  await consumer.connect();
  await consumer.subscribe({ topics, fromBeginning: false });
  await consumer.run({ eachMessage: async ({ message }) => void processed.add(message.headers?.ce_id?.toString() ?? '') });
  await sleep(8000);
  await consumer.disconnect();
  o.log(`consumer failover: ${group} resumed at ${survivor.name} on ${topics.join(', ')}: ${processed.size} events`);
  return { group, resumedAt: survivor.name, topics, processed: processed.size, reprocessed: [...processed].filter((id) => before.has(id)).length };
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
  await consumer.run({
    eachMessage: async ({ topic, partition, message }) => {
      const r = ranges.find((x) => x.topic === topic && x.partition === partition);
      if (!r || Number(message.offset) >= r.to) return;
      const id = message.headers?.ce_id?.toString();
      if (id && ids.has(id)) seen.set(`${topic}|${id}`, (seen.get(`${topic}|${id}`) ?? 0) + 1);
      if (Number(message.offset) >= r.to - 1) done.add(`${topic}/${partition}`);
    },
  });
  for (const r of ranges) consumer.seek({ topic: r.topic, partition: r.partition, offset: String(r.from) });
  const deadline = Date.now() + 30_000;
  while (done.size < ranges.length && Date.now() < deadline) await sleep(200);
  await consumer.disconnect();
  return [...seen.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);
}
