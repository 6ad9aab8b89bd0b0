import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type CertPaths, metricsSecret } from '../../certs/index.ts';
import { renderProperties, type Site, type Topology } from '../../federation/index.ts';
import { renderJmxExporterConfig } from '../jmx-exporter.ts';
import { type CdsKind, cdsOptions } from '../jvm-cds.ts';
import type { ProbeTarget } from '../kafka-probe.ts';
import type { KafkaRuntime } from '../kafka-runtime.ts';
import type { CommandLine } from '../process.ts';

export const COMPONENTS = ['broker', 'mm2', 'instance', 'gateway', 'pisdb', 'connect', 'db'] as const;
export type Component = (typeof COMPONENTS)[number];

/** Where one site's files live under the run folder. */
export interface SiteLayout {
  dir: string;
  dataDir: string;
  logDir: string;
  mm2Props: string;
  clusterIdFile: string;
  /** A component's pid file; a site's broker n > 1 has its own (`broker-2.pid`). */
  pidFile(c: Component, node?: number): string;
  log4jFile(c: Component, node?: number): string;
  logFile(c: Component, node?: number): string;
  outFile(c: Component, node?: number): string;
  /** Broker n's data folder and server.properties (broker 1 keeps the one-broker names). */
  brokerDataDir(node: number): string;
  brokerProps(node: number): string;
  /** A JVM's JMX exporter config (rules and its hashed credential). */
  jmxExporterFile(c: Component, node?: number): string;
  /** Where instance worker n > 1 writes its pid once it consumes (it serves no HTTP). */
  readyFile(c: Component, node: number): string;
  /** The number of instance workers `fedgate scale` set for this run (absent: the topology's `workers`). */
  workersFile: string;
}

export function siteLayout(runDir: string, site: string): SiteLayout {
  const dir = join(runDir, site);
  const logDir = join(dir, 'logs');
  const named = (c: Component, node = 1) => (node === 1 ? c : `${c}-${node}`);
  return {
    dir,
    dataDir: join(dir, 'kafka-data'),
    logDir,
    mm2Props: join(dir, 'mm2.properties'),
    clusterIdFile: join(dir, 'cluster.id'),
    pidFile: (c, node) => join(dir, `${named(c, node)}.pid`),
    log4jFile: (c, node) => join(dir, `log4j-${named(c, node)}.properties`),
    logFile: (c, node) => join(logDir, `${named(c, node)}.log`),
    outFile: (c, node) => join(logDir, `${named(c, node)}.out`),
    brokerDataDir: (node) => join(dir, node === 1 ? 'kafka-data' : `kafka-data-${node}`),
    brokerProps: (node) => join(dir, `${named('broker', node)}.properties`),
    jmxExporterFile: (c, node) => join(dir, `jmx-exporter-${named(c, node)}.yml`),
    readyFile: (c, node) => join(dir, `${named(c, node)}.ready`),
    workersFile: join(dir, 'instance.workers'),
  };
}

/** What every component module gets from the launcher. */
export interface LaunchContext {
  topology: Topology;
  /** The shared cache of fetched jars (`<state>/kafka`, `<state>/connect`). */
  stateDir: string;
  runDir: string;
  certsDir: string;
  certs: CertPaths;
  /** The system variables every child gets; nothing else is inherited. */
  systemEnv: Record<string, string>;
  layout(site: string): SiteLayout;
  /** A site's local listener as its admin (the launcher's identity for probes and admin steps). */
  adminKafka(site: Site): ProbeTarget;
  /** Kafka's jars (fetched once) and the certificates (issued once). */
  prepare(): Promise<KafkaRuntime>;
  log(line: string): void;
  /** Broker, MM2 and Connect JVMs map a class-data archive per kind (jvm-cds.ts). */
  jvmCds: boolean;
}

export interface CommandOptions {
  /** JVM logs to stdout instead of the log file (a container's main process; Node components always log JSON lines to stdout). */
  logToStdout?: boolean;
}

/**
 * One kind of process of a site: how to run it, which listeners it binds,
 * and when it is ready. The launcher starts, stops and reports every
 * component the same way, from the table of these.
 */
