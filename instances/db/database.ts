import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import * as schema from './schema.ts';

export const MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

export type SiteDb = PgDatabase<PgQueryResultHKT, typeof schema>;

export interface Database {
  db: SiteDb;
  kind: 'pglite' | 'postgres';
  /** Where the data lives, for logs (never includes a password). */
  where: string;
  close(): Promise<void>;
}

export interface OpenDatabaseOptions {
  /** A PostgreSQL server; when absent, PGlite embedded in `dataDir`. */
  url?: string;
  /** PGlite's data folder; `memory://` keeps it in memory. */
  dataDir: string;
  /**
   * Postgres schema holding this site's tables on a shared server, so several
   * sites (or tests) can use one database. Ignored by PGlite (one folder per site).
   */
  schemaName: string;
}

/**
 * Opens a site's database and applies the drizzle-kit migrations. Both
 * drivers run the same SQL migrations.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(options.schemaName)) throw new Error(`invalid schema name "${options.schemaName}"`);
  if (options.url) return openPostgres(options.url, options.schemaName);
  return openPglite(options.dataDir);
}

async function openPglite(dataDir: string): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { drizzle } = await import('drizzle-orm/pglite');
  const { migrate } = await import('drizzle-orm/pglite/migrator');
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true });
  const client = await PGlite.create(dataDir);
  const db = drizzle(client, { schema });
  await migrate(db, { migrationsFolder: MIGRATIONS_DIR });
  return { db: db as unknown as SiteDb, kind: 'pglite', where: `PGlite at ${dataDir}`, close: () => client.close() };
}

async function openPostgres(url: string, schemaName: string): Promise<Database> {
  const pg = (await import('pg')).default;
  const { drizzle } = await import('drizzle-orm/node-postgres');
  const { migrate } = await import('drizzle-orm/node-postgres/migrator');
  // A site's workers share its schema and may start together: one at a time creates it and migrates it
  // (a session advisory lock, per schema), so no two run the same migration.
  const setup = new pg.Client({ connectionString: url });
  await setup.connect();
  const pool = new pg.Pool({ connectionString: url, max: 5, options: `-c search_path=${schemaName}` });
  const db = drizzle(pool, { schema });
  try {
    await setup.query('SELECT pg_advisory_lock(hashtext($1))', [`fedgate-migrate:${schemaName}`]);
    await setup.query(`CREATE SCHEMA IF NOT EXISTS "${schemaName}"`);
    await migrate(db, { migrationsFolder: MIGRATIONS_DIR, migrationsSchema: schemaName });
  } catch (err) {
    await pool.end();
    throw err;
  } finally {
    // Ending the session releases the lock.
    await setup.end();
  }
  const safe = new URL(url);
  // A Unix socket's folder, when the URL names one (`?host=/folder`), is where the server is.
  const server = safe.searchParams.get('host') ?? safe.host;
  return { db: db as unknown as SiteDb, kind: 'postgres', where: `PostgreSQL ${server}${safe.pathname} schema ${schemaName}`, close: () => pool.end() };
}

/** Drops a site's schema on a shared server (tests clean up with it). */
export async function dropPostgresSchema(url: string, schemaName: string): Promise<void> {
  const pg = (await import('pg')).default;
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schemaName}" CASCADE`);
  } finally {
    await client.end();
  }
}
