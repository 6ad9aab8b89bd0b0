import { describe, expect, it } from 'vitest';
import { type MonitoringEvent, MonitoringRecordSchema, monitoringRecord, parseMonitoringRecord } from './monitoring-event.ts';

const published: MonitoringEvent = { eventId: 'e1', stage: 'published', site: 'a', at: 1000, latencyMs: 0 };
const routed: MonitoringEvent = { eventId: 'e1', stage: 'routed', site: 'a', at: 1002, latencyMs: 2, detail: { targets: ['b'] } };

describe('monitoring records', () => {
  it('carry one event or the stages of one event, and read back as rows', () => {
    const one = monitoringRecord([published]);
    expect(one.key).toBe('e1');
    expect(MonitoringRecordSchema.parse(JSON.parse(one.value))).toEqual([{ ...published, consumer: '' }]);
    const two = monitoringRecord([published, routed]);
    expect(MonitoringRecordSchema.parse(JSON.parse(two.value)).map((m) => m.stage)).toEqual(['published', 'routed']);
  });

  it('reject an empty group, a malformed member and a non-record', () => {
    expect(MonitoringRecordSchema.safeParse([]).success).toBe(false);
    expect(MonitoringRecordSchema.safeParse([published, { ...routed, stage: 'teleported' }]).success).toBe(false);
    expect(MonitoringRecordSchema.safeParse('published').success).toBe(false);
  });
});

describe('the monitoring record fast path (parseMonitoringRecord)', () => {
  const consumed: MonitoringEvent = {
    eventId: 'e1',
    site: 'b',
    productId: 'sku-1',
    eventType: 'com.fedgate.pim.price.updated',
    sourceSite: 'a',
    topic: 'a.fed.price.eu',
    partition: 2,
    offset: 12_345,
    stage: 'consumed',
    consumer: 'price-book',
    at: 1005,
    latencyMs: 5,
    detail: { processingMs: 3, batchSize: 100 },
  };
  const odd: unknown[] = [
    undefined,
    null,
    '',
    'x'.repeat(201),
    'b',
    'consumed',
    'teleported',
    0,
    -3,
    1.5,
    true,
    {},
    [],
    { n: 1 },
    JSON.parse('{"__proto__":{"x":1}}'),
  ];
  const keys = [
    'eventId',
    'stage',
    'site',
    'consumer',
    'productId',
    'eventType',
    'sourceSite',
    'topic',
    'partition',
    'offset',
    'at',
    'latencyMs',
    'detail',
    'extra',
  ];
  const put = (e: MonitoringEvent, k: string, v: unknown) => {
    const copy: Record<string, unknown> = structuredClone(e);
    if (v === undefined) delete copy[k];
    else copy[k] = v;
    return copy;
  };
  function compare(value: unknown) {
    const fast = parseMonitoringRecord(value);
    const schema = MonitoringRecordSchema.safeParse(value);
    expect(fast.success, JSON.stringify(value)).toBe(schema.success);
    if (fast.success && schema.success) {
      expect(fast.data).toStrictEqual(schema.data);
      expect(JSON.stringify(fast.data)).toBe(JSON.stringify(schema.data));
    }
    return fast.success;
  }

  it('reads what the schema reads, the same way, for every member shape and group size', () => {
    let accepted = 0;
    let refused = 0;
    const members = [published, routed, consumed];
    for (const e of members)
      for (const k of keys)
        for (const v of odd) {
          const m = put(e, k, v);
          for (const value of [m, [m], [published, m], [m, routed, consumed]]) compare(value) ? accepted++ : refused++;
        }
    for (const n of [0, 1, 8, 9]) compare(Array.from({ length: n }, () => consumed)) ? accepted++ : refused++;
    for (const value of ['published', 42, null, [[published]]]) compare(value) ? accepted++ : refused++;
    expect(accepted).toBeGreaterThan(500);
    expect(refused).toBeGreaterThan(500);
    expect(parseMonitoringRecord(JSON.parse(monitoringRecord([routed, consumed]).value))).toEqual({
      success: true,
      data: [{ ...routed, consumer: '' }, consumed],
    });
  });
});
