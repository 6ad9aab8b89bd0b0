import type { EventKind, Selection } from '../federation/index.ts';
import { KIND_OF_TYPE, type ProductEvent } from './event-model.ts';

/*
 * Whether an event read from a topic belongs to what a downstream reader
 * selects (a delivery subscription, a subscribe stream): shared by the
 * instance's senders and the gateway's stream.
 */

/** Region ids start with a letter, so this cannot name one: the scope of a discount in every region. */
export const ALL_REGIONS = '_all';

/** The scope of an event: its region (a discount in every region: `_all`) or its country. */
export function scopeOf(event: ProductEvent): string {
  if (event.type === 'com.fedgate.pim.country.updated') return event.data.country;
  return event.data.region ?? ALL_REGIONS;
}

export const kindOf = (event: ProductEvent): EventKind => KIND_OF_TYPE[event.type];

/** Pure: whether a selection takes an event that comes from no routed topic (a replay): a discount for every region once. */
export function selectsEvent(sel: Selection, event: ProductEvent): boolean {
  const kind = kindOf(event);
  if (!sel.kinds.includes(kind)) return false;
  if (kind === 'country') return sel.countries.includes(scopeOf(event));
  const region = scopeOf(event);
  return region === ALL_REGIONS || sel.regions.includes(region);
}

/**
 * Whether a selection takes an event read from a topic of region or country `topicScope`.
 * A discount for every region is written to each region's topic; a reader of several
 * takes it from its first region only, so it gets it once.
 */
export function selects(sel: Selection, event: ProductEvent, topicScope: string): boolean {
  if (!selectsEvent(sel, event)) return false;
  // Selected already: a country, or a region of the selection; a discount for every region only from the first one's topic.
  return scopeOf(event) !== ALL_REGIONS || topicScope === [...sel.regions].sort()[0];
}
