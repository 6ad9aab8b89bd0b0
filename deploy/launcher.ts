import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { Kafka, logLevel } from 'kafkajs';
import { certPaths, clientTls, initCerts, type RotatedCert, readApiAuthorization, readApiSecret, rotateCerts } from '../certs/index.ts';
import {
  bindAddressOf,
  brokerNodes,
  connectUrl,
  interSiteBootstrap,
  isExternalPisDatabase,
  localBootstrap,
  localKafkaConfig,
  pisDatabaseEndpoint,
  pisOf,
  type Site,
  siteOf,
  type Topology,
  upstreamSites,
} from '../federation/index.ts';
import { brokerListeners } from './broker-config.ts';
import { presentedPostgresSerial, presentedSerial, reloadBrokerKeystore } from './cert-reload.ts';
import { brokerModule } from './components/broker.ts';
import { COMPONENTS, type CommandOptions, type Component, type ComponentModule, type LaunchContext, siteLayout } from './components/component.ts';
import { connectModule } from './components/connect.ts';
import { mm2Module } from './components/mm2.ts';
import { instanceWorkers, nodeProcessModule, nodeUrl, workersProblem } from './components/node-process.ts';
import { pisDbModule, placePisDbCertificate } from './components/pisdb.ts';
import { siteDbModule } from './components/sitedb.ts';
import { waitUntil } from './kafka-probe.ts';
import { fetchKafka, type KafkaRuntime } from './kafka-runtime.ts';
import { IP } from './netns.ts';
import { exitOf, findManaged, isOurProcess, readPid, removePidFile, runAttached, type StopOptions, spawnCommand, stopProcess, tailOf } from './process.ts';

export { COMPONENTS, type CommandOptions, type Component, type SiteLayout } from './components/component.ts';

export interface LauncherOptions {
  topology: Topology;
  /** Holds the shared Kafka jar cache (`<state>/kafka`). */
  stateDir: string;
  /** This federation's data, logs, generated configs and pid files. */
  runDir: string;
  certsDir: string;
  /** The CA's private key, kept apart from `certsDir` (which the services are given). */
  caKeyDir: string;
  log?: (line: string) => void;
  /** Certificate validity for `prepare()`, in days. */
  certDays?: number;
  /** Called with every process the launcher starts (tests and drills track pids with it). */
  onSpawn?: (pid: number, role: string) => void;
  /** The system variables every child gets (PATH, HOME, locale: `systemEnv()` of the caller's environment); children inherit nothing else. */
  systemEnv: Record<string, string>;
  /**
   * A PostgreSQL server for every site's database (schemas per site). When
   * absent, the launcher runs a PostgreSQL server per site (components/sitedb.ts).
   */
  databaseUrl?: string;
  /** PGlite embedded in each instance instead of a PostgreSQL server per site (the instance test's embedded case). */
  embeddedDatabases?: boolean;
  /** Extra configuration for the Node processes (instance, gateway), validated by their env readers. */
  env?: Record<string, string>;
  /** Extra Node options for the instance and gateway processes (the benchmark's `--cpu-prof`). */
  nodeArgs?: string[];
  /**
   * Per site, a network namespace its processes run in (`ip netns exec`;
   * deploy/netns.ts makes them): the partition drill's lab. The site's
   * address must be its address inside that namespace.
   */
  netns?: Record<string, string>;
  /**
   * Broker, MM2 and Connect JVMs map a class-data archive per kind, made
   * from the classes the first of the kind loaded (jvm-cds.ts). Default true; `FEDGATE_JVM_CDS=off` for the
   * CLI, to measure the difference or to rule the archive out.
   */
  jvmCds?: boolean;
}

export interface ComponentStatus {
  pid: number | null;
  /** Every running node's pid, for a site with several brokers or instance workers. */
  pids?: number[];
  /** How many nodes it has (brokers, instance workers), when more than one. */
  nodes?: number;
  /** Every node runs. */
  running: boolean;
  ready: boolean;
}

