import { CertsError } from '../certs/index.ts';
import { EnvError } from '../contract/index.ts';
import { FailoverRefused, LaunchError, PrerequisiteError } from '../deploy/index.ts';
import { TopologyError } from '../federation/index.ts';
import { COMMANDS } from './commands/index.ts';
import { type Out, UsageError } from './context.ts';
import { readCliEnv } from './env.ts';

export { UsageError } from './context.ts';

const HELP = `fedgate: multi-cloud federation gateway for product-information events

usage: npx fedgate <command> [options]

${COMMANDS.map((c) => c.usage).join('\n')}

common options:
  --topology FILE          topology file (default: topology.json, or FEDGATE_TOPOLOGY)
  --home DIR               state folder for jars, certificates and data (default: .fedgate, or FEDGATE_HOME)
`;

const stdOut: Out = {
  info: (line) => process.stderr.write(`[fedgate ${new Date().toISOString().slice(11, 19)}] ${line}\n`),
  data: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
};

/** Runs one command; the exit code: 0, 1 (it failed, and says why) or 2 (a wrong invocation, with the fix). */
export async function main(argv: string[], out: Out = stdOut): Promise<number> {
  try {
    const [name, ...rest] = argv;
    if (!name || name === 'help' || name === '--help' || name === '-h') {
      out.data(HELP);
      return 0;
    }
    const command = COMMANDS.find((c) => c.name === name);
    if (!command) throw new UsageError(`unknown command "${name}"`);
    return await command.run(rest, { env: readCliEnv(), out });
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`fedgate: ${err.message}\nrun \`npx fedgate help\` for the commands\n`);
      return 2;
    }
    if (err instanceof EnvError) {
      process.stderr.write(`fedgate: ${err.message}\nfix: correct or unset those variables\n`);
      return 2;
    }
    if (
      err instanceof TopologyError ||
      err instanceof CertsError ||
      err instanceof PrerequisiteError ||
      err instanceof LaunchError ||
      err instanceof FailoverRefused
    ) {
      process.stderr.write(`fedgate: ${err.message}\n`);
      return 1;
    }
    process.stderr.write(`fedgate: unexpected error: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}
