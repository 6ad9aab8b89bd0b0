import { type Command, launcherFrom, parse, topologyFrom, UsageError, waitForSignal } from '../context.ts';
import { printStatus } from './status.ts';

export const upCommand: Command = {
  name: 'up',
  usage: `  up [--detach] [--site S]...
                           start the sites' brokers, instances, MirrorMaker 2 nodes and gateways`,
  async run(args, ctx) {
    const { values } = parse(args, { detach: { type: 'boolean' }, site: { type: 'string', multiple: true } });
    const topology = topologyFrom(values, ctx.env);
    const launcher = launcherFrom(topology, values, ctx);
    const sites = values.site ?? topology.sites.map((s) => s.name);
    for (const s of sites) {
      if (!topology.sites.some((t) => t.name === s))
        throw new UsageError(`unknown site "${s}"; the topology has ${topology.sites.map((t) => t.name).join(', ')}`);
    }
    // On failure the launcher stops what this call started, and nothing else.
    await launcher.up(sites);
    printStatus(await launcher.status(), ctx.out);
    if (values.detach) {
      ctx.out.info('running in the background; stop with `npx fedgate down`');
      return 0;
    }
    ctx.out.info('running; press Ctrl-C to stop');
    await waitForSignal();
    ctx.out.info('stopping…');
    if (values.site) await launcher.stopSites(sites);
    else await launcher.down();
    return 0;
  },
};
