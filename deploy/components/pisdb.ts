import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { CATALOG_ROLE, CDC_ROLE, isPisSite, PIS_DATABASE, PIS_OWNER, pisDatabaseEndpoint, pisOf } from '../../federation/index.ts';
import { PrerequisiteError } from '../kafka-runtime.ts';
import { catalogPassword, cdcPassword, pisOwnerPassword, pisOwnerUrl, setUpPisDatabase } from '../pis-database.ts';
import { runMarker } from '../process.ts';
import type { ComponentModule, LaunchContext } from './component.ts';

const execFileAsync = promisify(execFile);

/** Where Debian (and most distributions) keep PostgreSQL's server binaries; the newest version wins. */
export function postgresBinDir(pathVar = ''): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root)
    ? readdirSync(root)
        .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (versions[0]) return join(root, versions[0], 'bin');
  for (const dir of pathVar.split(':')) if (dir && existsSync(join(dir, 'initdb'))) return dir;
  throw new PrerequisiteError(
    'the PIS database needs PostgreSQL\'s server binaries (initdb, postgres), which were not found in /usr/lib/postgresql/*/bin or on the PATH. Install them (Debian: apt-get install postgresql-15), or remove "pis" from the topology.',
  );
}

/**
 * PostgreSQL refuses to run as root: as root, the database runs as the
 * system's `postgres` user (Debian's package creates it).
 */
