import { join } from 'node:path';
import { DRILLS, type DrillKind, drillFailures, formatDrillReport, runDrill, runPartitionLab } from '../../drills/index.ts';
import { type Command, launcherFrom, parse, pathsFrom, requireSite, topologyFrom, UsageError } from '../context.ts';
import { parseDuration } from '../parse-input.ts';

export const drillCommand: Command = {
  name: 'drill',
  usage: `  drill site-outage|link-outage|broker-outage|cert-rotation --site S [--duration 60s] [--rate 200/s]
        [--backlog N] [--hard] [--json]
                           stop part of a site under load (or renew its certificates:
                           cert-rotation), bring it back, report lost,
                           delayed and duplicated events (the federation must be up);
                           --backlog publishes N events owed to the site while it is down
  drill partition --site S --with T [--direction both|one-way|all] [--duration 60s] [--rate 200/s] [--json]
                           a lab copy of the sites, each in its own network namespace
                           (needs root, iproute2, nftables), packets between S and T
                           dropped while every process runs, then healed; the same
                           report per direction (falls back to link-outage, saying why)`,
  async run(args, ctx) {
    const spec = {
      site: { type: 'string' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      backlog: { type: 'string' },
      hard: { type: 'boolean' },
      json: { type: 'boolean' },
      with: { type: 'string' },
      direction: { type: 'string' },
    } as const;
    const { positionals, values } = parse(args, spec);
    const kind = positionals[0];
    if (!(DRILLS as readonly string[]).includes(kind ?? '')) throw new UsageError(`name the drill: ${DRILLS.join(', ')}`);
    const topology = topologyFrom(values, ctx.env);
    const site = requireSite(topology, values.site).name;
    const durationMs = parseDuration(values.duration ?? '60s');
    const rate = Number((values.rate ?? '200/s').replace(/\/s$/, ''));
    if (!Number.isInteger(rate) || rate < 1 || rate > 5000) throw new UsageError('--rate takes events per second, e.g. 200/s (1 to 5000)');
    const backlog = Number(values.backlog ?? '0');
    if (!Number.isInteger(backlog) || backlog < 0 || backlog > 1_000_000)
      throw new UsageError('--backlog takes a number of events owed to the site while it is down, e.g. 100000 (0 to 1000000)');
    if (backlog > 0 && kind === 'cert-rotation') throw new UsageError('--backlog needs an outage; the cert-rotation drill stops nothing');
    if (kind === 'partition') {
      if (!values.with) throw new UsageError(`--with is required: the other side of the partition, one of ${topology.sites.map((s) => s.name).join(', ')}`);
      const other = requireSite(topology, values.with).name;
      if (other === site) throw new UsageError('--with names the other side of the partition: a site other than --site');
      const direction = values.direction ?? 'all';
      if (!['both', 'one-way', 'all'].includes(direction)) throw new UsageError('--direction takes both, one-way or all');
      if (backlog > 0 || values.hard) throw new UsageError('--backlog and --hard belong to the outage drills; a partition stops nothing');
      const paths = pathsFrom(values, ctx.env);
      const lab = await runPartitionLab({
        topology,
        site,
        with: other,
        directions: direction === 'all' ? ['both', 'one-way'] : [direction as 'both' | 'one-way'],
        durationMs,
        ratePerSecond: rate,
        stateDir: paths.stateDir,
        runDir: join(paths.stateDir, 'labs', `partition-${Date.now()}`),
        systemEnv: ctx.env.system,
        log: ctx.out.info,
      });
      if (lab.fallback) ctx.out.info(`namespaces unavailable (${lab.fallback}): the report below is the link-outage fallback`);
      ctx.out.data(values.json ? JSON.stringify(lab, null, 2) : lab.reports.map(formatDrillReport).join('\n\n'));
      const failures = lab.reports.flatMap(drillFailures);
      for (const f of failures) ctx.out.info(`drill failed: ${f}`);
      return failures.length === 0 ? 0 : 1;
    }
    const report = await runDrill({
      launcher: launcherFrom(topology, values, ctx),
      topology,
      secretsDir: pathsFrom(values, ctx.env).certsDir,
      drill: kind as DrillKind,
      site,
      durationMs,
      ratePerSecond: rate,
      outageBacklog: backlog,
      hard: !!values.hard,
      log: ctx.out.info,
    });
    ctx.out.data(values.json ? JSON.stringify(report, null, 2) : formatDrillReport(report));
    const failures = drillFailures(report);
    for (const f of failures) ctx.out.info(`drill failed: ${f}`);
    return failures.length === 0 ? 0 : 1;
  },
};
