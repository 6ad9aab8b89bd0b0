import { randomFillSync, randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import type { IHeaders } from 'kafkajs';
import { z } from 'zod';

/**
 * The product event model shared by the whole project.
 *
 * - On HTTP: CloudEvents 1.0, structured JSON mode (`application/cloudevents+json`).
 * - On Kafka: the CloudEvents Kafka binding, binary mode: the attributes are
 *   `ce_*` headers, the value is the JSON `data`, the key is the product id (so
 *   one product's events keep their order within a topic).
 * - Every event carries a W3C `traceparent` (the CloudEvents distributed
 *   tracing extension), so one trace spans sites.
 *
 * Money is never a float: integer minor units or a decimal string, checked
 * against the currency's ISO 4217 minor digits.
 */

const require = createRequire(import.meta.url);
const countries = require('i18n-iso-countries') as { isValid(code: string): boolean };
const currencies = require('currency-codes') as { code(code: string): { digits: number } | undefined };

export const EVENT_TYPES = {
  price: 'com.fedgate.pim.price.updated',
  discount: 'com.fedgate.pim.discount.updated',
  country: 'com.fedgate.pim.country.updated',
} as const;
export type EventKindName = keyof typeof EVENT_TYPES;
export type EventType = (typeof EVENT_TYPES)[EventKindName];
export const KIND_OF_TYPE: Record<EventType, EventKindName> = {
  [EVENT_TYPES.price]: 'price',
  [EVENT_TYPES.discount]: 'discount',
  [EVENT_TYPES.country]: 'country',
};

/** Postgres text cannot hold NUL, and no business value needs one. */
const noNul = (s: string) => !s.includes('\u0000');
const text = (max: number) => z.string().min(1).max(max).refine(noNul, 'must not contain NUL characters');

export const ProductIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/, 'use 1-64 letters, digits, ".", "_", ":" or "-"');
export const EventIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'use 1-128 letters, digits, ".", "_", ":" or "-"');
export const CurrencySchema = z
  .string()
  .regex(/^[A-Z]{3}$/, 'use an upper-case ISO 4217 code such as "EUR"')
  .refine(
    (c) => currencies.code(c) !== undefined,
    (c) => ({ message: `"${c}" is not an ISO 4217 currency` }),
  );
export const CountrySchema = z
  .string()
  .regex(/^[A-Z]{2}$/, 'use an upper-case ISO 3166-1 alpha-2 code such as "DE"')
  .refine(
    (c) => countries.isValid(c),
    (c) => ({ message: `"${c}" is not an ISO 3166-1 country` }),
  );
const TraceparentSchema = z.string().regex(/^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/, 'use the W3C format 00-<32 hex>-<16 hex>-<2 hex>');
const DecimalSchema = z.string().regex(/^(0|[1-9]\d{0,14})(\.\d{1,4})?$/, 'use a decimal string such as "19.99"');

/** Money as `{ currency, amount: "19.99" }` or `{ currency, minor: 1999 }`; normalised to minor units. */
export const MoneySchema = z
  .object({
    currency: CurrencySchema,
    amount: DecimalSchema.optional(),
    minor: z.number().int('minor units must be a whole number').min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if ((m.amount === undefined) === (m.minor === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'give exactly one of "amount" (decimal string) or "minor" (integer minor units)' });
      return;
    }
    const digits = currencies.code(m.currency)?.digits ?? 2;
    const fraction = m.amount?.split('.')[1] ?? '';
    if (fraction.length > digits)
      ctx.addIssue({ code: 'custom', path: ['amount'], message: `${m.currency} has ${digits} minor digits; "${m.amount}" has ${fraction.length}` });
  })
  .transform((m) => ({ currency: m.currency, minor: m.minor ?? toMinor(m.amount!, currencies.code(m.currency)?.digits ?? 2) }));
export type Money = z.output<typeof MoneySchema>;

function toMinor(amount: string, digits: number): number {
  const [whole, fraction = ''] = amount.split('.');
  return Number(whole) * 10 ** digits + Number(fraction.padEnd(digits, '0') || '0');
}