export interface SiteStatus {
  site: string;
  address: string;
  regions: string[];
  listeners: { local: string; interSite: string; controller: string };
  broker: ComponentStatus;
  mm2: ComponentStatus & { upstream: string[] };
  instance: ComponentStatus & { url: string };
  gateway: ComponentStatus & { url: string };
  /** The site's database: one the launcher runs (`managed`), or where the instance keeps it otherwise. */
  database: ComponentStatus & { managed: boolean; where: string };
  /** At the PIS's site: its database and the Connect worker capturing its changes. */
  pis?: { database: ComponentStatus & { url: string; external?: true }; connect: ComponentStatus & { url: string } };
}

export class LaunchError extends Error {
  override name = 'LaunchError';
}

/**
 * Starts order: brokers first (the broker step creates every site topic,
 * including the copies MM2 fills with LogAppendTime, and the ACLs); the
 * sites' and the PIS's databases; instances next; then MM2 (it needs its
 * upstream brokers), the Connect worker and the gateways together: none
 * needs another to be ready (the PIS site's gateway retries its change
 * topics until Connect writes them). Starting the instances in that last
 * stage too measured no faster (35.0-37.8 s against 36.9-38.1 s to ready,
 * alternating, 2026-12-07): the start is bound by CPU, not by the stages.
 * Stops go the other way: the Node processes drain into Kafka, MM2 leaves before the brokers it talks to.
 */
const START_STAGES: readonly (readonly Component[])[] = [['broker'], ['db', 'pisdb'], ['instance'], ['mm2', 'connect', 'gateway']];
const START_ORDER: readonly Component[] = START_STAGES.flat();

/**
 * Starts and stops a federation's processes: Kafka brokers and MirrorMaker 2
 * nodes as plain JVMs (no Docker), instances and gateways as Node processes.
 * Each site's processes bind only the site's address. Every component is
 * handled the same way, from one table of component modules (components/).
 */
