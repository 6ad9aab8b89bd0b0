import { join } from 'node:path';
import { createLauncher, createNetnsLab, netnsSupport } from '../deploy/index.ts';
import { parseTopology, type Topology } from '../federation/index.ts';
import { runDrill } from './drill.ts';
import type { DrillReport } from './drill-report.ts';

export interface PartitionLabOptions {
  /** The federation whose sites (names, regions, countries, ports) the lab copies. */
  topology: Topology;
  /** One side of the cut (the drilled site) and the other. */
  site: string;
  with: string;
  directions: Array<'both' | 'one-way'>;
  durationMs: number;
  ratePerSecond: number;
  /** The shared Kafka jar cache. */
  stateDir: string;
  /** The lab federation's own folder (certificates, data, logs); it is removed by nobody, for reading afterwards. */
  runDir: string;
  systemEnv: Record<string, string>;
  /** 10.<subnet>.x.x for the sites' namespaces. */
  subnet?: number;
  log: (line: string) => void;
}

export interface PartitionLabResult {
  /** Null when namespaces worked; else why not, and the drill fell back to stopping MM2 (link-outage). */
  fallback: string | null;
  reports: DrillReport[];
}

/**
 * `fedgate drill partition`: a lab copy of the federation's sites, each in a
 * network namespace of its own (deploy/netns.ts), started from the same jars,
 * then one partition drill per direction (packets between two sites dropped
 * with nftables while every process runs), then everything stopped and the
 * namespaces removed. The lab's sites keep only what crosses the network
 * between sites: no PIS, no delivery subscriptions (their servers are on the
 * host's loopback, which a namespace cannot reach).
 *
 * Where namespaces cannot be made (no root, no nftables), it says why and
 * runs the link-outage drill instead (MM2 stopped: a link outage, but with
 * processes stopped rather than packets lost) on the same lab sites on
 * loopback addresses.
 */
export async function runPartitionLab(o: PartitionLabOptions): Promise<PartitionLabResult> {
  const unsupported = await netnsSupport();
  const subnet = o.subnet ?? 232;
  const names = o.topology.sites.map((s) => s.name);
  if (!names.includes(o.site) || !names.includes(o.with) || o.site === o.with)
    throw new Error(`name two different sites of the topology (${names.join(', ')}): --site and --with`);
  const lab = unsupported === null ? await createNetnsLab({ subnet, sites: names, log: o.log }) : null;
  if (unsupported !== null) o.log(`network namespaces are not available here: ${unsupported}. Falling back to the link-outage drill (MM2 stopped).`);
  const topology = parseTopology(
    {
      federation: `${o.topology.federation}-lab`,
      heap: { broker: '256m', mm2: '256m' },
      sites: o.topology.sites.map((s, i) => ({
        name: s.name,
        regions: s.regions,
        countries: s.countries,
        address: lab ? lab.addresses[s.name]! : `127.${220 + (i % 30)}.0.1`,
        ports: s.ports,
      })),
    },
    'partition lab topology',
  );
  const launcher = createLauncher({
    topology,
    stateDir: o.stateDir,
    runDir: o.runDir,
    certsDir: join(o.runDir, 'certs'),
    caKeyDir: join(o.runDir, 'ca-key'),
    log: o.log,
    systemEnv: o.systemEnv,
    env: { LOG_LEVEL: 'warn' },
    ...(lab ? { netns: lab.namespaces } : {}),
  });
  const reports: DrillReport[] = [];
  try {
    await launcher.up();
    const common = {
      launcher,
      topology,
      secretsDir: join(o.runDir, 'certs'),
      site: o.site,
      durationMs: o.durationMs,
      ratePerSecond: o.ratePerSecond,
      hard: false,
      log: o.log,
    };
    if (lab) {
      for (const direction of o.directions) {
        o.log(`partition ${o.site} ${direction === 'both' ? '<->' : '->'} ${o.with} for ${Math.round(o.durationMs / 1000)} s, every process running`);
        reports.push(await runDrill({ ...common, drill: 'partition', partition: { with: o.with, direction, lab } }));
      }
    } else {
      reports.push(await runDrill({ ...common, drill: 'link-outage' }));
    }
  } finally {
    await launcher.down();
    await lab?.destroy();
  }
  return { fallback: unsupported, reports };
}
