/**
 * Gathers concurrent publish requests into shared Kafka requests (kafkajs
 * sends one Produce request per send()). While a send is in flight, new
 * requests queue; when it returns, everything queued goes out together:
 * group commit, so batches grow with load and latency stays one round trip
 * when idle.
 *
 * The queue is bounded: a request that would take it past `maxQueued`
 * events is refused at once (the caller answers 429), so memory never grows
 * without bound.
 */
export class OverloadedError extends Error {
  override name = 'OverloadedError';
}

interface Pending<T> {
  items: T[];
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface BatcherOptions<T> {
  send(items: T[]): Promise<void>;
  /** Items per send (the last request may push past it; requests are never split). */
  maxBatch: number;
  /** Items queued or in flight, at most. */
  maxQueued: number;
  /** Sends in flight at once. */
  concurrency?: number;
  onBatch?: (size: number) => void;
}

export function createBatcher<T>(options: BatcherOptions<T>) {
  const concurrency = options.concurrency ?? 2;
  const queue: Pending<T>[] = [];
  let queued = 0;
  let inFlight = 0;
  let inFlightItems = 0;

  function pump(): void {
    while (inFlight < concurrency && queue.length > 0) {
      const batch: Pending<T>[] = [];
      let size = 0;
      while (queue.length > 0 && (size === 0 || size + queue[0]!.items.length <= options.maxBatch)) {
        const next = queue.shift()!;
        batch.push(next);
        size += next.items.length;
      }
      queued -= size;
      inFlight++;
      inFlightItems += size;
      options.onBatch?.(size);
      // The slots are freed before the callers hear back, so a caller that
      // resubmits on acknowledgement finds room.
      const settle = (each: (p: Pending<T>) => void) => {
        inFlight--;
        inFlightItems -= size;
        for (const p of batch) each(p);
        pump();
      };
      options.send(batch.flatMap((p) => p.items)).then(
        () => settle((p) => p.resolve()),
        (err) => settle((p) => p.reject(err)),
      );
    }
  }

  return {
    /** Resolves when the items are acknowledged by Kafka; rejects with the send error or OverloadedError. */
    submit(items: T[]): Promise<void> {
      if (queued + inFlightItems + items.length > options.maxQueued) {
        return Promise.reject(new OverloadedError(`${queued + inFlightItems} events in flight; the limit is ${options.maxQueued}`));
      }
      return new Promise<void>((resolve, reject) => {
        queue.push({ items, resolve, reject });
        queued += items.length;
        // Let the requests of this tick join the batch.
        setImmediate(pump);
      });
    },
    load: () => ({ queued, inFlight: inFlightItems }),
  };
}
