import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CONNECT_REST_EXTENSION } from '../federation/index.ts';

/**
 * Kafka's runtime comes from Maven Central: `deploy/pom.xml` lists the
 * broker, MirrorMaker 2, the CLI tools and the slf4j-reload4j binding, and
 * `mvn dependency:copy-dependencies` gathers them. The jars are cached in
 * `<state>/kafka/lib` with a stamp of the pom's hash, so a second fetch does
 * nothing until the pom changes.
 */

export const POM_FILE = resolve(dirname(fileURLToPath(import.meta.url)), 'pom.xml');

export class PrerequisiteError extends Error {
  override name = 'PrerequisiteError';
}

export interface KafkaRuntime {
  libDir: string;
  /** For `java -cp`: every jar of the runtime. */
  classpath: string;
  version: string;
  /** The Prometheus JMX exporter's Java agent (`-javaagent:`), kept off the classpath. */
  jmxAgent: string;
}

export interface FetchResult extends KafkaRuntime {
  fetched: boolean;
  seconds: number;
  jars: number;
}

export function kafkaVersion(): string {
  const m = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(readFileSync(POM_FILE, 'utf8'));
  if (!m?.[1]) throw new Error(`${POM_FILE} has no <kafka.version>`);
  return m[1];
}

/** Java 17+ is needed by Kafka 3.9 as fedgate runs it. */
export function checkJava(): number {
  const run = spawnSync('java', ['-version'], { encoding: 'utf8' });
  if (run.error) {
    throw new PrerequisiteError('java was not found on the PATH. Install Java 17 or newer (Debian: apt-get install openjdk-17-jre-headless) and try again.');
  }
  // `java -version` prints to stderr.
  const text = `${run.stderr}${run.stdout}`;
  const m = /version "(\d+)(?:\.(\d+))?/.exec(text);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : NaN;
  if (!Number.isFinite(major)) throw new PrerequisiteError(`could not read the Java version from: ${text.trim().split('\n')[0]}`);
  if (major < 17)
    throw new PrerequisiteError(
      `Java ${major} is too old: fedgate runs Kafka 3.9 on Java 17 or newer. Install Java 17+ (Debian: apt-get install openjdk-17-jre-headless) or put a newer java first on the PATH.`,
    );
  return major;
}

/** The JDK's tools the PIS's change capture needs: keytool makes the Connect worker's REST trust store, javac its REST authorization. */
export function checkJdkTools(): void {
  for (const [tool, args, why] of [
    ['keytool', ['-help'], "for the Connect worker's trust store"],
    ['javac', ['-version'], "to compile the Connect worker's REST authorization"],
  ] as const) {
    const run = spawnSync(tool, args, { stdio: 'ignore' });
    if (run.error || run.status !== 0)
      throw new PrerequisiteError(
        `${tool} was not found on the PATH. The PIS's change capture needs it ${why}: install a JDK (Debian: apt-get install openjdk-17-jdk-headless), or remove "pis" from the topology.`,
      );
  }
}

export function checkMaven(): void {
  try {
    execFileSync('mvn', ['--version'], { stdio: 'ignore' });
  } catch {
    throw new PrerequisiteError(
      'Maven (mvn) was not found on the PATH. fedgate fetches Kafka from Maven Central with it: install Maven (Debian: apt-get install maven) and try again.',
    );
  }
}

function pomStamp(): string {
  return createHash('sha256').update(readFileSync(POM_FILE)).digest('hex');
}

export function kafkaRuntimeDir(stateDir: string): string {
  return join(stateDir, 'kafka');
}

/** The cached runtime, or null if it has not been fetched (or the pom changed). */
export function cachedKafkaRuntime(stateDir: string): KafkaRuntime | null {
  const dir = kafkaRuntimeDir(stateDir);
  const libDir = join(dir, 'lib');
  const stampFile = join(dir, 'stamp');
  if (!existsSync(stampFile) || !existsSync(libDir)) return null;
  if (readFileSync(stampFile, 'utf8').trim() !== pomStamp()) return null;
  const jmxAgent = jmxAgentIn(dir);
  if (!jmxAgent) return null;
  return { libDir, classpath: join(libDir, '*'), version: kafkaVersion(), jmxAgent };
}

const AGENT_JAR = /^jmx_prometheus_javaagent-.*\.jar$/;

function jmxAgentIn(dir: string): string | null {
  const agents = join(dir, 'agents');
  const jar = existsSync(agents) ? readdirSync(agents).find((f) => AGENT_JAR.test(f)) : undefined;
  return jar ? join(agents, jar) : null;
}

