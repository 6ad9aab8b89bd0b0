import { type SQL, sql } from 'drizzle-orm';

/**
 * Rows for a bulk INSERT as one array parameter per column:
 * `SELECT * FROM unnest($1::text[], $2::bigint[], …)`. One statement takes
 * any number of rows with as many parameters as columns. drizzle's
 * `.insert().values(rows)` builds a parameter per value, and that per-value
 * building was 16 % of an instance's CPU while it took in a backlog (README,
 * "A 100,000-event backlog, measured"). Works the same on PGlite and
 * node-postgres; a JSON column is passed as text and cast.
 */
export interface UnnestColumn {
  /** The Postgres element type of the array, e.g. `text`, `bigint`, `timestamptz`, `jsonb`. */
  type: 'text' | 'int' | 'bigint' | 'boolean' | 'timestamptz' | 'jsonb';
  values: unknown[];
}

export function unnestRows(columns: UnnestColumn[]): SQL {
  const arrays = columns.map((c) => sql`${sql.param(c.values)}::${sql.raw(c.type)}[]`);
  return sql`SELECT * FROM unnest(${sql.join(arrays, sql`, `)})`;
}

/** A timestamp as the driver takes it in an array: ISO-8601 text, or null. */
export const isoOrNull = (d: Date | null | undefined): string | null => (d ? d.toISOString() : null);
