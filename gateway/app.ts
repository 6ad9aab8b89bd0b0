import { type Context, Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { routePath } from 'hono/route';
import { Problem, problemErrorHandler } from '../contract/index.ts';
import type { GatewayDeps } from './deps.ts';
import { federationRoutes } from './routes/federation.ts';
import { metaRoutes } from './routes/meta.ts';
import { peerRoutes } from './routes/peer.ts';
import { publishRoute } from './routes/publish.ts';
import { replayRoutes } from './routes/replay.ts';
import { subscribeRoute } from './routes/subscribe.ts';

function base(deps: GatewayDeps) {
  const app = new Hono();
  app.use(requestId());
  const unmatched = new WeakSet<Context>();
  app.use(async (c, next) => {
    await next();
    // The route pattern that answered (bounded: never the raw path), after any error handler set the answer.
    deps.metrics.response(unmatched.has(c) ? 'unmatched' : routePath(c, -1), c.res.status);
  });
  const onError = problemErrorHandler(deps.log);
  const answerError = (err: Error, c: Context) => {
    deps.metrics.rejected(err instanceof Problem ? err.code : 'internal');
    return onError(err, c);
  };
  app.onError(answerError);
  // Answered here, not thrown: a throw from notFound would skip the middleware above that counts answers.
  app.notFound((c) => {
    unmatched.add(c);
    return answerError(new Problem('not-found', 'no such route; see /docs'), c);
  });
  return app;
}

/** The public app (HTTP): publish, federated view, dashboard, docs, metrics. No port is bound here. */
export function createApp(deps: GatewayDeps) {
  const app = base(deps);
  app.route('/', publishRoute(deps));
  app.route('/', federationRoutes(deps));
  app.route('/', subscribeRoute(deps));
  app.route('/', replayRoutes(deps));
  app.route('/', metaRoutes(deps));
  if (deps.benchRoutes) {
    // Same server, same middleware, no auth, no Kafka: what Hono and Node cost on their own.
    app.post('/v1/bench/noop', async (c) => {
      await c.req.text();
      return c.json({ ok: true }, 202);
    });
  }
  return app;
}

/** The peer app (HTTPS, client certificate required): failover writes, read proxy, JWKS. */
export function createPeerApp(deps: GatewayDeps) {
  const app = base(deps);
  app.route('/', peerRoutes(deps));
  return app;
}
