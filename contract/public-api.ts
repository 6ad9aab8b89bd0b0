import { z } from 'zod';
import { HistoryItemSchema } from './history.ts';
import { PROBLEM_CODES } from './problem.ts';
import { FlowLagSchema, StageRowSchema, StageStatsSchema, SubscriptionStatusSchema, UnknownFlowLagSchema } from './read-api.ts';

/**
 * The gateway's public API beyond the events themselves: the federated
 * view's queries and answers, the publish answer and the problem body. The
 * same schemas validate (gateway/routes) and generate the document
 * (contract/openapi.ts).
 */
export const FederatedLimitQuerySchema = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }).strict();
const commaList = <T extends z.ZodTypeAny>(item: T) =>
  z
    .string()
    .optional()
    .transform((v) => (v === undefined || v === '' ? undefined : v.split(',').map((x) => x.trim())))
    .pipe(z.array(item).min(1).max(64).optional());
/** GET /v1/subscribe: what the stream carries; each list defaults to everything the site serves. */
export const SubscribeQuerySchema = z
  .object({
    kinds: commaList(z.enum(['price', 'discount', 'country'])).describe('comma-separated: price, discount, country (default: all)'),
    regions: commaList(z.string().regex(/^[a-z][a-z0-9-]*$/)).describe("comma-separated regions this site serves (default: all the site's)"),
    countries: commaList(z.string().regex(/^[A-Z]{2}$/)).describe("comma-separated countries this site serves (default: all the site's)"),
    lastEventId: z.string().max(16_384).optional().describe('the same as the Last-Event-ID header, for clients that cannot set headers'),
  })
  .strict();
export const WindowQuerySchema = z.object({ windowSeconds: z.coerce.number().int().min(1).max(86_400).default(300) }).strict();

export const AcceptedEventSchema = z.object({
  id: z.string(),
  type: z.string(),
  routedTo: z.array(z.string()).describe('the sites this event is routed to'),
  writtenAt: z.string().describe("the site whose Kafka acknowledged the write (a peer's after a failover)"),
  duplicate: z.literal(true).optional().describe('this id was accepted before and was not written again'),
});
export const PublishResultSchema = z.object({ events: z.array(AcceptedEventSchema) });

export const ProblemSchema = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.number().int(),
    code: z.enum(Object.keys(PROBLEM_CODES) as [keyof typeof PROBLEM_CODES, ...(keyof typeof PROBLEM_CODES)[]]),
    detail: z.string(),
    requestId: z.string().optional(),
  })
  .catchall(z.unknown())
  .describe('RFC 9457 problem details; clients branch on `code`, never on `detail`');

const SiteSummary = z.object({ site: z.string(), reachable: z.boolean(), ms: z.number(), error: z.string().optional() });
const Partial = { partial: z.boolean().describe('some site did not answer in time'), unreachable: z.array(z.string()) };

export const FederatedTraceSchema = z.object({
  answeredBy: z.string(),
  eventId: z.string(),
  publishedAt: z.string().nullable().describe('the site that accepted the event'),
  stages: z.array(StageRowSchema.extend({ sincePublishMs: z.number().nullable() })),
  sites: z.array(SiteSummary),
  ...Partial,
});
export const FederatedRowsSchema = z.object({
  answeredBy: z.string(),
  productId: z.string().optional(),
  items: z.array(StageRowSchema),
  sites: z.array(SiteSummary),
  ...Partial,
});
export const FederatedHistorySchema = z.object({
  answeredBy: z.string(),
  products: z.string().optional().describe('the product ids asked for, comma-separated'),
  from: z.string().optional(),
  to: z.string().optional(),
  items: z.array(HistoryItemSchema.extend({ sites: z.array(z.string()).describe('the sites that hold this event (of those that answered)') })),
  next: z.string().nullable().describe('give it as `before` for the next page; null on the last page'),
  sites: z.array(SiteSummary),
  ...Partial,
});
export const FederatedStatsSchema = z.object({
  answeredBy: z.string(),
  windowSeconds: z.number().int(),
  sites: z.array(
    SiteSummary.extend({
      stages: z.array(StageStatsSchema).nullable(),
      consumerLag: z.record(z.number().int()).nullable().describe("records per consumer group of the site's effect consumers (subscriptions report theirs)"),
      subscriptions: z
        .array(
          SubscriptionStatusSchema.extend({
            lagRecords: z.number().int().nullable().describe('records its group has not delivered yet'),
            state: z.enum(['up to date', 'catching up', 'retrying']).describe('retrying: an event is waiting for another attempt now'),
          }),
        )
        .nullable(),
      kafkaReadAt: z.string().nullable(),
    }),
  ),
  links: z.array(z.union([FlowLagSchema, UnknownFlowLagSchema])).describe('MM2 lag per flow, computed by fedgate (MM2 has no lag metric)'),
  ...Partial,
});
export const FederatedHealthSchema = z.object({
  answeredBy: z.string(),
  sites: z.array(SiteSummary.extend({ health: z.record(z.unknown()).optional() })),
  ...Partial,
});
