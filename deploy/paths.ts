import { join, resolve } from 'node:path';

/**
 * Where fedgate keeps what it generates. Everything lives under one
 * git-ignored state folder (`.fedgate/` in the working directory, or
 * FEDGATE_HOME): the Kafka jar cache, the certificates, the CA key (in its own folder) and the run folder.
 */
export interface StatePaths {
  stateDir: string;
  runDir: string;
  certsDir: string;
  /** The CA's private key: beside the certificates, never given to a service. */
  caKeyDir: string;
}

export function statePaths(stateDir: string, runName = 'run'): StatePaths {
  const root = resolve(stateDir);
  return { stateDir: root, runDir: join(root, runName), certsDir: join(root, 'certs'), caKeyDir: join(root, 'ca-key') };
}
