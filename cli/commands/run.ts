import { COMPONENTS, type Component } from '../../deploy/index.ts';
import { type Command, launcherFrom, parse, requireSite, topologyFrom, UsageError } from '../context.ts';

export const runCommand: Command = {
  name: 'run',
  usage: `  run broker|mm2|instance|gateway --site S [--log-stdout]
                           run one component of a site in the foreground (a container's
                           main process in docker-compose.multi.yml); --log-stdout sends a
                           broker's or MM2 node's log to stdout instead of its log file`,
  async run(args, ctx) {
    const { positionals, values } = parse(args, { site: { type: 'string' }, 'log-stdout': { type: 'boolean' } });
    const component = positionals[0] as Component;
    if (!COMPONENTS.includes(component)) throw new UsageError(`\`run\` takes one of: ${COMPONENTS.join(', ')}`);
    const topology = topologyFrom(values, ctx.env);
    const site = requireSite(topology, values.site).name;
    return launcherFrom(topology, values, ctx).runForeground(site, component, { logToStdout: !!values['log-stdout'] });
  },
};
