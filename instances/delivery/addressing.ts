import { KIND_OF_TYPE, type ProductEvent } from '../../contract/index.ts';
import type { EventKind, Selection } from '../../federation/index.ts';

/** The scope of an event: its region (a discount in every region: `_all`) or its country. */
export function scopeOf(event: ProductEvent): string {
  if (event.type === 'com.fedgate.pim.country.updated') return event.data.country;
  return event.data.region ?? ALL_REGIONS;
}
/** Region ids start with a letter, so this cannot name one. */
export const ALL_REGIONS = '_all';

export const kindOf = (event: ProductEvent): EventKind => KIND_OF_TYPE[event.type];

/**
 * Whether a subscription takes an event read from a topic of region or country `topicScope`.
 * A discount for every region is written to each region's topic; a subscription reading several
 * takes it from its first region only, so it is delivered once.
 */
export function selects(sel: Selection, event: ProductEvent, topicScope: string): boolean {
  const kind = kindOf(event);
  if (!sel.kinds.includes(kind)) return false;
  if (kind === 'country') return sel.countries.includes(scopeOf(event));
  const region = scopeOf(event);
  if (region === ALL_REGIONS) return topicScope === [...sel.regions].sort()[0];
  return sel.regions.includes(region);
}

/** The routing key of an event on a topic exchange: `<kind>.<scope>` (bind `price.*`, `*.eu`, `country.DE`). */
export function amqpRoutingKey(event: ProductEvent): string {
  return `${kindOf(event)}.${amqpWord(scopeOf(event))}`;
}

/** A value as one word of a routing key: the separator and the binding wildcards cannot appear. */
export function amqpWord(value: string): string {
  return value.replace(/[%.*#]/g, percent);
}

/** The MQTT topic of an event: `<prefix>/<kind>/<scope>/<productId>`. */
export function mqttTopic(prefix: string, event: ProductEvent): string {
  return [prefix, kindOf(event), mqttLevel(scopeOf(event)), mqttLevel(event.subject)].join('/');
}

/**
 * A value confined to one MQTT topic level: the level separator, the
 * wildcards and NUL (invalid in a topic) are percent-encoded, and `%` too, so
 * the encoding is reversible.
 */
export function mqttLevel(value: string): string {
  let out = '';
  for (const c of value) out += c === '%' || c === '/' || c === '+' || c === '#' || c === '\u0000' ? percent(c) : c;
  return out;
}

const percent = (c: string) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
