import { kindOf, type ProductEvent, scopeOf } from '../../contract/index.ts';

export { ALL_REGIONS, kindOf, scopeOf, selects } from '../../contract/index.ts';

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
