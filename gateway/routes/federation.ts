import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { READ_SCOPE } from '../../certs/index.ts';
import {
  decodeHistoryCursor,
  EventIdSchema,
  FederatedLimitQuerySchema,
  filterOf,
  HistoryQuerySchema,
  Problem,
  ProductIdSchema,
  parseQuery,
  WindowQuerySchema,
} from '../../contract/index.ts';
import { type AuthEnv, requireScope, requireToken } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { createStreamSlots } from '../stream-slots.ts';

/** The federated monitoring view: answers for every site, flags the ones that did not answer. */
export function federationRoutes(deps: GatewayDeps) {
  const app = new Hono<AuthEnv & { Bindings: { incoming?: { socket?: { remoteAddress?: string } } } }>();
  const view = deps.view;
  // Everything here reads what the federation carries: a token with the read scope, from any site's issuer.
  app.use('/v1/federation/*', requireToken(deps.verify), requireScope(READ_SCOPE));
  app.get('/v1/federation/health', async (c) => c.json({ answeredBy: deps.site, ...(await view.health()) }));
  app.get('/v1/federation/stats', async (c) =>
    c.json({ answeredBy: deps.site, ...(await view.stats(parseQuery(WindowQuerySchema, c.req.query()).windowSeconds)) }),
  );
  app.get('/v1/federation/events/:eventId/trace', async (c) =>
    c.json({ answeredBy: deps.site, ...(await view.trace(parseQuery(EventIdSchema, c.req.param('eventId')))) }),
  );
  app.get('/v1/federation/products/:productId/events', async (c) => {
    const productId = parseQuery(ProductIdSchema, c.req.param('productId'));
    return c.json({ answeredBy: deps.site, ...(await view.productHistory(productId, parseQuery(FederatedLimitQuerySchema, c.req.query()).limit)) });
  });
  app.get('/v1/federation/history', async (c) => {
    const q = parseQuery(HistoryQuerySchema, c.req.query());
    if (q.before && !decodeHistoryCursor(q.before)) throw new Problem('invalid-query', 'before: not a cursor this API returned');
    return c.json({ answeredBy: deps.site, ...(await view.history(filterOf(q), q.limit, q.before)) });
  });
  app.get('/v1/federation/dead-letters', async (c) =>
    c.json({ answeredBy: deps.site, ...(await view.deadLetters(parseQuery(FederatedLimitQuerySchema, c.req.query()).limit)) }),
  );

  /**
   * Live event flow of every site, as Server-Sent Events (`events`, one JSON
   * array per second). Each stream polls every site, so a client (by address)
   * may hold only a few open at once.
   */
  const slots = createStreamSlots(deps.limits.liveStreamsPerClient, 'live streams');
  app.get('/v1/federation/live', (c) => {
    const client = c.env?.incoming?.socket?.remoteAddress ?? 'unknown';
    // Released on abort at once (the loop may be asleep), or when the stream ends otherwise.
    const release = slots.take(client);
    return streamSSE(c, async (stream) => {
      let cursors: Record<string, number> = {};
      let aborted = false;
      stream.onAbort(() => {
        aborted = true;
        release();
      });
      try {
        while (!aborted) {
          const r = await view.recent(cursors);
          cursors = r.cursors;
          await stream.writeSSE({ event: 'events', data: JSON.stringify({ items: r.items, unreachable: r.unreachable }) });
          await stream.sleep(1000);
        }
      } finally {
        release();
      }
    });
  });
  return app;
}
