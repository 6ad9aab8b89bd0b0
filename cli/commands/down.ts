import { type Command, launcherFrom, parse, topologyFrom } from '../context.ts';

export const downCommand: Command = {
  name: 'down',
  usage: '  down [--hard]            stop everything this federation started',
  async run(args, ctx) {
    const { values } = parse(args, { hard: { type: 'boolean' } });
    await launcherFrom(topologyFrom(values, ctx.env), values, ctx).down({ hard: values.hard });
    ctx.out.info('federation stopped');
    return 0;
  },
};
