import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LaunchError, prometheusConfig, prometheusMissing, RULES_FILE, startPrometheus } from '../../deploy/index.ts';
import { type Command, parse, pathsFrom, topologyFrom, UsageError, waitForSignal } from '../context.ts';

export const prometheusCommand: Command = {
  name: 'prometheus',
  usage: `  prometheus config [--out FILE]
                           prometheus.yml for the topology: every site's gateway and instance, each
                           scraped with its site's metrics credential, and fedgate's alert rules
  prometheus run [--listen HOST:PORT]
                           a Prometheus (Debian's) scraping the running federation; Ctrl-C stops`,
  async run(args, ctx) {
    const { values, positionals } = parse(args, { out: { type: 'string' }, listen: { type: 'string' } });
    const topology = topologyFrom(values, ctx.env);
    const paths = pathsFrom(values, ctx.env);
    const config = prometheusConfig(topology, { certsDir: paths.certsDir, ruleFiles: [RULES_FILE] });
    switch (positionals[0]) {
      case 'config':
        if (values.out) {
          writeFileSync(values.out, config);
          ctx.out.info(`wrote ${values.out}; check it with \`promtool check config ${values.out}\``);
        } else ctx.out.data(config);
        return 0;
      case 'run': {
        const listen = values.listen ?? '127.0.0.1:9090';
        if (!/^[\w.-]+:\d{1,5}$/.test(listen)) throw new UsageError('--listen takes HOST:PORT, e.g. 127.0.0.1:9090');
        const missing = prometheusMissing();
        if (missing) throw new LaunchError(missing);
        const prom = await startPrometheus({ dir: join(paths.runDir, 'prometheus'), config, listen });
        ctx.out.data(`Prometheus: ${prom.url} (targets: ${prom.url}/targets, alerts: ${prom.url}/alerts); Ctrl-C stops it`);
        await waitForSignal();
        await prom.stop();
        return 0;
      }
      default:
        throw new UsageError('prometheus takes `config` or `run`; see `npx fedgate help`');
    }
  },
};
