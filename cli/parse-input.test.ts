import { describe, expect, it } from 'vitest';
import { UsageError } from './context.ts';
import { parseDuration, parseEventsText } from './parse-input.ts';

describe('CLI input parsers', () => {
  it('reads durations in ms, s, m or bare seconds, from 1 s to 60 min', () => {
    expect([parseDuration('1500ms'), parseDuration('60s'), parseDuration('2m'), parseDuration('90'), parseDuration(' 1.5s ')]).toEqual([
      1500, 60_000, 120_000, 90_000, 1500,
    ]);
    for (const bad of ['', 'soon', '5h', '-3s', '999ms', '61m']) expect(() => parseDuration(bad), bad).toThrow(UsageError);
  });

  it('reads a JSON object, a JSON array or NDJSON, and names the line that is not JSON', () => {
    expect(parseEventsText('{"a":1}')).toEqual([{ a: 1 }]);
    expect(parseEventsText('[{"a":1},{"a":2}]')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(parseEventsText('{"a":1}\n\n{"a":2}\n')).toEqual([{ a: 1 }, { a: 2 }]);
    expect(() => parseEventsText('  ')).toThrow('the input is empty');
    expect(() => parseEventsText('{"a":1}\n{oops}')).toThrow(/line 2 is not JSON/);
  });
});