export function formatMinor(money: Money): string {
  const digits = currencies.code(money.currency)?.digits ?? 2;
  if (digits === 0) return String(money.minor);
  const s = String(money.minor).padStart(digits + 1, '0');
  return `${s.slice(0, -digits)}.${s.slice(-digits)}`;
}

/**
 * Catalog data from the PIS's `products` table, added by the gateway that
 * accepts the event (enrichment, gateway/enrichment.ts) when the federation
 * has a PIS: `enriched` with the product's name, brand and category, or
 * `unenriched` with why (the product is not in the catalog, or the catalog
 * did not answer). A publisher's own value is replaced.
 */
export const CatalogSchema = z
  .discriminatedUnion('status', [
    z.object({ status: z.literal('enriched'), name: text(200), brand: text(100).optional(), category: text(100).optional() }).strict(),
    z.object({ status: z.literal('unenriched'), reason: z.enum(['unknown-product', 'catalog-unavailable']) }).strict(),
  ])
  .describe("the product's catalog data from the PIS, added by the accepting gateway");
export type Catalog = z.output<typeof CatalogSchema>;

export const PriceDataSchema = z.object({ productId: ProductIdSchema, region: text(32), price: MoneySchema, catalog: CatalogSchema.optional() }).strict();
export const DiscountDataSchema = z
  .object({
    productId: ProductIdSchema,
    discountId: text(64),
    /** Absent: the discount applies in every region. */
    region: text(32).optional(),
    percent: z
      .string()
      .regex(/^(100(\.0{1,2})?|\d{1,2}(\.\d{1,2})?)$/, 'use a decimal percentage string from "0" to "100"')
      .optional(),
    amountOff: MoneySchema.optional(),
    validFrom: z.string().datetime({ offset: true }).optional(),
    validTo: z.string().datetime({ offset: true }).optional(),
    active: z.boolean().default(true),
    catalog: CatalogSchema.optional(),
  })
  .strict()
  .refine((d) => (d.percent === undefined) !== (d.amountOff === undefined), 'give exactly one of "percent" or "amountOff"');
export const CountryDataSchema = z
  .object({ productId: ProductIdSchema, country: CountrySchema, available: z.boolean(), reason: text(200).optional(), catalog: CatalogSchema.optional() })
  .strict();

export type PriceData = z.output<typeof PriceDataSchema>;
export type DiscountData = z.output<typeof DiscountDataSchema>;
export type CountryData = z.output<typeof CountryDataSchema>;

const attributes = {
  specversion: z.literal('1.0'),
  id: EventIdSchema,
  source: text(200),
  time: z.string().datetime({ offset: true, precision: undefined }),
  subject: ProductIdSchema,
  datacontenttype: z.literal('application/json').default('application/json'),
  traceparent: TraceparentSchema,
  /** Extension: when the origin gateway accepted the event (ms since epoch). */
  publishedat: z.number().int().positive(),
};

export const ProductEventSchema = z
  .discriminatedUnion('type', [
    z.object({ ...attributes, type: z.literal(EVENT_TYPES.price), data: PriceDataSchema }).strict(),
    z.object({ ...attributes, type: z.literal(EVENT_TYPES.discount), data: DiscountDataSchema }).strict(),
    z.object({ ...attributes, type: z.literal(EVENT_TYPES.country), data: CountryDataSchema }).strict(),
  ])
  .superRefine((e, ctx) => {
    if (e.subject !== e.data.productId) ctx.addIssue({ code: 'custom', path: ['subject'], message: 'subject must equal data.productId' });
  });
export type ProductEvent = z.output<typeof ProductEventSchema>;

/**
 * What a publisher sends: the business fields; the gateway fills in the rest.
 * `id`, `time` and `traceparent` may be given (a retry keeps its id).
 */
export const PublishInputSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal(EVENT_TYPES.price),
      id: EventIdSchema.optional(),
      time: attributes.time.optional(),
      traceparent: TraceparentSchema.optional(),
      specversion: z.literal('1.0').optional(),
      data: PriceDataSchema,
    })
    .strict(),
  z
    .object({
      type: z.literal(EVENT_TYPES.discount),
      id: EventIdSchema.optional(),
      time: attributes.time.optional(),
      traceparent: TraceparentSchema.optional(),
      specversion: z.literal('1.0').optional(),
      data: DiscountDataSchema,
    })
    .strict(),
  z
    .object({
      type: z.literal(EVENT_TYPES.country),
      id: EventIdSchema.optional(),
      time: attributes.time.optional(),
      traceparent: TraceparentSchema.optional(),
      specversion: z.literal('1.0').optional(),
      data: CountryDataSchema,
    })
    .strict(),
]);
export type PublishInput = z.input<typeof PublishInputSchema>;

