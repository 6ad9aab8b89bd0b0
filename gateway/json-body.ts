import { Problem } from '../contract/index.ts';

/** Deeper than any event (an event is 4 levels deep); a bound that keeps every later walk of the value cheap and shallow. */
export const MAX_JSON_DEPTH = 32;

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * A request body as JSON, refused with a 4xx problem (never a 500, never
 * silently altered) when it is not valid UTF-8, not JSON, nested deeper than
 * MAX_JSON_DEPTH, or holds a string or key with a lone surrogate (`"\ud800"`
 * is valid JSON but no Unicode text: stored, it became U+FFFD, so two
 * different ids collapsed into one).
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  let text: string;
  try {
    text = fatalUtf8.decode(bytes);
  } catch {
    throw new Problem('invalid-json', 'the body is not valid UTF-8');
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Problem('invalid-json', `the body is not valid JSON: ${(err as Error).message}`);
  }
  checkShape(value);
  return value;
}

/** Walks the value without recursion (a deep value must not overflow the stack here either). */
function checkShape(root: unknown): void {
  const stack: Array<{ value: unknown; depth: number; path: string }> = [{ value: root, depth: 0, path: '' }];
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!;
    if (typeof value === 'string') {
      if (LONE_SURROGATE.test(value))
        throw new Problem('invalid-json', `${path || '(body)'}: the text holds a lone surrogate (an unpaired \\ud800-\\udfff); send valid Unicode`);
      continue;
    }
    if (value === null || typeof value !== 'object') continue;
    if (depth >= MAX_JSON_DEPTH) throw new Problem('invalid-event', `${path || '(body)'}: nested deeper than ${MAX_JSON_DEPTH} levels`);
    for (const [key, child] of Object.entries(value)) {
      if (LONE_SURROGATE.test(key)) throw new Problem('invalid-json', `${path || '(body)'}: a key holds a lone surrogate; send valid Unicode`);
      stack.push({ value: child, depth: depth + 1, path: Array.isArray(value) ? `${path}[${key}]` : path ? `${path}.${key}` : key });
    }
  }
}
