import { readFileSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNetnsLab, isOurProcess, type NetnsLab, netnsSupport } from '../deploy/index.ts';
import { drillFailures, formatDrillReport, runDrill } from '../drills/index.ts';
import { parseTopology, type Topology } from '../federation/index.ts';
import { createTestFederation, type TestFederation } from './support/federation.ts';

/**
 * Real network partitions: sites a and b each run in a network namespace of
 * their own (veth pairs, the host routing between them), and the drill
 * drops the packets between them with nftables while every broker, MM2
 * node, instance and gateway keeps running. Publishing goes on at both
 * sites throughout (the host reaches each site directly). The drill's
 * ledger must show 0 acknowledged events lost once the network heals, the
 * cut flows' lag must have grown, and every flow must converge.
 */
const SUBNET = 231;
const SITES = ['a', 'b'];

describe('network partitions between two sites (namespaces, veth, nftables)', () => {
  let lab: NetnsLab;
  let fed: TestFederation;
  let topology: Topology;
  const reports: string[] = [];

  beforeAll(async () => {
    const unsupported = await netnsSupport();
    expect(unsupported, 'this machine must allow network namespaces for the partition test').toBeNull();
    lab = await createNetnsLab({ subnet: SUBNET, sites: SITES });
    const ports = { kafka: 19092, interSite: 19093, controller: 19094, instance: 18081, gateway: 18080, peer: 18443, brokerMetrics: 19404, mm2Metrics: 19405 };
    topology = parseTopology({
      federation: `test-partition-${SUBNET}`,
      heap: { broker: '256m', mm2: '256m' },
      sites: [
        { name: 'a', regions: ['eu'], countries: ['DE'], address: lab.addresses.a, ports },
        { name: 'b', regions: ['us'], countries: ['US'], address: lab.addresses.b, ports },
      ],
    });
    fed = createTestFederation('partition', topology, { env: { LOG_LEVEL: 'warn' }, netns: lab.namespaces });
    await fed.launcher.up();
  });

  afterAll(async () => {
    for (const r of reports) console.log(r);
    const pids = fed?.startedPids() ?? [];
    await fed?.stop();
    await lab?.destroy();
    for (const pid of pids) expect(isOurProcess(pid, fed.runDir)).toBe(false);
  });

  it('every process runs inside its site’s namespace, and the sites reach each other only through the host', async () => {
    const status = await fed.launcher.status();
    expect(status.map((s) => [s.site, s.broker.ready, s.mm2.ready, s.instance.ready, s.gateway.ready])).toEqual(SITES.map((s) => [s, true, true, true, true]));
    let checked = 0;
    for (const pid of fed.startedPids()) {
      const role = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
        .split('\0')
        .find((x) => x.startsWith('-Dfedgate.role='));
      const site = role?.slice('-Dfedgate.role='.length).split('/')[0];
      if (!site || !SITES.includes(site)) continue;
      // The process's network namespace is its site's, not the host's.
      expect(statSync(`/proc/${pid}/ns/net`).ino, role).toBe(statSync(`/run/netns/${lab.namespaces[site]}`).ino);
      expect(statSync(`/proc/${pid}/ns/net`).ino, role).not.toBe(statSync('/proc/self/ns/net').ino);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(8);
  });

  for (const direction of ['both', 'one-way'] as const) {
    it(`a ${direction === 'both' ? 'symmetric' : 'one-way'} partition a ${direction === 'both' ? '<->' : '->'} b: lag grows while it lasts, 0 acknowledged events lost, every flow converges after it heals`, async () => {
      const report = await runDrill({
        launcher: fed.launcher,
        topology,
        secretsDir: fed.certsDir,
        drill: 'partition',
        site: 'a',
        durationMs: 30_000,
        ratePerSecond: 40,
        hard: false,
        convergeTimeoutMs: 240_000,
        partition: { with: 'b', direction, lab },
        log: () => {},
      });
      reports.push(formatDrillReport(report));
      expect(drillFailures(report)).toEqual([]);
      expect(report.lost).toBe(0);
      expect(report.acceptedTotal).toBeGreaterThan(500);
      // Both sites were owed events across the cut, and received every one.
      expect(report.owedPerSite.a).toBeGreaterThan(0);
      expect(report.owedPerSite.b).toBeGreaterThan(0);
      expect(report.deliveredPerSite).toEqual(report.owedPerSite);
      // The rules were real, and the copies could not cross while they stood: the flows fell behind by seconds.
      expect(report.partition?.rules.length).toBe(direction === 'both' ? 2 : 1);
      expect(report.partition?.rules[0]).toContain(`ip saddr ${lab.addresses.a} ip daddr ${lab.addresses.b}`);
      expect(report.peakLag['a->b']?.seconds ?? 0).toBeGreaterThan(10);
      expect(report.rto.flowsConvergedSeconds).not.toBeNull();
      expect(await lab.rules()).toEqual([]);
    });
  }
});
