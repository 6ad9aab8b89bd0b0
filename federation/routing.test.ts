import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { RoutingError, routeEvent } from './routing.ts';
import { parseTopology } from './topology.ts';

const topology = parseTopology(JSON.parse(readFileSync(new URL('../topology.json', import.meta.url), 'utf8')));

describe('routeEvent', () => {
  it('routes an APAC price only to onprem', () => {
    expect(routeEvent(topology, { kind: 'price', region: 'apac' })).toEqual({ topics: ['fed.price.apac'], targets: ['onprem'] });
  });
  it('routes an EU price to cloud-a and onprem', () => {
    expect(routeEvent(topology, { kind: 'price', region: 'eu' }).targets).toEqual(['cloud-a', 'onprem']);
  });
  it('routes a country update by country', () => {
    expect(routeEvent(topology, { kind: 'country', country: 'MX' })).toEqual({ topics: ['fed.country.mx'], targets: ['cloud-b'] });
  });
  it('routes a discount without region to every region topic and every site', () => {
    const r = routeEvent(topology, { kind: 'discount' });
    expect(r.topics).toEqual(['fed.discount.apac', 'fed.discount.eu', 'fed.discount.us']);
    expect(r.targets).toEqual(['cloud-a', 'cloud-b', 'onprem']);
  });
  it('refuses an unknown region or an unserved country with a code', () => {
    expect(() => routeEvent(topology, { kind: 'price', region: 'mars' })).toThrow(RoutingError);
    try {
      routeEvent(topology, { kind: 'country', country: 'BR' });
    } catch (err) {
      expect((err as RoutingError).code).toBe('unknown-country');
    }
    expect.assertions(2);
  });
});
