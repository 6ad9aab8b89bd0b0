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

export type MonitoringRecordEvent = z.output<typeof MonitoringEventSchema>;

const isStage = (v: unknown): v is Stage => (STAGES as readonly unknown[]).includes(v);
const isNullishString = (x: unknown) => x === null || x === undefined || typeof x === 'string';
const isNullishInt = (x: unknown) => x === null || x === undefined || (typeof x === 'number' && Number.isInteger(x));
/** The keys after `consumer`, in the shape's order, each with its check (`at` is required). */
const LATER_KEYS: ReadonlyArray<readonly [string, (x: unknown) => boolean]> = [
  ['productId', isNullishString],
  ['eventType', isNullishString],
  ['sourceSite', isNullishString],
  ['topic', isNullishString],
  ['partition', isNullishInt],
  ['offset', isNullishInt],
  ['at', (x) => typeof x === 'number' && Number.isInteger(x)],
  ['latencyMs', isNullishInt],
];

/** MonitoringEventSchema's checks written out; null where it might disagree (the caller then runs the schema). */
function fastMonitoringEvent(v: unknown): MonitoringRecordEvent | null {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return null;
  const e = v as Record<string, unknown>;
  const { eventId, stage, site, consumer, at, detail } = e;
  if (typeof eventId !== 'string' || eventId.length < 1 || eventId.length > 200 || !isStage(stage) || typeof site !== 'string' || site.length < 1) return null;
  if (consumer !== undefined && typeof consumer !== 'string') return null;
  if (typeof at !== 'number' || !Number.isInteger(at)) return null;
  // zod's output: the shape's keys in its order; an absent optional key stays absent, unknown keys are dropped.
  const out: Record<string, unknown> = { eventId, stage, site, consumer: consumer ?? '' };
  for (const [k, check] of LATER_KEYS) {
    if (!(k in e)) continue;
    if (!check(e[k])) return null;
    out[k] = e[k];
  }
  if ('detail' in e) {
    // A record's own keys, copied as z.record copies them; "__proto__" and other oddities go to the schema.
    if (detail === null || detail === undefined) out.detail = detail;
    else if (typeof detail === 'object' && !Array.isArray(detail) && Object.getPrototypeOf(detail) === Object.prototype && !Object.hasOwn(detail, '__proto__'))
      out.detail = { ...(detail as Record<string, unknown>) };
    else return null;
  }
  return out as MonitoringRecordEvent;
}

/**
 * Reads one monitoring record's JSON value (MonitoringRecordSchema): the
 * events it holds, or the schema's reasons. The records fedgate writes take
 * a fast path (zod took 15-20 µs per record of two stages; README, Performance); anything it
 * does not take goes to the schema, and `contract/monitoring-event.test.ts`
 * checks that both give the same answer.
 */
export function parseMonitoringRecord(value: unknown): { success: true; data: MonitoringRecordEvent[] } | { success: false; error: z.ZodError } {
  if (Array.isArray(value) && value.length >= 1 && value.length <= 8) {
    const out: MonitoringRecordEvent[] = [];
    for (const v of value) {
      const e = fastMonitoringEvent(v);
      if (!e) return MonitoringRecordSchema.safeParse(value);
      out.push(e);
    }
    return { success: true, data: out };
  }
  const one = fastMonitoringEvent(value);
  return one ? { success: true, data: [one] } : MonitoringRecordSchema.safeParse(value);
}

/** The value of one monitoring record (see MonitoringRecordSchema). */
export function monitoringRecord(events: MonitoringEvent[]): { key: string; value: string } {
  return { key: events[0]!.eventId, value: JSON.stringify(events.length === 1 ? events[0] : events) };
}

/** Postgres text and jsonb cannot hold NUL; keep what a person needs to see. */
export function printable(value: string, max = 300): string {
  const clean = value.replaceAll('\u0000', '\\u0000');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}
