import { type Context, Hono } from 'hono';
import { fromSeedShape, Problem } from '../../contract/index.ts';
import { type AuthEnv, requireToken } from '../auth.ts';
import { type BodyEnv, bodyLimit, readBody } from '../body-limit.ts';
import type { GatewayDeps } from '../deps.ts';
import { parseJsonBody } from '../json-body.ts';

const JSON_TYPES = new Set(['application/json', 'application/cloudevents+json', 'application/cloudevents-batch+json']);

/**
 * POST /v1/events: one event (object) or a batch (array). 202 only after
 * Kafka acknowledged every event (acks=all), here or at a peer.
 * POST /publish-event: the same, in the seed design's shape (seed 001).
 */
export function publishRoute(deps: GatewayDeps) {
  /**
   * The publish pipeline of both shapes: Idempotency-Key replay, batch and
   * rate limits, then the publish service (validation, scopes, routing, Kafka).
   */
  async function accept(c: Context<AuthEnv & BodyEnv>, translate: (items: unknown[]) => unknown[] = (items) => items) {
    const started = performance.now();
    const token = c.get('token');
    const key = c.req.header('idempotency-key');
    if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key)) throw new Problem('invalid-event', 'Idempotency-Key must be 1-200 visible ASCII characters');
    const scopedKey = key ? `${token.issuer}|${token.subject}|${key}` : null;
    const replay = scopedKey ? deps.requestKeys.get(scopedKey) : undefined;
    if (replay) return c.json(replay, 202, { 'idempotency-replayed': 'true' });

    const body = parseJsonBody(await readBody(c));
    const items = Array.isArray(body) ? body : [body];
    if (items.length === 0) throw new Problem('invalid-event', 'the batch is empty');
    if (items.length > deps.limits.maxBatchEvents)
      throw new Problem('payload-too-large', `a batch holds at most ${deps.limits.maxBatchEvents} events (got ${items.length})`);
    const events = translate(items);
    const limited = deps.publishLimiter.take(`${token.issuer}|${token.subject}`, events.length);
    if (!limited.ok) {
      throw new Problem(
        'rate-limited',
        `this publisher sent more events than its rate allows; retry in ${limited.retryAfterSeconds} s`,
        {},
        { 'retry-after': String(limited.retryAfterSeconds) },
      );
    }

    const result = await deps.publish({ input: { events, token } });
    // Recorded (durably, in the window) before the answer goes out, so a retry after any crash gets this answer.
    if (scopedKey) await deps.requestKeys.set(scopedKey, result);
    deps.metrics.publishSeconds((performance.now() - started) / 1000);
    return c.json(result, 202);
  }

  const app = new Hono<AuthEnv & BodyEnv>();
  app.post(
    '/v1/events',
    requireToken(deps.verify),
    async (c, next) => {
      const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!JSON_TYPES.has(type))
        throw new Problem('unsupported-media-type', `send the events as one of: ${[...JSON_TYPES].join(', ')} (got "${type || 'none'}")`);
      await next();
    },
    bodyLimit(deps.limits.maxBodyBytes),
    (c) => accept(c),
  );
  // The seed design's shape (seed 001), a migration path: each item becomes the native input, then the same pipeline.
  app.post(
    '/publish-event',
    requireToken(deps.verify),
    async (c, next) => {
      const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/json') throw new Problem('unsupported-media-type', `send the events as application/json (got "${type || 'none'}")`);
      await next();
    },
    bodyLimit(deps.limits.maxBodyBytes),
    (c) => accept(c, (items) => items.map((item, i) => fromSeedShape(item, items.length > 1 ? i : null))),
  );
  return app;
}