export function databaseUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line)
    throw new PrerequisiteError(
      'PostgreSQL does not run as root, and this machine has no "postgres" user to run the PIS database as. Create one (useradd --system postgres) or run fedgate as an ordinary user.',
    );
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * PostgreSQL, run as another user than the launcher's (root), must reach its
 * data folder: every folder above it that others cannot enter gets o+x (enter,
 * not list). Secret folders (0700 for the launcher's user) are not on that
 * path: the data folder lives in the run folder.
 */
export function letThrough(dataDir: string, log: (line: string) => void): void {
  for (let d = dirname(dataDir); ; d = dirname(d)) {
    const mode = statSync(d).mode & 0o7777;
    if ((mode & 0o001) === 0) {
      chmodSync(d, mode | 0o001);
      log(`let the databases' user (postgres) through ${d} (o+x)`);
    }
    if (d === dirname(d)) break;
  }
}

/**
 * A new database cluster in `dir` (nothing is done when it holds one):
 * initdb with the superuser's SCRAM password, run as the database's user.
 */
export async function createCluster(
  ctx: LaunchContext,
  o: { site: string; dir: string; bin: string; user: { uid: number; gid: number } | undefined; superuser: string; password: string; what: string },
): Promise<void> {
  if (existsSync(join(o.dir, 'PG_VERSION'))) return;
  rmSync(o.dir, { recursive: true, force: true });
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const pwfile = join(dirname(o.dir), `${basename(o.dir)}.pwfile`);
  writeFileSync(pwfile, `${o.password}\n`, { mode: 0o600 });
  if (o.user) {
    chownSync(o.dir, o.user.uid, o.user.gid);
    chownSync(pwfile, o.user.uid, o.user.gid);
  }
  ctx.log(`${o.site}: creating the ${o.what} cluster in ${o.dir}`);
  try {
    await execFileAsync(
      join(o.bin, 'initdb'),
      ['-D', o.dir, '-U', o.superuser, `--pwfile=${pwfile}`, '--auth=scram-sha-256', '--encoding=UTF8', '--locale=C'],
      // Its working folder must be one the database's user can enter.
      { env: ctx.systemEnv, cwd: o.dir, ...o.user },
    );
  } finally {
    rmSync(pwfile, { force: true });
  }
  ctx.log(`${o.site}: ${o.what} cluster created`);
}

/** The server answers a login at `url` (a readiness probe). */
export async function canLogIn(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** The PIS database's data folder (its cluster) at a site. */
const pisDbDir = (ctx: LaunchContext, site: string) => join(ctx.layout(site).dir, 'pis-db');

/** The server's certificate and key in its data folder (relative to it): PostgreSQL wants the key owned by its user, mode 0600. */
const SERVER_CERT = 'fedgate-server.crt';
const SERVER_KEY = 'fedgate-server.key';

/**
 * Copies the site's `pisdb` certificate and key into the data folder at each
 * start (the certificates folder is the launcher user's alone), and at a
 * `certs rotate` (placePisDbCertificate) before the server is asked to reload.
 */
function placeServerCertificate(ctx: LaunchContext, site: string, dir: string, user: { uid: number; gid: number } | undefined): void {
  const issued = ctx.certs.role(site, 'pisdb');
  for (const [from, to] of [
    [issued.cert, SERVER_CERT],
    [issued.key, SERVER_KEY],
  ] as const) {
    const file = join(dir, to);
    rmSync(file, { force: true });
    writeFileSync(file, readFileSync(from), { mode: 0o600 });
    if (user) chownSync(file, user.uid, user.gid);
  }
}

/**
 * `certs rotate` at the PIS site: the renewed certificate and key go into the
 * running server's data folder. A SIGHUP to the server (the launcher sends
 * it) then makes PostgreSQL read them again: new TLS sessions present the new
 * certificate; open sessions (Debezium's walsender, the PIS's clients) keep
 * theirs.
 */
export function placePisDbCertificate(ctx: LaunchContext, site: string): void {
  placeServerCertificate(ctx, site, pisDbDir(ctx, site), databaseUser());
}

/**
 * The PIS database of the topology's `pis` site: a PostgreSQL server of its
 * own (the shared server of a machine runs `wal_level=replica`, and logical
 * decoding needs `logical`), started from the distribution's binaries,
 * listening on the site's address with password authentication over TLS only
 * and no Unix socket. Ready once the PIS owner can log in; then its schema, the
 * capture role and the publication are put in place.
 */
export function pisDbModule(ctx: LaunchContext): ComponentModule {
  const dataDir = (site: string) => pisDbDir(ctx, site);
  // The owner's maintenance database: the PIS database is created from it once the server answers.
  const maintenanceUrl = () => {
    const url = new URL(pisOwnerUrl(ctx.topology, ctx.certsDir));
    url.pathname = '/postgres';
    return url.toString();
  };
  return {
    name: 'pisdb',
    skip: (site) => {
      if (!isPisSite(ctx.topology, site.name)) return 'no PIS database at this site';
      const db = pisDatabaseEndpoint(ctx.topology);
      return db.external ? `the PIS database is the PIS's own, ${db.host}:${db.port}/${db.database}; fedgate does not start one` : null;
    },
    ports: (site) => [['databasePort', pisOf(ctx.topology)!.pis.databasePort, site.address]],
    async command(site) {
      const { pis } = pisOf(ctx.topology)!;
      const bin = postgresBinDir(ctx.systemEnv.PATH);
      const user = databaseUser();
      const dir = dataDir(site.name);
      mkdirSync(ctx.layout(site.name).logDir, { recursive: true });
      if (user) letThrough(dir, ctx.log);
      await createCluster(ctx, {
        site: site.name,
        dir,
        bin,
        user,
        superuser: PIS_OWNER,
        password: pisOwnerPassword(ctx.certsDir, site.name),
        what: 'PIS database',
      });
      // Password (SCRAM) logins only, over TLS to the site's address (the server listens nowhere else; on loopback a
      // client's source address is 127.0.0.1, whatever it dials): the PIS as the owner, Debezium as the capture role, the
      // gateway as the catalog role (enrichment). Written at every start, so an older cluster gets new roles' lines.
      writeFileSync(
        join(dir, 'pg_hba.conf'),
        [
          '# generated by fedgate: SCRAM password logins over TLS only; the server listens on the site address only',
          `hostssl all ${PIS_OWNER} 0.0.0.0/0 scram-sha-256`,
          `hostssl ${PIS_DATABASE} ${CDC_ROLE} 0.0.0.0/0 scram-sha-256`,
          `hostssl replication ${CDC_ROLE} 0.0.0.0/0 scram-sha-256`,
          `hostssl ${PIS_DATABASE} ${CATALOG_ROLE} 0.0.0.0/0 scram-sha-256`,
          '',
        ].join('\n'),
      );
      if (user) chownSync(join(dir, 'pg_hba.conf'), user.uid, user.gid);
      placeServerCertificate(ctx, site.name, dir, user);
      return {
        command: join(bin, 'postgres'),
        args: [
          '-D',
          dir,
          '-c',
          `listen_addresses=${site.address}`,
          '-p',
          String(pis.databasePort),
          '-c',
          'unix_socket_directories=',
          '-c',
          'wal_level=logical',
          '-c',
          'max_wal_senders=4',
          '-c',
          'max_replication_slots=4',
          '-c',
          'shared_buffers=32MB',
          '-c',
          'password_encryption=scram-sha-256',
          // TLS with the site's `pisdb` certificate (issued by the federation CA for the site's address).
          '-c',
          'ssl=on',
          '-c',
          `ssl_cert_file=${SERVER_CERT}`,
          '-c',
          `ssl_key_file=${SERVER_KEY}`,
          '-c',
          'ssl_min_protocol_version=TLSv1.3',
          // The launcher's marker (placeholder settings, which PostgreSQL keeps and ignores): how `down` and the pid checks know the process.
          '-c',
          runMarker(ctx.runDir).slice(2),
          '-c',
          `fedgate.role=${site.name}/pisdb`,
        ],
        env: ctx.systemEnv,
        cwd: dir,
        ...(user ?? {}),
      };
    },
    stdoutFile: (site) => ctx.layout(site.name).logFile('pisdb'),
    ready: () => canLogIn(maintenanceUrl()),
    async afterReady(site) {
      const admin = new pg.Client({ connectionString: maintenanceUrl() });
      await admin.connect();
      try {
        const exists = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [PIS_DATABASE]);
        if (exists.rows.length === 0) await admin.query(`CREATE DATABASE ${PIS_DATABASE} OWNER ${PIS_OWNER}`);
      } finally {
        await admin.end();
      }
      const client = new pg.Client({ connectionString: pisOwnerUrl(ctx.topology, ctx.certsDir) });
      await client.connect();
      try {
        await setUpPisDatabase(client, { cdc: cdcPassword(ctx.certsDir, site.name), catalog: catalogPassword(ctx.certsDir, site.name) });
      } finally {
        await client.end();
      }
    },
    readyTimeoutMs: 60_000,
    logs: (site) => [ctx.layout(site.name).logFile('pisdb')],
    started: (site) => `PIS database on ${site.address}:${pisOf(ctx.topology)!.pis.databasePort} (wal_level=logical)`,
  };
}
