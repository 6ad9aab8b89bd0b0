import { readFileSync } from 'node:fs';
import { issueToken, SCOPES } from '../../certs/index.ts';
import { type Command, parse, pathsFrom, readStdin, requireSite, topologyFrom, UsageError } from '../context.ts';
import { parseEventsText } from '../parse-input.ts';

export const publishCommand: Command = {
  name: 'publish',
  usage: `  publish --site S [--file F] [--token T]
                           publish events (JSON object, array or NDJSON) from a file
                           or stdin through the site's gateway`,
  async run(args, { env, out }) {
    const { values } = parse(args, { site: { type: 'string' }, file: { type: 'string' }, token: { type: 'string' } });
    const topology = topologyFrom(values, env);
    const site = requireSite(topology, values.site);
    const events = parseEventsText(values.file ? readFileSync(values.file, 'utf8') : await readStdin());
    const token =
      values.token ?? (await issueToken({ secretsDir: pathsFrom(values, env).certsDir, topology, site: site.name, scopes: [...SCOPES], ttlSeconds: 300 }));
    const res = await fetch(`http://${site.address}:${site.ports.gateway}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(events),
    }).catch((err: Error) => {
      throw new UsageError(`${site.name}'s gateway did not answer (${err.message}); is the federation up? (\`npx fedgate status\`)`);
    });
    out.data(JSON.stringify(await res.json(), null, 2));
    return res.status === 202 ? 0 : 1;
  },
};
