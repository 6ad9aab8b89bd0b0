import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { startFederation } from './start.ts';
import { writeComposeFiles } from '../deploy/compose.ts';
import { CertsError, initCerts } from '../certs/index.ts';
import { TopologyError, loadTopology, type Topology } from '../federation/index.ts';
import { DRILLS, formatDrillReport, runDrill, type DrillKind } from '../drills/index.ts';
import { LaunchError, PrerequisiteError, createLauncher, fetchKafka, statePaths, type SiteStatus } from '../deploy/index.ts';
import { SCOPES, issueToken, rotateSigningKey } from '../certs/index.ts';
import { readCliEnv, type CliEnv } from './env.ts';

/** A wrong invocation; the message names the fix. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const HELP = `fedgate: multi-cloud federation gateway for product-information events

usage: npx fedgate <command> [options]

  start [--no-demo] [--rate N]
                           fetch Kafka, create certificates, start the three sites
                           and a demo PIS publishing N events/s (default 20); Ctrl-C stops
  kafka fetch              fetch Apache Kafka's jars from Maven Central (once)
  certs init [--days N] [--force]
                           create the federation CA and every site's certificates
  topology check           validate the topology file
  up [--detach] [--site S]...
                           start the sites' brokers and MirrorMaker 2 nodes
  run broker|mm2|instance|gateway --site S
                           run one component of a site in the foreground (a container's
                           main process in docker-compose.multi.yml)
  compose render           write docker-compose.multi.yml and its topology from the topology
  down [--hard]            stop everything this federation started
  status [--json]          processes, listeners and readiness per site
  token --site S --scope SCOPE [--scope …] [--ttl SECONDS]
                           a development JWT from the site's issuer key
  token rotate --site S    add a new signing key (kid) to the site's issuer
  drill site-outage|link-outage|broker-outage --site S [--duration 60s] [--rate 200/s] [--hard] [--json]
                           stop part of a site under load, bring it back, report lost,
                           delayed and duplicated events (the federation must be up)
  publish --site S [--file F] [--token T]
                           publish events (JSON object, array or NDJSON) from a file
                           or stdin through the site's gateway

common options:
  --topology FILE          topology file (default: topology.json, or FEDGATE_TOPOLOGY)
  --home DIR               state folder for jars, certificates and data (default: .fedgate, or FEDGATE_HOME)
`;

type Out = { info(line: string): void; data(text: string): void };
const stdOut: Out = {
  info: (line) => process.stderr.write(`[fedgate ${new Date().toISOString().slice(11, 19)}] ${line}\n`),
  data: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
};

export async function main(argv: string[], out: Out = stdOut): Promise<number> {
  try {
    return await run(argv, out);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`fedgate: ${err.message}\nrun \`npx fedgate help\` for the commands\n`);
      return 2;
    }
    if (err instanceof TopologyError || err instanceof CertsError || err instanceof PrerequisiteError || err instanceof LaunchError) {
      process.stderr.write(`fedgate: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`fedgate: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

async function run(argv: string[], out: Out): Promise<number> {
  const [command, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    out.data(HELP);
    return 0;
  }
  const env = readCliEnv();
  switch (command) {
    case 'kafka': {
      const { positionals, values } = parse(rest, {});
      if (positionals[0] !== 'fetch') throw new UsageError('`kafka` takes one subcommand: `fetch`');
      const paths = statePaths(values.home ?? env.FEDGATE_HOME);
      const result = await fetchKafka(paths.stateDir, out.info);
      if (!result.fetched) out.info(`Kafka ${result.version} is already fetched (${result.jars} jars in ${result.libDir}); nothing to do`);
      return 0;
    }
    case 'certs': {
      const { positionals, values } = parse(rest, { days: { type: 'string' }, force: { type: 'boolean' } });
      if (positionals[0] !== 'init') throw new UsageError('`certs` takes one subcommand: `init`');
      const days = values.days === undefined ? undefined : Number(values.days);
      if (days !== undefined && !Number.isInteger(days)) throw new UsageError(`--days takes a whole number of days (got "${values.days}")`);
      const topology = topologyFrom(values, env);
      const paths = statePaths(values.home ?? env.FEDGATE_HOME);
      const result = initCerts({ dir: paths.certsDir, topology, days, force: values.force, log: out.info });
      out.info(`certificates in ${paths.certsDir}: ${result.created.length} created, ${result.kept.length} kept${result.kept.length && !values.force ? ' (use --force to replace the CA and every certificate)' : ''}`);
      return 0;
    }
    case 'topology': {
      const { positionals, values } = parse(rest, {});
      if (positionals[0] !== 'check') throw new UsageError('`topology` takes one subcommand: `check`');
      const topology = topologyFrom(values, env);
      out.info(`topology is valid: ${topology.sites.map((s) => `${s.name} (${s.address})`).join(', ')}`);
      return 0;
    }
    case 'start': {
      const { values } = parse(rest, { 'no-demo': { type: 'boolean' }, rate: { type: 'string' } });
      const rate = values.rate === undefined ? 20 : Number(values.rate);
      if (!Number.isInteger(rate) || rate < 1 || rate > 2000) throw new UsageError('--rate takes events per second, from 1 to 2000');
      const topology = topologyFrom(values, env);
      return startFederation({ topology, launcher: launcherFrom(topology, values, env, out), home: statePaths(values.home ?? env.FEDGATE_HOME), demo: !values['no-demo'], rate, out });
    }
    case 'publish': {
      const { values } = parse(rest, { site: { type: 'string' }, file: { type: 'string' }, token: { type: 'string' } });
      const topology = topologyFrom(values, env);
      const site = topology.sites.find((s) => s.name === values.site);
      if (!site) throw new UsageError(`--site is required; one of ${topology.sites.map((s) => s.name).join(', ')}`);
      const text = values.file ? readFileSync(values.file, 'utf8') : await readStdin();
      const events = parseEventsText(text);
      const token = values.token ?? (await issueToken({ secretsDir: statePaths(values.home ?? env.FEDGATE_HOME).certsDir, topology, site: site.name, scopes: [...SCOPES], ttlSeconds: 300 }));
      const res = await fetch(`http://${site.address}:${site.ports.gateway}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(events) }).catch((err: Error) => {
        throw new UsageError(`${site.name}'s gateway did not answer (${err.message}); is the federation up? (\`npx fedgate status\`)`);
      });
      out.data(JSON.stringify(await res.json(), null, 2));
      return res.status === 202 ? 0 : 1;
    }
    case 'drill': {
      const { positionals, values } = parse(rest, { site: { type: 'string' }, duration: { type: 'string' }, rate: { type: 'string' }, hard: { type: 'boolean' }, json: { type: 'boolean' } });
      const kind = positionals[0];
      if (!(DRILLS as readonly string[]).includes(kind ?? '')) throw new UsageError(`name the drill: ${DRILLS.join(', ')}`);
      const topology = topologyFrom(values, env);
      if (!values.site || !topology.sites.some((s) => s.name === values.site)) throw new UsageError(`--site is required; one of ${topology.sites.map((s) => s.name).join(', ')}`);
      const durationMs = parseDuration(values.duration ?? '60s');
      const rate = Number((values.rate ?? '200/s').replace(/\/s$/, ''));
      if (!Number.isInteger(rate) || rate < 1 || rate > 5000) throw new UsageError('--rate takes events per second, e.g. 200/s (1 to 5000)');
      const paths = statePaths(values.home ?? env.FEDGATE_HOME);
      const report = await runDrill({ launcher: launcherFrom(topology, values, env, out), topology, secretsDir: paths.certsDir, drill: kind as DrillKind, site: values.site, durationMs, ratePerSecond: rate, hard: !!values.hard, log: out.info });
      out.data(values.json ? JSON.stringify(report, null, 2) : formatDrillReport(report));
      return report.lost === 0 ? 0 : 1;
    }
    case 'up': {
      const { values } = parse(rest, { detach: { type: 'boolean' }, site: { type: 'string', multiple: true } });
      const topology = topologyFrom(values, env);
      const launcher = launcherFrom(topology, values, env, out);
      const sites = values.site ?? topology.sites.map((s) => s.name);
      for (const s of sites) if (!topology.sites.some((t) => t.name === s)) throw new UsageError(`unknown site "${s}"; the topology has ${topology.sites.map((t) => t.name).join(', ')}`);
      try {
        await launcher.up(sites);
      } catch (err) {
        out.info('start failed; stopping what was started');
        await launcher.down();
        throw err;
      }
      printStatus(await launcher.status(), out);
      if (values.detach) {
        out.info('running in the background; stop with `npx fedgate down`');
        return 0;
      }
      out.info('running; press Ctrl-C to stop');
      await waitForSignal();
      out.info('stopping…');
      await launcher.down();
      return 0;
    }
    case 'run': {
      const { positionals, values } = parse(rest, { site: { type: 'string' } });
      const component = positionals[0];
      if (!['broker', 'mm2', 'instance', 'gateway'].includes(component ?? '')) throw new UsageError('`run` takes one of: broker, mm2, instance, gateway');
      const topology = topologyFrom(values, env);
      if (!values.site || !topology.sites.some((s) => s.name === values.site)) throw new UsageError(`--site is required; one of ${topology.sites.map((s) => s.name).join(', ')}`);
      return launcherFrom(topology, values, env, out).runForeground(values.site, component as 'broker');
    }
    case 'compose': {
      const { positionals, values } = parse(rest, {});
      if (positionals[0] !== 'render') throw new UsageError('`compose` takes one subcommand: `render`');
      const files = writeComposeFiles(topologyFrom(values, env), process.cwd());
      out.info(`wrote ${files.join(' and ')}; validate with \`docker-compose -f docker-compose.multi.yml config -q\``);
      return 0;
    }
    case 'down': {
      const { values } = parse(rest, { hard: { type: 'boolean' } });
      const launcher = launcherFrom(topologyFrom(values, env), values, env, out);
      await launcher.down({ hard: values.hard });
      out.info('federation stopped');
      return 0;
    }
    case 'status': {
      const { values } = parse(rest, { json: { type: 'boolean' } });
      const launcher = launcherFrom(topologyFrom(values, env), values, env, out);
      const status = await launcher.status();
      const flows = await flowLagOf(status);
      if (values.json) out.data(JSON.stringify({ sites: status, flows }, null, 2));
      else {
        printStatus(status, out);
        out.data(flows === null ? '\nflow lag: no gateway is up to compute it' : `\n${['flow', ...flows.map((f) => `${f.from} -> ${f.to}`)].map((h, i) => (i === 0 ? `${h.padEnd(22)}records  seconds` : `${h.padEnd(22)}${String(flows[i - 1]!.records ?? '?').padStart(7)}  ${flows[i - 1]!.seconds ?? '?'}`)).join('\n')}`);
      }
      return 0;
    }
    case 'token': {
      const { positionals, values } = parse(rest, { site: { type: 'string' }, scope: { type: 'string', multiple: true }, ttl: { type: 'string' }, subject: { type: 'string' } });
      const topology = topologyFrom(values, env);
      if (!values.site) throw new UsageError(`--site is required; one of ${topology.sites.map((s) => s.name).join(', ')}`);
      if (!topology.sites.some((s) => s.name === values.site)) throw new UsageError(`unknown site "${values.site}"; the topology has ${topology.sites.map((s) => s.name).join(', ')}`);
      const paths = statePaths(values.home ?? env.FEDGATE_HOME);
      if (positionals[0] === 'rotate') {
        const kid = await rotateSigningKey(paths.certsDir, values.site);
        out.info(`${values.site}: new signing key ${kid} is current; older keys stay in the JWKS until you remove them`);
        return 0;
      }
      const scopes = values.scope ?? [];
      const unknown = scopes.filter((s) => !(SCOPES as readonly string[]).includes(s));
      if (scopes.length === 0 || unknown.length) throw new UsageError(`give --scope one or more times with: ${SCOPES.join(', ')}${unknown.length ? ` (unknown: ${unknown.join(', ')})` : ''}`);
      const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
      if (!Number.isInteger(ttl) || ttl < 1 || ttl > 30 * 86400) throw new UsageError('--ttl takes seconds, from 1 to 2592000 (30 days)');
      out.data(await issueToken({ secretsDir: paths.certsDir, topology, site: values.site, scopes, ttlSeconds: ttl, subject: values.subject }));
      return 0;
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

type Spec = Parameters<typeof parseArgs>[0] extends infer P ? (P extends { options?: infer O } ? O : never) : never;

function parse<O extends Spec>(args: string[], options: O) {
  try {
    return parseArgs({
      args,
      allowPositionals: true,
      options: { ...options, topology: { type: 'string' }, home: { type: 'string' } } as O & { topology: { type: 'string' }; home: { type: 'string' } },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function topologyFrom(values: { topology?: string }, env: CliEnv): Topology {
  return loadTopology(values.topology ?? env.FEDGATE_TOPOLOGY);
}

function launcherFrom(topology: Topology, values: { home?: string }, env: CliEnv, out: Out) {
  const paths = statePaths(values.home ?? env.FEDGATE_HOME);
  return createLauncher({ topology, stateDir: paths.stateDir, runDir: paths.runDir, certsDir: paths.certsDir, log: out.info });
}

/** MM2 lag per flow, as the first ready gateway's federated view computes it; null when no gateway is up. */
async function flowLagOf(sites: SiteStatus[]): Promise<{ from: string; to: string; records?: number; seconds?: number; unknown?: true }[] | null> {
  const gateway = sites.find((s) => s.gateway.ready);
  if (!gateway) return null;
  try {
    const res = await fetch(`${gateway.gateway.url}/v1/federation/stats?windowSeconds=60`, { signal: AbortSignal.timeout(5000) });
    return ((await res.json()) as { links: { from: string; to: string; records?: number; seconds?: number; unknown?: true }[] }).links;
  } catch {
    return null;
  }
}

