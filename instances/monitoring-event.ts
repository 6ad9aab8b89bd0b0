import { z } from 'zod';

/**
 * What every stage reports about an event, on the site's monitoring topic.
 * One event can be traced across sites by its id.
 */
export const STAGES = ['published', 'routed', 'replicated', 'consumed', 'failed', 'dead-lettered'] as const;
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

/** Postgres text and jsonb cannot hold NUL; keep what a person needs to see. */
export function printable(value: string, max = 300): string {
  const clean = value.replace(/\u0000/g, '\\u0000');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
