import { z } from 'zod';

/**
 * What every stage reports about an event, on the site's monitoring topic.
 * One event can be traced across sites by its id.
 */
export const STAGES = ['published', 'routed', 'replicated', 'consumed', 'replayed', 'delivered', 'failed', 'dead-lettered'] as const;
export type Stage = (typeof STAGES)[number];

export const MonitoringEventSchema = z.object({
  eventId: z.string().min(1).max(200),
  stage: z.enum(STAGES),
  site: z.string().min(1),
  /** '' for stages no consumer owns. */
  consumer: z.string().default(''),
  productId: z.string().nullish(),
  eventType: z.string().nullish(),
  sourceSite: z.string().nullish(),
  topic: z.string().nullish(),
  partition: z.number().int().nullish(),
  offset: z.number().int().nullish(),
  /** When the stage happened, ms since epoch. */
  at: z.number().int(),
  /** From the origin gateway's accept to this stage. */
  latencyMs: z.number().int().nullish(),
  detail: z.record(z.unknown()).nullish(),
});
export type MonitoringEvent = z.input<typeof MonitoringEventSchema>;

/** Who published an event: its token's issuer and subject. The `published` stage records it (an audit trail). */
export interface Publisher {
  iss: string;
  sub: string;
}

/**
 * One record on the monitoring topic: a monitoring event, or the stages one
 * component saw of one event at once (the gateway's `published` and `routed`,
 * a consumer's `replicated` and `consumed`). Grouping them halves the records
 * the publish path and the consumers write; the reader expands them into rows.
 */
export const MonitoringRecordSchema = z.union([MonitoringEventSchema.transform((e) => [e]), z.array(MonitoringEventSchema).min(1).max(8)]);

/** The value of one monitoring record (see MonitoringRecordSchema). */
export function monitoringRecord(events: MonitoringEvent[]): { key: string; value: string } {
  return { key: events[0]!.eventId, value: JSON.stringify(events.length === 1 ? events[0] : events) };
}

/** Postgres text and jsonb cannot hold NUL; keep what a person needs to see. */
export function printable(value: string, max = 300): string {
  const clean = value.replaceAll('\u0000', '\\u0000');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
