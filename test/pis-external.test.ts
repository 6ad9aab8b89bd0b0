import { execFile } from 'node:child_process';
import { chownSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdcConnectorState, databaseUser, letThrough, PIS_SCHEMA, postgresBinDir, readTopicToEnd } from '../deploy/index.ts';
import { routedTopic } from '../federation/index.ts';
import { TEST_ENV } from './support/env.ts';
import { createTestFederation, REPO, type TestFederation, testTopology } from './support/federation.ts';
import { issueTestServerCert } from './support/test-ca.ts';

const run = promisify(execFile);

/**
 * The PIS's own PostgreSQL (`pis.database`): a server this test starts as
 * its DBA would run it (a superuser `dba`, the default `wal_level=replica`,
 * no fedgate roles, TLS with a certificate of their own CA), on loopback.
 * `fedgate pis check` names what it lacks and how to fix it; the DBA follows
 * the printed fixes; then `up` starts no database of its own, and Debezium
 * captures a row the DBA writes, over verified TLS.
 */
const SITE = 'pisx';
const DB_PORT = 15472;
// Their CA and server certificate (not the federation's): fedgate is told to trust that CA for this database only.
const theirTls = mkdtempSync(join(tmpdir(), 'fedgate-their-pis-tls-'));
const their = issueTestServerCert(theirTls);
const topology = testTopology(251, [{ name: SITE, regions: ['eu', 'us'], countries: ['DE'] }], {
  pisSite: SITE,
  pisDatabase: { host: '127.0.0.1', port: DB_PORT, name: 'pis', sslrootcert: their.caFile },
});

