import { COMPONENTS, type Component } from '../../deploy/index.ts';
import { type Command, launcherFrom, parse, requireSite, topologyFrom, UsageError } from '../context.ts';
import { printStatus } from './status.ts';

export const restartCommand: Command = {
  name: 'restart',
  usage: `  restart [broker|mm2|instance|gateway]... --site S [--hard]
                           stop and start components of one site (all of them when none
                           is named), each waited for until ready; other sites are untouched`,
  async run(args, ctx) {
    const { positionals, values } = parse(args, { site: { type: 'string' }, hard: { type: 'boolean' } });
    const unknown = positionals.filter((p) => !(COMPONENTS as readonly string[]).includes(p));
    if (unknown.length > 0) throw new UsageError(`unknown component "${unknown[0]}"; \`restart\` takes any of: ${COMPONENTS.join(', ')}`);
    const topology = topologyFrom(values, ctx.env);
    const site = requireSite(topology, values.site).name;
    const launcher = launcherFrom(topology, values, ctx);
    const components = positionals.length > 0 ? (positionals as Component[]) : undefined;
    await launcher.restart(site, components, { hard: values.hard });
    printStatus(
      (await launcher.status()).filter((s) => s.site === site),
      ctx.out,
    );
    return 0;
  },
};