export function createLauncher(options: LauncherOptions) {
  const { topology, runDir, certsDir, stateDir } = options;
  const log = options.log ?? (() => {});
  let runtime: KafkaRuntime | null = null;

  /** Fetches Kafka (once) and issues certificates (once). */
  async function prepare(): Promise<KafkaRuntime> {
    if (runtime) return runtime;
    const fetched = await fetchKafka(stateDir, log);
    if (!fetched.fetched) log(`Kafka ${fetched.version} jars already fetched (${fetched.jars} jars in ${fetched.libDir})`);
    const result = initCerts({ dir: certsDir, caKeyDir: options.caKeyDir, topology, days: options.certDays, log });
    if (result.created.length === 0) log(`certificates already issued (${result.kept.length} kept in ${certsDir})`);
    runtime = fetched;
    return fetched;
  }

  // The admin certificate is read when first needed (prepare() issues it), then once per site:
  // readiness probes ask for it every 250 ms. `certs rotate` forgets it.
  const adminConfigs = perSite((name) => localKafkaConfig(siteOf(topology, name), 'fedgate-launcher', clientTls(certsDir, name, 'admin')));
  const adminKafka = (site: Site) => adminConfigs.get(site.name);
  // Drills ask for it on every request; the secret does not change while the launcher lives.
  const instanceHeaders = perSite((name) => readApiAuthorization(readApiSecret(certsDir, name))).get;
  const ctx: LaunchContext = {
    topology,
    stateDir,
    runDir,
    certsDir,
    certs: certPaths(certsDir),
    systemEnv: options.systemEnv,
    layout: (s) => siteLayout(runDir, s),
    adminKafka,
    prepare,
    log,
    jvmCds: options.jvmCds ?? true,
  };
  const siteDb = siteDbModule(ctx, { databaseUrl: options.databaseUrl, embedded: options.embeddedDatabases });
  const node = {
    databaseUrl: options.databaseUrl,
    siteDatabaseUrl: (site: string) => siteDb.url(siteOf(topology, site)),
    env: options.env,
    nodeArgs: options.nodeArgs,
  };
  const modules: Record<Component, ComponentModule> = {
    db: siteDb,
    broker: brokerModule(ctx),
    mm2: mm2Module(ctx),
    instance: nodeProcessModule(ctx, node, 'instance'),
    gateway: nodeProcessModule(ctx, node, 'gateway'),
    pisdb: pisDbModule(ctx),
    connect: connectModule(ctx),
  };

  const nodesOf = (site: Site, c: Component): number[] => modules[c].nodes?.(site) ?? [1];

  /** The pid of a component's process (node n of a site's brokers), if it runs. */
  function pidOf(site: string, c: Component, node = 1): number | null {
    const pid = readPid(ctx.layout(site).pidFile(c, node));
    return pid !== null && isOurProcess(pid, runDir) ? pid : null;
  }

  /** Every running process of a component at a site (one per broker node). */
  function pidsOf(site: string, c: Component): number[] {
    return nodesOf(siteOf(topology, site), c)
      .map((n) => pidOf(site, c, n))
      .filter((p): p is number => p !== null);
  }

  function waitReady(site: Site, c: Component, pids: Map<number, number>): Promise<number> {
    const m = modules[c];
    return waitUntil(() => m.ready(site), {
      what: `${site.name} ${c}`,
      timeoutMs: m.readyTimeoutMs,
      intervalMs: m.readyIntervalMs,
      abort: () => {
        const exited = [...pids].find(([, pid]) => !isOurProcess(pid, runDir));
        if (!exited) return null;
        const [node, pid] = exited;
        const how = exitOf(pid) ?? 'exited';
        return `the ${c}${pids.size > 1 ? ` (node ${node})` : ''} ${how} at start. Last lines of its logs:\n${m
          .logs(site, node)
          .map((f) => `${f}:\n${tailOf(f)}`)
          .join('\n')}`;
      },
    });
  }

  /**
   * Starts one component of a site and waits until it is ready; one already
   * running is only waited for. Null where it does not run at this site.
   */
  async function start(siteName: string, c: Component, onSpawned?: (pid: number) => void): Promise<{ pid: number; readyMs: number } | null> {
    const site = siteOf(topology, siteName);
    const m = modules[c];
    const skip = m.skip(site);
    if (skip) {
      log(`${siteName}: ${skip}`);
      return null;
    }
    // The instance keeps its state in the site's database: one the launcher runs is started (or waited for) first.
    if (c === 'instance' && modules.db.skip(site) === null) await start(siteName, 'db');
    // Every node that is not running starts (a site's brokers start together: a quorum needs a majority).
    const pids = new Map<number, number>();
    const spawned: number[] = [];
    for (const node of nodesOf(site, c)) {
      const running = pidOf(siteName, c, node);
      if (running) {
        pids.set(node, running);
        continue;
      }
      // The site database has no network listener (its socket is a file the instance reaches from any namespace),
      // and `ip netns exec` cannot run as the database's own user: it runs in the host's namespace.
      const netns = c === 'db' ? undefined : options.netns?.[siteName];
      // Inside a namespace the listeners' own bind errors tell; this check would probe the host's namespace.
      if (!netns) await assertPortsFree(site, m.ports(site, node));
      const plain = await m.command(site, node);
      const command = netns ? { ...plain, command: IP, args: ['netns', 'exec', netns, plain.command, ...plain.args] } : plain;
      const role = node === 1 ? `${siteName}/${c}` : `${siteName}/${c}-${node}`;
      const pid = spawnCommand(command, { role, logFile: m.stdoutFile(site, node), pidFile: ctx.layout(siteName).pidFile(c, node) });
      options.onSpawn?.(pid, role);
      if (spawned.length === 0) onSpawned?.(pid);
      pids.set(node, pid);
      spawned.push(pid);
    }
    if (spawned.length > 0) log(`${siteName}: ${c} starting (pid ${spawned.join(', ')}) ${m.started(site)}`);
    const readyMs = await waitReady(site, c, pids);
    if (spawned.length > 0) log(`${siteName}: ${c} ready in ${(readyMs / 1000).toFixed(1)} s`);
    await m.afterReady?.(site);
    return { pid: pids.get(1) ?? [...pids.values()][0]!, readyMs };
  }

  /** Runs one component of a site in the foreground, attached to this terminal: the main process of a container (docker-compose.multi.yml). */
  async function runForeground(siteName: string, c: Component, options: CommandOptions = {}, node = 1): Promise<number> {
    const site = siteOf(topology, siteName);
    await prepare();
    // In a container the broker runs attached, so its admin step runs before the instance, which needs the topics and ACLs.
    if (c === 'instance') {
      for (const before of modules.db.skip(site) === null ? (['broker', 'db'] as const) : (['broker'] as const)) {
        await waitUntil(() => modules[before].ready(site), { what: `${siteName} ${before}`, timeoutMs: modules[before].readyTimeoutMs });
        await modules[before].afterReady?.(site);
      }
    }
    if (site.brokers > 1 && c === 'broker')
      throw new LaunchError(`\`run broker\` runs a one-broker site; ${siteName} has ${site.brokers} brokers (use \`up\`, or set "brokers": 1 for containers)`);
    // The Connect worker needs the site's topics and ACLs, and the PIS database's roles and publication; once it
    // serves, it is given the connector (the launcher's steps for `up`, run here beside the attached process).
    if (c === 'connect') {
      for (const before of isExternalPisDatabase(topology) ? (['broker'] as const) : (['broker', 'pisdb'] as const)) {
        await waitUntil(() => modules[before].ready(site), { what: `${siteName} ${before}`, timeoutMs: modules[before].readyTimeoutMs });
        await modules[before].afterReady?.(site);
      }
      const attached = runAttached(await modules.connect.command(site, node, options));
      waitUntil(() => modules.connect.ready(site), { what: `${siteName} connect`, timeoutMs: modules.connect.readyTimeoutMs })
        .then(() => modules.connect.afterReady?.(site))
        .then(() => log(`${siteName}: the change capture connector runs`))
        .catch((err) => log(`${siteName}: the change capture connector did not start: ${(err as Error).message}`));
      return attached;
    }
    return runAttached(await modules[c].command(site, node, options));
  }

  /**
   * Stops a component of a site: every node of it, or only `node` (one of a
   * site's brokers). The outcome of the last node stopped.
   */
  async function stop(siteName: string, c: Component, opts: StopOptions = {}, node?: number): Promise<string> {
    const nodes = node === undefined ? [...nodesOf(siteOf(topology, siteName), c)].reverse() : [node];
    let outcome = 'not-running';
    for (const n of nodes) {
      const pidFile = ctx.layout(siteName).pidFile(c, n);
      const pid = readPid(pidFile);
      const result = pid === null ? 'not-running' : await stopProcess(pid, runDir, opts);
      removePidFile(pidFile);
      if (result !== 'not-running') {
        log(`${siteName}: ${c}${nodes.length > 1 || node !== undefined ? ` ${n}` : ''} ${result === 'killed' ? 'killed' : 'stopped'} (pid ${pid})`);
        outcome = result;
      }
    }
    return outcome;
  }

  /**
   * Starts the sites, component by component in START_ORDER, every site's at
   * once. If any start fails, it stops what this call started (newest
   * first), and only that: components that were already running, at these
   * sites or others, are left as they were. Then it throws the first error.
   */
  async function up(sites: string[] = topology.sites.map((s) => s.name)): Promise<void> {
    await prepare();
    assertNoStrays();
    const started: Array<{ site: string; component: Component }> = [];
    // A stage's components start together at every site: MM2, the Connect worker and the gateways need only the
    // brokers, the topics and the databases, not each other. Started one after the other, the gateways' start
    // (module loading, the idempotency window's load) came on top of MM2's.
    for (const stage of START_STAGES) {
      log(`starting ${stage.join(', ')} at ${sites.join(', ')}`);
      const results = await Promise.allSettled(stage.flatMap((c) => sites.map((s) => start(s, c, () => started.push({ site: s, component: c })))));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        const what = started.map((x) => `${x.site} ${x.component}`).join(', ') || 'nothing';
        log(`start failed; stopping what this call started (${what}), nothing else`);
        for (const x of [...started].reverse()) await stop(x.site, x.component);
        throw failed.reason;
      }
    }
  }

  /**
   * Stops the named components (all when none are named) of the named sites
   * in START_STAGES reversed, a stage's components at every site together:
   * the gateways, MM2 nodes and Connect worker (none of which needs another
   * to stop), then the instances, the databases and the brokers. One after
   * the other, MM2's 10-17 s stop (its two herders in turn, each stopping
   * its Connect logs) came on top of Connect's and the gateways' drains.
   * Other sites keep running.
   */
  async function stopSites(sites: string[], opts: StopOptions = {}, components: readonly Component[] = START_ORDER): Promise<void> {
    for (const stage of [...START_STAGES].reverse()) {
      const now = stage.filter((c) => components.includes(c));
      await Promise.all(now.flatMap((c) => sites.map((s) => stop(s, c, opts))));
    }
  }

  /**
   * Starts the named components of one site in START_STAGES, a stage's
   * components together, each waited for until ready (as `up` does for a
   * whole site). A site coming back with a backlog owed to it thus has its
   * instance consuming while MM2 and the gateway start.
   */
  async function startComponents(siteName: string, components: readonly Component[]): Promise<void> {
    await prepare();
    for (const stage of START_STAGES) {
      const now = stage.filter((c) => components.includes(c));
      if (now.length > 0) await Promise.all(now.map((c) => start(siteName, c)));
    }
  }

  /** Stops and starts components of one site (all of them when none are named), each waited for until ready. */
  async function restart(siteName: string, components: Component[] = [...START_ORDER], opts: StopOptions = {}): Promise<void> {
    await prepare();
    const order = START_ORDER.filter((c) => components.includes(c));
    await stopSites([siteName], opts, order);
    await startComponents(siteName, order);
  }

  /**
   * Runs `workers` instance workers at a site: extra workers drain and stop
   * (each leaves its groups after committing what it finished), missing ones
   * (new, or dead) start and are waited for; Kafka rebalances the site's groups over them.
   * The number holds for this run folder until `down` (then the topology's
   * `workers` again). A site that is not running just records it.
   */
  async function scale(siteName: string, workers: number): Promise<{ from: number; to: number; running: boolean }> {
    const site = siteOf(topology, siteName);
    if (!Number.isInteger(workers) || workers < 1 || workers > 8) throw new LaunchError(`workers must be a whole number from 1 to 8 (got ${workers})`);
    const problem = workersProblem(site, workers, node);
    if (problem) throw new LaunchError(problem);
    const from = instanceWorkers(ctx, site);
    const running = pidOf(siteName, 'instance') !== null;
    for (let n = from; n > workers; n--) await stop(siteName, 'instance', {}, n);
    if (workers === site.workers) rmSync(ctx.layout(siteName).workersFile, { force: true });
    else writeFileSync(ctx.layout(siteName).workersFile, `${workers}\n`);
    // Every worker up to `workers` that is not running starts (one that died is replaced).
    if (running) {
      await prepare();
      await start(siteName, 'instance');
    }
    log(`${siteName}: ${workers} instance worker${workers === 1 ? '' : 's'}${running ? '' : ' when the site starts'} (was ${from})`);
    return { from, to: workers, running };
  }

  /** Stops every site in START_STAGES reversed, then any stray process of this run; `fedgate scale` numbers are forgotten. */
  async function down(opts: StopOptions = {}): Promise<void> {
    const names = topology.sites.map((s) => s.name);
    await stopSites(names, opts);
    for (const s of names) rmSync(ctx.layout(s).workersFile, { force: true });
    for (const stray of findManaged(runDir)) {
      log(`stopping stray process ${stray.role} (pid ${stray.pid})`);
      await stopProcess(stray.pid, stray.runDir, opts);
    }
  }

  function assertNoStrays(): void {
    const known = new Set(topology.sites.flatMap((s) => COMPONENTS.flatMap((c) => pidsOf(s.name, c))));
    const strays = findManaged(runDir).filter((j) => !known.has(j.pid));
    if (strays.length > 0) {
      throw new LaunchError(
        `processes of this run are running without pid files (${strays.map((s) => `${s.role} pid ${s.pid}`).join(', ')}); run \`npx fedgate down\` first`,
      );
    }
  }

  async function componentStatus(site: Site, c: Component): Promise<ComponentStatus> {
    const pids = pidsOf(site.name, c);
    const running = pids.length === nodesOf(site, c).length;
    const nodes = nodesOf(site, c).length;
    return { pid: pids[0] ?? null, ...(nodes > 1 ? { pids, nodes } : {}), running, ready: running && (await modules[c].ready(site)) };
  }

  const pisUrl = () => {
    const db = pisDatabaseEndpoint(topology);
    return `postgres://${db.host}:${db.port}/${db.database}`;
  };

  async function status(): Promise<SiteStatus[]> {
    return Promise.all(
      topology.sites.map(async (site): Promise<SiteStatus> => {
        const [broker, mm2, instance, gateway, pisdb, connect, db] = await Promise.all(COMPONENTS.map((c) => componentStatus(site, c)));
        const managed = siteDb.skip(site) === null;
        const pis = pisOf(topology);
        return {
          site: site.name,
          address: site.address,
          regions: site.regions,
          listeners: { local: localBootstrap(site), interSite: interSiteBootstrap(site), controller: `${site.address}:${site.ports.controller}` },
          broker: broker!,
          mm2: { ...mm2!, ready: mm2!.ready && broker!.ready, upstream: upstreamSites(topology, site.name).map((s) => s.name) },
          instance: { ...instance!, url: nodeUrl(site, 'instance') },
          gateway: { ...gateway!, url: nodeUrl(site, 'gateway') },
          database: {
            ...db!,
            managed,
            where: siteDb.where(site),
          },
          ...(pis?.site.name === site.name
            ? {
                pis: {
                  // The PIS's own database is not fedgate's to run: reported as external, not as stopped.
                  database: { ...pisdb!, url: pisUrl(), ...(isExternalPisDatabase(topology) ? { external: true as const } : {}) },
                  connect: { ...connect!, url: connectUrl(topology) },
                },
              }
            : {}),
        };
      }),
    );
  }

  /**
   * `certs rotate`: renews a site's leaf certificates with the existing CA
   * and, where they run, makes the servers present the new ones without a
   * restart: every broker listener (dynamic SSL reconfiguration) and the PIS
   * database (its files replaced, then SIGHUP). Each is checked with a fresh
   * TLS handshake until it presents the new serial. Open connections keep
   * their session, so nothing in flight is dropped. The site's clients
   * (MM2, Connect, instance, gateway) present theirs from their next start
   * (`restartToRenew`).
   */
  async function rotateSiteCerts(siteName: string, opts: { days?: number } = {}): Promise<RotationResult> {
    const site = siteOf(topology, siteName);
    const certs = rotateCerts({ dir: certsDir, caKeyDir: options.caKeyDir, topology, site: siteName, days: opts.days, log });
    adminConfigs.forget(siteName);
    const result: RotationResult = { certs, listeners: [], reloaded: [], restartToRenew: [] };
    const serialOf = (role: string) => certs.find((c) => c.role === role)?.serial ?? '';
    const presents = async (what: string, serial: string, probe: () => Promise<string>) => {
      let seen = '';
      await waitUntil(
        async () => {
          seen = await probe().catch(() => '');
          return seen === serial;
        },
        { what: `${what} presenting serial ${serial} (it presents ${seen || 'nothing'})`, timeoutMs: 30_000, intervalMs: 200 },
      );
    };
    if (pidOf(siteName, 'broker') === null) log(`${siteName}: the broker is not running; it loads the new certificate when it starts`);
    else {
      const admin = new Kafka({ ...adminKafka(site), logLevel: logLevel.NOTHING, retry: { retries: 3, initialRetryTime: 300 } }).admin();
      const started = Date.now();
      const nodes = brokerNodes(site).map((n) => n.id);
      await admin.connect();
      try {
        for (const node of nodes) await reloadBrokerKeystore(admin, site, ctx.certs.role(siteName, 'broker').keystore, node);
      } finally {
        await admin.disconnect();
      }
      const serial = serialOf('broker');
      const admins = clientTls(certsDir, siteName, 'admin');
      for (const { name: listener, host, port } of nodes.flatMap((node) => brokerListeners(site, node))) {
        await presents(`${siteName} broker listener ${listener} (${host}:${port})`, serial, () => presentedSerial(host, port, admins));
        result.listeners.push({ listener, endpoint: `${host}:${port}`, serial, reloadMs: Date.now() - started });
        log(`${siteName}: broker listener ${listener} (${host}:${port}) presents the new certificate (serial ${serial})`);
      }
    }
    const pisDb = pidOf(siteName, 'pisdb');
    if (pisDb !== null) {
      const started = Date.now();
      const { host, port } = pisDatabaseEndpoint(topology);
      const serial = serialOf('pisdb');
      const ca = readFileSync(certPaths(certsDir).caCert, 'utf8');
      placePisDbCertificate(ctx, siteName);
      process.kill(pisDb, 'SIGHUP'); // PostgreSQL reads its configuration and its TLS files again
      await presents(`${siteName} PIS database (${host}:${port})`, serial, () => presentedPostgresSerial(host, port, ca));
      result.reloaded.push({ component: 'pisdb', endpoint: `${host}:${port}`, serial, reloadMs: Date.now() - started });
      log(`${siteName}: the PIS database (${host}:${port}) presents the new certificate (serial ${serial})`);
    }
    // The site database has no TLS listener (a Unix socket only): nothing to renew there.
    result.restartToRenew = COMPONENTS.filter((c) => c !== 'broker' && c !== 'db' && c !== 'pisdb' && pidOf(siteName, c) !== null);
    return result;
  }

  const urlOf = (name: 'instance' | 'gateway') => (site: string) => nodeUrl(siteOf(topology, site), name);
  return {
    topology,
    runDir,
    certsDir,
    layout: ctx.layout,
    prepare,
    start,
    startComponents,
    runForeground,
    instanceUrl: urlOf('instance'),
    /** The credential of a site's read API, for the operator's tools (drills, tests). */
    instanceHeaders,
    /** A kafkajs config for a site's local listener as its admin (the operator's tools: drills, tests). */
    adminKafka: (site: string) => adminKafka(siteOf(topology, site)),
    gatewayUrl: urlOf('gateway'),
    stop,
    up,
    down,
    stopSites,
    restart,
    scale,
    status,
    pidOf,
    pidsOf,
    rotateCerts: rotateSiteCerts,
  };
}

