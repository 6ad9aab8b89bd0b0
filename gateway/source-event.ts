import { fromSeedShape, Problem } from '../contract/index.ts';
import { SOURCE_TOPIC } from '../federation/index.ts';
import type { CdcChange } from './cdc-mapping.ts';

/**
 * Pure: one record of the PIS's source topic (PEMX `product-event`) into a
 * publish input. The value is a JSON event in the native shape
 * (`{"type": "com.fedgate.pim.price.updated", "data": …}`) or the seed
 * design's (`{"event_type": "product-price-update", "data": …}`). Without an
 * id, the event's id is the record's position, so a record read again is the
 * same event.
 */
export function mapSourceRecord(partition: number, offset: string, value: Buffer | null): CdcChange {
  const fallbackId = `pe-${partition}-${offset}`;
  if (value === null || value.length === 0) return { kind: 'invalid', reason: 'an empty record is not an event', id: fallbackId, productId: null };
  let parsed: unknown;
  try {
    parsed = JSON.parse(value.toString('utf8'));
  } catch (err) {
    return { kind: 'invalid', reason: `invalid-json: the record is not JSON: ${(err as Error).message}`, id: fallbackId, productId: null };
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    return { kind: 'invalid', reason: `invalid-event: a ${SOURCE_TOPIC} record holds one event object`, id: fallbackId, productId: null };
  let input: Record<string, unknown>;
  try {
    input = ('event_type' in parsed ? fromSeedShape(parsed, null) : parsed) as Record<string, unknown>;
  } catch (err) {
    if (!(err instanceof Problem)) throw err;
    return { kind: 'invalid', reason: `${err.code}: ${err.detail}`, id: fallbackId, productId: null };
  }
  const id = typeof input.id === 'string' ? input.id : fallbackId;
  const productId = (input.data as { productId?: unknown } | undefined)?.productId;
  return { kind: 'event', id, productId: typeof productId === 'string' ? productId : null, input: { ...input, id } as never };
}