describe("change capture from the PIS's own database", () => {
  let fed: TestFederation;
  let topologyFile = '';
  let dataDir = '';
  const user = databaseUser();
  const bin = postgresBinDir(TEST_ENV.system.PATH);
  const asDbUser = user ? { uid: user.uid, gid: user.gid } : {};
  const dba = (database: string) => new pg.Client({ host: '127.0.0.1', port: DB_PORT, user: 'dba', database });
  const fedgate = (...args: string[]) =>
    run(process.execPath, [join(REPO, 'bin/fedgate.mjs'), ...args, '--topology', topologyFile, '--home', fed.runDir], { cwd: REPO, timeout: 60_000 }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
    );
  const failedChecks = (stdout: string) => [...stdout.matchAll(/^ {2}FAIL (.+?):/gm)].map((m) => m[1]);
  const pgCtl = (...args: string[]) => run(join(bin, 'pg_ctl'), ['-D', dataDir, ...args], { env: TEST_ENV.system, cwd: dataDir, ...asDbUser });

  beforeAll(async () => {
    fed = createTestFederation('pis-external', topology, { env: { LOG_LEVEL: 'warn' } });
    topologyFile = join(fed.runDir, 'pis-external-topology.json');
    mkdirSync(fed.runDir, { recursive: true });
    writeFileSync(topologyFile, JSON.stringify(topology));
    dataDir = join(fed.runDir, 'their-pis-db');
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (user) {
      letThrough(dataDir, () => {});
      chownSync(dataDir, user.uid, user.gid);
    }
    await run(join(bin, 'initdb'), ['-D', dataDir, '-U', 'dba', '--auth=trust', '--encoding=UTF8', '--locale=C'], {
      env: TEST_ENV.system,
      cwd: dataDir,
      ...asDbUser,
    });
    // Their server: the superuser from loopback without a password; fedgate's roles with SCRAM over TLS only, for ordinary connections.
    writeFileSync(
      join(dataDir, 'pg_hba.conf'),
      [
        'host all dba 127.0.0.1/32 trust',
        'hostssl pis fedgate_cdc 127.0.0.1/32 scram-sha-256',
        'hostssl pis fedgate_catalog 127.0.0.1/32 scram-sha-256',
        '',
      ].join('\n'),
    );
    for (const [pem, to] of [
      [their.cert, 'server.crt'],
      [their.key, 'server.key'],
    ] as const) {
      writeFileSync(join(dataDir, to), pem, { mode: 0o600 });
      if (user) chownSync(join(dataDir, to), user.uid, user.gid);
    }
    await pgCtl(
      '-o',
      `-c listen_addresses=127.0.0.1 -p ${DB_PORT} -c unix_socket_directories='' -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key`,
      '-l',
      join(dataDir, 'server.log'),
      '-w',
      'start',
    );
  }, 120_000);

  afterAll(async () => {
    // Their server first: stopping the federation removes the run folder that holds its data.
    if (dataDir) await pgCtl('-m', 'immediate', '-w', 'stop').catch(() => {});
    await fed?.stop();
    rmSync(theirTls, { recursive: true, force: true });
  }, 120_000);

  it('names what a fresh server lacks, and the printed fixes make it ready', async () => {
    // Nothing of fedgate's there yet: its roles cannot log in, and the fix says how to create them from the secret files.
    const first = await fedgate('pis', 'check');
    expect(first.code, first.stderr).toBe(1);
    expect(failedChecks(first.stdout)).toEqual(['login as fedgate_cdc', 'login as fedgate_catalog']);
    const roleFixes = first.stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l.startsWith('echo "CREATE ROLE'));
    expect(roleFixes).toHaveLength(2);
    expect(roleFixes[0]).toContain(`$(cat ${join(fed.certsDir, SITE, 'pis-cdc.secret')})`);

    // The DBA creates the database and fedgate's schema (as their PIS would have it), then runs the printed commands.
    const admin = dba('postgres');
    await admin.connect();
    await admin.query('CREATE DATABASE pis');
    await admin.end();
    const pis = dba('pis');
    await pis.connect();
    try {
      await pis.query(PIS_SCHEMA);
      await pis.query('ALTER TABLE discounts REPLICA IDENTITY DEFAULT');
      for (const fix of roleFixes) await run('bash', ['-c', fix], { env: { ...TEST_ENV.system, PGUSER: 'dba' } });

      const second = await fedgate('pis', 'check');
      expect(second.code).toBe(1);
      expect(failedChecks(second.stdout)).toEqual([
        'wal_level',
        'fedgate_cdc may read prices',
        'discounts replica identity',
        'fedgate_cdc may read discounts',
        'fedgate_cdc may read availability',
        'publication fedgate_cdc',
        'fedgate_catalog may read products',
      ]);
      // `up` refuses to start change capture on such a database, with the same findings.
      await expect(fed.launcher.start(SITE, 'connect')).rejects.toThrow(/not ready for change capture[\s\S]*wal_level[\s\S]*publication fedgate_cdc/);

      // The DBA applies each printed fix.
      for (const line of second.stdout.split('\n').filter((l) => l.trim().startsWith('fix: ') && /^(GRANT|ALTER TABLE)/.test(l.trim().slice(5))))
        await pis.query(line.trim().slice(5));
      const publication = /fix: as the tables' owner: (CREATE PUBLICATION .+;)/.exec(second.stdout)?.[1];
      expect(publication).toBe('CREATE PUBLICATION fedgate_cdc FOR TABLE availability, discounts, prices;');
      await pis.query(publication!);
      await pis.query('ALTER SYSTEM SET wal_level = logical');
    } finally {
      await pis.end();
    }
    // With its log file: a server that inherited pg_ctl's stdout would hold the pipe open after pg_ctl exits.
    await pgCtl('-l', join(dataDir, 'server.log'), '-w', 'restart');

    const third = await fedgate('pis', 'check');
    expect(failedChecks(third.stdout)).toEqual([]);
    expect(third.code, third.stdout).toBe(0);
    expect(third.stdout).toContain('ready for change capture and enrichment');
    // As the server saw the capture role's connection (pg_stat_ssl), verified against their CA.
    expect(third.stdout).toMatch(
      new RegExp(`^ {2}ok {3}TLS: TLSv1\\.[23] \\(.+\\); the server's certificate verified against ${their.caFile} for 127\\.0\\.0\\.1$`, 'm'),
    );

    // Told to trust another CA, fedgate's roles cannot log in, and the fix names the setting.
    const otherCa = issueTestServerCert(join(theirTls, 'other')).caFile;
    const wrongCa = join(fed.runDir, 'wrong-ca-topology.json');
    writeFileSync(wrongCa, JSON.stringify({ ...topology, pis: { ...topology.pis, database: { ...topology.pis!.database, sslrootcert: otherCa } } }));
    const untrusted = await run(process.execPath, [join(REPO, 'bin/fedgate.mjs'), 'pis', 'check', '--topology', wrongCa, '--home', fed.runDir], {
      cwd: REPO,
      timeout: 60_000,
    }).then(
      () => ({ code: 0, stdout: '' }),
      (err: { code: number; stdout: string }) => ({ code: err.code, stdout: err.stdout }),
    );
    expect(untrusted.code).toBe(1);
    expect(failedChecks(untrusted.stdout)).toEqual(['login as fedgate_cdc', 'login as fedgate_catalog']);
    expect(untrusted.stdout).toContain(`fix: set pis.database.sslrootcert to the CA that issued the server's certificate (now ${otherCa})`);
  }, 180_000);

  it('up starts no database of its own, and a row the PIS writes becomes an event', async () => {
    await fed.launcher.up();
    expect(fed.launcher.pidOf(SITE, 'pisdb')).toBeNull();
    const [status] = await fed.launcher.status();
    expect(status!.pis!.database).toMatchObject({ url: `postgres://127.0.0.1:${DB_PORT}/pis`, external: true });
    await waitFor(async () => (await cdcConnectorState(fed.launcher))?.task === 'RUNNING', 'the connector task running');

    const pis = dba('pis');
    await pis.connect();
    try {
      await pis.query(`INSERT INTO products VALUES ('EXT-1', 'Trail shoe', 'Fedgate', 'shoes')`);
      await pis.query(`INSERT INTO prices VALUES ('EXT-1', 'eu', 'EUR', 12.34)`);
    } finally {
      await pis.end();
    }
    let found: { id: string; value: Record<string, unknown> } | null = null;
    await waitFor(async () => {
      await readTopicToEnd(fed.local(SITE), routedTopic('price', 'eu'), (_p, m) => {
        if (m.key?.toString() === 'EXT-1') found = { id: String(m.headers?.ce_id), value: JSON.parse(m.value!.toString()) };
      });
      return found !== null;
    }, 'the captured price in its routed topic');
    const event = found as unknown as { id: string; value: Record<string, unknown> };
    // Every connection of fedgate's roles open now, Debezium's walsender among them, is TLS as the server sees it (their
    // pg_hba.conf admits those roles over TLS only, so the catalog read that enriched the event above was TLS too).
    const server = dba('postgres');
    await server.connect();
    try {
      const { rows } = await server.query<{ usename: string; backend_type: string; ssl: boolean }>(
        `SELECT a.usename, a.backend_type, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename LIKE 'fedgate\\_%' ORDER BY 1, 2`,
      );
      expect(rows.map((r) => `${r.usename} ${r.backend_type}`)).toContain('fedgate_cdc walsender');
      expect(rows.filter((r) => !r.ssl)).toEqual([]);
    } finally {
      await server.end();
    }
    expect(event.id).toMatch(/^pis-/);
    // Captured, enriched from the same database through the catalog role, and routed like any publish.
    expect(event.value).toEqual({
      productId: 'EXT-1',
      region: 'eu',
      // The gateway keeps money in minor units: 12.34 EUR is 1234 cents.
      price: { currency: 'EUR', minor: 1234 },
      catalog: { status: 'enriched', name: 'Trail shoe', brand: 'Fedgate', category: 'shoes' },
    });
  }, 600_000);
});

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 180_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() - started > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}
