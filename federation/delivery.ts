import { z } from 'zod';
import { EVENT_KINDS, type EventKind, groupPrefix, remoteTopic, routedTopic } from './topics.ts';

/**
 * Downstream delivery: the subscriptions of one site, in its topology entry.
 * A downstream system subscribes to event kinds and to regions/countries its
 * site serves, and picks a protocol (a webhook, a RabbitMQ exchange or an
 * MQTT broker). Each subscription is its own Kafka consumer group at its site.
 *
 * Pure: names, filters and the checks run with the topology's; the senders
 * live with the instance (instances/delivery/).
 */

const subscriptionName = z.string().regex(/^[a-z][a-z0-9-]{0,40}$/, 'use lower-case letters, digits and dashes, starting with a letter (at most 41)');

export const RetrySchema = z
  .object({
    /** Attempts per event before it goes to the subscription's dead-letter topic. */
    attempts: z.number().int().min(1).max(100).default(8),
    /** Backoff before attempt n+1: a random wait up to min(maxMs, baseMs·2^(n−1)) ("full jitter"). */
    baseMs: z.number().int().min(1).max(60_000).default(500),
    maxMs: z.number().int().min(1).max(600_000).default(30_000),
  })
  .strict();
export type RetryPolicy = z.output<typeof RetrySchema>;

const filter = {
  name: subscriptionName,
  /** Event kinds; all three when left out. */
  kinds: z.array(z.enum(EVENT_KINDS)).min(1).optional(),
  /** Regions of price and discount events; every region the site serves when left out. */
  regions: z.array(z.string().min(1)).min(1).optional(),
  /** Countries of availability events; every country the site serves when left out. */
  countries: z.array(z.string().min(1)).min(1).optional(),
  retry: RetrySchema.default({}),
};

export const WebhookSubscriptionSchema = z
  .object({
    ...filter,
    protocol: z.literal('webhook'),
    /** An https:// URL whose origin is listed in the site's `delivery.webhookOrigins`. */
    url: z.string().url(),
    /** A PEM file of the CA that issued the receiver's certificate, when it is not a public one. */
    caFile: z.string().min(1).optional(),
    /** Per attempt: no answer within it is a failed attempt. */
    timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  })
  .strict();

export const AmqpSubscriptionSchema = z
  .object({
    ...filter,
    protocol: z.literal('amqp'),
    /** A durable topic exchange (declared if absent). Routing key: `<kind>.<region or country>`. */
    exchange: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,127}$/, 'use letters, digits, ".", "_", ":" or "-"')
      .default('fedgate.events'),
    /**
     * A durable queue fedgate declares and binds to the exchange with the
     * subscription's routing keys, so events wait there while the downstream
     * system is away. Without it, the downstream system binds its own queue;
     * an event no queue takes is not counted as delivered (it is retried, then dead-lettered).
     */
    queue: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,127}$/, 'use letters, digits, ".", "_", ":" or "-"')
      .optional(),
  })
  .strict();

export const MqttSubscriptionSchema = z
  .object({
    ...filter,
    protocol: z.literal('mqtt'),
    /** Topic: `<topicPrefix>/<kind>/<region or country>/<productId>`, each value confined to its level. */
    topicPrefix: z
      .string()
      .regex(/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*$/, 'use levels of letters, digits, "_" or "-" separated by "/" (no wildcards)')
      .default('fedgate'),
  })
  .strict();

export const SubscriptionSchema = z.discriminatedUnion('protocol', [WebhookSubscriptionSchema, AmqpSubscriptionSchema, MqttSubscriptionSchema]);
export type Subscription = z.output<typeof SubscriptionSchema>;
export type Protocol = Subscription['protocol'];

/** A broker URL: no credentials in it (the topology is committed); they come from `credentialsFile`. */
const brokerUrl = (schemes: string[]) =>
  z
    .string()
    .url()
    .refine((u) => schemes.includes(new URL(u).protocol.replace(/:$/, '')), `use a ${schemes.join(' or ')} URL`)
    .refine((u) => !new URL(u).username && !new URL(u).password, 'put no credentials in the URL: give a credentialsFile');

const BrokerSchema = (schemes: string[]) =>
  z
    .object({
      url: brokerUrl(schemes),
      /** A file holding `user:password` (kept out of the topology; git-ignore it). Without it: the client's default (RabbitMQ: guest). */
      credentialsFile: z.string().min(1).optional(),
    })
    .strict();

export const DeliverySchema = z
  .object({
    /** The RabbitMQ broker of the site's AMQP subscriptions. */
    amqp: BrokerSchema(['amqp', 'amqps']).optional(),
    /** The MQTT broker of the site's MQTT subscriptions. */
    mqtt: BrokerSchema(['mqtt', 'mqtts']).optional(),
    /**
     * The origins (`https://host[:port]`) webhooks may be sent to. Empty by
     * default: the instance sends nothing to an address nobody listed, so a
     * subscription cannot reach internal services (SSRF). Redirects are never followed.
     */
    webhookOrigins: z.array(z.string().url()).default([]),
    subscriptions: z.array(SubscriptionSchema).default([]),
  })
  .strict();
export type Delivery = z.output<typeof DeliverySchema>;

