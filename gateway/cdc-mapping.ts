import { createHash } from 'node:crypto';
import { EVENT_TYPES, type PublishInput } from '../contract/index.ts';
import { CDC_TOPICS, type PisTable } from '../federation/index.ts';

/**
 * Pure: one Debezium change record (JSON envelope without schemas:
 * `before`, `after`, `source`, `op`) into the publish input of one product
 * event, which then takes the same validation, routing and idempotency as
 * an HTTP publish.
 *
 * - The event id comes from the change's position in the WAL (`source.lsn`)
 *   and the row's key, so a change Debezium sends again after a restart is
 *   the same event (and the idempotency window answers it as a duplicate).
 *   The LSN leads, zero-padded: ids of one row sort in commit order, which
 *   breaks last-writer-wins ties within one transaction.
 * - The event time is the transaction's commit time (`source.ts_ms`).
 * - Deletes: a deleted discount is the discount, inactive; a deleted
 *   availability row is the country, unavailable. A deleted price has no
 *   event in the model (there is no price withdrawal): it is refused, and so
 *   dead-lettered with its reason.
 */

export type CdcChange =
  | { kind: 'event'; input: PublishInput; id: string; productId: string | null }
  | { kind: 'invalid'; reason: string; id: string | null; productId: string | null }
  | { kind: 'skip' };

type Row = Record<string, unknown>;
interface Envelope {
  op?: string;
  before?: Row | null;
  after?: Row | null;
  source?: { lsn?: number; ts_ms?: number; table?: string };
}

const TABLE_OF_TOPIC = new Map<string, PisTable>(CDC_TOPICS.map((t) => [t, t.split('.').pop() as PisTable]));

/** "19.9900" → "19.99", "20.0000" → "20": Debezium sends numeric columns at their declared scale. */
export function trimDecimal(value: string): string {
  if (!value.includes('.')) return value;
  const trimmed = value.replace(/0+$/, '');
  return trimmed.endsWith('.') ? trimmed.slice(0, -1) : trimmed;
}

/** The event id of a change: the LSN (16 hex digits) and a digest of the table and the row's key. */
export function cdcEventId(table: string, lsn: number, key: unknown): string {
  const digest = createHash('sha256')
    .update(`${table}\u0000${JSON.stringify(key)}`)
    .digest('hex')
    .slice(0, 16);
  return `pis-${lsn.toString(16).padStart(16, '0')}-${digest}`;
}

const text = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
const decimal = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : trimDecimal(String(v)));

export function mapChange(topic: string, key: Buffer | null, value: Buffer | null): CdcChange {
  const table = TABLE_OF_TOPIC.get(topic);
  if (!table) return { kind: 'invalid', reason: `topic ${topic} is not a captured PIS table`, id: null, productId: null };
  // A tombstone (none are sent: tombstones.on.delete=false) carries nothing to publish.
  if (value === null || value.length === 0) return { kind: 'skip' };
  let envelope: Envelope;
  let rowKey: unknown;
  try {
    envelope = JSON.parse(value.toString('utf8')) as Envelope;
    rowKey = key ? JSON.parse(key.toString('utf8')) : null;
  } catch (err) {
    return { kind: 'invalid', reason: `the change is not JSON: ${(err as Error).message}`, id: null, productId: null };
  }
  const { op, source } = envelope;
  // Truncates and logical messages are not row changes.
  if (op === 't' || op === 'm') return { kind: 'skip' };
  const deleted = op === 'd';
  const row = deleted ? envelope.before : envelope.after;
  if (typeof source?.lsn !== 'number' || typeof source.ts_ms !== 'number' || !row || !['c', 'u', 'r', 'd'].includes(op ?? '')) {
    return {
      kind: 'invalid',
      reason: `not a Debezium row change (op ${JSON.stringify(op)}, lsn ${source?.lsn}, row ${row ? 'present' : 'missing'})`,
      id: null,
      productId: null,
    };
  }
  const id = cdcEventId(table, source.lsn, rowKey);
  const productId = text(row.product_id) ?? null;
  const time = new Date(source.ts_ms).toISOString();
  if (table === 'prices') {
    if (deleted)
      return {
        kind: 'invalid',
        reason: 'a price row was deleted: the event model has no price withdrawal, so the sites keep the last price. Set a new price instead.',
        id,
        productId,
      };
    return {
      kind: 'event',
      id,
      productId,
      input: {
        type: EVENT_TYPES.price,
        id,
        time,
        data: { productId: text(row.product_id)!, region: text(row.region)!, price: { currency: text(row.currency)!, amount: decimal(row.amount) } },
      } as PublishInput,
    };
  }
  if (table === 'discounts') {
    const currency = text(row.currency);
    const amountOff = decimal(row.amount_off);
    const data: Record<string, unknown> = {
      productId: text(row.product_id),
      discountId: text(row.discount_id),
      active: deleted ? false : row.active !== false,
    };
    if (row.region !== null && row.region !== undefined) data.region = text(row.region);
    if (row.percent !== null && row.percent !== undefined) data.percent = decimal(row.percent);
    if (amountOff !== undefined) data.amountOff = { currency, amount: amountOff };
    if (row.valid_from) data.validFrom = text(row.valid_from);
    if (row.valid_to) data.validTo = text(row.valid_to);
    return { kind: 'event', id, productId, input: { type: EVENT_TYPES.discount, id, time, data } as PublishInput };
  }
  const data: Record<string, unknown> = {
    productId: text(row.product_id),
    country: text(row.country),
    available: deleted ? false : row.available,
  };
  if (deleted) data.reason = 'removed from the PIS';
  else if (row.reason !== null && row.reason !== undefined) data.reason = text(row.reason);
  return { kind: 'event', id, productId, input: { type: EVENT_TYPES.country, id, time, data } as PublishInput };
}
