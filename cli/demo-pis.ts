import pg from 'pg';
import { EVENT_TYPES } from '../contract/index.ts';
import { createEventGenerator } from '../drills/event-generator.ts';
import type { Topology } from '../federation/index.ts';

/**
 * A demo Product Information System: publishes a steady stream of price,
 * discount and country events through every site's gateway, each with a
 * token of that site, in small batches. Bounded: a fixed rate, and it stops
 * with the federation.
 */
export function createDemoPis(options: {
  topology: Topology;
  tokens: Record<string, string>;
  ratePerSecond: number;
  log: (line: string) => void;
  /** The PIS database (the topology's `pis`): a fifth of the rate is written there as row changes, which Debezium captures. */
  pisDatabaseUrl?: string;
}) {
  const PRODUCTS = 2000;
  const gen = createEventGenerator({ topology: options.topology, products: PRODUCTS, seed: Date.now() % 100_000 });
  const sites = options.topology.sites;
  let timer: NodeJS.Timeout | null = null;
  let tick = 0;
  const counts = { accepted: 0, failed: 0, failover: 0, rowChanges: 0, rowErrors: 0 };
  const db = options.pisDatabaseUrl ? new pg.Pool({ connectionString: options.pisDatabaseUrl, max: 1 }) : null;
  db?.on('error', () => {});
  let dbTimer: NodeJS.Timeout | null = null;

  /** The demo catalog: nine in ten of the demo's products (the rest show up as unenriched), for enrichment. */
  async function seedCatalog(): Promise<void> {
    const brands = ['Acme', 'Globex', 'Initech', 'Umbrella'];
    const categories = ['kitchen', 'garden', 'office', 'toys', 'audio'];
    await db!.query(
      `INSERT INTO products (product_id, name, brand, category)
       SELECT 'sku-' || lpad(g::text, 5, '0'), 'Demo product ' || g, ($1::text[])[1 + g % 4], ($2::text[])[1 + g % 5]
       FROM generate_series(1, $3::int) g WHERE g % 10 <> 0
       ON CONFLICT (product_id) DO NOTHING`,
      [brands, categories, PRODUCTS],
    );
  }

  /** One PIS transaction: the same kind of business change as the HTTP events, as rows of the PIS tables. */
  async function writeRows(): Promise<void> {
    const rows = Math.max(1, Math.round(options.ratePerSecond / 5));
    const client = await db!.connect().catch(() => null);
    if (!client) {
      counts.rowErrors += rows;
      return;
    }
    try {
      await client.query('BEGIN');
      for (let i = 0; i < rows; i++) {
        const e = gen.next();
        if (e.type === EVENT_TYPES.price) {
          const p = e.data.price as { currency: string; amount?: string; minor?: number };
          await client.query(
            `INSERT INTO prices (product_id, region, currency, amount) VALUES ($1, $2, $3, $4)
             ON CONFLICT (product_id, region) DO UPDATE SET currency = EXCLUDED.currency, amount = EXCLUDED.amount`,
            [e.data.productId, e.data.region, p.currency, p.amount ?? String((p.minor ?? 0) / 100)],
          );
        } else if (e.type === EVENT_TYPES.country) {
          await client.query(
            `INSERT INTO availability (product_id, country, available, reason) VALUES ($1, $2, $3, $4)
             ON CONFLICT (product_id, country) DO UPDATE SET available = EXCLUDED.available, reason = EXCLUDED.reason`,
            [e.data.productId, e.data.country, e.data.available, e.data.reason ?? null],
          );
        } else {
          const d = e.data as { productId: string; discountId: string; region?: string; percent?: string; active?: boolean };
          await client.query(
            `INSERT INTO discounts (product_id, discount_id, region, percent, active) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (product_id, discount_id) DO UPDATE SET region = EXCLUDED.region, percent = EXCLUDED.percent, active = EXCLUDED.active`,
            [d.productId, d.discountId, d.region ?? null, d.percent ?? '10', d.active ?? true],
          );
        }
      }
      await client.query('COMMIT');
      counts.rowChanges += rows;
    } catch {
      await client.query('ROLLBACK').catch(() => {});
      counts.rowErrors += rows;
    } finally {
      client.release();
    }
  }
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
      options.log(
        `demo PIS: ${counts.accepted} events accepted (${counts.failover} via failover), ${counts.failed} refused${db ? `; ${counts.rowChanges} row changes committed in the PIS database (${counts.rowErrors} failed)` : ''}`,
      );
      lastReport = Date.now();
    }
  }

  return {
    counts,
    start(): void {
      // Five batches a second, spread across the sites.
      timer = setInterval(() => void sendOnce(), 200);
      // And one PIS transaction a second, captured by Debezium.
      if (db) {
        seedCatalog().catch((err) => options.log(`demo PIS: could not fill the catalog (${(err as Error).message})`));
        dbTimer = setInterval(() => void writeRows(), 1000);
      }
    },
    stop(): void {
      if (timer) clearInterval(timer);
      if (dbTimer) clearInterval(dbTimer);
      void db?.end().catch(() => {});
    },
  };
}
