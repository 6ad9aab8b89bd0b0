import { z } from 'zod';
import { ProductIdsSchema, rangeIsOrdered, TimeRangeSchema } from './history.ts';

/*
 * Replays (gateway/replay.ts): a site's gateway re-sends stored history (every
 * site's event store, through the federated view) to its own site's
 * consumers, through the site-local replay topic. The consumers apply a
 * replayed event like any other: effects are last-writer-wins by (event time,
 * event id), and the store keeps each id once, so a replay of what was
 * already applied changes nothing.
 */

/** Who a replay is for: every consumer of the site (`all`), or one consumer group by name. */
export const REPLAY_TARGETS = ['all', 'price-book', 'availability', 'discounts', 'event-store'] as const;
export type ReplayTarget = (typeof REPLAY_TARGETS)[number];

/**
 * A replay to one of the site's delivery subscriptions (`subscription:erp`):
 * its receiver gets the events its filter selects again, each marked with the
 * job (`fedgatereplay`). `all` does not include subscriptions: a downstream
 * system is re-sent history only when it is named.
 */
export const SUBSCRIPTION_TARGET_PREFIX = 'subscription:';
export const subscriptionTarget = (subscription: string) => `${SUBSCRIPTION_TARGET_PREFIX}${subscription}`;
/** The subscription a target names, or null for a consumer group. */
export const subscriptionOfTarget = (target: string): string | null =>
  target.startsWith(SUBSCRIPTION_TARGET_PREFIX) ? target.slice(SUBSCRIPTION_TARGET_PREFIX.length) : null;

const ReplayConsumerSchema = z.union([
  z.enum(REPLAY_TARGETS),
  z.string().regex(/^subscription:[a-z][a-z0-9-]{0,40}$/, 'a consumer group (all, price-book, availability, discounts, event-store) or subscription:<name>'),
]);

export const ReplayRequestSchema = TimeRangeSchema.extend({
  products: ProductIdsSchema.optional().describe('the product ids to replay (1-100); give products, a time range, or both'),
  consumer: ReplayConsumerSchema.default('all').describe(
    "the site's consumer group to replay to: its effects (price-book, availability, discounts), its event store, all of them, or one of its delivery subscriptions (subscription:<name>)",
  ),
  pageSize: z.number().int().min(1).max(500).default(500).describe('events read from the stores and sent per step'),
})
  .strict()
  .refine((r) => r.products || r.from || r.to, 'give products (product ids), a time range (from, to), or both')
  .refine(rangeIsOrdered, 'from must be before to');
export type ReplayRequest = z.output<typeof ReplayRequestSchema>;

export const ReplayStateSchema = z.enum(['running', 'done', 'cancelled', 'failed']);

export const ReplayJobSchema = z.object({
  id: z.string(),
  site: z.string().describe('the site whose consumers the replay is for (the gateway that runs it)'),
  state: ReplayStateSchema,
  request: z.object({
    products: z.array(z.string()).optional(),
    from: z.string().optional(),
    to: z.string().optional(),
    consumer: ReplayConsumerSchema,
    pageSize: z.number().int(),
  }),
  requestedBy: z.string().describe("the token's issuer and subject"),
  startedAt: z.string().datetime(),
  finishedAt: z.string().datetime().nullable(),
  pages: z.number().int().describe('history pages read so far'),
  read: z.number().int().describe('stored events read so far'),
  sent: z.number().int().describe('events re-sent to the site (acknowledged by its Kafka, acks=all)'),
  skipped: z.number().int().describe("events read that this site does not serve, or the subscription's filter does not select (not re-sent)"),
  unreachable: z.array(z.string()).describe('sites that did not answer a page: events only they hold were not replayed'),
  error: z.string().nullable(),
  resumed: z
    .number()
    .int()
    .describe('times a gateway of the site resumed the job from its last recorded page (after a restart, a drain, or its runner falling silent)'),
});
export type ReplayJob = z.infer<typeof ReplayJobSchema>;
export const ReplayListSchema = z.object({ site: z.string(), jobs: z.array(ReplayJobSchema) });
