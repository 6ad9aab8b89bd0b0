import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { interSiteBootstrap, localBootstrap } from '../../federation/index.ts';
import { renderBrokerProperties } from '../broker-config.ts';
import { brokerAnswers } from '../kafka-probe.ts';
import { javaCommand } from '../process.ts';
import { setUpSite } from '../site-setup.ts';
import { type ComponentModule, JVM_COMMON, type LaunchContext, writeLog4j } from './component.ts';

const execFileAsync = promisify(execFile);

/** A site's Kafka broker (KRaft combined mode): ready once its site-local listener answers a metadata request. */
export function brokerModule(ctx: LaunchContext): ComponentModule {
  return {
    name: 'broker',
    skip: () => null,
    ports: (site) => [
      ['kafka', site.ports.kafka],
      ['interSite', site.ports.interSite],
      ['controller', site.ports.controller],
    ],
    async command(site) {
      const rt = await ctx.prepare();
      const l = ctx.layout(site.name);
      mkdirSync(l.logDir, { recursive: true });
      const keys = ctx.certs.role(site.name, 'broker');
      writeFileSync(
        l.brokerProps,
        renderBrokerProperties(ctx.topology, site.name, { dataDir: l.dataDir, keystoreFile: keys.keystore, caFile: ctx.certs.caCert }),
      );
      writeLog4j(l.log4jFile('broker'), l.logFile('broker'));
      const jvmLog = [`-Dlog4j.configuration=file:${l.log4jFile('broker')}`];
      const java = (args: string[]) => execFileAsync('java', [...jvmLog, '-cp', rt.classpath, 'kafka.tools.StorageTool', ...args], { env: ctx.systemEnv });
      // KRaft storage is formatted once; after that the data survives restarts.
      if (!existsSync(join(l.dataDir, 'meta.properties'))) {
        if (!existsSync(l.clusterIdFile)) writeFileSync(l.clusterIdFile, (await java(['random-uuid'])).stdout.trim());
        const clusterId = readFileSync(l.clusterIdFile, 'utf8').trim();
        ctx.log(`${site.name}: formatting KRaft storage (cluster id ${clusterId})`);
        await java(['format', '-t', clusterId, '-c', l.brokerProps]);
      }
      return javaCommand({
        role: `${site.name}/broker`,
        runDir: ctx.runDir,
        classpath: rt.classpath,
        mainClass: 'kafka.Kafka',
        args: [l.brokerProps],
        jvmOptions: ['-Xms64m', `-Xmx${ctx.topology.heap.broker}`, ...JVM_COMMON, ...jvmLog],
        env: ctx.systemEnv,
      });
    },
    stdoutFile: (site) => ctx.layout(site.name).outFile('broker'),
    ready: (site) => brokerAnswers(ctx.adminKafka(site), 2000),
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
    logs: (site) => [ctx.layout(site.name).logFile('broker'), ctx.layout(site.name).outFile('broker')],
    started: (site) => `on ${localBootstrap(site)} (local), ${interSiteBootstrap(site)} (mTLS)`,
  };
}
