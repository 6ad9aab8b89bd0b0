import { join } from 'node:path';
import { certPaths, issueToken, SCOPES } from '../certs/index.ts';
import {
  assertPortsFree,
  checkJava,
  checkJdkTools,
  checkMaven,
  databaseUser,
  LaunchError,
  type Launcher,
  pisOwnerUrl,
  postgresBinDir,
  prometheusConfig,
  prometheusMissing,
  RULES_FILE,
  type StatePaths,
  startPrometheus,
} from '../deploy/index.ts';
import { siteOf, type Topology } from '../federation/index.ts';
import type { Out } from './context.ts';
import { createDemoPis } from './demo-pis.ts';

/**
 * `npm start`: everything a new user needs, with progress for every step,
 * then where to look. Ctrl-C stops it all; a second start reuses the data.
 */
export async function startFederation(options: {
  topology: Topology;
  launcher: Launcher;
  home: StatePaths;
  demo: boolean;
  rate: number;
  /** Also start a Prometheus scraping the federation (Debian's binary), at 127.0.0.1:9090. */
  prometheus?: boolean;
  /** The PATH searched for PostgreSQL's server binaries when /usr/lib/postgresql has none. */
  systemPath?: string;
  out: Out;
}): Promise<number> {
  const { topology, launcher, out } = options;
  const step = (n: number, what: string) => out.info(`[${n}/5] ${what}`);
  // Ctrl-C at any point stops the federation. During the start it takes
  // effect once the step under way ends: the processes run detached, so
  // leaving at once would leave the ones already started running.
  let interrupted = false;
  let onStop = () => {};
  const stopRequested = () => {
    if (!interrupted) out.info('stopping once the current step ends…');
    interrupted = true;
    onStop();
  };
  process.on('SIGINT', stopRequested);
  process.on('SIGTERM', stopRequested);

  step(1, `checking Java, Maven${topology.pis ? ", PostgreSQL's server binaries, keytool, javac" : ''} and the ports of every site`);
  checkJava();
  checkMaven();
  if (topology.pis) {
    // The PIS database and its change capture (the topology's `pis`): PostgreSQL's server binaries, keytool for the Connect REST trust store and javac for its REST authorization.
    postgresBinDir(options.systemPath ?? '');
    databaseUser();
    checkJdkTools();
  }
  const noPrometheus = options.prometheus ? prometheusMissing() : null;
  if (noPrometheus) throw new LaunchError(`--prometheus: ${noPrometheus}`);
  const running = (await launcher.status()).filter((s) => s.broker.running || s.gateway.running);
  if (running.length > 0)
    throw new LaunchError(
      `the federation is already running (${running.map((s) => s.site).join(', ')}); see \`npx fedgate status\`, or stop it with \`npx fedgate down\``,
    );
  for (const site of topology.sites) await assertPortsFree(site, Object.entries(site.ports));
  if (topology.pis) {
    const pisSite = siteOf(topology, topology.pis.site);
    await assertPortsFree(pisSite, [
      ...(topology.pis.database ? [] : [['databasePort', topology.pis.databasePort, pisSite.address] as [string, number, string]]),
      ['connectPort', topology.pis.connectPort, pisSite.address],
    ]);
  }

  step(2, 'fetching Kafka (once) and creating the certificates (once)');
  await launcher.prepare();

  if (interrupted) return 130;
  step(3, `starting ${topology.sites.length} sites: brokers, instances, MirrorMaker 2 nodes, gateways`);
  const started = Date.now();
  try {
    await launcher.up();
  } catch (err) {
    out.info('start failed; stopping what was started');
    await launcher.down();
    throw err;
  }
  const readySeconds = (Date.now() - started) / 1000;
  if (interrupted) {
    await launcher.down();
    out.info('stopped before it was ready');
    return 130;
  }

  step(4, options.demo ? `starting the demo PIS (${options.rate} events/s through every gateway)` : 'demo PIS off (--no-demo)');
  const tokens: Record<string, string> = {};
  for (const s of topology.sites)
    tokens[s.name] = await issueToken({
      secretsDir: options.home.certsDir,
      topology,
      site: s.name,
      scopes: [...SCOPES],
      subject: 'demo-pis',
      ttlSeconds: 12 * 3600,
    });
  const demo = options.demo
    ? createDemoPis({
        topology,
        tokens,
        ratePerSecond: options.rate,
        log: out.info,
        // The demo writes rows only into the database fedgate runs, as its owner; never into a PIS's own.
        ...(topology.pis && !topology.pis.database ? { pisDatabaseUrl: pisOwnerUrl(topology, options.home.certsDir) } : {}),
      })
    : null;
  demo?.start();

  const prom = options.prometheus
    ? await startPrometheus({
        dir: join(options.home.runDir, 'prometheus'),
        config: prometheusConfig(topology, { certsDir: options.home.certsDir, ruleFiles: [RULES_FILE] }),
        listen: '127.0.0.1:9090',
      }).catch(async (err) => {
        demo?.stop();
        await launcher.down();
        throw err;
      })
    : null;

  step(5, `ready in ${readySeconds.toFixed(1)} s`);
  const first = topology.sites[0]!;
  const userToken = await issueToken({
    secretsDir: options.home.certsDir,
    topology,
    site: first.name,
    scopes: [...SCOPES],
    subject: 'you',
    ttlSeconds: 12 * 3600,
  });
  const example = JSON.stringify({
    type: 'com.fedgate.pim.price.updated',
    data: { productId: 'sku-00042', region: topology.sites.at(-1)!.regions.at(-1), price: { currency: 'JPY', amount: '1500' } },
  });
  out.data(
    [
      '',
      'fedgate is running.',
      '',
      'Dashboards (each shows every site):',
      ...topology.sites.map((s) => `  ${s.name.padEnd(10)} http://${s.address}:${s.ports.gateway}/dashboard`),
      `API docs:   http://${first.address}:${first.ports.gateway}/docs`,
      ...(prom ? [`Prometheus: ${prom.url} (targets, alerts; every site's gateway and instance)`] : []),
      '',
      `A token of ${first.name} (12 h, every scope: publish, and read:federation to sign in on a dashboard):`,
      `  export TOKEN=${userToken}`,
      '',
      'Publish an event:',
      `  curl -s -X POST http://${first.address}:${first.ports.gateway}/v1/events -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '${example}'`,
      '',
      'Then trace it from any site: open a dashboard, sign in with the token, and paste the id from the answer into "Event trace".',
      ...(topology.pis && !topology.pis.database
        ? [
            '',
            `Or change a row of the PIS database at ${topology.pis.site}: Debezium captures it and ${topology.pis.site}'s gateway publishes it (the demo writes there too):`,
            // TLS only (hostssl), the server's certificate checked against the federation CA, as fedgate's own clients do.
            `  PGSSLMODE=verify-full PGSSLROOTCERT=${certPaths(options.home.certsDir).caCert} PGPASSWORD=$(cat ${join(options.home.certsDir, topology.pis.site, 'pis-owner.secret')}) \\`,
            `    psql -h ${siteOf(topology, topology.pis.site).address} -p ${topology.pis.databasePort} -U pis pis \\`,
            `      -c "INSERT INTO prices VALUES ('sku-00042', 'eu', 'EUR', 19.99) ON CONFLICT (product_id, region) DO UPDATE SET amount = EXCLUDED.amount"`,
          ]
        : []),
      'Stop everything: Ctrl-C here (or `npx fedgate down` from another terminal).',
      '',
    ].join('\n'),
  );

  // Signal listeners do not keep Node running (with --no-demo nothing else would): wait on a timer too.
  const keepAlive = setInterval(() => {}, 60_000);
  await new Promise<void>((resolve) => {
    onStop = resolve;
    if (interrupted) resolve();
  });
  clearInterval(keepAlive);
  process.off('SIGINT', stopRequested);
  process.off('SIGTERM', stopRequested);
  out.info('stopping…');
  demo?.stop();
  await prom?.stop();
  await launcher.down();
  out.info(`stopped${demo ? `; the demo published ${demo.counts.accepted} events` : ''}. \`npm start\` again resumes with the same data.`);
  return 0;
}
