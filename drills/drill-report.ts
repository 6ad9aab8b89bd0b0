/**
 * Failover drill reports (pure): from what a drill observed, the figures a
 * person checks. "lost" counts events a site was owed (it is in the event's
 * routedTo, and the event was acknowledged) but never consumed there.
 */
export const DRILLS = ['site-outage', 'link-outage', 'broker-outage', 'cert-rotation'] as const;
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
  peakLag: Record<string, { records: number; seconds: number }>;
  consumerFailover: ConsumerFailover | { skipped: string };
  /** The cert-rotation drill: what the site's broker presents after the reload, and which clients were restarted onto their new certificates. */
  rotation?: CertRotation;
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
  /** Events the resumed group processed at the surviving site. */
  processed: number;
  /** Of those, events the original group had already processed before the outage. */
  reprocessed: number;
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
    `drill ${r.drill} of ${r.site} (${r.hard ? 'SIGKILL' : 'SIGTERM'}), ${r.durationSeconds} s at ${r.ratePerSecond} events/s, started ${r.startedAt}`,
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
    `  converged ${r.convergeSeconds === null ? 'NOT within the limit' : `${r.convergeSeconds} s after the restart`}`,
    '  peak lag per flow:',
    ...Object.entries(r.peakLag).map(([flow, l]) => `    ${flow.padEnd(22)} ${String(l.records).padStart(7)} records  ${l.seconds} s`),
    consumerFailoverLine(r.consumerFailover),
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
  return `  consumer failover: ${c.group} resumed at ${c.resumedAt} from MM2-translated offsets: ${c.processed} processed, ${c.reprocessed} processed again`;
}
