import { describe, expect, it } from 'vitest';
import { completeEvent, type ProductEvent, PublishInputSchema } from '../../contract/index.ts';
import { parseTopology, renderAcls, selectionOf, siteTopicPlan, subscriptionTopics, TopologyError } from '../../federation/index.ts';
import { amqpRoutingKey, mqttLevel, mqttTopic, selects } from './addressing.ts';
import { bindingKeys } from './amqp.ts';
import { backoffMs, MAX_RETRY_AFTER_MS, parseRetryAfter } from './backoff.ts';
import { signatureHeader, verifySignature } from './signature.ts';

const event = (input: Record<string, unknown>): ProductEvent => completeEvent(PublishInputSchema.parse(input), 'a');
const price = (productId: string, region: string) =>
  event({ type: 'com.fedgate.pim.price.updated', data: { productId, region, price: { currency: 'EUR', amount: '1.00' } } });
const discount = (productId: string, region?: string) =>
  event({ type: 'com.fedgate.pim.discount.updated', data: { productId, discountId: 'd1', percent: '10', ...(region ? { region } : {}) } });
const country = (productId: string, c: string) => event({ type: 'com.fedgate.pim.country.updated', data: { productId, country: c, available: true } });

const base = {
  federation: 'f',
  sites: [
    {
      name: 'a',
      regions: ['eu', 'us'],
      countries: ['DE'],
      address: '127.0.1.1',
      ports: { kafka: 9092, interSite: 9093, controller: 9094, instance: 8081, gateway: 8080, peer: 8443 },
    },
  ],
};
const withDelivery = (delivery: unknown) => ({ ...base, sites: [{ ...base.sites[0], delivery }] });
const problems = (delivery: unknown) => {
  try {
    parseTopology(withDelivery(delivery));
    return [];
  } catch (err) {
    if (err instanceof TopologyError) return err.problems.map((p) => `${p.field}: ${p.message}`);
    throw err;
  }
};

describe('webhook signature (the receiver recipe)', () => {
  const body = Buffer.from('{"id":"e1"}');
  const now = 1_800_000_000_000;
  it('verifies what it signed, with either secret during a rotation', () => {
    const header = signatureHeader(['new', 'old'], body, now);
    expect(verifySignature(header, body, 'new', { nowMs: now })).toEqual({ ok: true });
    expect(verifySignature(header, body, 'old', { nowMs: now + 299_000 })).toEqual({ ok: true });
  });
  it('refuses a tampered body, a wrong secret, an old timestamp and a malformed header', () => {
    const header = signatureHeader(['s'], body, now);
    expect(verifySignature(header, Buffer.from('{"id":"e2"}'), 's', { nowMs: now })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(header, body, 'other', { nowMs: now })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(header, body, 's', { nowMs: now + 301_000 })).toEqual({ ok: false, reason: 'too-old' });
    expect(verifySignature(header.replace(/t=\d+/, `t=${now / 1000 - 10}`), body, 's', { nowMs: now })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySignature(undefined, body, 's')).toEqual({ ok: false, reason: 'malformed' });
    expect(verifySignature('t=1,v1=zz', body, 's')).toEqual({ ok: false, reason: 'malformed' });
  });
});

