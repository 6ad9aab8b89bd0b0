import type { LagSummary, SiteOffsets } from '../federation/index.ts';

/**
 * What a site's read API answers (instances/read-api.ts) and the gateways'
 * federated view reads, directly or through a peer. Timestamps are ISO
 * strings with milliseconds.
 */
/** One monitoring row: one stage of one event at one site. */
export interface StageRow {
  eventId: string;
  stage: string;
  site: string;
  consumer: string;
  productId: string | null;
  eventType: string | null;
  sourceSite: string | null;
  topic: string | null;
  partition: number | null;
  offset: number | null;
  at: string;
  latencyMs: number | null;
  detail: Record<string, unknown> | null;
}

export interface StageStats {
  stage: string;
  count: number;
  /** Distinct event ids (null unless asked for); equals count when every event has one row for the stage and consumer. */
  distinctEvents: number | null;
  perSecond: number;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/** GET /v1/events/{id}/trace */
export interface TraceBody {
  site: string;
  eventId: string;
  stages: StageRow[];
}

/** GET /v1/products/{id}/events and GET /v1/dead-letters */
export interface RowsBody {
  site: string;
  items: StageRow[];
  next?: string | null;
}

/** GET /v1/overview: stats read now, lag and offsets from a shared Kafka reading taken at `kafkaReadAt`. */
export interface OverviewBody {
  site: string;
  windowSeconds: number;
  stages: StageStats[];
  groups: Record<string, LagSummary>;
  offsets: SiteOffsets;
  kafkaReadAt: string;
}

/** GET /v1/recent: monitoring rows after a site-local cursor. */
export interface RecentBody {
  site: string;
  items: (StageRow & { id: number })[];
  last: number;
}
