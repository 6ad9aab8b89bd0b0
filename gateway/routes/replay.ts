import { Hono } from 'hono';
import { REPLAY_SCOPE } from '../../certs/index.ts';
import { fromZod, Problem, ReplayRequestSchema } from '../../contract/index.ts';
import { type AuthEnv, requireScope, requireToken } from '../auth.ts';
import { type BodyEnv, bodyLimit, readBody } from '../body-limit.ts';
import type { GatewayDeps } from '../deps.ts';
import { parseJsonBody } from '../json-body.ts';

/**
 * Replays of stored history to this gateway's site (gateway/replay.ts): start
 * one, follow it, cancel it. Token scope `replay:events`, from any site's issuer.
 */
export function replayRoutes(deps: GatewayDeps) {
  const app = new Hono<AuthEnv & BodyEnv>();
  const replays = () => {
    if (!deps.replays) throw new Problem('not-found', 'this gateway runs no replays');
    return deps.replays;
  };
  app.use('/v1/replays', requireToken(deps.verify), requireScope(REPLAY_SCOPE));
  app.use('/v1/replays/*', requireToken(deps.verify), requireScope(REPLAY_SCOPE));
  app.post('/v1/replays', bodyLimit(64 * 1024), async (c) => {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== 'application/json') throw new Problem('unsupported-media-type', `send the replay as application/json (got "${type || 'none'}")`);
    const parsed = ReplayRequestSchema.safeParse(parseJsonBody(await readBody(c)));
    if (!parsed.success) throw fromZod('invalid-query', parsed.error);
    const token = c.get('token');
    const job = await replays().start(parsed.data, `${token.issuer}|${token.subject}`);
    return c.json(job, 202, { location: `/v1/replays/${job.id}` });
  });
  app.get('/v1/replays', (c) => c.json({ site: deps.site, jobs: replays().list() }));
  app.get('/v1/replays/:id', (c) => c.json(replays().get(c.req.param('id'))));
  app.delete('/v1/replays/:id', async (c) => c.json(await replays().cancel(c.req.param('id'))));
  return app;
}
