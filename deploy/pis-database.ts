import { siteSecret } from '../certs/index.ts';
import { CDC_PUBLICATION, CDC_ROLE, PIS_OWNER, PIS_TABLES, pisDatabaseUrl, type Topology } from '../federation/index.ts';

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
export const pisOwnerPassword = (certsDir: string, site: string) => siteSecret(certsDir, site, 'pis-owner.secret');
export const cdcPassword = (certsDir: string, site: string) => siteSecret(certsDir, site, 'pis-cdc.secret');

/** The URL the PIS application (and the demo, and tests) write with. */
export function pisOwnerUrl(topology: Topology, certsDir: string): string {
  return pisDatabaseUrl(topology, PIS_OWNER, pisOwnerPassword(certsDir, topology.pis!.site));
}

interface SqlClient {
  query(sql: string, params?: unknown[]): Promise<{ rows: Array<Record<string, unknown>> }>;
}

/** Idempotent: the tables, the capture role (its password set from its secret) and the publication. */
export async function setUpPisDatabase(client: SqlClient, cdcSecret: string): Promise<void> {
  await client.query(PIS_SCHEMA);
  const role = await client.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [CDC_ROLE]);
  // A role's password cannot be a bind parameter; the secret is base64url, so quoting it is exact.
  const password = `'${cdcSecret.replace(/'/g, "''")}'`;
  await client.query(
    role.rows.length === 0
      ? `CREATE ROLE ${CDC_ROLE} WITH LOGIN REPLICATION PASSWORD ${password}`
      : `ALTER ROLE ${CDC_ROLE} WITH LOGIN REPLICATION PASSWORD ${password}`,
  );
  await client.query(`GRANT SELECT ON ${PIS_TABLES.join(', ')} TO ${CDC_ROLE}`);
  const publication = await client.query('SELECT 1 FROM pg_publication WHERE pubname = $1', [CDC_PUBLICATION]);
  if (publication.rows.length === 0) await client.query(`CREATE PUBLICATION ${CDC_PUBLICATION} FOR TABLE ${PIS_TABLES.join(', ')}`);
}
