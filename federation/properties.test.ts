import { describe, expect, it } from 'vitest';
import { parseProperties, renderProperties } from './properties.ts';

describe('java properties', () => {
  it('doubles backslashes so a regex reaches Java unchanged', () => {
    const text = renderProperties('h', [['a->b.topics', 'fed\\.price\\.(eu|us)']]);
    expect(text).toContain('a->b.topics=fed\\\\.price\\\\.(eu|us)');
    expect(parseProperties(text).get('a->b.topics')).toBe('fed\\.price\\.(eu|us)');
  });

  it('escapes separators in keys', () => {
    const text = renderProperties('h', [['a=b:c', 'v']]);
    expect(parseProperties(text).get('a=b:c')).toBe('v');
  });
});
