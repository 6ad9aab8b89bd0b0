import { z } from 'zod';

/** The only place the instance process reads process.env. */
const EnvSchema = z.object({
  FEDGATE_TOPOLOGY: z.string().min(1, 'set FEDGATE_TOPOLOGY to the topology file'),
  FEDGATE_SITE: z.string().min(1, 'set FEDGATE_SITE to one of the topology sites'),
  FEDGATE_RUN_DIR: z.string().min(1, 'set FEDGATE_RUN_DIR to the run folder'),
  DATABASE_URL: z.string().url('DATABASE_URL must be a postgres:// URL').optional(),
  /** Postgres schema of this site on a shared server (default: site_<name>). */
  FEDGATE_DB_SCHEMA: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
});
export type InstanceEnv = z.infer<typeof EnvSchema>;

export function readInstanceEnv(env: NodeJS.ProcessEnv = process.env): InstanceEnv {
  const r = EnvSchema.safeParse(env);
  if (!r.success) {
    process.stderr.write(`instance configuration is not valid:\n${r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`).join('\n')}\n`);
    process.exit(2);
  }
  return r.data;
}
