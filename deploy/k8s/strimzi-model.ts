import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fetchPomOnce } from '../kafka-runtime.ts';

/**
 * Strimzi's published API model (io.strimzi:api from Maven Central, with the
 * fabric8 Kubernetes model and Jackson's YAML reader) validates what
 * `fedgate k8s render` writes: deploy/k8s/Validate.java reads each resource
 * into the class the operator reads it into, and fails on anything the model
 * does not know. The jars are fetched once into `<state>/strimzi/lib`.
 */
const HERE = dirname(fileURLToPath(import.meta.url));
export const STRIMZI_POM = resolve(HERE, 'pom.xml');
export const VALIDATOR = resolve(HERE, 'Validate.java');

export function strimziVersion(): string {
  const m = /<strimzi\.version>([^<]+)<\/strimzi\.version>/.exec(readFileSync(STRIMZI_POM, 'utf8'));
  if (!m?.[1]) throw new Error(`${STRIMZI_POM} has no <strimzi.version>`);
  return m[1];
}

/** The model's jars (fetched on first use), as a `java -cp` classpath. */
export async function fetchStrimziModel(stateDir: string, onProgress: (line: string) => void = () => {}): Promise<{ classpath: string; fetched: boolean }> {
  const { path, fetched } = await fetchPomOnce({
    pom: STRIMZI_POM,
    dir: join(stateDir, 'strimzi'),
    target: 'lib',
    what: `Strimzi's API model ${strimziVersion()} (io.strimzi:api)`,
    onProgress,
  });
  return { classpath: join(path, '*'), fetched };
}

export interface K8sValidation {
  ok: boolean;
  /** One line per document: `ok <kind> <name>` or `error <file>#<n> <kind> <name>: <problem>`, then a summary. */
  lines: string[];
}

/** Runs the validator on YAML files (each may hold several documents). */
export async function validateK8sFiles(stateDir: string, files: string[], onProgress?: (line: string) => void): Promise<K8sValidation> {
  const { classpath } = await fetchStrimziModel(stateDir, onProgress);
  return new Promise((resolvePromise, reject) => {
    // Java's source-file mode compiles and runs the one file; no build step.
    const java = spawn('java', ['-cp', classpath, VALIDATOR, ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    java.stdout.on('data', (c: Buffer) => out.push(c));
    java.stderr.on('data', (c: Buffer) => err.push(c));
    java.on('error', reject);
    java.on('close', (code) => {
      const lines = Buffer.concat(out).toString().split('\n').filter(Boolean);
      if (code !== 0 && code !== 1) {
        reject(new Error(`the validator failed (exit ${code}): ${Buffer.concat(err).toString().trim().split('\n').slice(-5).join('\n')}`));
        return;
      }
      resolvePromise({ ok: code === 0, lines });
    });
  });
}
