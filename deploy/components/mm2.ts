import { mkdirSync, writeFileSync } from 'node:fs';
import { renderMm2Properties, upstreamSites } from '../../federation/index.ts';
import { topicHasRecentRecords } from '../kafka-probe.ts';
import { javaCommand } from '../process.ts';
import { type ComponentModule, JVM_COMMON, jmxExporterOptions, jvmCdsOptions, type LaunchContext, writeLog4j } from './component.ts';

/**
 * A site's MirrorMaker 2 node (dedicated mode, `--clusters <site>`): it
 * pulls from the upstream sites and writes here. Ready once its heartbeat
 * connector writes to the local cluster.
 */
export function mm2Module(ctx: LaunchContext): ComponentModule {
  const upstream = (site: string) => upstreamSites(ctx.topology, site).map((s) => s.name);
  return {
    name: 'mm2',
    skip: (site) => (upstream(site.name).length === 0 ? 'no flows into this site, so no MirrorMaker 2 node' : null),
    ports: (site) => (site.ports.mm2Metrics === undefined ? [] : [['mm2Metrics', site.ports.mm2Metrics]]),
    async command(site, _node, options) {
      const rt = await ctx.prepare();
      const l = ctx.layout(site.name);
      mkdirSync(l.logDir, { recursive: true });
      writeFileSync(
        l.mm2Props,
        renderMm2Properties(ctx.topology, site.name, { caFile: ctx.certs.caCert, keystoreFile: ctx.certs.role(site.name, 'mm2').keystore }),
      );
      writeLog4j(l.log4jFile('mm2'), options?.logToStdout ? null : l.logFile('mm2'));
      return javaCommand({
        role: `${site.name}/mm2`,
        runDir: ctx.runDir,
        classpath: rt.classpath,
        mainClass: 'org.apache.kafka.connect.mirror.MirrorMaker',
        args: [l.mm2Props, '--clusters', site.name],
        jvmOptions: [
          '-Xms64m',
          `-Xmx${ctx.topology.heap.mm2}`,
          ...JVM_COMMON,
          `-Dlog4j.configuration=file:${l.log4jFile('mm2')}`,
          ...jmxExporterOptions(ctx, rt, site, 'mm2', site.ports.mm2Metrics),
          ...jvmCdsOptions(ctx, rt, 'mm2'),
        ],
        env: ctx.systemEnv,
      });
    },
    stdoutFile: (site) => ctx.layout(site.name).outFile('mm2'),
    ready: (site) => topicHasRecentRecords(ctx.adminKafka(site), 'heartbeats', 10_000),
    readyTimeoutMs: 120_000,
    readyIntervalMs: 500,
    logs: (site) => [ctx.layout(site.name).logFile('mm2'), ctx.layout(site.name).outFile('mm2')],
    started: (site) => `pulling from ${upstream(site.name).join(', ')}`,
  };
}
