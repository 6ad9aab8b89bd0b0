import { issueToken, rotateSigningKey, SCOPES } from '../../certs/index.ts';
import { type Command, parse, pathsFrom, requireSite, topologyFrom, UsageError } from '../context.ts';

export const tokenCommand: Command = {
  name: 'token',
  usage: `  token --site S --scope SCOPE [--scope …] [--ttl SECONDS] [--subject SUB]
                           a development JWT from the site's issuer key
  token rotate --site S    add a new signing key (kid) to the site's issuer`,
  async run(args, { env, out }) {
    const spec = { site: { type: 'string' }, scope: { type: 'string', multiple: true }, ttl: { type: 'string' }, subject: { type: 'string' } } as const;
    const { positionals, values } = parse(args, spec);
    const topology = topologyFrom(values, env);
    const site = requireSite(topology, values.site).name;
    const paths = pathsFrom(values, env);
    if (positionals[0] === 'rotate') {
      const kid = await rotateSigningKey(paths.certsDir, site);
      out.info(`${site}: new signing key ${kid} is current; older keys stay in the JWKS until you remove them`);
      return 0;
    }
    // `--scope a b c` leaves b and c as stray words: refuse them rather than issue a token with only a.
    if (positionals.length > 0) {
      throw new UsageError(
        `unexpected ${positionals.map((p) => `"${p}"`).join(' ')}; give --scope once per scope (--scope publish:price --scope publish:country), or one quoted list ("publish:price publish:country")`,
      );
    }
    const scopes = (values.scope ?? []).flatMap((s) => s.split(/[\s,]+/).filter(Boolean));
    const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
    if (scopes.length === 0 || unknown.length) {
      throw new UsageError(`give --scope one or more times with: ${SCOPES.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
    }
    const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
    if (!Number.isInteger(ttl) || ttl < 1 || ttl > 30 * 86400) throw new UsageError('--ttl takes seconds, from 1 to 2592000 (30 days)');
    out.data(await issueToken({ secretsDir: paths.certsDir, topology, site, scopes, ttlSeconds: ttl, subject: values.subject }));
    return 0;
  },
};