export type Launcher = ReturnType<typeof createLauncher>;

/** A value per site, made on first use and kept until forgotten. */
function perSite<T>(make: (site: string) => T) {
  const values = new Map<string, T>();
  return {
    get: (site: string): T => {
      if (!values.has(site)) values.set(site, make(site));
      return values.get(site)!;
    },
    forget: (site: string) => void values.delete(site),
  };
}

export interface RotationResult {
  certs: RotatedCert[];
  /** The broker's listeners and the serial each presents after the reload; empty when the broker was not running. */
  listeners: { listener: string; endpoint: string; serial: string; reloadMs: number }[];
  /** Other servers of the site reloaded in place (the PIS database) and the serial each presents after it; empty when none runs. */
  reloaded: { component: Component; endpoint: string; serial: string; reloadMs: number }[];
  /** Running clients of the site that hold the previous certificate (still valid) until their next start. */
  restartToRenew: Component[];
}

/** Why `host:port` cannot be bound now (`EADDRINUSE`…), or null when it is free: a listen and close. */
export function bindProblem(host: string, port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(null)));
  });
}

/** Fails with a message naming the fix when a listener's address and port are taken. */
export async function assertPortsFree(site: Site, ports: Array<[string, number] | [string, number, string]>): Promise<void> {
  for (const [name, port, at] of ports) {
    const host = at ?? bindAddressOf(site, name as keyof Site['ports']);
    const problem = await bindProblem(host, port);
    if (problem === 'EADDRINUSE') {
      throw new LaunchError(
        `${host}:${port} (${at ? `pis.${name}` : `${site.name}.ports.${name}`}) is already in use. ` +
          `Stop what holds it (another fedgate run: \`npx fedgate down\`), or change ${at ? `pis.${name}` : `sites.${site.name}.ports.${name}`} in the topology file.`,
      );
    }
    if (problem) throw new LaunchError(`cannot bind ${host}:${port} (${site.name}.ports.${name}): ${problem}`);
  }
}