interface ServingSite {
  name: string;
  regions: readonly string[];
  countries: readonly string[];
  delivery: Delivery;
}

export interface DeliveryProblem {
  field: string;
  message: string;
  fix: string;
}

/** The dead-letter topic of one subscription: events it gave up on, with the last error. */
export const deliveryDeadLetterTopic = (subscription: string) => `site.delivery-dlq.${subscription}`;

/** The consumer group of a subscription (under the site's group prefix, which the instance's ACLs grant). */
export const deliveryGroup = (site: string, subscription: string) => `${groupPrefix(site)}delivery.${subscription}`;

/** How a subscription is named in monitoring rows and metrics: `webhook:erp`. */
export const deliveryConsumerName = (s: Pick<Subscription, 'protocol' | 'name'>) => `${s.protocol}:${s.name}`;

/** What a subscription selects, with its defaults filled from the site. */
export interface Selection {
  kinds: EventKind[];
  regions: string[];
  countries: string[];
}

export function selectionOf(site: Pick<ServingSite, 'regions' | 'countries'>, s: Subscription): Selection {
  return { kinds: s.kinds ?? [...EVENT_KINDS], regions: s.regions ?? [...site.regions], countries: s.countries ?? [...site.countries] };
}

/** The local routed topics a subscription reads (the copies from upstream sites are added by the caller). */
export function selectedTopics(sel: Selection): string[] {
  return sel.kinds.flatMap((k) => (k === 'country' ? sel.countries.map((c) => routedTopic(k, c)) : sel.regions.map((r) => routedTopic(k, r))));
}

/** Local topics and their copies from `upstream`. */
export function subscriptionTopics(sel: Selection, upstream: readonly string[]): string[] {
  const local = selectedTopics(sel);
  return [...local, ...upstream.flatMap((u) => local.map((t) => remoteTopic(u, t)))];
}

export function findDeliveryProblems(site: ServingSite, at: string): DeliveryProblem[] {
  const problems: DeliveryProblem[] = [];
  const { delivery } = site;
  const origins = new Set<string>();
  delivery.webhookOrigins.forEach((o, i) => {
    const u = new URL(o);
    if (u.protocol !== 'https:') {
      problems.push({ field: `${at}.delivery.webhookOrigins[${i}]`, message: `"${o}" is not https`, fix: 'webhooks are sent over HTTPS only: use https://' });
    } else if (u.origin !== o.replace(/\/$/, '')) {
      problems.push({ field: `${at}.delivery.webhookOrigins[${i}]`, message: `"${o}" is not an origin`, fix: `use "${u.origin}"` });
    }
    origins.add(u.origin);
  });
  const names = new Set<string>();
  delivery.subscriptions.forEach((s, j) => {
    const f = `${at}.delivery.subscriptions[${j}]`;
    if (names.has(s.name))
      problems.push({ field: `${f}.name`, message: `subscription "${s.name}" is defined twice at this site`, fix: 'give each a unique name' });
    names.add(s.name);
    for (const r of s.regions ?? []) {
      if (!site.regions.includes(r)) {
        problems.push({ field: `${f}.regions`, message: `"${site.name}" does not serve region "${r}"`, fix: `use some of: ${site.regions.join(', ')}` });
      }
    }
    for (const c of s.countries ?? []) {
      if (!site.countries.includes(c)) {
        problems.push({
          field: `${f}.countries`,
          message: `"${site.name}" does not serve country "${c}"`,
          fix: site.countries.length ? `use some of: ${site.countries.join(', ')}` : 'add the country to the site first',
        });
      }
    }
    if (selectedTopics(selectionOf(site, s)).length === 0) {
      problems.push({ field: f, message: 'selects no events: the site serves none of its kinds', fix: 'pick kinds the site serves regions or countries for' });
    }
    if (s.retry.maxMs < s.retry.baseMs) problems.push({ field: `${f}.retry.maxMs`, message: 'is below baseMs', fix: `use at least ${s.retry.baseMs}` });
    if (s.protocol === 'webhook') {
      const u = new URL(s.url);
      if (u.protocol !== 'https:') {
        problems.push({ field: `${f}.url`, message: 'is not https', fix: 'webhooks are sent over HTTPS only: use an https:// URL' });
      } else if (u.username || u.password) {
        problems.push({ field: `${f}.url`, message: 'has credentials in it', fix: 'remove them: receivers verify the fedgate-signature header instead' });
      } else if (!origins.has(u.origin)) {
        problems.push({
          field: `${f}.url`,
          message: `origin ${u.origin} is not in this site's delivery.webhookOrigins`,
          fix: `add "${u.origin}" to delivery.webhookOrigins if this receiver is meant to get the site's events`,
        });
      }
    }
    if (s.protocol === 'amqp' && !delivery.amqp) {
      problems.push({
        field: f,
        message: "an AMQP subscription needs the site's RabbitMQ",
        fix: 'add "delivery": { "amqp": { "url": "amqp://127.0.0.1:5672" } }',
      });
    }
    if (s.protocol === 'mqtt' && !delivery.mqtt) {
      problems.push({
        field: f,
        message: "an MQTT subscription needs the site's MQTT broker",
        fix: 'add "delivery": { "mqtt": { "url": "mqtt://127.0.0.1:1883" } }',
      });
    }
  });
  return problems;
}
