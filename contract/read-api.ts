import { z } from 'zod';
import type { FlowLag, LagSummary, SiteOffsets } from '../federation/index.ts';
import { EventIdSchema } from './event-model.ts';

/**
 * The site read API (instances/read-api.ts), which the gateways' federated
 * view asks, directly or through a peer: its queries, bodies and answers.
 * The same schemas validate the queries and generate the API document
 * (contract/openapi.ts); the answer types are inferred from them, so the
 * compiler keeps the code and the document in line. Timestamps are ISO
 * strings with milliseconds.
 */
export const PageQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), before: z.string().max(100).optional() }).strict();
export const LimitQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict();
export const StatsQuerySchema = z
  .object({
    windowSeconds: z.coerce
      .number()
      .int()
      .min(1)
      .max(7 * 86400)
      .default(300),
    distinct: z.enum(['true', 'false']).default('false').describe('also count distinct event ids (a sort of every id in the window)'),
  })
  .strict();
export const RecentQuerySchema = z
  .object({ after: z.coerce.number().int().min(-1).default(-1), limit: z.coerce.number().int().min(1).max(500).default(200) })
  .strict();

/** One monitoring row: one stage of one event at one site. */
export const StageRowSchema = z.object({
  eventId: z.string(),
  stage: z.string(),
  site: z.string(),
  consumer: z.string(),
  productId: z.string().nullable(),
  eventType: z.string().nullable(),
  sourceSite: z.string().nullable(),
  topic: z.string().nullable(),
  partition: z.number().int().nullable(),
  offset: z.number().int().nullable(),
  at: z.string().datetime(),
  latencyMs: z.number().nullable(),
  detail: z.record(z.unknown()).nullable(),
});
export type StageRow = z.infer<typeof StageRowSchema>;

export const StageStatsSchema = z.object({
  stage: z.string(),
  count: z.number().int(),
  distinctEvents: z.number().int().nullable().describe('distinct event ids (null unless asked for)'),
  perSecond: z.number(),
  p50: z.number().nullable(),
  p95: z.number().nullable(),
  p99: z.number().nullable(),
});
export type StageStats = z.infer<typeof StageStatsSchema>;

export const LagSummarySchema = z.object({ records: z.number().int(), partitions: z.number().int(), byTopic: z.record(z.number().int()) });
export const SiteOffsetsSchema = z.object({
  ends: z.record(z.array(z.number().int())).describe('end offset per partition of each routed topic and copy here'),
  heartbeats: z.record(z.number().int().nullable()).describe('upstream site -> time (ms) of the newest heartbeat MM2 copied here'),
  retentionLoss: z
    .record(z.record(z.record(z.number().int())))
    .optional()
    .describe('upstream site -> topic -> partition -> records MM2 skipped because the source had deleted them (retention)'),
});
export const FlowLagSchema = z.object({
  from: z.string(),
  to: z.string(),
  records: z.number().int().describe('records at the source not yet copied to the target'),
  seconds: z.number().describe('0 when nothing is pending, else the age of the newest copied heartbeat; -1 when unknown'),
  topics: z.record(z.number().int()),
  lostToRetention: z.number().int().describe('records this flow never copied because the source deleted them first (retention); must be 0'),
});
export const UnknownFlowLagSchema = z.object({ from: z.string(), to: z.string(), unknown: z.literal(true), reason: z.string() });

export const TraceBodySchema = z.object({ site: z.string(), eventId: z.string(), stages: z.array(StageRowSchema) });
export type TraceBody = z.infer<typeof TraceBodySchema>;
export const RowsBodySchema = z.object({ site: z.string(), items: z.array(StageRowSchema), next: z.string().nullable().optional() });
export type RowsBody = z.infer<typeof RowsBodySchema>;
export const SubscriptionStatusSchema = z.object({
  name: z.string().describe('`<protocol>:<name>`, as in monitoring rows'),
  protocol: z.enum(['webhook', 'amqp', 'mqtt']),
  group: z.string().describe("the subscription's consumer group"),
  delivered: z.number().int().describe('events delivered and acknowledged since the instance started'),
  deadLettered: z.number().int().describe('events dead-lettered since the instance started'),
  retrying: z.number().int().describe('events waiting now for another attempt'),
  lastError: z.string().nullable(),
  lastErrorAt: z.string().datetime().nullable(),
  lastDeliveredAt: z.string().datetime().nullable(),
});
export type SubscriptionStatus = z.infer<typeof SubscriptionStatusSchema>;
export const OverviewBodySchema = z.object({
  subscriptions: z.array(SubscriptionStatusSchema).default([]).describe("the site's delivery subscriptions, each with its own consumer group"),
  site: z.string(),
  windowSeconds: z.number().int(),
  stages: z.array(StageStatsSchema),
  groups: z.record(LagSummarySchema),
  offsets: SiteOffsetsSchema,
  kafkaReadAt: z.string().datetime().describe('when the shared Kafka reading behind groups and offsets was taken'),
});
export type OverviewBody = z.infer<typeof OverviewBodySchema>;
export const RecentBodySchema = z.object({ site: z.string(), items: z.array(StageRowSchema.extend({ id: z.number().int() })), last: z.number().int() });
export type RecentBody = z.infer<typeof RecentBodySchema>;
export const DeliveredBodySchema = z.object({ ids: z.array(EventIdSchema).min(1).max(5000) }).strict();
export const DeliveredAnswerSchema = z.object({ site: z.string(), delivered: z.array(z.string()) });
export const HealthBodySchema = z.object({ site: z.string() }).catchall(z.unknown());

// The federation module's interfaces and these schemas describe the same values.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : never) : never;
const agree: [
  Same<LagSummary, z.infer<typeof LagSummarySchema>>,
  Same<SiteOffsets, z.infer<typeof SiteOffsetsSchema>>,
  Same<FlowLag, z.infer<typeof FlowLagSchema>>,
] = [true, true, true];
void agree;
