import { type Command, parse, topologyFrom, UsageError } from '../context.ts';

export const topologyCommand: Command = {
  name: 'topology',
  usage: '  topology check           validate the topology file',
  async run(args, { env, out }) {
    const { positionals, values } = parse(args, {});
    if (positionals[0] !== 'check') throw new UsageError('`topology` takes one subcommand: `check`');
    const topology = topologyFrom(values, env);
    out.info(`topology is valid: ${topology.sites.map((s) => `${s.name} (${s.address})`).join(', ')}`);
    return 0;
  },
};