describe('backoff', () => {
  const policy = { attempts: 5, baseMs: 100, maxMs: 1000 };
  it('is full jitter under an exponential cap', () => {
    expect(backoffMs(policy, 1, undefined, () => 0.999)).toBe(99);
    expect(backoffMs(policy, 3, undefined, () => 0.5)).toBe(200);
    expect(backoffMs(policy, 10, undefined, () => 0.999)).toBe(999);
    expect(backoffMs(policy, 2, undefined, () => 0)).toBe(0);
  });
  it('honours Retry-After, bounded', () => {
    expect(backoffMs(policy, 1, 7000)).toBe(7000);
    expect(backoffMs(policy, 1, 10 * MAX_RETRY_AFTER_MS)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter(new Date(2_000_000_000_000 + 5000).toUTCString(), 2_000_000_000_000)).toBe(5000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('addressing', () => {
  it('keeps every value inside its MQTT level', () => {
    expect(mqttLevel('a/b+c#d%e\u0000')).toBe('a%2Fb%2Bc%23d%25e%00');
    expect(mqttTopic('fedgate/pis', price('SKU-1', 'eu'))).toBe('fedgate/pis/price/eu/SKU-1');
    expect(mqttTopic('p', country('X.1', 'DE'))).toBe('p/country/DE/X.1');
    expect(mqttTopic('p', discount('X'))).toBe('p/discount/_all/X');
  });
  it('routes AMQP by kind and scope', () => {
    expect(amqpRoutingKey(price('P', 'eu'))).toBe('price.eu');
    expect(amqpRoutingKey(discount('P'))).toBe('discount._all');
    expect(amqpRoutingKey(country('P', 'DE'))).toBe('country.DE');
    expect(bindingKeys({ kinds: ['price', 'discount', 'country'], regions: ['eu'], countries: ['DE'] })).toEqual([
      'price.eu',
      'discount.eu',
      'discount._all',
      'country.DE',
    ]);
  });
  it('selects by kind and scope, and a discount for every region once', () => {
    const sel = { kinds: ['price' as const, 'discount' as const], regions: ['us', 'eu'], countries: [] };
    expect(selects(sel, price('P', 'eu'), 'eu')).toBe(true);
    expect(selects(sel, country('P', 'DE'), 'de')).toBe(false);
    expect(selects({ ...sel, regions: ['us'] }, price('P', 'eu'), 'eu')).toBe(false);
    // Written to fed.discount.eu and fed.discount.us: taken from the first region only.
    expect(selects(sel, discount('P'), 'eu')).toBe(true);
    expect(selects(sel, discount('P'), 'us')).toBe(false);
  });
});

describe('subscriptions in the topology', () => {
  it('fills the filter from the site, and plans a dead-letter topic and ACLs per subscription', () => {
    const t = parseTopology(
      withDelivery({
        amqp: { url: 'amqp://127.0.0.1:5672' },
        webhookOrigins: ['https://erp.example.com'],
        subscriptions: [
          { name: 'erp', protocol: 'webhook', url: 'https://erp.example.com/hooks/pis', kinds: ['price'] },
          { name: 'shop', protocol: 'amqp', countries: ['DE'] },
        ],
      }),
    );
    const site = t.sites[0]!;
    const [erp, shop] = site.delivery.subscriptions;
    expect(selectionOf(site, erp!)).toEqual({ kinds: ['price'], regions: ['eu', 'us'], countries: ['DE'] });
    expect(subscriptionTopics(selectionOf(site, erp!), ['b'])).toEqual(['fed.price.eu', 'fed.price.us', 'b.fed.price.eu', 'b.fed.price.us']);
    expect(subscriptionTopics(selectionOf(site, shop!), [])).toContain('fed.country.de');
    expect(siteTopicPlan(t, 'a').map((p) => p.topic)).toEqual(expect.arrayContaining(['site.delivery-dlq.erp', 'site.delivery-dlq.shop']));
    expect(renderAcls(t, 'a')).toContainEqual({
      principal: 'User:a.instance.fedgate',
      resource: 'topic',
      name: 'site.delivery-dlq.erp',
      pattern: 'literal',
      operation: 'write',
    });
  });
  it('refuses webhooks to origins nobody listed, plain http, unknown scopes and missing brokers', () => {
    expect(problems({ subscriptions: [{ name: 'x', protocol: 'webhook', url: 'https://169.254.169.254/latest' }] })).toEqual([
      "sites[0].delivery.subscriptions[0].url: origin https://169.254.169.254 is not in this site's delivery.webhookOrigins",
    ]);
    expect(problems({ webhookOrigins: ['http://h.example'], subscriptions: [{ name: 'x', protocol: 'webhook', url: 'http://h.example/x' }] })).toEqual([
      'sites[0].delivery.webhookOrigins[0]: "http://h.example" is not https',
      'sites[0].delivery.subscriptions[0].url: is not https',
    ]);
    expect(problems({ subscriptions: [{ name: 'm', protocol: 'mqtt', regions: ['asia'], countries: ['FR'] }] })).toEqual([
      'sites[0].delivery.subscriptions[0].regions: "a" does not serve region "asia"',
      'sites[0].delivery.subscriptions[0].countries: "a" does not serve country "FR"',
      "sites[0].delivery.subscriptions[0]: an MQTT subscription needs the site's MQTT broker",
    ]);
    expect(problems({ amqp: { url: 'amqp://guest:guest@127.0.0.1' } })).toEqual([
      'sites[0].delivery.amqp.url: put no credentials in the URL: give a credentialsFile',
    ]);
    expect(problems({ subscriptions: [{ name: 'x', protocol: 'smtp' }] })[0]).toMatch(/protocol/);
    expect(
      problems({
        mqtt: { url: 'mqtt://127.0.0.1' },
        subscriptions: [
          { name: 'd', protocol: 'mqtt' },
          { name: 'd', protocol: 'mqtt', topicPrefix: 'a/#' },
        ],
      }),
    ).toEqual(['sites[0].delivery.subscriptions[1].topicPrefix: use levels of letters, digits, "_" or "-" separated by "/" (no wildcards)']);
  });
});
