import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { chromium } from 'playwright-core';
import { checkJava, checkMaven, PrerequisiteError, postgresBinDir } from '../../deploy/index.ts';

/**
 * What `npm test` needs besides Node: each check says what is missing and the
 * command that installs it. Where a tool can live in several places, the
 * first that exists wins, and the tests use that one.
 */
export interface Missing {
  what: string;
  fix: string;
}

export type Exists = (path: string) => boolean;
export type Runs = (command: string, args: string[]) => boolean;

const runs: Runs = (command, args) => {
  try {
    execFileSync(command, args, { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
};

/** CHROMIUM_PATH, then Playwright's own browser, then Debian's chromium; null when none exists. */
export function findChromium(env: { CHROMIUM_PATH?: string }, exists: Exists = existsSync): string | null {
  const candidates = [env.CHROMIUM_PATH, chromium.executablePath(), '/usr/bin/chromium'].filter((p): p is string => !!p);
  return candidates.find((p) => exists(p)) ?? null;
}

/** `docker compose` (the plugin), then `docker-compose`; null when neither answers. Only `config` is used: no engine is needed. */
export function findCompose(run: Runs = runs): { command: string; args: string[] } | null {
  if (run('docker', ['compose', 'version'])) return { command: 'docker', args: ['compose'] };
  if (run('docker-compose', ['version'])) return { command: 'docker-compose', args: [] };
  return null;
}

/** The flags every browser test launches Chromium with (no sandbox as root, no network beyond loopback). */
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/** Every missing prerequisite, each with its fix; an empty list when the machine can run the suite. */
export async function missingPrerequisites(options: {
  env: { CHROMIUM_PATH?: string };
  databaseUrl: string;
  /** The PATH searched for PostgreSQL's binaries when /usr/lib/postgresql has none. */
  path?: string;
  exists?: Exists;
  run?: Runs;
  canConnect?: (url: string) => Promise<boolean>;
  listens?: (host: string, port: number) => Promise<boolean>;
}): Promise<Missing[]> {
  const missing: Missing[] = [];
  const run = options.run ?? runs;
  for (const check of [checkJava, checkMaven]) {
    try {
      check();
    } catch (err) {
      if (!(err instanceof PrerequisiteError)) throw err;
      missing.push({ what: check === checkJava ? 'Java 17 or newer' : 'Maven', fix: err.message });
    }
  }
  try {
    postgresBinDir(options.path ?? '');
  } catch (err) {
    if (!(err instanceof PrerequisiteError)) throw err;
    missing.push({ what: "PostgreSQL's server binaries (initdb, postgres): the launcher runs the PIS database with wal_level=logical", fix: err.message });
  }
  if (!run('keytool', ['-help']))
    missing.push({ what: 'keytool (from the JDK)', fix: "the Connect worker's REST trust store is made with it: apt-get install openjdk-17-jdk-headless" });
  if (!run('javac', ['-version']))
    missing.push({ what: 'javac (from the JDK)', fix: "the Connect worker's REST authorization is compiled with it: apt-get install openjdk-17-jdk-headless" });
  if (!run('openssl', ['version'])) missing.push({ what: 'openssl', fix: 'certificates are issued with it: apt-get install openssl' });
  if (!findChromium(options.env, options.exists)) {
    missing.push({
      what: 'a Chromium for the browser tests',
      fix: 'apt-get install chromium (or set CHROMIUM_PATH to a Chromium or Chrome binary)',
    });
  }
  if (!findCompose(run)) {
    missing.push({ what: 'a compose tool (docker-compose.multi.yml is validated with `config`; no engine is needed)', fix: 'apt-get install docker-compose' });
  }
  if (!run('promtool', ['--version']) || !run('prometheus', ['--version'])) {
    missing.push({
      what: 'Prometheus and promtool (the alert rules are checked with promtool; a real Prometheus scrapes a test federation)',
      fix: 'apt-get install prometheus (or put prometheus and promtool on the PATH)',
    });
  }
  // The partition test puts two sites in network namespaces and drops packets between them (deploy/netns.ts).
  if (!run('ip', ['netns', 'list']) || !run('nft', ['list', 'tables'])) {
    missing.push({
      what: 'network namespaces and nftables, as root (the partition test runs each site in a namespace of its own)',
      fix: 'apt-get install iproute2 nftables, and run the tests as root (or with CAP_NET_ADMIN)',
    });
  }
  for (const [what, port, fix] of [
    ['RabbitMQ at 127.0.0.1:5672 (the AMQP delivery tests publish to it)', 5672, 'apt-get install rabbitmq-server; systemctl start rabbitmq-server'],
    ['an MQTT broker at 127.0.0.1:1883 (the MQTT delivery tests publish to it)', 1883, 'apt-get install mosquitto; systemctl start mosquitto'],
  ] as const) {
    if (!(await (options.listens ?? listens)('127.0.0.1', port))) missing.push({ what, fix });
  }
  if (!run('rabbitmqctl', ['-q', 'status'])) {
    missing.push({
      what: "rabbitmqctl, able to reach the local RabbitMQ (a delivery test closes fedgate's connection from the broker side)",
      fix: 'run the tests as a user that can run rabbitmqctl (root, or one with the Erlang cookie)',
    });
  }
  if (!(await (options.canConnect ?? canConnect)(options.databaseUrl))) {
    missing.push({
      what: `a PostgreSQL server at ${redact(options.databaseUrl)}`,
      fix: 'start one (Debian: apt-get install postgresql, then pg_ctlcluster 15 main start), or point FEDGATE_TEST_DATABASE_URL at yours',
    });
  }
  return missing;
}

function listens(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function canConnect(url: string): Promise<boolean> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

function redact(url: string): string {
  const u = new URL(url);
  if (u.password) u.password = '***';
  return u.toString();
}
