import { initCerts } from '../../certs/index.ts';
import { type Command, parse, pathsFrom, topologyFrom, UsageError } from '../context.ts';

export const certsCommand: Command = {
  name: 'certs',
  usage: `  certs init [--days N] [--force]
                           create the federation CA and every site's certificates`,
  async run(args, { env, out }) {
    const { positionals, values } = parse(args, { days: { type: 'string' }, force: { type: 'boolean' } });
    if (positionals[0] !== 'init') throw new UsageError('`certs` takes one subcommand: `init`');
    const days = values.days === undefined ? undefined : Number(values.days);
    if (days !== undefined && !Number.isInteger(days)) throw new UsageError(`--days takes a whole number of days (got "${values.days}")`);
    const topology = topologyFrom(values, env);
    const paths = pathsFrom(values, env);
    const result = initCerts({ dir: paths.certsDir, topology, days, force: values.force, log: out.info });
    const hint = result.kept.length && !values.force ? ' (use --force to replace the CA and every certificate)' : '';
    out.info(`certificates in ${paths.certsDir}: ${result.created.length} created, ${result.kept.length} kept${hint}`);
    return 0;
  },
};
