import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { certPaths } from '../certs/index.ts';
import {
  CATALOG_ROLE,
  CDC_PUBLICATION,
  CDC_ROLE,
  CDC_SLOT,
  PIS_SECRET_FILES,
  PIS_TABLES,
  type PisDatabaseTls,
  pisDatabaseEndpoint,
  pisDatabaseTls,
  type Topology,
} from '../federation/index.ts';
import { catalogPassword, cdcPassword } from './pis-database.ts';

/**
 * What the PIS's own PostgreSQL must offer before fedgate's change capture
 * and enrichment can use it (`pis.database` in the topology), read over the
 * wire as the roles fedgate uses, and judged into checks that each name the
 * fix. `npx fedgate pis check` prints them; `up` runs them before it starts
 * the Connect worker and refuses with the same text.
 */

/** The columns fedgate reads from each table (deploy/pis-database.ts has the full schema). */
export const PIS_COLUMNS: Readonly<Record<string, readonly string[]>> = {
  products: ['product_id', 'name', 'brand', 'category'],
  prices: ['product_id', 'region', 'currency', 'amount'],
  discounts: ['product_id', 'discount_id', 'region', 'percent', 'amount_off', 'currency', 'valid_from', 'valid_to', 'active'],
  availability: ['product_id', 'country', 'available', 'reason'],
};

export type LoginFact = { ok: true } | { ok: false; code: string | undefined; message: string };

export interface TableFact {
  exists: boolean;
  missingColumns: string[];
  /** pg_class.relreplident: 'f' is FULL. */
  replicaIdentity: string | null;
  selectable: boolean;
}

/** What was read; null where an earlier failure kept it from being read. */
export interface PisFacts {
  /** Where, and how fedgate's connections are secured (the topology's sslmode and CA). */
  where: { host: string; port: number; database: string; tls: PisDatabaseTls };
  cdcLogin: LoginFact;
  /** The capture role's connection as the server sees it (pg_stat_ssl): its TLS version and cipher, or null for plaintext. */
  tls: { version: string; cipher: string } | null | undefined;
  walLevel: string | null;
  replicationRole: boolean | null;
  tables: Record<string, TableFact> | null;
  /** The tables of the publication, or null when it does not exist. */
  publication: string[] | null | undefined;
  slots: { max: number; used: number; ours: boolean } | null;
  walSenders: number | null;
  replicationLogin: LoginFact | null;
  catalogLogin: LoginFact;
  catalogSelect: boolean | null;
}

export interface PisCheck {
  name: string;
  ok: boolean;
  /** What was found. */
  detail: string;
  /** What to do, when not ok. */
  fix?: string;
}

const secretPath = (secretsDir: string, file: string) => join(secretsDir, file);

/** Node's codes for a server certificate that does not verify (chain, name, dates). */
const CERT_ERRORS =
  /^(ERR_TLS_CERT_ALTNAME_INVALID|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_HAS_EXPIRED|CERT_NOT_YET_VALID|CERT_SIGNATURE_FAILURE)$/;
/** A CA file that could not be read (pisDatabaseSsl). */
const NO_CA = 'FEDGATE_NO_CA';

function loginFix(f: Extract<LoginFact, { ok: false }>, role: string, facts: PisFacts, secretsDir: string, extra: string): string {
  const { host, port, database, tls } = facts.where;
  if (f.code === 'ECONNREFUSED' || f.code === 'ENOTFOUND' || f.code === 'ETIMEDOUT' || f.code === 'EHOSTUNREACH')
    return `start the database, or correct pis.database.host and .port in the topology (${host}:${port})`;
  if (f.code === '3D000') return `create the database "${database}", or correct pis.database.name in the topology`;
  if (f.code === NO_CA) return "set pis.database.sslrootcert in the topology to the CA certificate (PEM) that issued the database server's certificate";
  if (f.code && CERT_ERRORS.test(f.code) && tls.sslmode === 'verify-full')
    return `set pis.database.sslrootcert to the CA that issued the server's certificate (now ${tls.rootCert}), and give the server a certificate that names ${host} (subjectAltName)`;
  if (/does not support SSL/i.test(f.message))
    return `turn TLS on at the server (ssl = on, ssl_cert_file and ssl_key_file in postgresql.conf, then reload it); for a database on this machine's loopback only, "sslmode": "disable" in pis.database`;
  // 28P01: wrong password or no such role; 28000: no pg_hba.conf line for it.
  const hba = `pg_hba.conf needs a line such as \`${tls.sslmode === 'disable' ? 'host' : 'hostssl'} ${database} ${role} <fedgate's address>/32 scram-sha-256\``;
  const file = secretPath(secretsDir, role === CDC_ROLE ? PIS_SECRET_FILES.cdc : PIS_SECRET_FILES.catalog);
  // One line to paste: psql reads the statement from stdin, where it substitutes :'pw' (it does not in -c), and the
  // password goes from the secret file to the server without being printed.
  return (
    `as a superuser of ${host}:${port}, create the role with the password fedgate holds in ${file} (ALTER ROLE instead of CREATE if it exists):\n` +
    `echo "CREATE ROLE ${role} WITH LOGIN ${extra}PASSWORD :'pw';" | psql -h ${host} -p ${port} -d ${database} -v pw="$(cat ${file})"\n` +
    `and ${hba}`
  );
}