export interface ComponentModule {
  name: Component;
  /** Why it does not run at this site (MM2 with no flow into the site), or null. */
  skip(site: Site): string | null;
  /** Its processes at the site, by node number (default: one, node 1): a site's brokers. They start together and are ready together. */
  nodes?(site: Site): number[];
  /** The listeners a node binds: each must be free before it starts (a site port, or a named port on the given host). */
  ports(site: Site, node: number): Array<[keyof Site['ports'], number] | [string, number, string]>;
  /** Writes what a node needs (configs, formatted storage) and says how to run it. */
  command(site: Site, node: number, options?: CommandOptions): Promise<CommandLine>;
  /** Where a node's stdout and stderr go. */
  stdoutFile(site: Site, node: number): string;
  /** Answers once it serves (a probe of its listener or of what it writes). */
  ready(site: Site): Promise<boolean>;
  readyTimeoutMs: number;
  /** How often readiness is probed (default: the probe helper's). */
  readyIntervalMs?: number;
  /** The logs whose last lines explain a process that died at start. */
  logs(site: Site, node: number): string[];
  /** An admin step once it is ready (idempotent: it also runs when the component was already running). */
  afterReady?(site: Site): Promise<void>;
  /** What to tell the person watching once it is spawned. */
  started(site: Site): string;
}

/**
 * The JVM option that runs the Prometheus JMX exporter agent in a broker or
 * MM2 node, bound to the site's local address and `port`, answering only to
 * the site's scrape credential; none when the topology gives no port.
 */
export function jmxExporterOptions(ctx: LaunchContext, rt: KafkaRuntime, site: Site, c: 'broker' | 'mm2', port: number | undefined, node = 1): string[] {
  if (port === undefined) return [];
  const file = ctx.layout(site.name).jmxExporterFile(c, node);
  writeFileSync(file, renderJmxExporterConfig(c, metricsSecret(ctx.certsDir, site.name)), { mode: 0o600 });
  return [`-javaagent:${rt.jmxAgent}=${site.address}:${port}:${file}`];
}

/** A Kafka JVM's class-data sharing options (jvm-cds.ts); none when the launcher was told not to. */
export function jvmCdsOptions(ctx: LaunchContext, rt: KafkaRuntime, kind: CdsKind): string[] {
  return ctx.jvmCds ? cdsOptions({ stateDir: ctx.stateDir, classpath: rt.classpath, env: ctx.systemEnv, log: ctx.log }, kind) : [];
}

/** A reload4j config writing the JVM's log to one rolling file, or to stdout (`logFile` null: containers). */
export function writeLog4j(file: string, logFile: string | null): void {
  mkdirSync(join(file, '..'), { recursive: true });
  const appender: Array<[string, string | number]> =
    logFile === null
      ? [
          ['log4j.appender.out', 'org.apache.log4j.ConsoleAppender'],
          ['log4j.appender.out.Target', 'System.out'],
        ]
      : [
          ['log4j.appender.out', 'org.apache.log4j.RollingFileAppender'],
          ['log4j.appender.out.File', logFile],
          ['log4j.appender.out.MaxFileSize', '20MB'],
          ['log4j.appender.out.MaxBackupIndex', 2],
        ];
  writeFileSync(
    file,
    renderProperties('log4j (reload4j) config, generated by fedgate', [
      ['log4j.rootLogger', 'INFO, out'],
      ...appender,
      ['log4j.appender.out.layout', 'org.apache.log4j.PatternLayout'],
      ['log4j.appender.out.layout.ConversionPattern', '[%d] %p %m (%c)%n'],
      ['log4j.logger.kafka.request.logger', 'WARN'],
      ['log4j.logger.org.apache.kafka.common.config.AbstractConfig', 'WARN'],
      ['log4j.logger.org.apache.kafka.clients', 'WARN'],
      ['log4j.logger.org.apache.kafka.common.utils.AppInfoParser', 'WARN'],
    ]),
  );
}

export const JVM_COMMON = ['-XX:+UseSerialGC', '-XX:+ExitOnOutOfMemoryError', '-Djava.awt.headless=true', '-Dfile.encoding=UTF-8'];
