import { z } from 'zod';
import { EVENT_TYPES, EventIdSchema, type EventType } from './event-model.ts';
import { Problem } from './problem.ts';

/**
 * The seed design's ingress shape (seed 001), accepted at `POST /publish-event`
 * as a migration path: `{"event_type": "product-price-update", "data": {...}}`,
 * one object or an array. Each is turned into the native publish input and
 * takes the same pipeline (validation, scopes, routing, idempotency) as
 * `POST /v1/events`; `data` is the native event's data.
 */
export const SEED_EVENT_TYPES = {
  'product-price-update': EVENT_TYPES.price,
  'product-discount-update': EVENT_TYPES.discount,
  'product-country-update': EVENT_TYPES.country,
} as const satisfies Record<string, EventType>;
export type SeedEventType = keyof typeof SEED_EVENT_TYPES;

export const SeedEventSchema = z
  .object({
    event_type: z.enum(Object.keys(SEED_EVENT_TYPES) as [SeedEventType, ...SeedEventType[]]),
    /** A retry keeps its id; absent, the gateway gives one. */
    event_id: EventIdSchema.optional(),
    /** When the change happened (RFC 3339); absent, when the gateway accepts it. */
    timestamp: z.string().datetime({ offset: true }).optional(),
    data: z.record(z.unknown()).describe('the native event data of that type (price, discount or country update)'),
  })
  .strict();

/** One seed-shaped event into the native publish input; an unknown `event_type` is the native `unknown-event-type` problem. */
export function fromSeedShape(item: unknown, index: number | null): unknown {
  const at = index === null ? '' : `event [${index}]: `;
  const type = (item as { event_type?: unknown } | null)?.event_type;
  if (typeof type !== 'string' || !(type in SEED_EVENT_TYPES)) {
    throw new Problem(
      'unknown-event-type',
      `${at}event_type ${typeof type === 'string' ? JSON.stringify(type.slice(0, 100)) : `(${type === null ? 'null' : typeof type})`} is not one of ${Object.keys(SEED_EVENT_TYPES).join(', ')}`,
      { knownTypes: Object.keys(SEED_EVENT_TYPES) },
    );
  }
  const parsed = SeedEventSchema.safeParse(item);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Problem('invalid-event', `${at}${issue.path.join('.') || '(event)'}: ${issue.message}`, { index: index ?? 0 });
  }
  const { event_type, event_id, timestamp, data } = parsed.data;
  return { type: SEED_EVENT_TYPES[event_type], ...(event_id ? { id: event_id } : {}), ...(timestamp ? { time: timestamp } : {}), data };
}
