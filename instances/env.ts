import { z } from 'zod';
import { LogLevelSchema, readEnvOrExit } from '../contract/index.ts';

/** The instance's configuration; the launcher builds it (deploy/launcher.ts). */
export const InstanceEnvSchema = z.object({
  FEDGATE_TOPOLOGY: z.string().min(1, 'set FEDGATE_TOPOLOGY to the topology file'),
  FEDGATE_SITE: z.string().min(1, 'set FEDGATE_SITE to one of the topology sites'),
  FEDGATE_RUN_DIR: z.string().min(1, 'set FEDGATE_RUN_DIR to the run folder'),
  FEDGATE_CERTS_DIR: z.string().min(1, 'set FEDGATE_CERTS_DIR to the certificates folder (it holds the read API credential)'),
  DATABASE_URL: z.string().url('DATABASE_URL must be a postgres:// URL').optional(),
  /** Postgres schema of this site on a shared server (default: site_<name>). */
  FEDGATE_DB_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/)
    .optional(),
  LOG_LEVEL: LogLevelSchema,
  /** A PEM file of the CA of the site's Kafka listener when it is not the federation CA (Strimzi's cluster CA on Kubernetes). */
  FEDGATE_KAFKA_CA_FILE: z.string().min(1).optional(),
  /** Which of the site's instance workers this is (1-based): worker 1 also serves the read API and watches the links. */
  FEDGATE_WORKER: z.coerce.number().int().min(1).max(16).default(1),
  /** Where a worker without the read API writes its pid once it consumes (the launcher's readiness check). */
  FEDGATE_READY_FILE: z.string().min(1).optional(),
});
export type InstanceEnv = z.infer<typeof InstanceEnvSchema>;

export function readInstanceEnv(env: Record<string, string | undefined> = process.env): InstanceEnv {
  return readEnvOrExit(InstanceEnvSchema, env, 'instance');
}
