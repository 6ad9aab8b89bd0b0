import { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import { SUBSCRIBE_SCOPE } from '../../certs/index.ts';
import { Problem, parseQuery, SubscribeQuerySchema } from '../../contract/index.ts';
import { EVENT_KINDS, type Selection, siteOf, subscriptionTopics, upstreamSites } from '../../federation/index.ts';
import { type AuthEnv, requireScope, requireToken } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';
import { decodeCursor } from '../stream-cursor.ts';
import { createStreamSlots } from '../stream-slots.ts';

const KEEP_ALIVE_MS = 15_000;

/**
 * GET /v1/subscribe: the business events that reach this site (published
 * here, or copied here by MM2), as Server-Sent Events, filtered by kind,
 * region and country. Each event's `id` is a cursor; a client that
 * reconnects with `Last-Event-ID` resumes right after the last event it got,
 * with no gap (unless retention deleted events meanwhile: a `gap` event says
 * which). At least the events; in order per product and topic.
 */
export function subscribeRoute(deps: GatewayDeps) {
  const app = new Hono<AuthEnv & { Bindings: { incoming?: { socket?: { remoteAddress?: string } } } }>();
  const site = siteOf(deps.topology, deps.site);
  const slots = createStreamSlots(deps.limits.liveStreamsPerClient, 'streams');

  app.get('/v1/subscribe', requireToken(deps.verify), requireScope(SUBSCRIBE_SCOPE), async (c) => {
    const q = parseQuery(SubscribeQuerySchema, c.req.query());
    const selection: Selection = { kinds: q.kinds ?? [...EVENT_KINDS], regions: q.regions ?? [...site.regions], countries: q.countries ?? [...site.countries] };
    const unknown = [...selection.regions.filter((r) => !site.regions.includes(r)), ...selection.countries.filter((x) => !site.countries.includes(x))];
    if (unknown.length > 0) {
      throw new Problem(
        'invalid-query',
        `${site.name} does not serve ${unknown.join(', ')}; it serves ${[...site.regions, ...site.countries].join(', ') || 'nothing'}`,
      );
    }
    const topics = subscriptionTopics(
      selection,
      upstreamSites(deps.topology, site.name).map((u) => u.name),
    );
    if (topics.length === 0) throw new Problem('invalid-query', 'the filter selects nothing this site serves; widen kinds, regions or countries');
    const lastEventId = c.req.header('last-event-id') ?? q.lastEventId;
    const from = lastEventId ? decodeCursor(lastEventId) : null;
    if (lastEventId && !from) throw new Problem('invalid-query', 'Last-Event-ID is not a cursor of this stream; reconnect without it to start at the live end');
    if (!deps.streams) throw new Problem('kafka-unavailable', 'this gateway does not stream', {}, { 'retry-after': '5' });

    const client = c.env?.incoming?.socket?.remoteAddress ?? 'unknown';
    // Held from here (before any wait), so concurrent requests cannot pass the cap together.
    const release = slots.take(client);
    let stream: Awaited<ReturnType<NonNullable<GatewayDeps['streams']>['open']>>;
    try {
      stream = await deps.streams.open(topics, selection, from);
    } catch (err) {
      release();
      deps.log.warn({ err: (err as Error).message }, 'subscribe: Kafka not reachable');
      throw new Problem('kafka-unavailable', "this site's Kafka did not answer; retry", {}, { 'retry-after': '5' });
    }
    return streamSSE(c, async (sse) => {
      const abort = new AbortController();
      sse.onAbort(() => {
        abort.abort();
        release();
      });
      const keepAlive = setInterval(() => void sse.write(': keep-alive\n\n').catch(() => abort.abort()), KEEP_ALIVE_MS);
      try {
        // The starting point has an id too: a reconnect before the first event resumes from here.
        await sse.writeSSE({ event: 'ready', id: stream.cursor, retry: 2000, data: JSON.stringify({ site: site.name, topics: topics.length }) });
        if (stream.gaps.length > 0) await sse.writeSSE({ event: 'gap', data: JSON.stringify({ deletedByRetention: stream.gaps }) });
        await stream.run(async ({ cursor, event }) => {
          await sse.writeSSE({ id: cursor, event: event.type, data: JSON.stringify(event) });
        }, abort.signal);
      } catch (err) {
        deps.log.warn({ err: (err as Error).message }, 'subscribe stream failed');
        await sse.writeSSE({ event: 'error', data: JSON.stringify({ detail: 'the stream failed; reconnect with Last-Event-ID' }) }).catch(() => {});
      } finally {
        clearInterval(keepAlive);
        abort.abort();
        release();
      }
    });
  });
  return app;
}
