import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { brokerNodes, interSiteBootstrap, interSiteBootstraps, localBootstrap, localBootstraps } from '../../federation/index.ts';
import { renderBrokerProperties } from '../broker-config.ts';
import { brokerAnswers } from '../kafka-probe.ts';
import { javaCommand } from '../process.ts';
import { setUpSite } from '../site-setup.ts';
import { type ComponentModule, JVM_COMMON, jmxExporterOptions, jvmCdsOptions, type LaunchContext, writeLog4j } from './component.ts';

const execFileAsync = promisify(execFile);

/**
 * A site's Kafka brokers (KRaft combined mode; one, or three forming the
 * controller quorum): ready once every one is registered and a controller
 * leads, as the site-local listener reports.
 */
export function brokerModule(ctx: LaunchContext): ComponentModule {
  return {
    name: 'broker',
    skip: () => null,
    nodes: (site) => brokerNodes(site).map((n) => n.id),
    ports: (site, node) => {
      const n = brokerNodes(site)[node - 1]!;
      return [
        ['kafka', n.kafka],
        ['interSite', n.interSite],
        ['controller', n.controller],
        ...(n.metrics === undefined ? [] : [['brokerMetrics', n.metrics] as ['brokerMetrics', number]]),
      ];
    },
    async command(site, node, options) {
      const rt = await ctx.prepare();
      const l = ctx.layout(site.name);
      mkdirSync(l.logDir, { recursive: true });
      const keys = ctx.certs.role(site.name, 'broker');
      const dataDir = l.brokerDataDir(node);
      writeFileSync(
        l.brokerProps(node),
        renderBrokerProperties(ctx.topology, site.name, { dataDir, keystoreFile: keys.keystore, caFile: ctx.certs.caCert }, node),
      );
      writeLog4j(l.log4jFile('broker', node), options?.logToStdout ? null : l.logFile('broker', node));
      const jvmLog = [`-Dlog4j.configuration=file:${l.log4jFile('broker', node)}`];
      const java = (args: string[]) => execFileAsync('java', [...jvmLog, '-cp', rt.classpath, 'kafka.tools.StorageTool', ...args], { env: ctx.systemEnv });
      // KRaft storage is formatted once, every broker of the site with the same cluster id; after that the data survives restarts.
      if (!existsSync(join(dataDir, 'meta.properties'))) {
        mkdirSync(l.dir, { recursive: true });
        if (!existsSync(l.clusterIdFile)) writeFileSync(l.clusterIdFile, (await java(['random-uuid'])).stdout.trim());
        const clusterId = readFileSync(l.clusterIdFile, 'utf8').trim();
        ctx.log(`${site.name}: formatting KRaft storage of broker ${node} (cluster id ${clusterId})`);
        await java(['format', '-t', clusterId, '-c', l.brokerProps(node)]);
      }
      return javaCommand({
        role: site.brokers === 1 ? `${site.name}/broker` : `${site.name}/broker-${node}`,
        runDir: ctx.runDir,
        classpath: rt.classpath,
        mainClass: 'kafka.Kafka',
        args: [l.brokerProps(node)],
        jvmOptions: [
          '-Xms64m',
          `-Xmx${ctx.topology.heap.broker}`,
          ...JVM_COMMON,
          ...jvmLog,
          ...jmxExporterOptions(ctx, rt, site, 'broker', brokerNodes(site)[node - 1]!.metrics, node),
          ...jvmCdsOptions(ctx, rt, 'broker'),
        ],
        env: ctx.systemEnv,
      });
    },
    stdoutFile: (site, node) => ctx.layout(site.name).outFile('broker', node),
    // Each broker's own listener must answer: a broker SIGKILLed and restarted within its session timeout is still
    // registered from before, so the site's metadata alone would call it ready before it listens.
    ready: async (site) => {
      const target = ctx.adminKafka(site);
      const each = await Promise.all(localBootstraps(site).map((b) => brokerAnswers({ ...target, brokers: [b] }, 2000, site.brokers)));
      return each.every(Boolean);
    },
    /** The site's topics and every component's ACLs, as the site's admin, before anything else connects. */
    async afterReady(site) {
      const admin = new Kafka({ ...ctx.adminKafka(site), logLevel: logLevel.NOTHING, retry: { retries: 5, initialRetryTime: 300 } }).admin();
      await admin.connect();
      try {
        const { created, acls, removed } = await setUpSite(admin, ctx.topology, site.name);
        ctx.log(
          `${site.name}: ${created.length ? `created ${created.length} topics, ` : ''}${acls} ACLs in force${removed ? `, ${removed} stale removed` : ''}`,
        );
      } finally {
        await admin.disconnect();
      }
    },
    readyTimeoutMs: 90_000,
    logs: (site, node) => [ctx.layout(site.name).logFile('broker', node), ctx.layout(site.name).outFile('broker', node)],
    started: (site) =>
      site.brokers === 1
        ? `on ${localBootstrap(site)} (local), ${interSiteBootstrap(site)} (mTLS)`
        : `${site.brokers} brokers on ${localBootstraps(site).join(', ')} (local), ${interSiteBootstraps(site).join(', ')} (mTLS)`,
  };
}
