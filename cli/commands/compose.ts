import { writeComposeFiles } from '../../deploy/compose.ts';
import { type Command, parse, topologyFrom, UsageError } from '../context.ts';

export const composeCommand: Command = {
  name: 'compose',
  usage: '  compose render           write docker-compose.multi.yml and its topology from the topology',
  async run(args, { env, out }) {
    const { positionals, values } = parse(args, {});
    if (positionals[0] !== 'render') throw new UsageError('`compose` takes one subcommand: `render`');
    const files = writeComposeFiles(topologyFrom(values, env), process.cwd());
    out.info(`wrote ${files.join(' and ')}; validate with \`docker-compose -f docker-compose.multi.yml config -q\``);
    return 0;
  },
};