function printStatus(sites: SiteStatus[], out: Out): void {
  const mark = (c: { running: boolean; ready: boolean }) => (c.ready ? 'ready' : c.running ? 'starting' : 'stopped');
  const rows = [
    ['site', 'kafka (local)', 'kafka (mTLS)', 'broker', 'mm2', 'pulls from', 'instance', 'gateway', 'dashboard'],
    ...sites.map((s) => [s.site, s.listeners.local, s.listeners.interSite, mark(s.broker), s.mm2.upstream.length ? mark(s.mm2) : 'n/a', s.mm2.upstream.join(',') || '-', mark(s.instance), mark(s.gateway), `${s.gateway.url}/dashboard`]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  out.data(rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ')).join('\n'));
}

/** "60s", "2m", "1500ms" or a number of seconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new UsageError(`--duration takes a time such as 60s, 2m or 1500ms (got "${text}")`);
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms < 1000 || ms > 3_600_000) throw new UsageError('--duration must be between 1s and 60m');
  return ms;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) throw new UsageError('give --file <events.json>, or pipe the events into stdin');
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** A JSON object, a JSON array, or one JSON object per line. */
export function parseEventsText(text: string): unknown[] {
  const trimmed = text.trim();
  if (!trimmed) throw new UsageError('no events given: the input is empty');
  try {
    const parsed = JSON.parse(trimmed);
    return Array.isArray(parsed) ? parsed : [parsed];
  } catch {
    return trimmed.split('\n').filter((l) => l.trim()).map((line, i) => {
      try {
        return JSON.parse(line);
      } catch (err) {
        throw new UsageError(`line ${i + 1} is not JSON (${(err as Error).message}); give a JSON object, a JSON array, or one JSON object per line`);
      }
    });
  }
}

export function waitForSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}
