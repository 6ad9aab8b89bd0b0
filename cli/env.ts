import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * The only place the CLI reads process.env. Parsed once; a wrong value stops
 * the command with the field and the fix.
 */
const EnvSchema = z.object({
  FEDGATE_HOME: z.string().min(1).default('.fedgate'),
  FEDGATE_TOPOLOGY: z.string().min(1).default('topology.json'),
  DATABASE_URL: z.string().url().optional(),
  NO_COLOR: z.string().optional(),
});
export type CliEnv = z.infer<typeof EnvSchema>;

export function readCliEnv(env: NodeJS.ProcessEnv = process.env): CliEnv {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`environment is not valid:\n${lines.join('\n')}\nfix: correct or unset those variables`);
  }
  return { ...parsed.data, FEDGATE_HOME: resolve(parsed.data.FEDGATE_HOME) };
}
