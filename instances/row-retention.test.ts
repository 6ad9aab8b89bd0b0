import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STAGES } from '../contract/index.ts';
import { type Database, openDatabase } from './db/database.ts';
import { monitoringEvents, storedEvents } from './db/schema.ts';
import { createRowRetention } from './row-retention.ts';

/** Row retention over an in-memory PGlite with the site's real migrations. */
describe('row retention', () => {
  let database: Database;
  const NOW = Date.parse('2026-12-06T12:00:00Z');
  const DAY = 86_400_000;
  const silent = { info: () => {}, warn: () => {} };

  beforeAll(async () => {
    database = await openDatabase({ dataDir: 'memory://', schemaName: 'unused' });
  });
  afterAll(async () => {
    await database?.close();
  });

  it('deletes, in batches, exactly the stored events received and the monitoring rows staged before their cut-offs', async () => {
    // 23 stored events: 13 received more than 30 days ago, 10 within (one just inside the cut).
    const stored = Array.from({ length: 23 }, (_, i) => {
      const receivedDaysAgo = i < 13 ? 31 + i : i === 13 ? 29.99 : i - 13;
      return {
        eventId: `e-${i}`,
        productId: `sku-${i % 4}`,
        eventType: 'com.fedgate.pim.price.updated',
        // Event time says nothing about retention: an old event received yesterday stays.
        eventTime: new Date(NOW - (i % 2 === 0 ? 400 : 1) * DAY),
        sourceSite: 'a',
        topic: 'fed.price.eu',
        partition: 0,
        offset: i,
        publishedAt: new Date(NOW - receivedDaysAgo * DAY),
        storedAt: new Date(NOW - receivedDaysAgo * DAY),
        event: { id: `e-${i}` },
      };
    });
    await database.db.insert(storedEvents).values(stored);
    // Per stage: 4 rows older than 7 days and 2 within.
    const rows = STAGES.flatMap((stage) =>
      Array.from({ length: 6 }, (_, i) => ({
        eventId: `m-${stage}-${i}`,
        stage,
        site: 'a',
        consumer: '',
        at: new Date(NOW - (i < 4 ? 8 + i : i - 3.5) * DAY),
        latencyMs: 5,
      })),
    );
    await database.db.insert(monitoringEvents).values(rows);

    const retention = createRowRetention({ db: database.db, storedEventsDays: 30, monitoringDays: 7, log: silent, batch: 3, now: () => NOW });
    expect(await retention.sweep()).toEqual({ storedEvents: 13, monitoringRows: 4 * STAGES.length });
    const left = (await database.db.select({ id: storedEvents.eventId }).from(storedEvents)).map((r) => r.id).sort();
    expect(left).toEqual(
      stored
        .slice(13)
        .map((s) => s.eventId)
        .sort(),
    );
    const leftRows = (await database.db.select({ id: monitoringEvents.eventId }).from(monitoringEvents)).map((r) => r.id).sort();
    expect(leftRows).toEqual(
      rows
        .filter((r) => r.eventId.endsWith('-4') || r.eventId.endsWith('-5'))
        .map((r) => r.eventId)
        .sort(),
    );

    // Nothing more to do until time passes; then the next day's rows go.
    expect(await retention.sweep()).toEqual({ storedEvents: 0, monitoringRows: 0 });
    const later = createRowRetention({ db: database.db, storedEventsDays: 30, monitoringDays: 7, log: silent, now: () => NOW + 0.02 * DAY });
    expect(await later.sweep()).toEqual({ storedEvents: 1, monitoringRows: 0 });
  });
});