const pass = (name: string, detail: string): PisCheck => ({ name, ok: true, detail });
const fail = (name: string, detail: string, fix: string): PisCheck => ({ name, ok: false, detail, fix });

/** Pure: the facts judged into checks, in the order a DBA would fix them. What could not be read is not judged. */
export function judgePisDatabase(facts: PisFacts, secretsDir: string): PisCheck[] {
  const checks: PisCheck[] = [];
  const { host, port, database } = facts.where;
  const at = `${host}:${port}/${database}`;
  const login = (role: string, f: LoginFact, extra: string) =>
    f.ok ? pass(`login as ${role}`, at) : fail(`login as ${role}`, `${at}: ${f.message}`, loginFix(f, role, facts, secretsDir, extra));

  checks.push(login(CDC_ROLE, facts.cdcLogin, 'REPLICATION '));
  if (facts.tls !== undefined) {
    const { tls } = facts.where;
    checks.push(
      tls.sslmode === 'disable'
        ? pass('TLS', 'off: plaintext on loopback ("sslmode": "disable")')
        : facts.tls
          ? pass('TLS', `${facts.tls.version} (${facts.tls.cipher}); the server's certificate verified against ${tls.rootCert} for ${host}`)
          : fail('TLS', 'the connection is not encrypted', 'turn TLS on at the server (ssl = on), then reload it'),
    );
  }
  if (facts.walLevel !== null)
    checks.push(
      facts.walLevel === 'logical'
        ? pass('wal_level', 'logical')
        : fail(
            'wal_level',
            `${facts.walLevel}; logical decoding needs logical`,
            'ALTER SYSTEM SET wal_level = logical; then restart the server (wal_level takes effect only at start)',
          ),
    );
  if (facts.replicationRole !== null) {
    const name = `${CDC_ROLE} has REPLICATION`;
    checks.push(facts.replicationRole ? pass(name, 'yes') : fail(name, 'no', `ALTER ROLE ${CDC_ROLE} WITH REPLICATION;`));
  }
  for (const [table, t] of Object.entries(facts.tables ?? {})) {
    const columns = PIS_COLUMNS[table]!.join(', ');
    if (!t.exists) {
      checks.push(fail(`table ${table}`, 'missing', `create it with fedgate's PIS schema (README, "The PIS's own database"): columns ${columns}`));
      continue;
    }
    checks.push(
      t.missingColumns.length === 0
        ? pass(`table ${table}`, `columns ${columns}`)
        : fail(`table ${table}`, `no column ${t.missingColumns.join(', ')}`, `add ${t.missingColumns.join(', ')} as in fedgate's PIS schema`),
    );
    // `products` is read by enrichment only: its replica identity and the capture role's grant do not matter.
    if (!(PIS_TABLES as readonly string[]).includes(table)) continue;
    const identity = { d: 'DEFAULT', n: 'NOTHING', i: 'INDEX', f: 'FULL' }[t.replicaIdentity ?? ''] ?? String(t.replicaIdentity);
    checks.push(
      t.replicaIdentity === 'f'
        ? pass(`${table} replica identity`, identity)
        : fail(
            `${table} replica identity`,
            `${identity}; a deleted row's change must carry its columns to be routed`,
            `ALTER TABLE ${table} REPLICA IDENTITY FULL;`,
          ),
    );
    const reads = `${CDC_ROLE} may read ${table}`;
    checks.push(t.selectable ? pass(reads, 'SELECT') : fail(reads, 'no SELECT privilege', `GRANT SELECT ON ${table} TO ${CDC_ROLE};`));
  }
  if (facts.publication !== undefined) {
    const name = `publication ${CDC_PUBLICATION}`;
    const want = [...PIS_TABLES].sort().join(', ');
    const have = facts.publication === null ? null : [...facts.publication].sort().join(', ');
    checks.push(
      have === want
        ? pass(name, want)
        : have === null
          ? fail(name, 'missing', `as the tables' owner: CREATE PUBLICATION ${CDC_PUBLICATION} FOR TABLE ${want};`)
          : fail(name, `has ${have || 'no tables'}; needs exactly ${want}`, `as the tables' owner: ALTER PUBLICATION ${CDC_PUBLICATION} SET TABLE ${want};`),
    );
  }
  if (facts.slots) {
    const { ours, used, max } = facts.slots;
    checks.push(
      ours || used < max
        ? pass('replication slot', ours ? `${CDC_SLOT} exists` : `${used} of ${max} in use; Debezium creates ${CDC_SLOT}`)
        : fail('replication slot', `all ${max} slots are in use`, 'raise max_replication_slots (restart), or drop an unused slot'),
    );
  }
  if (facts.walSenders !== null)
    checks.push(
      facts.walSenders > 0
        ? pass('max_wal_senders', String(facts.walSenders))
        : fail('max_wal_senders', '0', 'ALTER SYSTEM SET max_wal_senders = 4; then restart the server'),
    );
  if (facts.replicationLogin) {
    const name = `replication connection as ${CDC_ROLE}`;
    checks.push(
      facts.replicationLogin.ok
        ? pass(name, 'IDENTIFY_SYSTEM answered')
        : fail(
            name,
            facts.replicationLogin.message,
            // A logical replication connection names its database, so pg_hba.conf matches it by that database's lines,
            // not by the `replication` keyword (which is for physical replication); what fails here is the walsender itself.
            `the login works but a logical replication connection does not: give ${CDC_ROLE} REPLICATION, make sure max_wal_senders has a free sender, and that pg_hba.conf lets ${CDC_ROLE} into database ${database}`,
          ),
    );
  }
  checks.push(login(CATALOG_ROLE, facts.catalogLogin, ''));
  if (facts.catalogSelect !== null) {
    const name = `${CATALOG_ROLE} may read products`;
    checks.push(facts.catalogSelect ? pass(name, 'SELECT') : fail(name, 'no SELECT privilege', `GRANT SELECT ON products TO ${CATALOG_ROLE};`));
  }
  return checks;
}

