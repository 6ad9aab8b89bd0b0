import { Problem } from '../contract/index.ts';

/**
 * At most `limit` open streams per client address, per route. `take` throws
 * 429 rate-limited when the client holds them all; otherwise it returns a
 * release that may be called any number of times (on abort, at the end).
 */
export function createStreamSlots(limit: number, what: string) {
  const open = new Map<string, number>();
  return {
    take(client: string): () => void {
      const held = open.get(client) ?? 0;
      if (held >= limit) throw new Problem('rate-limited', `at most ${limit} ${what} per client are open at once; close one first`, {}, { 'retry-after': '5' });
      open.set(client, held + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const n = (open.get(client) ?? 1) - 1;
        if (n > 0) open.set(client, n);
        else open.delete(client);
      };
    },
  };
}
