import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { anyCommandLineIncludes } from './process.ts';

/**
 * Application class-data sharing (AppCDS) for the broker, MM2 and Connect JVMs.
 *
 * Every broker, MM2 node and Connect worker loads the same few thousand classes from
 * Kafka's jars, parses and verifies them. A CDS archive holds those classes
 * already parsed and verified, and a JVM maps it instead.
 *
 * Java 17 has no `-XX:+AutoCreateSharedArchive` (JDK 19), so the launcher
 * does it in two steps, per JVM kind and per runtime (the java build and
 * Kafka's jars), in `<state>/kafka/cds`:
 * 1. The first JVM of a kind writes the names of the classes it loads
 *    (`-XX:DumpLoadedClassList`).
 * 2. Once that JVM has exited, the next start of the kind dumps a static
 *    archive from the list (`java -Xshare:dump`, 10-40 s on 2 busy cores,
 *    once), in the background. Every JVM of the kind that starts after it
 *    is done maps it (`-XX:SharedArchiveFile`).
 *
 * A dynamic archive (`-XX:ArchiveClassesAtExit`) would skip step 2. But the
 * JMX exporter is a Java agent, and a JVM with an agent writes one only with
 * the diagnostic `-XX:+AllowArchivingWithJavaAgent`, which the JVM then
 * warns is "for testing purposes only". The dump in step 2 runs without the
 * agent, so the archive needs no such flag.
 *
 * A JVM that cannot map the archive (a new JDK, changed jars) runs without
 * it: that is the default, `-Xshare:auto`. So the archive can make a start
 * faster, never stop it. If the dump fails, a `.failed` file beside the list
 * holds its output, and the kind runs without an archive until the runtime
 * changes (or the file is deleted).
 *
 * On one standalone broker, the archive took its start from 11.0 to 9.4
 * CPU-s, and from 6.8 to 5.8 s (three pairs, 2026-12-07).
 */

export type CdsKind = 'broker' | 'mm2' | 'connect';

export interface CdsRuntime {
  stateDir: string;
  /** Kafka's jars: the archive's classpath, which must begin the JVM's own (Connect's adds a folder after it). */
  classpath: string;
  env: Record<string, string>;
  log(line: string): void;
  /** How long after handing out a class list this launcher assumes its JVM is starting (default 30 s). */
  handoutMs?: number;
}

let javaBuild: string | undefined;

/** `java -version`'s text: an archive is only good for the JVM build that made it. */
function javaVersionText(env: Record<string, string>): string {
  javaBuild ??= (() => {
    const run = spawnSync('java', ['-version'], { encoding: 'utf8', env });
    return `${run.stderr}${run.stdout}`;
  })();
  return javaBuild;
}

export function cdsDir(stateDir: string): string {
  return join(stateDir, 'kafka', 'cds');
}

/** The files' name: the kind, and a hash of the java build and the classpath. */
export function cdsName(kind: CdsKind, javaVersion: string, classpath: string): string {
  return `${kind}-${createHash('sha256').update(`${javaVersion}\0${classpath}`).digest('hex').slice(0, 16)}`;
}

/**
 * When this launcher last had a JVM write each class list. Sites start at
 * once, so another site's node of the kind can ask before that JVM is in
 * /proc; for a while after, /proc alone tells.
 */
const handedOut = new Map<string, number>();

/**
 * Starts `java -Xshare:dump` of the listed classes in the background, at the
 * lowest CPU priority, detached from this launcher: a start does not wait
 * for it, and Ctrl-C does not stop it. It writes beside the archive and
 * renames into place when done; when it fails, its output goes to `failed`.
 */
export function startDump(list: string, archive: string, failed: string, classpath: string, env: Record<string, string>): void {
  const part = `${archive}.part-${randomUUID().slice(0, 8)}`;
  const script =
    'part=$1 archive=$2 failed=$3; shift 3; ' +
    'if nice -n 19 java "$@" > "$part.log" 2>&1; then mv -f "$part" "$archive"; rm -f "$part.log"; else mv -f "$part.log" "$failed"; rm -f "$part"; fi';
  const javaArgs = [
    '-Xshare:dump',
    '-XX:+UseSerialGC',
    `-XX:SharedClassListFile=${list}`,
    `-XX:SharedArchiveFile=${part}`,
    '-Xlog:cds=error',
    '-cp',
    classpath,
  ];
  const child = spawn('sh', ['-c', script, 'sh', part, archive, failed, ...javaArgs], { env, detached: true, stdio: 'ignore' });
  child.unref();
}

/**
 * The JVM options for a broker, MM2 or Connect JVM: map the kind's archive
 * when there is one. Otherwise have the JVM write the class list the
 * archive is made from, or start making the archive from a list written
 * before; the JVM then runs without one.
 */
export function cdsOptions(rt: CdsRuntime, kind: CdsKind): string[] {
  const dir = cdsDir(rt.stateDir);
  const name = cdsName(kind, javaVersionText(rt.env), rt.classpath);
  const archive = join(dir, `${name}.jsa`);
  // Each JVM writes a list of its own: two launchers starting at once cannot interleave their lines.
  const listPrefix = `${name}.classlist-`;
  const failed = join(dir, `${name}.failed`);
  mkdirSync(dir, { recursive: true });
  const files = readdirSync(dir);
  const lists = files.filter((f) => f.startsWith(listPrefix));
  if (existsSync(archive)) {
    for (const f of lists) rmSync(join(dir, f), { force: true });
    return [`-XX:SharedArchiveFile=${archive}`];
  }
  if (existsSync(failed)) return [];
  // A JVM writing a list, or a dump under way (here, or from another launcher).
  if (Date.now() - (handedOut.get(name) ?? 0) < (rt.handoutMs ?? 30_000) || anyCommandLineIncludes(join(dir, `${name}.`))) return [];
  // What a dump stopped midway (a reboot) left behind.
  for (const f of files.filter((f) => f.startsWith(`${name}.jsa.part-`))) rmSync(join(dir, f), { force: true });
  // The longest list: a JVM stopped early (a drill's crash) wrote a short one.
  const list = lists.map((f) => join(dir, f)).sort((a, b) => statSync(b).size - statSync(a).size)[0];
  handedOut.set(name, Date.now());
  if (list) {
    startDump(list, archive, failed, rt.classpath, rt.env);
    rt.log(`making the ${kind} JVMs' class-data archive in the background, from the classes one of them loaded (${archive})`);
    return [];
  }
  return [`-XX:DumpLoadedClassList=${join(dir, `${listPrefix}${randomUUID().slice(0, 8)}`)}`];
}
