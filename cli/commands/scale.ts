import { type Command, launcherFrom, parse, requireSite, topologyFrom, UsageError } from '../context.ts';
import { printStatus } from './status.ts';

export const scaleCommand: Command = {
  name: 'scale',
  usage: `  scale --site S --workers N
                           run N instance workers at site S (1-8; more than one needs DATABASE_URL):
                           they share the site's consumer and subscription groups; until \`down\``,
  async run(args, ctx) {
    const { positionals, values } = parse(args, { site: { type: 'string' }, workers: { type: 'string' } });
    if (positionals.length > 0) throw new UsageError(`\`scale\` takes no positional arguments (got "${positionals[0]}"); use --site S --workers N`);
    const topology = topologyFrom(values, ctx.env);
    const site = requireSite(topology, values.site).name;
    const workers = Number(values.workers);
    if (values.workers === undefined || !Number.isInteger(workers) || workers < 1 || workers > 8) {
      throw new UsageError(
        `--workers must be a whole number from 1 to 8 (got ${values.workers ?? 'nothing'}), e.g. \`npx fedgate scale --site ${site} --workers 2\``,
      );
    }
    const launcher = launcherFrom(topology, values, ctx);
    const result = await launcher.scale(site, workers);
    if (result.running) {
      printStatus(
        (await launcher.status()).filter((s) => s.site === site),
        ctx.out,
      );
    }
    ctx.out.info(`to keep ${workers} after \`down\`, set "workers": ${workers} on site ${site} in the topology`);
    return 0;
  },
};
