import type { ProductEvent } from '../../contract/index.ts';

/** A failed attempt; `retryAfterMs` when the receiver said when to come back. */
export class DeliveryError extends Error {
  override name = 'DeliveryError';
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** One protocol's sender for one subscription. */
export interface Sink {
  /**
   * Sends one event (`body` is its structured CloudEvent JSON) and resolves
   * only once the receiver has acknowledged it: a 2xx answer, a publisher
   * confirm, a PUBACK. Throws a DeliveryError otherwise.
   */
  send(event: ProductEvent, body: Buffer): Promise<void>;
  /** Events sent at once, at most (distinct products; one product's events always go one at a time). */
  readonly concurrency: number;
  close(): Promise<void>;
}

/** The structured-mode CloudEvent (JSON) of an event: what every protocol carries. */
export function structuredCloudEvent(event: ProductEvent): Buffer {
  return Buffer.from(JSON.stringify(event));
}

export const CLOUDEVENTS_JSON = 'application/cloudevents+json; charset=utf-8';
