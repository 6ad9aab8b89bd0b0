export interface Reading<T> {
  value: T;
  /** When the reading was taken (ms since the epoch). */
  at: number;
}

export interface SharedReadingOptions {
  /** A reading younger than this is handed out as it is. */
  freshMs: number;
  /**
   * A reading up to this old is handed out at once while a new one is taken
   * in the background; an older one makes the caller wait for the new one.
   */
  staleMs: number;
  now?: () => number;
}

/**
 * Shares one expensive reading (many Kafka round trips) among every caller
 * close in time: concurrent callers wait for the same reading, and a recent
 * one is reused, so a dashboard's polls and several gateways' federated views
 * cost the site one reading per `freshMs`, not one each.
 *
 * Guarantees: at most one reading is in flight; a caller never gets a reading
 * older than `staleMs`; a failed reading is not cached (the next caller tries
 * again), and a background refresh that fails leaves the last good reading in
 * place until it ages past `staleMs`.
 */
export function createSharedReading<T>(read: () => Promise<T>, options: SharedReadingOptions) {
  const now = options.now ?? Date.now;
  let last: Reading<T> | null = null;
  let inFlight: Promise<Reading<T>> | null = null;

  function refresh(): Promise<Reading<T>> {
    if (!inFlight) {
      const at = now();
      inFlight = read()
        .then((value) => (last = { value, at }))
        .finally(() => (inFlight = null));
    }
    return inFlight;
  }

  return function get(): Promise<Reading<T>> {
    const age = last ? now() - last.at : Infinity;
    if (last && age < options.freshMs) return Promise.resolve(last);
    if (last && age < options.staleMs) {
      refresh().catch(() => {});
      return Promise.resolve(last);
    }
    return refresh();
  };
}