/**
 * Random bytes for trace and span ids, drawn from a pool refilled 4 KB at a
 * time: a `randomBytes` call per id stood out in the gateway's CPU profile
 * under load (README, Performance).
 */
const randomPool = { bytes: Buffer.alloc(4096), used: 4096 };
function randomHex(n: number): string {
  if (randomPool.used + n > randomPool.bytes.length) {
    randomFillSync(randomPool.bytes);
    randomPool.used = 0;
  }
  const hex = randomPool.bytes.toString('hex', randomPool.used, randomPool.used + n);
  randomPool.used += n;
  return hex;
}

export function newTraceparent(): string {
  return `00-${randomHex(16)}-${randomHex(8)}-01`;
}

/**
 * Completes a publisher's validated input into a full CloudEvent from `site`.
 * Not parsed again: every attribute added here is well-formed by construction
 * (the unit tests check the result against ProductEventSchema).
 */
export function completeEvent(input: z.output<typeof PublishInputSchema>, site: string, now = Date.now()): ProductEvent {
  return {
    specversion: '1.0',
    id: input.id ?? randomUUID(),
    source: sourceOf(site),
    type: input.type,
    time: input.time ?? new Date(now).toISOString(),
    subject: input.data.productId,
    datacontenttype: 'application/json',
    traceparent: input.traceparent ?? newTraceparent(),
    publishedat: now,
    data: input.data,
  } as ProductEvent;
}

export function sourceOf(site: string): string {
  return `/fedgate/sites/${site}`;
}

export function siteOfSource(source: string): string | null {
  return /^\/fedgate\/sites\/([a-z][a-z0-9-]*)$/.exec(source)?.[1] ?? null;
}

export interface KafkaRecord {
  key: string;
  value: string;
  headers: Record<string, string>;
}

/** CloudEvents Kafka binding, binary mode. */
export function toKafkaRecord(event: ProductEvent): KafkaRecord {
  return {
    key: event.subject,
    value: JSON.stringify(event.data),
    headers: {
      ce_specversion: event.specversion,
      ce_id: event.id,
      ce_source: event.source,
      ce_type: event.type,
      ce_time: event.time,
      ce_subject: event.subject,
      ce_traceparent: event.traceparent,
      ce_publishedat: String(event.publishedat),
      'content-type': 'application/json',
    },
  };
}

export class DecodeError extends Error {
  override name = 'DecodeError';
  constructor(
    message: string,
    /** Best-effort id, for the dead-letter record. */
    readonly eventId: string | null,
  ) {
    super(message);
  }
}

/** Reads a record written by toKafkaRecord (possibly replicated); throws DecodeError with the reason. */
export function fromKafkaRecord(value: Buffer | null, headers: IHeaders | undefined): ProductEvent {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) if (v !== undefined) h[k] = Array.isArray(v) ? String(v[0]) : String(v);
  const id = h.ce_id ?? null;
  if (!value) throw new DecodeError('the record has no value', id);
  let data: unknown;
  try {
    data = JSON.parse(value.toString('utf8'));
  } catch (err) {
    throw new DecodeError(`the value is not JSON: ${(err as Error).message}`, id);
  }
  const parsed = ProductEventSchema.safeParse({
    specversion: h.ce_specversion,
    id,
    source: h.ce_source,
    type: h.ce_type,
    time: h.ce_time,
    subject: h.ce_subject,
    datacontenttype: h['content-type'],
    traceparent: h.ce_traceparent,
    publishedat: h.ce_publishedat === undefined ? undefined : Number(h.ce_publishedat),
    data,
  });
  if (!parsed.success) throw new DecodeError(`not a valid product event: ${formatIssues(parsed.error)}`, id);
  return parsed.data;
}

export function formatIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join('.') || '(event)'}: ${i.message}`).join('; ');
}
