import { initCerts } from '../../certs/index.ts';
import { type Command, launcherFrom, parse, pathsFrom, requireSite, topologyFrom, UsageError } from '../context.ts';

export const certsCommand: Command = {
  name: 'certs',
  usage: `  certs init [--days N] [--force]
                           create the federation CA and every site's certificates
  certs rotate --site S [--days N] [--json]
                           renew site S's certificates with the same CA; its running
                           broker presents them at once, without a restart`,
  async run(args, ctx) {
    const { env, out } = ctx;
    const { positionals, values } = parse(args, { days: { type: 'string' }, force: { type: 'boolean' }, site: { type: 'string' }, json: { type: 'boolean' } });
    const days = values.days === undefined ? undefined : Number(values.days);
    if (days !== undefined && !Number.isInteger(days)) throw new UsageError(`--days takes a whole number of days (got "${values.days}")`);
    const topology = topologyFrom(values, env);
    const paths = pathsFrom(values, env);

    if (positionals[0] === 'init') {
      const result = initCerts({ dir: paths.certsDir, caKeyDir: paths.caKeyDir, topology, days, force: values.force, log: out.info });
      const hint = result.kept.length && !values.force ? ' (use --force to replace the CA and every certificate)' : '';
      out.info(`certificates in ${paths.certsDir}: ${result.created.length} created, ${result.kept.length} kept${hint}`);
      return 0;
    }
    if (positionals[0] === 'rotate') {
      if (values.force) throw new UsageError('`certs rotate` keeps the CA; to replace the CA use `certs init --force`');
      const site = requireSite(topology, values.site);
      const result = await launcherFrom(topology, values, ctx).rotateCerts(site.name, { days });
      if (values.json) out.data(`${JSON.stringify(result, null, 2)}\n`);
      if (result.restartToRenew.length > 0) {
        out.info(`${site.name}: ${result.restartToRenew.join(', ')} keep presenting the previous certificate (valid until it expires) until they next start`);
      }
      out.info(
        `${site.name}: ${result.certs.length} certificates renewed${result.listeners.length ? `, ${result.listeners.length} broker listeners reloaded` : ''}${result.reloaded.map((r) => `, the ${r.component === 'pisdb' ? 'PIS database' : r.component} reloaded`).join('')}`,
      );
      return 0;
    }
    throw new UsageError('`certs` takes a subcommand: `init` or `rotate --site S`');
  },
};
