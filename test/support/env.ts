import { z } from 'zod';
import { parseEnv, systemEnv } from '../../contract/index.ts';

/** What the test suite reads from its environment, parsed once. */
const EnvSchema = z.object({
  /** The PostgreSQL server of the tests that use one. */
  FEDGATE_TEST_DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/postgres'),
  /** Print the launcher's progress lines. */
  FEDGATE_TEST_VERBOSE: z.string().optional(),
  /** Keep each test run's folder (logs, data) after the run. */
  FEDGATE_KEEP_TEST_RUNS: z.string().optional(),
  /** A Chromium other than Debian's (see test/support/preflight.ts). */
  CHROMIUM_PATH: z.string().optional(),
});

export const TEST_ENV = { ...parseEnv(EnvSchema, process.env, 'test'), system: systemEnv(process.env) };
