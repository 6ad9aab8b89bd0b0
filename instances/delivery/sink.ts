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

/**
 * The structured-mode CloudEvent (JSON) of an event: what every protocol
 * carries. A replayed event (gateway/replay.ts) keeps its id and gains the
 * extension attribute `fedgatereplay`, the job's id, so a receiver that
 * dedupes by id can tell a replay it asked for from a redelivery.
 */
export function structuredCloudEvent(event: ProductEvent, replayJob: string | null = null): Buffer {
  return Buffer.from(JSON.stringify(replayJob ? { ...event, fedgatereplay: replayJob } : event));
}

export const CLOUDEVENTS_JSON = 'application/cloudevents+json; charset=utf-8';