/**
 * Fetches Kafka's jars once. `onProgress` gets a line per step; Maven's own
 * output goes to `<state>/kafka/fetch.log`.
 */
export async function fetchKafka(stateDir: string, onProgress: (line: string) => void = () => {}): Promise<FetchResult> {
  const started = Date.now();
  const cached = cachedKafkaRuntime(stateDir);
  if (cached) {
    return { ...cached, fetched: false, seconds: 0, jars: readdirSync(cached.libDir).length + 1 };
  }
  checkJava();
  checkMaven();
  const dir = kafkaRuntimeDir(stateDir);
  mkdirSync(dir, { recursive: true });
  const staging = join(dir, `lib.partial-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  const logFile = join(dir, 'fetch.log');
  onProgress(`fetching Apache Kafka ${kafkaVersion()} (broker, MirrorMaker 2, tools) from Maven Central; log: ${logFile}`);

  await copyMavenDependencies(POM_FILE, staging, logFile, 'Kafka', onProgress);

  // The JMX exporter is a Java agent, not a library of the JVMs: it goes beside the classpath, not on it.
  const agents = join(dir, 'agents');
  rmSync(agents, { recursive: true, force: true });
  mkdirSync(agents, { recursive: true });
  for (const f of readdirSync(staging).filter((f) => AGENT_JAR.test(f))) renameSync(join(staging, f), join(agents, f));
  const jmxAgent = jmxAgentIn(dir);
  if (!jmxAgent) throw new PrerequisiteError(`Maven fetched no JMX exporter agent (io.prometheus.jmx:jmx_prometheus_javaagent); see ${logFile}`);
  const libDir = join(dir, 'lib');
  rmSync(libDir, { recursive: true, force: true });
  renameSync(staging, libDir);
  writeFileSync(join(dir, 'stamp'), `${pomStamp()}\n`);
  const jars = readdirSync(libDir).length + 1;
  const seconds = (Date.now() - started) / 1000;
  onProgress(`fetched ${jars} jars in ${seconds.toFixed(1)} s into ${libDir}`);
  return { libDir, classpath: join(libDir, '*'), version: kafkaVersion(), jmxAgent, fetched: true, seconds, jars };
}

/**
 * `mvn dependency:copy-dependencies` of a pom's runtime jars into `outDir`;
 * Maven's output goes to `logFile`, a line per 20 downloads to `onProgress`.
 */
export function copyMavenDependencies(
  pomFile: string,
  outDir: string,
  logFile: string,
  what: string,
  onProgress: (line: string) => void,
  extraArgs: string[] = [],
): Promise<void> {
  return new Promise<void>((resolvePromise, reject) => {
    const mvn = spawn('mvn', ['-B', '-f', pomFile, 'dependency:copy-dependencies', '-DincludeScope=runtime', `-DoutputDirectory=${outDir}`, ...extraArgs], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log: Buffer[] = [];
    let downloads = 0;
    const onData = (chunk: Buffer) => {
      log.push(chunk);
      for (const line of chunk.toString().split('\n')) {
        if (/Downloaded from/.test(line) && ++downloads % 20 === 0) onProgress(`  … ${downloads} artifacts downloaded`);
      }
    };
    mvn.stdout.on('data', onData);
    mvn.stderr.on('data', onData);
    mvn.on('error', reject);
    mvn.on('close', (code) => {
      writeFileSync(logFile, Buffer.concat(log));
      if (code === 0) resolvePromise();
      else reject(new PrerequisiteError(`Maven could not fetch ${what} (exit ${code}). See ${logFile}; check that Maven Central is reachable.`));
    });
  });
}

export const DEBEZIUM_POM = resolve(dirname(fileURLToPath(import.meta.url)), 'debezium', 'pom.xml');

/** Connect's `plugin.path` (Debezium's PostgreSQL connector in its own folder below it), fetched once per pom. */
export interface DebeziumPlugin {
  pluginPath: string;
  version: string;
}

/**
 * A pom's runtime jars, fetched once into `<dir>/<target>` (`mvn
 * dependency:copy-dependencies`, staged and renamed into place) and fetched
 * again only when the pom changes (a stamp of its hash beside them).
 * `subfolder`: the jars go one folder below the target (a Connect plugin).
 */
export async function fetchPomOnce(options: {
  pom: string;
  dir: string;
  target: string;
  what: string;
  onProgress: (line: string) => void;
  subfolder?: string;
  extraArgs?: string[];
}): Promise<{ path: string; fetched: boolean }> {
  const { dir, onProgress } = options;
  const path = join(dir, options.target);
  const stampFile = join(dir, 'stamp');
  const stamp = createHash('sha256').update(readFileSync(options.pom)).digest('hex');
  if (existsSync(stampFile) && existsSync(path) && readFileSync(stampFile, 'utf8').trim() === stamp) return { path, fetched: false };
  checkJava();
  checkMaven();
  mkdirSync(dir, { recursive: true });
  const staging = join(dir, `${options.target}.partial-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  const logFile = join(dir, 'fetch.log');
  onProgress(`fetching ${options.what} from Maven Central; log: ${logFile}`);
  await copyMavenDependencies(
    options.pom,
    options.subfolder ? join(staging, options.subfolder) : staging,
    logFile,
    options.what,
    onProgress,
    options.extraArgs,
  );
  rmSync(path, { recursive: true, force: true });
  renameSync(staging, path);
  writeFileSync(stampFile, `${stamp}\n`);
  onProgress(`fetched ${options.what} into ${path}`);
  return { path, fetched: true };
}

/** The Debezium version deploy/debezium/pom.xml pins (the launcher's worker and the Kubernetes Connect build use the same). */
export function debeziumVersion(): string {
  const version = /<debezium\.version>([^<]+)</.exec(readFileSync(DEBEZIUM_POM, 'utf8'))?.[1];
  if (!version) throw new Error(`${DEBEZIUM_POM} has no <debezium.version>`);
  return version;
}

/**
 * Fetches Debezium's PostgreSQL connector once (deploy/debezium/pom.xml) into
 * `<state>/connect/plugins/debezium-postgres`, without Kafka's own jars and
 * the compression libraries the worker's classpath already has.
 */
export async function fetchDebezium(stateDir: string, onProgress: (line: string) => void = () => {}): Promise<DebeziumPlugin> {
  const version = debeziumVersion();
  const { path } = await fetchPomOnce({
    pom: DEBEZIUM_POM,
    dir: join(stateDir, 'connect'),
    target: 'plugins',
    subfolder: 'debezium-postgres',
    what: `Debezium ${version} (PostgreSQL connector)`,
    onProgress,
    extraArgs: ['-DexcludeGroupIds=org.apache.kafka,org.lz4,org.xerial.snappy,com.github.luben'],
  });
  return { pluginPath: path, version };
}

const execFileAsync = promisify(execFile);

/** The Connect worker's REST authorization (its class name: CONNECT_REST_EXTENSION). */
export const REST_PRINCIPALS_SOURCE = resolve(dirname(fileURLToPath(import.meta.url)), 'connect', 'RestPrincipals.java');

/**
 * Compiles the Connect worker's REST authorization against the Kafka jars,
 * once per version of its source (a stamp of its hash), into
 * `<state>/connect/rest-principals`, with the ServiceLoader entry Connect's
 * plugin scan reads. The folder goes on the worker's classpath.
 */
export async function buildRestPrincipals(stateDir: string, kafkaClasspath: string): Promise<string> {
  const dir = join(stateDir, 'connect', 'rest-principals');
  const stampFile = join(dir, 'stamp');
  const stamp = createHash('sha256').update(readFileSync(REST_PRINCIPALS_SOURCE)).update(kafkaVersion()).digest('hex');
  if (existsSync(stampFile) && readFileSync(stampFile, 'utf8').trim() === stamp) return dir;
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'META-INF', 'services'), { recursive: true });
  try {
    await execFileAsync('javac', ['-nowarn', '--release', '17', '-cp', kafkaClasspath, '-d', staging, REST_PRINCIPALS_SOURCE]);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT')
      throw new PrerequisiteError(
        "javac was not found on the PATH: the Connect worker's REST authorization is compiled at its first start. Install a JDK 17+ (Debian: apt-get install openjdk-17-jdk-headless).",
      );
    throw new Error(`compiling ${REST_PRINCIPALS_SOURCE} failed:\n${`${e.stdout ?? ''}${e.stderr ?? ''}`.trim() || e.message}`);
  }
  writeFileSync(join(staging, 'META-INF', 'services', 'org.apache.kafka.connect.rest.ConnectRestExtension'), `${CONNECT_REST_EXTENSION}\n`);
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  writeFileSync(stampFile, `${stamp}\n`);
  return dir;
}
