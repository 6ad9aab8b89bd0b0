/**
 * Failover drill reports (pure): from what a drill observed, the figures a
 * person checks. "lost" counts events a site was owed (it is in the event's
 * routedTo, and the event was acknowledged) but never consumed there.
 */
export const DRILLS = ['site-outage', 'link-outage', 'broker-outage', 'cert-rotation', 'partition'] as const;
export type DrillKind = (typeof DRILLS)[number];

export interface AcceptedRecord {
  id: string;
  writtenAt: string;
  routedTo: string[];
}

export interface DrillObservations {
  drill: DrillKind;
  site: string;
  hard: boolean;
  durationSeconds: number;
  ratePerSecond: number;
  startedAt: string;
  accepted: AcceptedRecord[];
  /** Events no gateway acknowledged (the client would retry them). */
  refused: number;
  /** Per site, the ids consumed there (only ids of this drill). */
  delivered: Record<string, string[]>;
  /** Per site, extra copies of drill events found in its replicated topics (MM2 is at-least-once). */
  duplicates: Record<string, number>;
  /** Longest time an event of the failover client waited from its first attempt to a 202 at some site. */
  unavailabilityWindowMs: number;
  failoverClientSwitches: number;
  /** From the site being back to every owed event consumed; null if it never converged. */
  convergeSeconds: number | null;
  /** How long the stopped components took to start again, every one ready (drills that stop something). */
  restartSeconds?: number;
  peakLag: Record<string, { records: number; seconds: number }>;
  /** Per flow, records lost to retention at the source (never copied); flows without loss are left out. */
  lostToRetention: Record<string, number>;
  consumerFailover: ConsumerFailover | { skipped: string };
  /** Events routed to the drilled site and acknowledged while it was down (the `--backlog` option); its convergence is `convergeSeconds`. */
  outageBacklog?: number;
  /** The cert-rotation drill: what the site's broker presents after the reload, and which clients were restarted onto their new certificates. */
  rotation?: CertRotation;
  /** The partition drill: the other side, the direction, and the drop rules that were in force (every process kept running). */
  partition?: PartitionFigures;
  /**
   * Components no longer running when the drill ended, though the drill had
   * every one of them running (an MM2 node that died of OutOfMemoryError,
   * say). Events they held up show as not delivered; this names why.
   */
  exited?: Array<{ site: string; component: string }>;
}

export interface PartitionFigures {
  with: string;
  direction: 'both' | 'one-way';
  rules: string[];
  /** How long the packets were dropped. */
  cutSeconds: number;
}

export interface CertRotation {
  /** Serial of the site's new broker certificate. */
  brokerSerial: string;
  /** Every broker listener, with the serial a fresh handshake saw after the reload and when (ms after the rotation began). */
  listeners: { listener: string; endpoint: string; serial: string; reloadMs: number }[];
  /** Clients restarted one at a time, under load, to present their new certificates. */
  restarted: string[];
}

export interface ConsumerFailover {
  group: string;
  resumedAt: string;
  topics: string[];
  /** Events of the group's topic it had processed at the failed site before it paused. */
  processedBefore: number;
  /** Events published while it was paused: what it owed when the site failed. */
  backlog: number;
  /** Events the resumed group processed at the surviving site. */
  processed: number;
  /** Owed events the resumed group never processed: must be 0. */
  skippedEvents: number;
  /** Events processed before the pause and again after the failover. */
  reprocessed: number;
  /** MM2 translates to its last offset sync at or before the position: at most offset.lag.max records behind. */
  reprocessBoundPerPartition: number;
  reprocessedMaxPerPartition: number;
  /** What resuming from the earliest or the latest offset would have done instead. */
  fromEarliest: { reprocessed: number; skipped: number };
  fromLatest: { reprocessed: number; skipped: number };
  /** Where each partition resumed: the group's offset at the failed site, translated. */
  resumedFrom: { partition: number; upstreamOffset: number; offset: number }[];
}

/**
 * Recovery point: acknowledged events a routed site never received once
 * the federation had converged (or the wait ended); must be 0. Recovery
 * time: how long publishing was unavailable to a client that fails over, and
 * how long after the site came back every flow had delivered what it owed.
 */
export interface RecoveryFigures {
  rpoEvents: number;
  rto: { publishUnavailableMs: number; flowsConvergedSeconds: number | null };
}

export interface DrillReport extends Omit<DrillObservations, 'accepted' | 'delivered'>, RecoveryFigures {
  acceptedPerSite: Record<string, number>;
  owedPerSite: Record<string, number>;
  deliveredPerSite: Record<string, number>;
  acceptedTotal: number;
  lost: number;
  lostIds: string[];
  duplicatesTotal: number;
}

export function buildDrillReport(o: DrillObservations): DrillReport {
  const acceptedPerSite: Record<string, number> = {};
  const owedPerSite: Record<string, number> = {};
  const deliveredPerSite: Record<string, number> = {};
  const lostIds: string[] = [];
  const deliveredSets = Object.fromEntries(Object.entries(o.delivered).map(([s, ids]) => [s, new Set(ids)]));
  for (const a of o.accepted) {
    acceptedPerSite[a.writtenAt] = (acceptedPerSite[a.writtenAt] ?? 0) + 1;
    for (const target of a.routedTo) {
      owedPerSite[target] = (owedPerSite[target] ?? 0) + 1;
      if (deliveredSets[target]?.has(a.id)) deliveredPerSite[target] = (deliveredPerSite[target] ?? 0) + 1;
      else lostIds.push(`${a.id}@${target}`);
    }
  }
  const { accepted: _a, delivered: _d, ...rest } = o;
  return {
    ...rest,
    acceptedPerSite,
    owedPerSite,
    deliveredPerSite,
    acceptedTotal: o.accepted.length,
    lost: lostIds.length,
    lostIds: lostIds.slice(0, 20),
    rpoEvents: lostIds.length,
    rto: { publishUnavailableMs: o.unavailabilityWindowMs, flowsConvergedSeconds: o.convergeSeconds },
    duplicatesTotal: Object.values(o.duplicates).reduce((a, b) => a + b, 0),
  };
}

