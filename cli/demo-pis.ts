import { createEventGenerator } from '../drills/event-generator.ts';
import type { Topology } from '../federation/index.ts';

/**
 * A demo Product Information System: publishes a steady stream of price,
 * discount and country events through every site's gateway, each with a
 * token of that site, in small batches. Bounded: a fixed rate, and it stops
 * with the federation.
 */
export function createDemoPis(options: { topology: Topology; tokens: Record<string, string>; ratePerSecond: number; log: (line: string) => void }) {
  const gen = createEventGenerator({ topology: options.topology, products: 2000, seed: Date.now() % 100_000 });
  const sites = options.topology.sites;
  let timer: NodeJS.Timeout | null = null;
  let tick = 0;
  const counts = { accepted: 0, failed: 0, failover: 0 };
  let lastReport = Date.now();

  async function sendOnce(): Promise<void> {
    const site = sites[tick++ % sites.length]!;
    const batchSize = Math.max(1, Math.round(options.ratePerSecond / 5));
    const events = Array.from({ length: batchSize }, () => gen.next());
    try {
      const res = await fetch(`http://${site.address}:${site.ports.gateway}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${options.tokens[site.name]}` },
        body: JSON.stringify(events),
        signal: AbortSignal.timeout(10_000),
      });
      if (res.status === 202) {
        const body = (await res.json()) as { events: { writtenAt: string }[] };
        counts.accepted += body.events.length;
        counts.failover += body.events.filter((e) => e.writtenAt !== site.name).length;
      } else {
        counts.failed += events.length;
        await res.body?.cancel();
      }
    } catch {
      counts.failed += events.length;
    }
    if (Date.now() - lastReport > 15_000) {
      options.log(`demo PIS: ${counts.accepted} events accepted (${counts.failover} via failover), ${counts.failed} refused`);
      lastReport = Date.now();
    }
  }

  return {
    counts,
    start(): void {
      // Five batches a second, spread across the sites.
      timer = setInterval(() => void sendOnce(), 200);
    },
    stop(): void {
      if (timer) clearInterval(timer);
    },
  };
}
