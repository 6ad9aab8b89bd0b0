import { certPaths, siteSecret } from '../certs/index.ts';
import { CATALOG_ROLE, CDC_PUBLICATION, CDC_ROLE, PIS_OWNER, PIS_SECRET_FILES, PIS_TABLES, pisDatabaseUrl, type Topology } from '../federation/index.ts';

/**
 * The PIS database's schema, roles and publication. The PIS application owns
 * the tables (role `pis`); Debezium reads them as `fedgate_cdc`, a role with
 * REPLICATION and SELECT only, through the publication of exactly the
 * captured tables. Replica identity FULL: a deleted row's change carries all
 * its columns, so its event can be routed (a discount's region, say).
 *
 * Money is `numeric`, never a float; Debezium sends it as a decimal string.
 */
export const PIS_SCHEMA = `
CREATE TABLE IF NOT EXISTS products (
  product_id text PRIMARY KEY,
  name text NOT NULL,
  brand text,
  category text
);
CREATE TABLE IF NOT EXISTS prices (
  product_id text NOT NULL,
  region text NOT NULL,
  currency text NOT NULL,
  amount numeric(19, 4) NOT NULL,
  PRIMARY KEY (product_id, region)
);
CREATE TABLE IF NOT EXISTS discounts (
  product_id text NOT NULL,
  discount_id text NOT NULL,
  region text,
  percent numeric(5, 2),
  amount_off numeric(19, 4),
  currency text,
  valid_from timestamptz,
  valid_to timestamptz,
  active boolean NOT NULL DEFAULT true,
  PRIMARY KEY (product_id, discount_id)
);
CREATE TABLE IF NOT EXISTS availability (
  product_id text NOT NULL,
  country text NOT NULL,
  available boolean NOT NULL,
  reason text,
  PRIMARY KEY (product_id, country)
);
${PIS_TABLES.map((t) => `ALTER TABLE ${t} REPLICA IDENTITY FULL;`).join('\n')}
`;

/** The secrets of the PIS database's roles, in the site's git-ignored secrets folder. */
export const pisOwnerPassword = (certsDir: string, site: string) => siteSecret(certsDir, site, PIS_SECRET_FILES.owner);
export const cdcPassword = (certsDir: string, site: string) => siteSecret(certsDir, site, PIS_SECRET_FILES.cdc);
export const catalogPassword = (certsDir: string, site: string) => siteSecret(certsDir, site, PIS_SECRET_FILES.catalog);

/** The URL the PIS application (and the demo, and tests) write with. */
export function pisOwnerUrl(topology: Topology, certsDir: string): string {
  return pisDatabaseUrl(topology, PIS_OWNER, pisOwnerPassword(certsDir, topology.pis!.site), certPaths(certsDir).caCert);
}

interface SqlClient {
  query(sql: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/** A login role with its password set from its secret (created, or its password reset to the secret). */
async function loginRole(client: SqlClient, role: string, secret: string, extra = ''): Promise<void> {
  const exists = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  // A role's password cannot be a bind parameter; the secret is base64url, so quoting it is exact.
  const password = `'${secret.replace(/'/g, "''")}'`;
  await client.query(`${exists.rows.length === 0 ? 'CREATE' : 'ALTER'} ROLE ${role} WITH LOGIN ${extra} PASSWORD ${password}`);
}

/** Idempotent: the tables, the capture and catalog roles (their passwords set from their secrets) and the publication. */
export async function setUpPisDatabase(client: SqlClient, secrets: { cdc: string; catalog: string }): Promise<void> {
  await client.query(PIS_SCHEMA);
  await loginRole(client, CDC_ROLE, secrets.cdc, 'REPLICATION');
  await client.query(`GRANT SELECT ON ${PIS_TABLES.join(', ')} TO ${CDC_ROLE}`);
  await loginRole(client, CATALOG_ROLE, secrets.catalog);
  await client.query(`GRANT SELECT ON products TO ${CATALOG_ROLE}`);
  const publication = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [CDC_PUBLICATION]);
  if (publication.rows.length === 0) await client.query(`CREATE PUBLICATION ${CDC_PUBLICATION} FOR TABLE ${PIS_TABLES.join(', ')}`);
}