export function formatDrillReport(r: DrillReport): string {
  const sites = [...new Set([...Object.keys(r.owedPerSite), ...Object.keys(r.acceptedPerSite)])].sort();
  const lines = [
    r.partition
      ? `drill partition: ${r.site} ${r.partition.direction === 'both' ? '<->' : '->'} ${r.partition.with} cut for ${r.partition.cutSeconds} s (every process running), ${r.durationSeconds} s at ${r.ratePerSecond} events/s, started ${r.startedAt}`
      : `drill ${r.drill} of ${r.site} (${r.hard ? 'SIGKILL' : 'SIGTERM'}), ${r.durationSeconds} s at ${r.ratePerSecond} events/s, started ${r.startedAt}`,
    ...(r.partition ? [`  drop rules: ${r.partition.rules.join('; ') || 'none listed'}`] : []),
    '',
    `  ${'site'.padEnd(10)} ${'accepted'.padStart(9)} ${'owed'.padStart(9)} ${'delivered'.padStart(9)} ${'duplicates'.padStart(10)}`,
    ...sites.map(
      (s) =>
        `  ${s.padEnd(10)} ${[r.acceptedPerSite[s], r.owedPerSite[s], r.deliveredPerSite[s]].map((n) => String(n ?? 0).padStart(9)).join(' ')} ${String(r.duplicates[s] ?? 0).padStart(10)}`,
    ),
    '',
    `  accepted ${r.acceptedTotal}, refused ${r.refused}`,
    `  LOST ${r.lost}${r.lost ? ` (e.g. ${r.lostIds.slice(0, 3).join(', ')})` : ''}`,
    `  RPO ${r.rpoEvents} acknowledged events missing; RTO: publishing unavailable ${r.rto.publishUnavailableMs} ms, flows converged ${r.rto.flowsConvergedSeconds === null ? 'NOT within the limit' : `${r.rto.flowsConvergedSeconds} s after the restart`}`,
    `  duplicates (extra MM2 copies) ${r.duplicatesTotal}`,
    `  publish unavailability seen by a failing-over client: ${r.unavailabilityWindowMs} ms (${r.failoverClientSwitches} switches)`,
    `  converged ${r.convergeSeconds === null ? 'NOT within the limit' : `${r.convergeSeconds} s after the restart`}${r.restartSeconds !== undefined ? `, which itself took ${r.restartSeconds} s` : ''}${r.outageBacklog ? ` (a backlog of ${r.outageBacklog} events was owed to ${r.site})` : ''}`,
    '  peak lag per flow:',
    ...Object.entries(r.peakLag).map(
      ([flow, l]) =>
        `    ${flow.padEnd(22)} ${String(l.records).padStart(7)} records  ${l.seconds} s${r.lostToRetention[flow] ? `  LOST ${r.lostToRetention[flow]} to retention` : ''}`,
    ),
    consumerFailoverLine(r.consumerFailover),
    ...(r.exited?.length
      ? [
          `  EXITED during the drill: ${r.exited.map((e) => `${e.site} ${e.component}`).join(', ')} (see its logs; \`npx fedgate restart <component> --site S\` brings it back)`,
        ]
      : []),
    ...(r.rotation
      ? [
          `  certificates renewed: the broker presents serial ${r.rotation.brokerSerial} on ${r.rotation.listeners.map((l) => `${l.listener} (after ${l.reloadMs} ms)`).join(', ')}`,
          `  restarted onto new certificates: ${r.rotation.restarted.join(', ') || 'none running'}`,
        ]
      : []),
  ];
  return lines.join('\n');
}

function consumerFailoverLine(f: DrillReport['consumerFailover']): string {
  if ('skipped' in f) return `  consumer failover: skipped (${f.skipped})`;
  const c = f as ConsumerFailover;
  return [
    `  consumer failover: ${c.group} paused with ${c.backlog} events owed (${c.processedBefore} processed), then resumed at ${c.resumedAt} from MM2-translated offsets:`,
    `    skipped ${c.skippedEvents}, processed again ${c.reprocessed} (at most ${c.reprocessedMaxPerPartition} per partition; bound ${c.reprocessBoundPerPartition})`,
    `    from earliest instead: processed again ${c.fromEarliest.reprocessed}; from latest instead: skipped ${c.fromLatest.skipped}`,
  ].join('\n');
}

/** Why a drill failed; empty when it passed. */
export function drillFailures(r: DrillReport): string[] {
  const out: string[] = [];
  if (r.lost > 0) out.push(`${r.lost} acknowledged events were not delivered where they were routed`);
  if (r.rto.flowsConvergedSeconds === null) out.push('the flows did not converge within the limit');
  for (const e of r.exited ?? []) out.push(`${e.site}'s ${e.component} exited during the drill`);
  for (const [flow, n] of Object.entries(r.lostToRetention)) out.push(`flow ${flow} lost ${n} records to retention at its source`);
  const c = r.consumerFailover;
  if (!('skipped' in c)) {
    if (c.skippedEvents > 0) out.push(`the failed-over group skipped ${c.skippedEvents} owed events`);
    if (c.reprocessedMaxPerPartition > c.reprocessBoundPerPartition)
      out.push(
        `the failed-over group processed ${c.reprocessedMaxPerPartition} events again on one partition, over the bound of ${c.reprocessBoundPerPartition}`,
      );
  }
  return out;
}
