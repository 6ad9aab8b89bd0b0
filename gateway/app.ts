import { Hono } from 'hono';
import { requestId } from 'hono/request-id';
import type { JSONWebKeySet } from 'jose';
import type { Logger } from 'pino';
import type { Topology } from '../federation/index.ts';
import { Problem, problemErrorHandler } from '../instances/http/problem.ts';
import type { FederatedView } from './federated-view.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { PublishResult, PublishService } from './publish-service.ts';
import { federationRoutes } from './routes/federation.ts';
import { metaRoutes } from './routes/meta.ts';
import { peerRoutes } from './routes/peer.ts';
import { publishRoute } from './routes/publish.ts';
import type { VerifiedToken } from './verifier.ts';

/** Everything the gateway's routes need, built once in main.ts (or by a test) and handed in. */
export interface GatewayDeps {
  topology: Topology;
  site: string;
  log: Logger;
  verify(token: string): Promise<VerifiedToken>;
  publish: PublishService;
  view: FederatedView;
  jwks(): Promise<JSONWebKeySet>;
  metrics: GatewayMetrics;
  /** Answers replayed for a repeated Idempotency-Key. */
  requestKeys: { get(k: string): PublishResult | undefined; set(k: string, v: PublishResult): void };
  limits: { maxBodyBytes: number; maxBatchEvents: number };
  /** Peer listener: writes events that a peer could not write to its own Kafka. */
  acceptFromPeer(events: unknown, caller: string): Promise<{ writtenAt: string; accepted: number }>;
  /** Peer listener: this site's instance read API, proxied for the federated view. */
  instanceFetch(path: string): Promise<Response>;
  /** Mounts the no-op baseline route of the publish benchmark. */
  benchRoutes?: boolean;
}

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
