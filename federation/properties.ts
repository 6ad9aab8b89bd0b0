/**
 * Writes java.util.Properties text. Backslashes in values must be doubled:
 * a flow regex `fed\.price` written raw would reach Kafka as `fed.price`,
 * which also matches `fedXprice`.
 */
export type Properties = ReadonlyArray<readonly [key: string, value: string | number | boolean]>;

export function escapePropertyKey(key: string): string {
  return key.replace(/\\/g, '\\\\').replace(/([=: #!])/g, '\\$1');
}

export function escapePropertyValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/^ /, '\\ ');
}

export function renderProperties(header: string, props: Properties): string {
  const lines = header.split('\n').map((l) => `# ${l}`.trimEnd());
  for (const [key, value] of props) lines.push(`${escapePropertyKey(key)}=${escapePropertyValue(String(value))}`);
  return `${lines.join('\n')}\n`;
}

/** Parses the subset renderProperties writes; used by tests and `fedgate status`. */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith('!')) continue;
    let i = 0;
    let key = '';
    for (; i < line.length; i++) {
      const c = line[i]!;
      if (c === '\\') {
        key += line[++i] ?? '';
        continue;
      }
      if (c === '=' || c === ':') break;
      key += c;
    }
    const value = line.slice(i + 1).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    out.set(key, value);
  }
  return out;
}
