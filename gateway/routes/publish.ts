import { Hono } from 'hono';
import { Problem } from '../../contract/index.ts';
import { type AuthEnv, requireToken } from '../auth.ts';
import { type BodyEnv, bodyLimit, readBody } from '../body-limit.ts';
import type { GatewayDeps } from '../deps.ts';
import { parseJsonBody } from '../json-body.ts';

const JSON_TYPES = new Set(['application/json', 'application/cloudevents+json', 'application/cloudevents-batch+json']);

/**
 * POST /v1/events: one event (object) or a batch (array). 202 only after
 * Kafka acknowledged every event (acks=all), here or at a peer.
 */
export function publishRoute(deps: GatewayDeps) {
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
    async (c) => {
      const started = performance.now();
      const token = c.get('token');
      const key = c.req.header('idempotency-key');
      if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key)) throw new Problem('invalid-event', 'Idempotency-Key must be 1-200 visible ASCII characters');
      const scopedKey = key ? `${token.issuer}|${token.subject}|${key}` : null;
      const replay = scopedKey ? deps.requestKeys.get(scopedKey) : undefined;
      if (replay) return c.json(replay, 202, { 'idempotency-replayed': 'true' });

      const body = parseJsonBody(await readBody(c));
      const events = Array.isArray(body) ? body : [body];
      if (events.length === 0) throw new Problem('invalid-event', 'the batch is empty');
      if (events.length > deps.limits.maxBatchEvents)
        throw new Problem('payload-too-large', `a batch holds at most ${deps.limits.maxBatchEvents} events (got ${events.length})`);
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
    },
  );
  return app;
}
