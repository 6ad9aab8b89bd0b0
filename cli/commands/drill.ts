import { DRILLS, type DrillKind, drillFailures, formatDrillReport, runDrill } from '../../drills/index.ts';
import { type Command, launcherFrom, parse, pathsFrom, requireSite, topologyFrom, UsageError } from '../context.ts';
import { parseDuration } from '../parse-input.ts';

export const drillCommand: Command = {
  name: 'drill',
  usage: `  drill site-outage|link-outage|broker-outage|cert-rotation --site S [--duration 60s] [--rate 200/s]
        [--backlog N] [--hard] [--json]
                           stop part of a site under load (or renew its certificates:
                           cert-rotation), bring it back, report lost,
                           delayed and duplicated events (the federation must be up);
                           --backlog publishes N events owed to the site while it is down`,
  async run(args, ctx) {
    const spec = {
      site: { type: 'string' },
      duration: { type: 'string' },
      rate: { type: 'string' },
      backlog: { type: 'string' },
      hard: { type: 'boolean' },
      json: { type: 'boolean' },
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
