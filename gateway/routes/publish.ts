import { Hono, type MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { Problem } from '../../contract/index.ts';
import { requireToken, type AuthEnv } from '../auth.ts';
import type { GatewayDeps } from '../deps.ts';

const JSON_TYPES = new Set(['application/json', 'application/cloudevents+json', 'application/cloudevents-batch+json']);

/**
 * The body limit, with or without Content-Length. With it (and no
 * Transfer-Encoding), Node's parser delivers exactly that many bytes, so the
 * header decides, and the body is later read by @hono/node-server's fast path
 * straight from the socket. Without it, Hono's bodyLimit counts the bytes as
 * they stream in; that path builds a web Request, which cost ~12 % of the
 * gateway's CPU per publish when it was taken for every request.
 */
function bodyLimitMiddleware(maxBytes: number): MiddlewareHandler {
  // The rest of the body is never read, so the connection cannot carry another
  // request: say so, or a keep-alive client sends its next request on a socket
  // the server is about to close.
  const tooLarge = () => {
    throw new Problem('payload-too-large', `the body is over ${maxBytes} bytes; send smaller batches`, { limitBytes: maxBytes }, { connection: 'close' });
  };
  const streaming = bodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    const length = c.req.header('content-length');
    if (length === undefined || c.req.header('transfer-encoding') !== undefined) return streaming(c, next);
    if (!/^\d{1,15}$/.test(length) || Number(length) > maxBytes) tooLarge();
    await next();
  };
}

/**
 * POST /v1/events: one event (object) or a batch (array). 202 only after
 * Kafka acknowledged every event (acks=all), here or at a peer.
 */
export function publishRoute(deps: GatewayDeps) {
  const app = new Hono<AuthEnv>();
  app.post(
    '/v1/events',
    requireToken(deps.verify),
    async (c, next) => {
      const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (!JSON_TYPES.has(type)) throw new Problem('unsupported-media-type', `send the events as one of: ${[...JSON_TYPES].join(', ')} (got "${type || 'none'}")`);
      await next();
    },
    bodyLimitMiddleware(deps.limits.maxBodyBytes),
    async (c) => {
      const started = performance.now();
      const token = c.get('token');
      const key = c.req.header('idempotency-key');
      if (key !== undefined && !/^[\x21-\x7e]{1,200}$/.test(key)) throw new Problem('invalid-event', 'Idempotency-Key must be 1-200 visible ASCII characters');
      const scopedKey = key ? `${token.issuer}|${token.subject}|${key}` : null;
      const replay = scopedKey ? deps.requestKeys.get(scopedKey) : undefined;
      if (replay) return c.json(replay, 202, { 'idempotency-replayed': 'true' });

      let body: unknown;
      try {
        body = JSON.parse(await c.req.text());
      } catch (err) {
        throw new Problem('invalid-json', `the body is not valid JSON: ${(err as Error).message}`);
      }
      const events = Array.isArray(body) ? body : [body];
      if (events.length === 0) throw new Problem('invalid-event', 'the batch is empty');
      if (events.length > deps.limits.maxBatchEvents) throw new Problem('payload-too-large', `a batch holds at most ${deps.limits.maxBatchEvents} events (got ${events.length})`);

      const result = await deps.publish({ input: { events, token } });
      if (scopedKey) deps.requestKeys.set(scopedKey, result);
      deps.metrics.publishSeconds((performance.now() - started) / 1000);
      return c.json(result, 202);
    },
  );
  return app;
}
