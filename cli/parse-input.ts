import { UsageError } from './context.ts';

/** "60s", "2m", "1500ms" or a number of seconds; between 1 s and 60 min. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--duration takes a time such as 60s, 2m or 1500ms (got "${text}")`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms < 1000 || ms > 3_600_000) throw new UsageError('--duration must be between 1s and 60m');
  return ms;
}

/** A JSON object, a JSON array, or one JSON object per line (NDJSON). */
export function parseEventsText(text: string): unknown[] {
  const trimmed = text.trim();
  if (!trimmed) throw new UsageError('no events given: the input is empty');
  try {
    const parsed = JSON.parse(trimmed);
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return trimmed
      .split('\n')
      .filter((l) => l.trim())
      .map((line, i) => {
        try {
          return JSON.parse(line);
        } catch (err) {
          throw new UsageError(`line ${i + 1} is not JSON (${(err as Error).message}); give a JSON object, a JSON array, or one JSON object per line`);
        }
      });
  }
}
