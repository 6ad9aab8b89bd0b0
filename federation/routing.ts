import { type EventKind, routedTopic, routedTopicsForSite } from './topics.ts';
import type { Topology } from './topology.ts';

/**
 * The routing table, derived from the topology: an event's kind and scope
 * (region for prices and discounts, country for availability) name one routed
 * topic; the sites that serve that scope are its targets. The gateway writes
 * the event once to each local topic, and MM2 flows carry each topic to
 * exactly the sites that serve it.
 */
export interface RoutableEvent {
  kind: EventKind;
  /** Region of a price or discount; undefined for a discount in every region. */
  region?: string;
  /** Country of an availability update. */
  country?: string;
}

export interface Route {
  /** Local topics to write: the routed ones (the site's event store reads them too; instances/event-store.ts). */
  readonly topics: readonly string[];
  /** Sites that receive the event (the origin included when it serves the scope). */
  readonly targets: readonly string[];
}

export class RoutingError extends Error {
  override name = 'RoutingError';
  constructor(
    message: string,
    readonly code: 'unknown-region' | 'unknown-country',
  ) {
    super(message);
  }
}

export function knownRegions(topology: Topology): string[] {
  return [...new Set(topology.sites.flatMap((s) => s.regions))].sort();
}

/**
 * Routes per topology, by (kind, region, country). Only successful routes are
 * kept, and those are bounded by the topology's regions and countries, so the
 * cache cannot grow with bad input. The publish path asks for every event's
 * route more than once; this makes the repeats a lookup.
 */
const routeCache = new WeakMap<Topology, Map<string, Route>>();

export function routeEvent(topology: Topology, event: RoutableEvent): Route {
  let routes = routeCache.get(topology);
  if (!routes) {
    routes = new Map();
    routeCache.set(topology, routes);
  }
  const key = `${event.kind}\u0000${event.region ?? '\u0001'}\u0000${event.country ?? '\u0001'}`;
  let route = routes.get(key);
  if (!route) {
    route = computeRoute(topology, event);
    Object.freeze(route.topics);
    Object.freeze(route.targets);
    routes.set(key, Object.freeze(route));
  }
  return route;
}

function computeRoute(topology: Topology, event: RoutableEvent): Route {
  const regions = knownRegions(topology);
  let routed: string[];
  if (event.kind === 'country') {
    const country = event.country ?? '';
    routed = [routedTopic('country', country)];
    if (!topology.sites.some((s) => s.countries.includes(country))) {
      throw new RoutingError(
        `no site serves country "${country}"; served: ${[...new Set(topology.sites.flatMap((s) => s.countries))].sort().join(', ')}`,
        'unknown-country',
      );
    }
  } else if (event.region === undefined) {
    routed = regions.map((r) => routedTopic(event.kind, r));
  } else {
    if (!regions.includes(event.region)) {
      throw new RoutingError(`unknown region "${event.region}"; the topology has: ${regions.join(', ')}`, 'unknown-region');
    }
    routed = [routedTopic(event.kind, event.region)];
  }
  const targets = topology.sites.filter((s) => routedTopicsForSite(s).some((t) => routed.includes(t))).map((s) => s.name);
  return { topics: routed, targets };
}
