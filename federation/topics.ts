/**
 * Every Kafka topic and consumer-group name in fedgate is built here and
 * nowhere else.
 *
 * Routed topics start with `fed.`; they are the only topics MirrorMaker 2
 * flows may carry. Under DefaultReplicationPolicy a copy at another site is
 * named `<source-site>.<topic>`, so a flow regex anchored on `fed\.` can never
 * match a copy, and copies never chain from site to site.
 *
 * Site-local topics start with `site.` and never leave their site.
 */

export const ROUTED_PREFIX = 'fed.';
export const EVENT_KINDS = ['price', 'discount', 'country'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** Price and discount updates flow per region; availability per country. */
export function routedTopic(kind: EventKind, scope: string): string {
  return kind === 'country' ? `fed.country.${scope.toLowerCase()}` : `fed.${kind}.${scope}`;
}

/**
 * Replays at this site (gateway/replay.ts): stored events re-sent to the
 * site's own consumers, each record naming the consumer it is for. Never replicated.
 */
export const REPLAY_TOPIC = 'site.replay';
/** A replayed record's headers next to the CloudEvent's: its replay job, and the consumer it is for (a name, or `all`). */
export const REPLAY_JOB_HEADER = 'fedgate_replay_job';
export const REPLAY_TO_HEADER = 'fedgate_replay_to';
/** Monitoring events of this site's stages, read by the monitoring consumer. */
export const MONITORING_TOPIC = 'site.monitoring';
/** Messages a consumer could not process, with the reason in headers. */
export const DEAD_LETTER_TOPIC = 'site.dead-letter';
/**
 * The gateways' idempotency window: accepted event ids and Idempotency-Key
 * answers, compacted by key and deleted after the window. Never replicated.
 */
export const IDEMPOTENCY_TOPIC = 'site.idempotency';
/** The consumer groups of the gateways reading the window (one per process; not `fedgate.<site>.`, which MM2 translates). */
export const windowGroupPrefix = (site: string) => `fedgate-window.${site}.`;

/** The throwaway consumer groups of the gateways' subscribe streams (never committed; not `fedgate.<site>.`, which MM2 translates). */
export const streamGroupPrefix = (site: string) => `fedgate-stream.${site}.`;

/** The name MM2's DefaultReplicationPolicy gives a copy of `topic` from `source`. */
export function remoteTopic(source: string, topic: string): string {
  return `${source}.${topic}`;
}

/** Splits a replicated topic name; null for a local topic. */
export function parseRemoteTopic(name: string, sites: readonly string[]): { source: string; topic: string } | null {
  for (const source of sites) {
    if (name.startsWith(`${source}.`)) return { source, topic: name.slice(source.length + 1) };
  }
  return null;
}

export function isRoutedTopic(name: string): boolean {
  return name.startsWith(ROUTED_PREFIX);
}

export function consumerGroup(site: string, consumer: string): string {
  return `${groupPrefix(site)}${consumer}`;
}

/** What every consumer group of a site's instance starts with (its ACLs grant the prefix). */
export const groupPrefix = (site: string) => `fedgate.${site}.`;

interface ServingSite {
  regions: readonly string[];
  countries: readonly string[];
}

/** The routed topics a site needs: prices and discounts of its regions, availability of its countries. */
export function routedTopicsForSite(site: ServingSite): string[] {
  return [...site.regions.flatMap((r) => [routedTopic('price', r), routedTopic('discount', r)]), ...site.countries.map((c) => routedTopic('country', c))];
}

/** Every routed topic any site of the federation may publish to. */
export function allRoutedTopics(topology: { sites: readonly ServingSite[] }): string[] {
  return [...new Set(topology.sites.flatMap(routedTopicsForSite))].sort();
}
