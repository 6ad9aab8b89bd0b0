import type { Kafka, Producer } from 'kafkajs';
import type { Logger } from 'pino';
import { deliveryConsumerName, type Subscription, selectionOf, siteOf, type Topology } from '../../federation/index.ts';
import { createAmqpSink } from './amqp.ts';
import { createMqttSink } from './mqtt.ts';
import type { Sink } from './sink.ts';
import { createSubscriptionConsumer, type DeliveryMetrics, type SubscriptionConsumer } from './subscription-consumer.ts';
import { createWebhookSink } from './webhook.ts';

export type { DeliveryMetrics } from './subscription-consumer.ts';

export interface DeliveryOptions {
  kafka: Kafka;
  producer: Producer;
  topology: Topology;
  site: string;
  log: Logger;
  metrics?: DeliveryMetrics;
  /** A webhook subscription's live signing secrets, newest first. */
  webhookSecrets: (subscription: string) => string[];
}

/** The sender of one subscription. */
export function createSink(options: DeliveryOptions, subscription: Subscription): Sink {
  const site = siteOf(options.topology, options.site);
  const log = options.log.child({ subscription: deliveryConsumerName(subscription) });
  switch (subscription.protocol) {
    case 'webhook':
      return createWebhookSink({
        url: subscription.url,
        origins: site.delivery.webhookOrigins,
        caFile: subscription.caFile,
        timeoutMs: subscription.timeoutMs,
        secrets: () => options.webhookSecrets(subscription.name),
      });
    case 'amqp':
      return createAmqpSink({
        url: site.delivery.amqp!.url,
        credentialsFile: site.delivery.amqp!.credentialsFile,
        exchange: subscription.exchange,
        queue: subscription.queue,
        selection: selectionOf(site, subscription),
        connectionName: `fedgate ${options.topology.federation} ${site.name} ${subscription.name}`,
        log,
      });
    case 'mqtt':
      return createMqttSink({
        url: site.delivery.mqtt!.url,
        credentialsFile: site.delivery.mqtt!.credentialsFile,
        topicPrefix: subscription.topicPrefix,
        clientId: `fedgate-${options.topology.federation}-${site.name}-${subscription.name}`.slice(0, 64),
        log,
      });
  }
}

/** Every subscription of the site, each with its consumer group and sender. */
export function createDelivery(options: DeliveryOptions): SubscriptionConsumer[] {
  return siteOf(options.topology, options.site).delivery.subscriptions.map((subscription) =>
    createSubscriptionConsumer({ ...options, subscription, sink: createSink(options, subscription) }),
  );
}
