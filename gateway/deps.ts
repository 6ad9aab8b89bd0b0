import type { JSONWebKeySet } from 'jose';
import type { Logger } from 'pino';
import type { Topology } from '../federation/index.ts';
import type { CatalogLookup } from './enrichment.ts';
import type { EventStreams } from './event-stream.ts';
import type { FederatedView } from './federated-view.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { PublishResult, PublishService } from './publish-service.ts';
import type { RateLimiter } from './rate-limit.ts';
import type { Replays } from './replay.ts';
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
  /** The site's scrape credential (certs/metrics-secret.ts): opens /metrics and nothing else. Never logged. */
  metricsSecret: string;
  /** Answers replayed for a repeated Idempotency-Key. */
  requestKeys: { get(k: string): PublishResult | undefined; set(k: string, v: PublishResult): void | Promise<void> };
  limits: { maxBodyBytes: number; maxBatchEvents: number; liveStreamsPerClient: number };
  /** Token buckets per publisher (issuer and subject), one token per event. */
  publishLimiter: RateLimiter;
  /** Peer listener: writes events that a peer could not write to its own Kafka. */
  acceptFromPeer(events: unknown, caller: string): Promise<{ writtenAt: string; accepted: number }>;
  /** Peer listener: this site's instance read API, proxied for the federated view. */
  instanceFetch(path: string): Promise<Response>;
  /** The subscribe streams' Kafka reader (absent in route tests that do not stream). */
  streams?: EventStreams;
  /** At the PIS's site: the catalog lookup the other sites' gateways call for enrichment (peer listener). */
  catalogLookup?: CatalogLookup;
  /** Replays of stored history to this site (absent in route tests that do not replay). */
  replays?: Replays;
  /** Mounts the no-op baseline route of the publish benchmark. */
  benchRoutes?: boolean;
}
