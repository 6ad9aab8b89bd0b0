import { formatAcls, renderAcls, superUsers } from '../../federation/index.ts';
import { type Command, parse, requireSite, topologyFrom, UsageError } from '../context.ts';

export const aclCommand: Command = {
  name: 'acl',
  usage: `  acl show --site S        the ACLs of a site's broker, rendered from the topology (applied at every start)`,
  async run(args, { env, out }) {
    const { positionals, values } = parse(args, { site: { type: 'string' } });
    if (positionals[0] !== 'show') throw new UsageError('`acl` takes one subcommand: `show`');
    const topology = topologyFrom(values, env);
    const site = requireSite(topology, values.site).name;
    out.data(`# ${site}: super users ${superUsers(site).join(', ')}; nothing for anyone unlisted\n${formatAcls(renderAcls(topology, site))}`);
    return 0;
  },
};
