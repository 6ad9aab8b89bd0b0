import { z } from 'zod';
import { EVENT_TYPES, formatMinor, type ProductEvent, ProductEventSchema, ProductIdSchema } from './event-model.ts';

/*
 * The event store's history (PEMX): what each site stored, with the events'
 * values, for a set of product ids, newest first. A site's read API answers
 * for itself (instances/event-store.ts); the gateways merge every site's
 * answer and say which sites hold each event (gateway/federated-merge.ts).
 */

/** Up to this many product ids per history query. */
export const HISTORY_MAX_PRODUCTS = 100;

export const ProductIdsSchema = z
  .array(ProductIdSchema)
  .min(1, 'give at least one product id')
  .max(HISTORY_MAX_PRODUCTS, `at most ${HISTORY_MAX_PRODUCTS} product ids`)
  .transform((ids) => [...new Set(ids)]);

/** A time range of event times: `from` included, `to` not. */
export const TimeRangeSchema = z.object({
  from: z.string().datetime({ offset: true }).optional().describe('event time from (included), ISO 8601'),
  to: z.string().datetime({ offset: true }).optional().describe('event time to (not included), ISO 8601'),
});
export const rangeIsOrdered = (r: { from?: string; to?: string }) => !r.from || !r.to || Date.parse(r.from) < Date.parse(r.to);

export const HistoryQuerySchema = TimeRangeSchema.extend({
  products: z
    .string()
    .optional()
    .transform((v) => (v === undefined ? undefined : v.split(',').flatMap((x) => (x.trim() === '' ? [] : [x.trim()]))))
    .pipe(ProductIdsSchema.optional())
    .describe(`comma-separated product ids (1-${HISTORY_MAX_PRODUCTS}); give products, a time range, or both`),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  before: z.string().max(200).optional().describe('the `next` cursor of the previous page'),
})
  .strict()
  .refine((q) => q.products || q.from || q.to, 'give products (comma-separated product ids), a time range (from, to), or both')
  .refine(rangeIsOrdered, 'from must be before to');
export type HistoryQuery = z.output<typeof HistoryQuerySchema>;
/** What a history page is asked for: products and/or a time range (ms), before a cursor. */
export interface HistoryFilter {
  productIds?: readonly string[];
  from?: number;
  to?: number;
}
export const filterOf = (q: { products?: string[]; from?: string; to?: string }): HistoryFilter => ({
  ...(q.products ? { productIds: q.products } : {}),
  ...(q.from ? { from: Date.parse(q.from) } : {}),
  ...(q.to ? { to: Date.parse(q.to) } : {}),
});
/** The filter as query parameters of the history routes. */
export function filterParams(f: HistoryFilter): Record<string, string> {
  return {
    ...(f.productIds ? { products: f.productIds.join(',') } : {}),
    ...(f.from !== undefined ? { from: new Date(f.from).toISOString() } : {}),
    ...(f.to !== undefined ? { to: new Date(f.to).toISOString() } : {}),
  };
}

/** An event's values, flat, for tables: what changed and to what. */
export const EventValuesSchema = z.union([
  z.object({ kind: z.literal('price'), region: z.string(), currency: z.string(), amount: z.string().describe('decimal, e.g. "19.99"') }),
  z.object({
    kind: z.literal('discount'),
    region: z.string().describe('"*": every region'),
    discountId: z.string(),
    percent: z.string().nullable(),
    amountOff: z.string().nullable().describe('"EUR 5.00", or null for a percentage'),
    active: z.boolean(),
    validFrom: z.string().nullable(),
    validTo: z.string().nullable(),
  }),
  z.object({ kind: z.literal('country'), country: z.string(), available: z.boolean(), reason: z.string().nullable() }),
]);
export type EventValues = z.infer<typeof EventValuesSchema>;

export function eventValues(event: ProductEvent): EventValues {
  if (event.type === EVENT_TYPES.price) {
    return { kind: 'price', region: event.data.region, currency: event.data.price.currency, amount: formatMinor(event.data.price) };
  }
  if (event.type === EVENT_TYPES.discount) {
    const d = event.data;
    return {
      kind: 'discount',
      region: d.region ?? '*',
      discountId: d.discountId,
      percent: d.percent ?? null,
      amountOff: d.amountOff ? `${d.amountOff.currency} ${formatMinor(d.amountOff)}` : null,
      active: d.active,
      validFrom: d.validFrom ?? null,
      validTo: d.validTo ?? null,
    };
  }
  return { kind: 'country', country: event.data.country, available: event.data.available, reason: event.data.reason ?? null };
}

/** One stored event at one site. */
export const HistoryItemSchema = z.object({
  eventId: z.string(),
  productId: z.string(),
  type: z.string(),
  time: z.string().datetime({ offset: true }).describe("the event's time (a PIS change: its commit time)"),
  publishedAt: z.string().datetime().describe('when the origin gateway accepted it'),
  sourceSite: z.string().describe('the site where it was published'),
  values: EventValuesSchema,
  event: ProductEventSchema.describe('the whole event as accepted (CloudEvent attributes and data, catalog included)'),
});
export type HistoryItem = z.infer<typeof HistoryItemSchema>;

export const HistoryBodySchema = z.object({
  site: z.string(),
  items: z.array(HistoryItemSchema.extend({ topic: z.string().describe('where this site read it: a routed topic here, or a copy') })),
  next: z.string().nullable(),
});
export type HistoryBody = z.infer<typeof HistoryBodySchema>;

/** Pages go by (event time, event id), newest first; the cursor is opaque to clients. */
export function encodeHistoryCursor(time: number, eventId: string): string {
  return Buffer.from(`${time}:${eventId}`).toString('base64url');
}
export function decodeHistoryCursor(cursor: string): { time: number; eventId: string } | null {
  const m = /^(\d{1,15}):(.{1,128})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  return m ? { time: Number(m[1]), eventId: m[2]! } : null;
}

/** Newest first: later time, then the greater id. */
export function newerFirst(a: { time: number; eventId: string }, b: { time: number; eventId: string }): number {
  return b.time - a.time || (a.eventId < b.eventId ? 1 : a.eventId > b.eventId ? -1 : 0);
}
