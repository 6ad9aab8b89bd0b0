import { type Command, launcherFrom, parse, pathsFrom, topologyFrom, UsageError } from '../context.ts';
import { startFederation } from '../start.ts';

export const startCommand: Command = {
  name: 'start',
  usage: `  start [--no-demo] [--rate N] [--prometheus]
                           fetch Kafka, create certificates, start the three sites
                           and a demo PIS publishing N events/s (default 20), and with
                           --prometheus a Prometheus scraping them (127.0.0.1:9090); Ctrl-C stops`,
  async run(args, ctx) {
    const { values } = parse(args, { 'no-demo': { type: 'boolean' }, rate: { type: 'string' }, prometheus: { type: 'boolean' } });
    const rate = values.rate === undefined ? 20 : Number(values.rate);
    if (!Number.isInteger(rate) || rate < 1 || rate > 2000) throw new UsageError('--rate takes events per second, from 1 to 2000');
    const topology = topologyFrom(values, ctx.env);
    const launcher = launcherFrom(topology, values, ctx);
    return startFederation({
      topology,
      launcher,
      home: pathsFrom(values, ctx.env),
      demo: !values['no-demo'],
      rate,
      prometheus: !!values.prometheus,
      systemPath: ctx.env.system.PATH,
      out: ctx.out,
    });
  },
};
