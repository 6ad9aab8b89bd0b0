import { z } from 'zod';
import { LogLevelSchema, readEnvOrExit } from '../contract/index.ts';

/** The gateway's limits and tuning: a user sets them in the CLI's environment, which checks them with this schema and hands them on. */
export const GatewayTuningSchema = z.object({
  /** Largest accepted request body. */
  MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  MAX_BATCH_EVENTS: z.coerce.number().int().min(1).max(10_000).default(1000),
  /** Events queued or in flight to Kafka before the gateway answers 429. */
  MAX_IN_FLIGHT_EVENTS: z.coerce.number().int().min(1).default(20_000),
  /** Events per shared Kafka request. */
  KAFKA_BATCH_EVENTS: z.coerce.number().int().min(1).default(2000),
  /** Deadline of each peer call of the federated view. */
  PEER_DEADLINE_MS: z.coerce.number().int().min(50).max(30_000).default(1500),
});

/** The gateway's configuration; the launcher builds it (deploy/components/node-process.ts). */
export const GatewayEnvSchema = GatewayTuningSchema.extend({
  FEDGATE_TOPOLOGY: z.string().min(1, 'set FEDGATE_TOPOLOGY to the topology file'),
  FEDGATE_SITE: z.string().min(1, 'set FEDGATE_SITE to one of the topology sites'),
  FEDGATE_CERTS_DIR: z.string().min(1, 'set FEDGATE_CERTS_DIR to the certificates folder (`npx fedgate certs init`)'),
  LOG_LEVEL: LogLevelSchema,
  /** A PEM file of the CA of the site's Kafka listener when it is not the federation CA (Strimzi's cluster CA on Kubernetes). */
  FEDGATE_KAFKA_CA_FILE: z.string().min(1).optional(),
  /** Mounts POST /v1/bench/noop (reads the body, answers 202): the baseline of the publish benchmark. Off unless set to 1. */
  FEDGATE_BENCH_ROUTES: z.enum(['0', '1']).default('0'),
});
export type GatewayEnv = z.infer<typeof GatewayEnvSchema>;

export function readGatewayEnv(env: Record<string, string | undefined> = process.env): GatewayEnv {
  return readEnvOrExit(GatewayEnvSchema, env, 'gateway');
}
