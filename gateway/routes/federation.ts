import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { EventIdSchema, fromZod, ProductIdSchema } from '../../contract/index.ts';
import type { GatewayDeps } from '../deps.ts';

const Limit = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict();
const Window = z.object({ windowSeconds: z.coerce.number().int().min(1).max(86_400).default(300) }).strict();

function parse<T extends z.ZodTypeAny>(schema: T, value: unknown): z.output<T> {
  const r = schema.safeParse(value);
  if (!r.success) throw fromZod('invalid-query', r.error);
  return r.data;
}

/** The federated monitoring view: answers for every site, flags the ones that did not answer. */
export function federationRoutes(deps: GatewayDeps) {
  const app = new Hono();
  const view = deps.view;
  app.get('/v1/federation/health', async (c) => c.json({ answeredBy: deps.site, ...(await view.health()) }));
  app.get('/v1/federation/stats', async (c) => c.json({ answeredBy: deps.site, ...(await view.stats(parse(Window, c.req.query()).windowSeconds)) }));
  app.get('/v1/federation/events/:eventId/trace', async (c) =>
    c.json({ answeredBy: deps.site, ...(await view.trace(parse(EventIdSchema, c.req.param('eventId')))) }),
  );
  app.get('/v1/federation/products/:productId/events', async (c) => {
    const productId = parse(ProductIdSchema, c.req.param('productId'));
    return c.json({ answeredBy: deps.site, ...(await view.productHistory(productId, parse(Limit, c.req.query()).limit)) });
  });
  app.get('/v1/federation/dead-letters', async (c) => c.json({ answeredBy: deps.site, ...(await view.deadLetters(parse(Limit, c.req.query()).limit)) }));

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
