import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import { Problem, problemErrorHandler } from '../contract/index.ts';
import type { GatewayDeps } from './deps.ts';
import { federationRoutes } from './routes/federation.ts';
import { metaRoutes } from './routes/meta.ts';
import { peerRoutes } from './routes/peer.ts';
import { publishRoute } from './routes/publish.ts';

function base(deps: GatewayDeps) {
  const app = new Hono();
  app.use(requestId());
  const onError = problemErrorHandler(deps.log);
  app.onError((err, c) => {
    deps.metrics.rejected(err instanceof Problem ? err.code : 'internal');
    return onError(err, c);
  });
  app.notFound(() => {
    throw new Problem('not-found', 'no such route; see /docs');
  });
  return app;
}

/** The public app (HTTP): publish, federated view, dashboard, docs, metrics. No port is bound here. */
export function createApp(deps: GatewayDeps) {
  const app = base(deps);
  app.route('/', publishRoute(deps));
  app.route('/', federationRoutes(deps));
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
