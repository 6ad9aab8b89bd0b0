import { resolve } from 'node:path';
import { z } from 'zod';
import { LogLevelSchema, parseEnv, systemEnv } from '../contract/index.ts';
import { GatewayTuningSchema } from '../gateway/env.ts';

/** The CLI's configuration, parsed once; a wrong value stops the command with the field and the fix. */
const EnvSchema = z.object({
  FEDGATE_HOME: z.string().min(1).default('.fedgate'),
  FEDGATE_TOPOLOGY: z.string().min(1).default('topology.json'),
  /** Handed to every instance the CLI starts: the sites' databases on this PostgreSQL server (one schema per site). */
  DATABASE_URL: z.string().url('DATABASE_URL must be a postgres:// URL; unset it for a PostgreSQL server per site, run by fedgate').optional(),
  /** Handed to the instances and gateways the CLI starts. */
  LOG_LEVEL: LogLevelSchema,
  /** `off`: broker, MM2 and Connect JVMs start without their class-data archives (deploy/jvm-cds.ts). */
  FEDGATE_JVM_CDS: z.enum(['on', 'off'], { message: 'FEDGATE_JVM_CDS must be on or off' }).default('on'),
});
export type CliEnv = z.infer<typeof EnvSchema> & {
  system: Record<string, string>;
  /** The gateway settings the user set (checked with the gateway's own schema), handed to every gateway the CLI starts. */
  gateway: Record<string, string>;
};

export function readCliEnv(env: Record<string, string | undefined> = process.env): CliEnv {
  const parsed = parseEnv(EnvSchema, env, 'the environment');
  const given = Object.keys(GatewayTuningSchema.shape).filter((k) => env[k] !== undefined);
  parseEnv(GatewayTuningSchema, env, 'the gateway');
  return { ...parsed, FEDGATE_HOME: resolve(parsed.FEDGATE_HOME), system: systemEnv(env), gateway: Object.fromEntries(given.map((k) => [k, env[k]!])) };
}
