import { describe, expect, it } from 'vitest';
import { judgePisDatabase, type PisFacts, renderPisChecks, type TableFact, unreadPisFacts } from './pis-check.ts';

const table = (over: Partial<TableFact> = {}): TableFact => ({
  exists: true,
  missingColumns: [],
  replicaIdentity: 'f',
  selectable: true,
  ...over,
});

const ready: PisFacts = {
  where: { host: 'pis.example', port: 5432, database: 'pis', tls: { sslmode: 'verify-full', rootCert: '/etc/pis/ca.pem' } },
  cdcLogin: { ok: true },
  tls: { version: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' },
  walLevel: 'logical',
  replicationRole: true,
  tables: { products: table({ replicaIdentity: 'd' }), prices: table(), discounts: table(), availability: table() },
  publication: ['prices', 'discounts', 'availability'],
  slots: { max: 10, used: 2, ours: false },
  walSenders: 10,
  replicationLogin: { ok: true },
  catalogLogin: { ok: true },
  catalogSelect: true,
};

const failed = (facts: PisFacts) =>
  judgePisDatabase(facts, '/secrets/hq')
    .filter((c) => !c.ok)
    .map((c) => [c.name, c.fix]);

describe('the PIS database check', () => {
  it('passes a database that offers everything, and checks each table it reads', () => {
    const checks = judgePisDatabase(ready, '/secrets/hq');
    expect(checks.every((c) => c.ok)).toBe(true);
    expect(checks.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        'login as fedgate_cdc',
        'TLS',
        'wal_level',
        'fedgate_cdc has REPLICATION',
        'table products',
        'prices replica identity',
        'fedgate_cdc may read availability',
        'publication fedgate_cdc',
        'replication slot',
        'replication connection as fedgate_cdc',
        'fedgate_catalog may read products',
      ]),
    );
    // products is read by enrichment only: its replica identity does not matter.
    expect(checks.find((c) => c.name === 'products replica identity')).toBeUndefined();
  });

  it('names the fix for each thing the shared server of a machine lacks: wal_level, REPLICATION, identity, grants, publication', () => {
    const facts: PisFacts = {
      ...ready,
      walLevel: 'replica',
      replicationRole: false,
      tables: { ...ready.tables!, discounts: table({ replicaIdentity: 'd', selectable: false }) },
      publication: null,
    };
    expect(failed(facts)).toEqual([
      ['wal_level', 'ALTER SYSTEM SET wal_level = logical; then restart the server (wal_level takes effect only at start)'],
      ['fedgate_cdc has REPLICATION', 'ALTER ROLE fedgate_cdc WITH REPLICATION;'],
      ['discounts replica identity', 'ALTER TABLE discounts REPLICA IDENTITY FULL;'],
      ['fedgate_cdc may read discounts', 'GRANT SELECT ON discounts TO fedgate_cdc;'],
      ['publication fedgate_cdc', "as the tables' owner: CREATE PUBLICATION fedgate_cdc FOR TABLE availability, discounts, prices;"],
    ]);
  });

  it('says how to create a role that cannot log in, with the password from its secret file and never the password itself', () => {
    const facts: PisFacts = {
      ...unreadPisFacts(ready.where),
      cdcLogin: { ok: false, code: '28P01', message: 'password authentication failed for user "fedgate_cdc"' },
      catalogSelect: true,
    };
    const checks = judgePisDatabase(facts, '/secrets/hq');
    // What could not be read is not judged: only the login, and the catalog role's own checks.
    expect(checks.map((c) => c.name)).toEqual(['login as fedgate_cdc', 'login as fedgate_catalog', 'fedgate_catalog may read products']);
    const fix = checks[0]!.fix!;
    expect(fix.split('\n')[1]).toBe(
      `echo "CREATE ROLE fedgate_cdc WITH LOGIN REPLICATION PASSWORD :'pw';" | psql -h pis.example -p 5432 -d pis -v pw="$(cat /secrets/hq/pis-cdc.secret)"`,
    );
    expect(fix).toContain('hostssl pis fedgate_cdc');
  });

  it('names the CA and the certificate when TLS does not verify, and TLS at the server when it is off', () => {
    const login = (code: string | undefined, message: string) => failed({ ...unreadPisFacts(ready.where), cdcLogin: { ok: false, code, message } });
    expect(login('SELF_SIGNED_CERT_IN_CHAIN', 'self-signed certificate in certificate chain')).toEqual([
      [
        'login as fedgate_cdc',
        "set pis.database.sslrootcert to the CA that issued the server's certificate (now /etc/pis/ca.pem), and give the server a certificate that names pis.example (subjectAltName)",
      ],
    ]);
    expect(login('ERR_TLS_CERT_ALTNAME_INVALID', "Hostname/IP does not match certificate's altnames")[0]![1]).toContain('names pis.example');
    expect(login(undefined, 'The server does not support SSL connections')[0]![1]).toMatch(/^turn TLS on at the server \(ssl = on/);
    expect(judgePisDatabase(ready, '/s').find((c) => c.name === 'TLS')!.detail).toBe(
      "TLSv1.3 (TLS_AES_256_GCM_SHA384); the server's certificate verified against /etc/pis/ca.pem for pis.example",
    );
    // Plaintext passes only where the topology chose it (which it allows on loopback only).
    const plain = { ...ready, where: { ...ready.where, host: '127.0.0.1', tls: { sslmode: 'disable' as const } }, tls: null };
    expect(judgePisDatabase(plain, '/s').find((c) => c.name === 'TLS')).toMatchObject({
      ok: true,
      detail: 'off: plaintext on loopback ("sslmode": "disable")',
    });
    expect(failed({ ...ready, tls: null })).toEqual([['TLS', 'turn TLS on at the server (ssl = on), then reload it']]);
  });

  it('tells an unreachable server and a missing database apart from a missing role', () => {
    const down = failed({
      ...ready,
      cdcLogin: { ok: false, code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' },
      catalogLogin: { ok: false, code: 'ECONNREFUSED', message: 'x' },
    });
    expect(down[0]).toEqual(['login as fedgate_cdc', 'start the database, or correct pis.database.host and .port in the topology (pis.example:5432)']);
    const noDb = failed({ ...ready, catalogLogin: { ok: false, code: '3D000', message: 'database "pis" does not exist' }, catalogSelect: null });
    expect(noDb).toEqual([['login as fedgate_catalog', 'create the database "pis", or correct pis.database.name in the topology']]);
  });

  it('refuses a publication with other tables, full slots, no WAL senders, and no replication line in pg_hba.conf', () => {
    const facts: PisFacts = {
      ...ready,
      publication: ['prices', 'products'],
      slots: { max: 2, used: 2, ours: false },
      walSenders: 0,
      replicationLogin: { ok: false, code: '53300', message: 'number of requested standby connections exceeds max_wal_senders (currently 0)' },
      tables: { ...ready.tables!, prices: table({ missingColumns: ['currency'] }), products: table({ exists: false, missingColumns: ['product_id'] }) },
    };
    const names = failed(facts).map(([n]) => n);
    expect(names).toEqual([
      'table products',
      'table prices',
      'publication fedgate_cdc',
      'replication slot',
      'max_wal_senders',
      'replication connection as fedgate_cdc',
    ]);
    const text = renderPisChecks(judgePisDatabase(facts, '/secrets/hq'));
    expect(text).toContain(
      "FAIL publication fedgate_cdc: has prices, products; needs exactly availability, discounts, prices\n       fix: as the tables' owner: ALTER PUBLICATION",
    );
    // With our slot already there, full slots do not matter.
    expect(failed({ ...ready, slots: { max: 2, used: 2, ours: true } })).toEqual([]);
  });
});
