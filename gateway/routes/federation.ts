import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { EventIdSchema, FederatedLimitQuerySchema, ProductIdSchema, parseQuery, WindowQuerySchema } from '../../contract/index.ts';
import type { GatewayDeps } from '../deps.ts';

/** The federated monitoring view: answers for every site, flags the ones that did not answer. */
export function federationRoutes(deps: GatewayDeps) {
  const app = new Hono();
  const view = deps.view;
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
  app.get('/v1/federation/dead-letters', async (c) =>
    c.json({ answeredBy: deps.site, ...(await view.deadLetters(parseQuery(FederatedLimitQuerySchema, c.req.query()).limit)) }),
  );

  /** Live event flow of every site, as Server-Sent Events (`events`, one JSON array per second). */
  app.get('/v1/federation/live', (c) =>
    streamSSE(c, async (stream) => {
      let cursors: Record<string, number> = {};
      let aborted = false;
      stream.onAbort(() => {
        aborted = true;
      });
      while (!aborted) {
        const r = await view.recent(cursors);
        cursors = r.cursors;
        await stream.writeSSE({ event: 'events', data: JSON.stringify({ items: r.items, unreachable: r.unreachable }) });
        await stream.sleep(1000);
      }
    }),
  );
  return app;
}
