import { z } from 'zod';
import { parseEnv, systemEnv } from '../contract/index.ts';

/** What the benchmarks read from their environment, parsed once. */
const EnvSchema = z.object({
  /** The PostgreSQL server the federation benchmark's sites (and the monitoring-consumer bench) use. */
  FEDGATE_BENCH_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/postgres'),
});

export function readBenchEnv(env: Record<string, string | undefined> = process.env) {
  return { ...parseEnv(EnvSchema, env, 'benchmark'), system: systemEnv(env) };
}

/** The benchmark's own environment, read once at import. */
export const BENCH_ENV = readBenchEnv();
