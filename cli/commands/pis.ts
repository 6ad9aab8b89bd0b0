import { checkPisDatabase, renderPisChecks } from '../../deploy/index.ts';
import { type Command, parse, pathsFrom, topologyFrom, UsageError } from '../context.ts';

export const pisCommand: Command = {
  name: 'pis',
  usage: `  pis check [--json]       check the PIS's own database (topology "pis.database") as fedgate's roles:
                           wal_level, roles, tables, replica identity, publication, slots; each
                           failure names its fix (exit 1)`,
  async run(args, { env, out }) {
    const { positionals, values } = parse(args, { json: { type: 'boolean' } });
    if (positionals[0] !== 'check' || positionals.length > 1) throw new UsageError('`pis` takes one subcommand: `pis check`');
    const topology = topologyFrom(values, env);
    if (!topology.pis) throw new UsageError('the topology has no "pis": there is no PIS database to check');
    if (!topology.pis.database)
      throw new UsageError(
        'the topology\'s PIS database is the one fedgate starts (no "pis.database"), which fedgate sets up itself; add "pis": { "database": { "host": …, "port": …, "name": … } } to use the PIS\'s own',
      );
    const result = await checkPisDatabase(topology, pathsFrom(values, env).certsDir);
    if (values.json) out.data(JSON.stringify(result, null, 2));
    else {
      out.data(`PIS database ${result.where}, as fedgate's roles:\n${renderPisChecks(result.checks)}`);
      out.data(result.ok ? 'ready for change capture and enrichment' : `${result.checks.filter((c) => !c.ok).length} to fix`);
    }
    return result.ok ? 0 : 1;
  },
};
