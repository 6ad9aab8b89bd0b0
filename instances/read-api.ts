import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { Logger } from 'pino';
import { isBearerSecret, isReadApiAuthorization } from '../certs/index.ts';
import {
  DeliveredBodySchema,
  decodeHistoryCursor,
  EventIdSchema,
  filterOf,
  fromZod,
  HistoryQuerySchema,
  LimitQuerySchema,
  PageQuerySchema,
  Problem,
  ProductIdSchema,
  parseQuery,
  problemErrorHandler,
  RecentQuerySchema,
  StatsQuerySchema,
  type SubscriptionStatus,
} from '../contract/index.ts';
import type { LagSummary, SiteOffsets } from '../federation/index.ts';
import type { SiteDb } from './db/database.ts';
import { storedHistory } from './event-store.ts';
import { deadLetters, decodeCursor, deliveredIds, eventTrace, productHistory, productState, recentRows, stageStats } from './queries.ts';

export interface ReadApiDeps {
  db: SiteDb;
  site: string;
  log: Logger;
  /** Consumer lag per group, computed against the site's Kafka. */
  lag(): Promise<Record<string, LagSummary>>;
  /** End offsets per partition of the routed topics here, and the newest replicated heartbeat per upstream site. */
  offsets(): Promise<SiteOffsets>;
  /** Consumer lag and offsets together, possibly shared with other callers: `at` says when they were read. */
  kafkaView(): Promise<{ value: { groups: Record<string, LagSummary>; offsets: SiteOffsets }; at: number }>;
  health(): Promise<Record<string, unknown>>;
  /** The delivery subscriptions' state (in memory, since the instance started). */
  subscriptions?(): SubscriptionStatus[];
  /** The credential every route but /v1/health requires: only this site's gateway (and the operator's tools) hold it. */
  secret: string;
  /** GET /metrics, answered only to the site's scrape credential (not the read API's). */
  metrics?: { secret: string; render(): Promise<{ contentType: string; body: string }> };
}

/**
 * The site read API: what the gateways' federated view asks each site.
 * Built without binding a port, so tests call `app.request()`.
 */
export function createReadApi(deps: ReadApiDeps) {
  const { db, site } = deps;
  const app = new Hono();
  app.use(requestId());
  app.onError(problemErrorHandler(deps.log));
  app.notFound((c) => {
    throw new Problem('not-found', `no route ${c.req.method} ${c.req.path}`);
  });

  // Health stays open: the launcher's readiness probe and container health checks use it.
  app.get('/v1/health', async (c) => c.json({ site, ...(await deps.health()) }));
  app.get('/metrics', async (c) => {
    const header = c.req.header('authorization');
    if (!deps.metrics) throw new Problem('not-found', 'this instance serves no metrics');
    if (!header) throw new Problem('missing-token', "send the site's scrape credential: Authorization: Bearer <the site's metrics.secret>");
    if (!isBearerSecret(header, deps.metrics.secret)) throw new Problem('invalid-token', "not this site's scrape credential");
    const m = await deps.metrics.render();
    return c.body(m.body, 200, { 'content-type': m.contentType });
  });
  app.use('/v1/*', async (c, next) => {
    const header = c.req.header('authorization');
    if (!header) throw new Problem('missing-token', "the site read API answers only this site's gateway: send its credential");
    if (!isReadApiAuthorization(header, deps.secret)) throw new Problem('invalid-token', 'not the credential of this site read API');
    await next();
  });

  app.get('/v1/products/:productId/events', async (c) => {
    const productId = parseQuery(ProductIdSchema, c.req.param('productId'));
    const q = parseQuery(PageQuerySchema, c.req.query());
    const before = q.before ? decodeCursor(q.before) : undefined;
    if (before === null) throw new Problem('invalid-query', 'before: not a cursor this API returned');
    return c.json({ site, productId, ...(await productHistory({ db, productId, limit: q.limit, before })) });
  });

  /** The stored events of a set of products and/or a time range, with their values, newest first, paged (the event store). */
  app.get('/v1/history', async (c) => {
    const q = parseQuery(HistoryQuerySchema, c.req.query());
    const before = q.before ? decodeHistoryCursor(q.before) : undefined;
    if (before === null) throw new Problem('invalid-query', 'before: not a cursor this API returned');
    return c.json(await storedHistory({ db, site, filter: filterOf(q), limit: q.limit, before }));
  });

  app.get('/v1/products/:productId', async (c) => {
    const productId = parseQuery(ProductIdSchema, c.req.param('productId'));
    return c.json({ site, productId, ...(await productState({ db, productId })) });
  });

  app.get('/v1/events/:eventId/trace', async (c) => {
    const eventId = parseQuery(EventIdSchema, c.req.param('eventId'));
    return c.json({ site, eventId, stages: await eventTrace({ db, eventId }) });
  });

  app.get('/v1/stats', async (c) => {
    const q = parseQuery(StatsQuerySchema, c.req.query());
    return c.json({ site, windowSeconds: q.windowSeconds, stages: await stageStats({ db, windowSeconds: q.windowSeconds, distinct: q.distinct === 'true' }) });
  });

  app.get('/v1/lag', async (c) => c.json({ site, groups: await deps.lag() }));

  app.get('/v1/offsets', async (c) => c.json({ site, ...(await deps.offsets()) }));

  /**
   * Stats, consumer lag and offsets in one answer: the federated view asks each
   * site once. Stats are read now; lag and offsets come from a reading shared
   * with other callers (`kafkaReadAt` says when it was taken; /v1/lag and
   * /v1/offsets always read afresh).
   */

  app.get('/v1/overview', async (c) => {
    const q = parseQuery(StatsQuerySchema, c.req.query());
    const [stages, kafka] = await Promise.all([stageStats({ db, windowSeconds: q.windowSeconds }), deps.kafkaView()]);
    return c.json({
      site,
      windowSeconds: q.windowSeconds,
      stages,
      groups: kafka.value.groups,
      subscriptions: deps.subscriptions?.() ?? [],
      offsets: kafka.value.offsets,
      kafkaReadAt: new Date(kafka.at).toISOString(),
    });
  });

  app.get('/v1/recent', async (c) => {
    const q = parseQuery(RecentQuerySchema, c.req.query());
    return c.json({ site, ...(await recentRows({ db, after: q.after, limit: q.limit })) });
  });

  /** Which of the given event ids were consumed at this site (drills count deliveries with it). */
  app.post('/v1/delivered', async (c) => {
    const body = DeliveredBodySchema.safeParse(await c.req.json().catch(() => null));
    if (!body.success) throw fromZod('invalid-query', body.error);
    return c.json({ site, delivered: await deliveredIds({ db, ids: body.data.ids }) });
  });

  app.get('/v1/dead-letters', async (c) => {
    const q = parseQuery(LimitQuerySchema, c.req.query());
    return c.json({ site, items: await deadLetters({ db, limit: q.limit }) });
  });

  return app;
}
