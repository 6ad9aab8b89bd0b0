import { COMPONENTS, type Component } from '../../deploy/index.ts';
import { type Command, launcherFrom, parse, requireSite, topologyFrom, UsageError } from '../context.ts';

export const runCommand: Command = {
  name: 'run',
  usage: `  run broker|mm2|instance|gateway|pisdb|connect|db --site S [--log-stdout] [--worker N]
                           run one component of a site in the foreground (a container's
                           main process in docker-compose.multi.yml); --log-stdout sends a
                           broker's or MM2 node's log to stdout instead of its log file;
                           --worker N runs instance worker N of the site's workers`,
  async run(args, ctx) {
    const { positionals, values } = parse(args, { site: { type: 'string' }, 'log-stdout': { type: 'boolean' }, worker: { type: 'string' } });
    const component = positionals[0] as Component;
    if (!COMPONENTS.includes(component)) throw new UsageError(`\`run\` takes one of: ${COMPONENTS.join(', ')}`);
    const topology = topologyFrom(values, ctx.env);
    const site = requireSite(topology, values.site);
    const worker = values.worker === undefined ? 1 : Number(values.worker);
    if (values.worker !== undefined && (component !== 'instance' || !Number.isInteger(worker) || worker < 1 || worker > site.workers)) {
      throw new UsageError(
        `--worker takes the number of one of ${site.name}'s instance workers, 1 to ${site.workers} (sites[].workers), with \`run instance\``,
      );
    }
    return launcherFrom(topology, values, ctx).runForeground(site.name, component, { logToStdout: !!values['log-stdout'] }, worker);
  },
};
