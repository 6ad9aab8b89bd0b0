import amqp from 'amqplib';
import type { Logger } from 'pino';
import type { ProductEvent } from '../../contract/index.ts';
import type { Selection } from '../../federation/index.ts';
import { ALL_REGIONS, amqpRoutingKey, amqpWord } from './addressing.ts';
import { readCredentials, within } from './broker-credentials.ts';
import { CLOUDEVENTS_JSON, DeliveryError, type Sink } from './sink.ts';

export interface AmqpOptions {
  url: string;
  credentialsFile?: string;
  exchange: string;
  /** Declared durable and bound to the subscription's routing keys, when given. */
  queue?: string;
  selection: Selection;
  /** Names the connection in RabbitMQ's management view. */
  connectionName: string;
  timeoutMs?: number;
  log: Logger;
}

/** The binding keys of a subscription: one per kind and scope it selects. */
export function bindingKeys(sel: Selection): string[] {
  return sel.kinds.flatMap((k) =>
    k === 'country'
      ? sel.countries.map((c) => `${k}.${amqpWord(c)}`)
      : [...sel.regions.map((r) => `${k}.${amqpWord(r)}`), ...(k === 'discount' ? [`${k}.${amqpWord(ALL_REGIONS)}`] : [])],
  );
}

type Open = { connection: amqp.ChannelModel; channel: amqp.ConfirmChannel; returned: Set<string> };

/**
 * Publishes to a durable topic exchange on a confirm channel: an event counts
 * as delivered only after the broker's confirm, and only if a queue took it
 * (mandatory: an unroutable event comes back before its confirm and is a
 * failed attempt). Messages are persistent, with the event id as message id
 * (the receiver's dedupe key). A closed connection fails what is in flight;
 * the next attempt connects again.
 */
export function createAmqpSink(options: AmqpOptions): Sink {
  const timeoutMs = options.timeoutMs ?? 10_000;
  let open: Promise<Open> | null = null;
  let sequence = 0;

  async function connect(): Promise<Open> {
    const url = new URL(options.url);
    const creds = readCredentials(options.credentialsFile);
    if (creds) {
      url.username = encodeURIComponent(creds.username);
      url.password = encodeURIComponent(creds.password);
    }
    const connection = await amqp.connect(url.toString(), { clientProperties: { connection_name: options.connectionName } });
    const forget = () => {
      open = null;
    };
    connection.on('error', (err: Error) => options.log.warn({ err: err.message, exchange: options.exchange }, 'AMQP connection error'));
    connection.on('close', forget);
    try {
      const channel = await connection.createConfirmChannel();
      channel.on('error', (err: Error) => options.log.warn({ err: err.message, exchange: options.exchange }, 'AMQP channel error'));
      channel.on('close', forget);
      const returned = new Set<string>();
      channel.on('return', (msg: amqp.ConsumeMessage) => {
        const tag = msg.properties.headers?.['fedgate-send'];
        if (typeof tag === 'string') returned.add(tag);
      });
      await channel.assertExchange(options.exchange, 'topic', { durable: true });
      if (options.queue) {
        await channel.assertQueue(options.queue, { durable: true });
        for (const key of bindingKeys(options.selection)) await channel.bindQueue(options.queue, options.exchange, key);
      }
      return { connection, channel, returned };
    } catch (err) {
      await connection.close().catch(() => {});
      throw err;
    }
  }

  async function channel(): Promise<Open> {
    if (!open) {
      open = within(connect(), timeoutMs, 'connecting to RabbitMQ');
      open.catch(() => {
        open = null;
      });
    }
    return open;
  }

  async function send(event: ProductEvent, body: Buffer): Promise<void> {
    let o: Open;
    try {
      o = await channel();
    } catch (err) {
      throw new DeliveryError(`RabbitMQ: ${(err as Error).message}`);
    }
    const tag = `${process.pid}-${++sequence}`;
    const confirmed = new Promise<void>((resolve, reject) => {
      o.channel.publish(
        options.exchange,
        amqpRoutingKey(event),
        body,
        {
          persistent: true,
          mandatory: true,
          messageId: event.id,
          type: event.type,
          contentType: CLOUDEVENTS_JSON,
          timestamp: Math.floor(event.publishedat / 1000),
          headers: { 'fedgate-send': tag, 'ce-subject': event.subject },
        },
        (err: unknown) => (err ? reject(new DeliveryError(`RabbitMQ did not confirm: ${(err as Error).message ?? String(err)}`)) : resolve()),
      );
    });
    try {
      await within(confirmed, timeoutMs, 'RabbitMQ confirm');
    } catch (err) {
      throw err instanceof DeliveryError ? err : new DeliveryError((err as Error).message);
    }
    if (o.returned.delete(tag)) throw new DeliveryError(`unroutable: no queue is bound to ${options.exchange} for ${amqpRoutingKey(event)}`);
  }

  return {
    send,
    concurrency: 64,
    async close() {
      const o = await open?.catch(() => null);
      open = null;
      await o?.connection.close().catch(() => {});
    },
  };
}
