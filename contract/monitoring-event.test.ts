import { describe, expect, it } from 'vitest';
import { type MonitoringEvent, MonitoringRecordSchema, monitoringRecord } from './monitoring-event.ts';

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