/** Facts before anything is read: every login assumed, nothing else known. */
export function unreadPisFacts(where: PisFacts['where']): PisFacts {
  return {
    where,
    cdcLogin: { ok: true },
    tls: undefined,
    walLevel: null,
    replicationRole: null,
    tables: null,
    publication: undefined,
    slots: null,
    walSenders: null,
    replicationLogin: null,
    catalogLogin: { ok: true },
    catalogSelect: null,
  };
}

function loginFailure(err: unknown): Extract<LoginFact, { ok: false }> {
  const e = err as { code?: string; message?: string };
  return { ok: false, code: e.code, message: e.message ?? String(err) };
}

/** node-postgres's TLS options for the topology's sslmode: the CA read from its file, the server's name or address checked. */
function pisDatabaseSsl(tls: PisDatabaseTls): pg.ClientConfig['ssl'] {
  return tls.sslmode === 'disable' ? false : { ca: readFileSync(tls.rootCert, 'utf8'), rejectUnauthorized: true };
}

/** Reads the facts over the wire as fedgate's two roles (and one replication connection); never changes anything. */
export async function readPisFacts(o: {
  host: string;
  port: number;
  database: string;
  tls: PisDatabaseTls;
  cdcPassword: string;
  catalogPassword: string;
  timeoutMs?: number;
}): Promise<PisFacts> {
  const facts = unreadPisFacts({ host: o.host, port: o.port, database: o.database, tls: o.tls });
  let ssl: pg.ClientConfig['ssl'];
  try {
    ssl = pisDatabaseSsl(o.tls);
  } catch (err) {
    const failure = { ok: false as const, code: NO_CA, message: `cannot read the CA certificate: ${(err as Error).message}` };
    return { ...facts, cdcLogin: failure, catalogLogin: failure };
  }
  const base = { host: o.host, port: o.port, database: o.database, ssl, connectionTimeoutMillis: o.timeoutMs ?? 5000 };
  const cdc = new pg.Client({ ...base, user: CDC_ROLE, password: o.cdcPassword });
  try {
    await cdc.connect();
    const q = async <T>(text: string, params: unknown[] = []) => (await cdc.query(text, params)).rows as T[];
    const [stat] = await q<{ ssl: boolean; version: string | null; cipher: string | null }>(
      'SELECT ssl, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    facts.tls = stat?.ssl ? { version: stat.version ?? '?', cipher: stat.cipher ?? '?' } : null;
    facts.walLevel = (await q<{ wal_level: string }>('SHOW wal_level'))[0]!.wal_level;
    facts.replicationRole = (await q<{ r: boolean }>('SELECT rolreplication AS r FROM pg_roles WHERE rolname = current_user'))[0]?.r ?? false;
    facts.tables = {};
    for (const [table, columns] of Object.entries(PIS_COLUMNS)) {
      const rel = (await q<{ oid: string | null }>(`SELECT to_regclass($1)::oid AS oid`, [`public.${table}`]))[0]?.oid ?? null;
      if (rel === null) {
        facts.tables[table] = { exists: false, missingColumns: [...columns], replicaIdentity: null, selectable: false };
        continue;
      }
      const have = new Set(
        (await q<{ attname: string }>('SELECT attname FROM pg_attribute WHERE attrelid = $1 AND attnum > 0 AND NOT attisdropped', [rel])).map((r) => r.attname),
      );
      const [info] = await q<{ relreplident: string; selectable: boolean }>(
        `SELECT relreplident, has_table_privilege(current_user, oid, 'SELECT') AS selectable FROM pg_class WHERE oid = $1`,
        [rel],
      );
      facts.tables[table] = {
        exists: true,
        missingColumns: columns.filter((c) => !have.has(c)),
        replicaIdentity: info?.relreplident ?? null,
        selectable: info?.selectable ?? false,
      };
    }
    const pub = await q<{ n: number }>('SELECT count(*)::int AS n FROM pg_publication WHERE pubname = $1', [CDC_PUBLICATION]);
    facts.publication =
      pub[0]!.n === 0
        ? null
        : (await q<{ t: string }>(`SELECT tablename AS t FROM pg_publication_tables WHERE pubname = $1 AND schemaname = 'public'`, [CDC_PUBLICATION])).map(
            (r) => r.t,
          );
    const [slots] = await q<{ max: number; used: number; ours: boolean }>(
      `SELECT current_setting('max_replication_slots')::int AS max, (SELECT count(*)::int FROM pg_replication_slots) AS used,
              EXISTS (SELECT 1 FROM pg_replication_slots WHERE slot_name = $1) AS ours`,
      [CDC_SLOT],
    );
    facts.slots = slots!;
    facts.walSenders = (await q<{ n: number }>(`SELECT current_setting('max_wal_senders')::int AS n`))[0]!.n;
  } catch (err) {
    if (facts.walLevel === null) facts.cdcLogin = loginFailure(err);
    else throw err;
  } finally {
    await cdc.end().catch(() => {});
  }
  if (facts.cdcLogin.ok) {
    // Debezium streams over a logical replication connection (a walsender), which needs REPLICATION and a free WAL sender.
    const repl = new pg.Client({ ...base, user: CDC_ROLE, password: o.cdcPassword, replication: 'database' } as pg.ClientConfig);
    try {
      await repl.connect();
      await repl.query('IDENTIFY_SYSTEM');
      facts.replicationLogin = { ok: true };
    } catch (err) {
      facts.replicationLogin = loginFailure(err);
    } finally {
      await repl.end().catch(() => {});
    }
  }
  const catalog = new pg.Client({ ...base, user: CATALOG_ROLE, password: o.catalogPassword });
  try {
    await catalog.connect();
    facts.catalogSelect = (await catalog.query(`SELECT has_table_privilege(current_user, to_regclass('public.products'), 'SELECT') AS s`)).rows[0]?.s === true;
  } catch (err) {
    facts.catalogLogin = loginFailure(err);
  } finally {
    await catalog.end().catch(() => {});
  }
  return facts;
}

/** The checks as text, one line each, with the fixes under the failed ones. */
export function renderPisChecks(checks: readonly PisCheck[]): string {
  return checks
    .map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}${c.ok || !c.fix ? '' : `\n       fix: ${c.fix.replace(/\n/g, '\n       ')}`}`)
    .join('\n');
}

/** Reads and judges the topology's external PIS database with the passwords in the PIS site's secrets folder. */
export async function checkPisDatabase(topology: Topology, certsDir: string): Promise<{ ok: boolean; checks: PisCheck[]; where: string }> {
  const db = pisDatabaseEndpoint(topology);
  const site = topology.pis!.site;
  const facts = await readPisFacts({
    host: db.host,
    port: db.port,
    database: db.database,
    tls: pisDatabaseTls(topology, certPaths(certsDir).caCert),
    cdcPassword: cdcPassword(certsDir, site),
    catalogPassword: catalogPassword(certsDir, site),
  });
  const checks = judgePisDatabase(facts, join(certsDir, site));
  return { ok: checks.every((c) => c.ok), checks, where: `${db.host}:${db.port}/${db.database}` };
}
