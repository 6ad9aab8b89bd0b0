import mqtt from 'mqtt';
import type { Logger } from 'pino';
import type { ProductEvent } from '../../contract/index.ts';
import { mqttTopic } from './addressing.ts';
import { readCredentials, within } from './broker-credentials.ts';
import { DeliveryError, type Sink } from './sink.ts';

export interface MqttOptions {
  url: string;
  credentialsFile?: string;
  topicPrefix: string;
  clientId: string;
  timeoutMs?: number;
  log: Logger;
}

/**
 * Publishes each event at QoS 1 (MQTT 5): delivered once the broker's PUBACK
 * arrives. The CloudEvent id travels as a user property and in the payload:
 * QoS 1 is at least once, so receivers deduplicate on it.
 */
export function createMqttSink(options: MqttOptions): Sink {
  const timeoutMs = options.timeoutMs ?? 10_000;
  let client: Promise<mqtt.MqttClient> | null = null;

  function connected(): Promise<mqtt.MqttClient> {
    if (!client) {
      const creds = readCredentials(options.credentialsFile);
      client = within(
        mqtt.connectAsync(options.url, {
          clientId: options.clientId,
          protocolVersion: 5,
          clean: true,
          reconnectPeriod: 1000,
          connectTimeout: timeoutMs,
          ...(creds ?? {}),
        }),
        timeoutMs,
        'connecting to the MQTT broker',
      );
      client.then(
        (c) => c.on('error', (err) => options.log.warn({ err: err.message }, 'MQTT error')),
        () => {
          client = null;
        },
      );
    }
    return client;
  }

  async function send(event: ProductEvent, body: Buffer): Promise<void> {
    try {
      const c = await connected();
      await within(
        c.publishAsync(mqttTopic(options.topicPrefix, event), body, {
          qos: 1,
          properties: { contentType: 'application/cloudevents+json', userProperties: { 'ce-id': event.id, 'ce-type': event.type } },
        }),
        timeoutMs,
        'MQTT PUBACK',
      );
    } catch (err) {
      throw err instanceof DeliveryError ? err : new DeliveryError(`MQTT: ${(err as Error).message}`);
    }
  }

  return {
    send,
    concurrency: 64,
    async close() {
      const c = await client?.catch(() => null);
      client = null;
      await c?.endAsync(true).catch(() => {});
    },
  };
}
