import { asc } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Database, openDatabase } from './db/database.ts';
import { monitoringEvents } from './db/schema.ts';
import { insertMonitoringRows } from './monitoring-consumer.ts';

/** The monitoring rows' one-statement insert, on a real (embedded) PostgreSQL: PGlite in memory. */
describe('monitoring rows, inserted with one unnest statement per chunk', () => {
  let database: Database;
  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://', schemaName: 'unused' });
  });
  afterAll(async () => {
    await database?.close();
  });

  const row = (eventId: string, extra: Partial<Parameters<typeof insertMonitoringRows>[1][number]> = {}) => ({
    eventId,
    stage: 'consumed',
    site: 'b',
    consumer: 'price-book',
    at: new Date('2026-11-26T10:00:00.123Z'),
    ...extra,
  });

  it('writes every column, nulls and JSON included, and adds nothing when the same rows come again', async () => {
    const rows = [
      row('e1', {
        productId: 'sku-1',
        eventType: 'com.fedgate.pim.price.updated',
        sourceSite: 'a',
        topic: 'a.fed.price.eu',
        partition: 2,
        offset: 9_007_199_254,
        latencyMs: 41,
      }),
      row('e2', { stage: 'dead-lettered', detail: { reason: 'bad "json"', headers: { n: 1 } } }),
    ];
    await insertMonitoringRows(database.db, rows);
    await insertMonitoringRows(database.db, rows);
    await insertMonitoringRows(database.db, []);
    const stored = await database.db.select().from(monitoringEvents).orderBy(asc(monitoringEvents.eventId));
    expect(stored.map(({ id: _id, ...r }) => r)).toEqual([
      {
        eventId: 'e1',
        stage: 'consumed',
        site: 'b',
        consumer: 'price-book',
        productId: 'sku-1',
        eventType: 'com.fedgate.pim.price.updated',
        sourceSite: 'a',
        topic: 'a.fed.price.eu',
        partition: 2,
        offset: 9_007_199_254,
        at: new Date('2026-11-26T10:00:00.123Z'),
        latencyMs: 41,
        detail: null,
      },
      {
        eventId: 'e2',
        stage: 'dead-lettered',
        site: 'b',
        consumer: 'price-book',
        productId: null,
        eventType: null,
        sourceSite: null,
        topic: null,
        partition: null,
        offset: null,
        at: new Date('2026-11-26T10:00:00.123Z'),
        latencyMs: null,
        detail: { reason: 'bad "json"', headers: { n: 1 } },
      },
    ]);
  });

  it('takes a chunk of 2,000 rows in one statement', async () => {
    const rows = Array.from({ length: 2000 }, (_, i) => row(`bulk-${i}`, { latencyMs: i }));
    await insertMonitoringRows(database.db, rows);
    const stored = await database.db.select().from(monitoringEvents);
    expect(stored.filter((r) => r.eventId.startsWith('bulk-')).length).toBe(2000);
  });
});
