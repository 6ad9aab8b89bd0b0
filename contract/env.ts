import { z } from 'zod';

/**
 * How every fedgate process takes its configuration: one zod schema per
 * process, parsed once at start from an environment handed in as a
 * parameter (so tests need no globals). Only the `env.ts` readers pass
 * `process.env` in; a lint rule keeps it that way.
 */
export class EnvError extends Error {
  override name = 'EnvError';
}

export const LogLevelSchema = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info');

/** The environment with the schema applied, or an EnvError naming every wrong variable and its fix. */
export function parseEnv<S extends z.ZodTypeAny>(schema: S, env: Record<string, string | undefined>, what: string): z.output<S> {
  const r = schema.safeParse(env);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
  throw new EnvError(`${what} configuration is not valid:\n${lines.join('\n')}`);
}

/** For a process's main: the parsed environment, or the message on stderr and exit code 2 (no stack trace). */
export function readEnvOrExit<S extends z.ZodTypeAny>(schema: S, env: Record<string, string | undefined>, what: string): z.output<S> {
  try {
    return parseEnv(schema, env, what);
  } catch (err) {
    if (!(err instanceof EnvError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(2);
  }
}

/** The system variables a child process may need (to find `java`, a home and a locale); the launcher passes these and nothing else unasked. */
const SYSTEM_KEYS = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR', 'JAVA_HOME'] as const;

export function systemEnv(env: Record<string, string | undefined>): Record<string, string> {
  return Object.fromEntries(SYSTEM_KEYS.flatMap((k) => (env[k] === undefined ? [] : [[k, env[k]]])));
}
