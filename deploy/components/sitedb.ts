import { chownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { siteSecret } from '../../certs/index.ts';
import type { Site } from '../../federation/index.ts';
import { PrerequisiteError } from '../kafka-runtime.ts';
import { runMarker } from '../process.ts';
import type { ComponentModule, LaunchContext } from './component.ts';
import { canLogIn, createCluster, databaseUser, letThrough, postgresBinDir } from './pisdb.ts';

/** The cluster's superuser (the launcher's setup only) and the instance's login, which owns the site's database and nothing else. */
export const SITE_DB_ADMIN = 'fedgate_admin';
export const SITE_DB_ROLE = 'fedgate_site';
export const SITE_DB_NAME = 'fedgate';
/** Names the socket file only (`.s.PGSQL.5432` in the data folder): the server has no TCP listener. */
const SOCKET_PORT = 5432;
/** Unix-domain socket paths are limited to 107 bytes (sun_path). */
const MAX_SOCKET_PATH = 107;

const adminPassword = (certsDir: string, site: string) => siteSecret(certsDir, site, 'site-db-admin.secret');
const rolePassword = (certsDir: string, site: string) => siteSecret(certsDir, site, 'site-db.secret');

/** How the sites' databases are kept: a PostgreSQL server the caller names, one the launcher runs per site, or PGlite embedded in each instance. */
export interface SiteDbOptions {
  /** A PostgreSQL server for every site (DATABASE_URL): the launcher runs no database. */
  databaseUrl?: string;
  /** PGlite in each instance instead of a PostgreSQL server per site. */
  embedded?: boolean;
}

/** libpq's form for a Unix socket: the `host` parameter names the socket's folder and wins over the URL's host. */
function socketUrl(user: string, password: string, database: string, socketDir: string): string {
  return `postgres://${user}:${encodeURIComponent(password)}@localhost/${database}?host=${encodeURIComponent(socketDir)}`;
}

/**
 * A site's own database (effects, event store, monitoring, idempotency of
 * its consumers): a PostgreSQL server from the distribution's binaries,
 * one per site as in docker-compose.multi.yml, with no TCP listener at all:
 * its only socket is a Unix-domain socket in its data folder (mode 0700, the
 * launcher's user or the database's), and every login is a SCRAM password
 * from the site's secrets folder. The instance logs in as a role that owns
 * the site's database and is no superuser.
 *
 * Skipped when a PostgreSQL server is given (DATABASE_URL) or PGlite is
 * asked for; without the server binaries the instance keeps its database in
 * PGlite (about 750 MiB more memory per site), and says so at start.
 */
/** The instance's login to a site database the launcher runs (`siteDir`: the site's run folder). */
export function siteDbUrl(certsDir: string, siteDir: string, site: string): string {
  return socketUrl(SITE_DB_ROLE, rolePassword(certsDir, site), SITE_DB_NAME, join(siteDir, 'db'));
}

export function siteDbModule(ctx: LaunchContext, options: SiteDbOptions): ComponentModule & { url(site: Site): string | undefined; where(site: Site): string } {
  const dataDir = (site: string) => join(ctx.layout(site).dir, 'db');
  const binDir = (): string | null => {
    try {
      return postgresBinDir(ctx.systemEnv.PATH);
    } catch {
      return null;
    }
  };
  const skip = (): string | null => {
    if (options.databaseUrl) return 'the site database is on the PostgreSQL server of DATABASE_URL';
    if (options.embedded) return 'the site database is PGlite, embedded in the instance';
    if (!binDir())
      return (
        'no PostgreSQL server binaries (initdb, postgres in /usr/lib/postgresql/*/bin or on the PATH): the site database is PGlite, ' +
        'embedded in the instance, which needs about 750 MiB more memory per site. Install them (Debian: apt-get install postgresql-15) for a PostgreSQL server per site'
      );
    return null;
  };
  const adminUrl = (site: string, database = 'postgres') => socketUrl(SITE_DB_ADMIN, adminPassword(ctx.certsDir, site), database, dataDir(site));
  return {
    name: 'db',
    skip,
    ports: () => [],
    where: (site) => {
      if (skip() === null) return `PostgreSQL, on the Unix socket in ${dataDir(site.name)}`;
      if (!options.databaseUrl) return 'PGlite, embedded in the instance';
      const server = new URL(options.databaseUrl);
      return `PostgreSQL server ${server.hostname || 'local socket'}:${server.port || 5432}${server.pathname}, the site's schema`;
    },
    url: (site) => (skip() === null ? siteDbUrl(ctx.certsDir, ctx.layout(site.name).dir, site.name) : options.databaseUrl),
    async command(site) {
      const bin = postgresBinDir(ctx.systemEnv.PATH);
      const user = databaseUser();
      const dir = dataDir(site.name);
      const socket = join(dir, `.s.PGSQL.${SOCKET_PORT}`);
      if (Buffer.byteLength(socket) > MAX_SOCKET_PATH)
        throw new PrerequisiteError(
          `the site database's socket path ${socket} is longer than the ${MAX_SOCKET_PATH} bytes a Unix-domain socket allows: give fedgate a shorter home (--home or FEDGATE_HOME), or set DATABASE_URL to a PostgreSQL server`,
        );
      mkdirSync(ctx.layout(site.name).logDir, { recursive: true });
      if (user) letThrough(dir, ctx.log);
      await createCluster(ctx, {
        site: site.name,
        dir,
        bin,
        user,
        superuser: SITE_DB_ADMIN,
        password: adminPassword(ctx.certsDir, site.name),
        what: 'site database',
      });
      // Logins over the Unix socket only, each with its SCRAM password: the launcher as the superuser, the
      // instance as the owner of the site's database. Written at every start.
      writeFileSync(
        join(dir, 'pg_hba.conf'),
        [
          '# generated by fedgate: SCRAM password logins over the Unix-domain socket in this folder only (no TCP listener)',
          `local all ${SITE_DB_ADMIN} scram-sha-256`,
          `local ${SITE_DB_NAME} ${SITE_DB_ROLE} scram-sha-256`,
          '',
        ].join('\n'),
      );
      if (user) chownSync(join(dir, 'pg_hba.conf'), user.uid, user.gid);
      return {
        command: join(bin, 'postgres'),
        args: [
          '-D',
          dir,
          '-c',
          'listen_addresses=',
          '-p',
          String(SOCKET_PORT),
          '-c',
          `unix_socket_directories=${dir}`,
          '-c',
          'unix_socket_permissions=0700',
          '-c',
          'shared_buffers=32MB',
          '-c',
          'password_encryption=scram-sha-256',
          '-c',
          runMarker(ctx.runDir).slice(2),
          '-c',
          `fedgate.role=${site.name}/db`,
        ],
        env: ctx.systemEnv,
        cwd: dir,
        ...(user ?? {}),
      };
    },
    stdoutFile: (site) => ctx.layout(site.name).logFile('db'),
    ready: (site) => canLogIn(adminUrl(site.name)),
    /** The instance's role (its password set again at every start: the secrets folder is the truth) and the database it owns. */
    async afterReady(site) {
      const admin = new pg.Client({ connectionString: adminUrl(site.name) });
      await admin.connect();
      try {
        const password = admin.escapeLiteral(rolePassword(ctx.certsDir, site.name));
        const role = await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [SITE_DB_ROLE]);
        await admin.query(`${role.rows.length === 0 ? 'CREATE' : 'ALTER'} ROLE ${SITE_DB_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD ${password}`);
        const db = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [SITE_DB_NAME]);
        if (db.rows.length === 0) await admin.query(`CREATE DATABASE ${SITE_DB_NAME} OWNER ${SITE_DB_ROLE}`);
      } finally {
        await admin.end();
      }
    },
    readyTimeoutMs: 60_000,
    logs: (site) => [ctx.layout(site.name).logFile('db')],
    started: (site) => `site database (PostgreSQL) on the Unix socket in ${dataDir(site.name)}`,
  };
}
