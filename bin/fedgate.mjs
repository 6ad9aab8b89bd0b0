#!/usr/bin/env node
// The `fedgate` CLI. The sources are TypeScript run through tsx, so there is no
// build step between a checkout and a working command.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../cli/main.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
// The command is done when main returns. A socket a library left open must not
// keep the process alive: a kafkajs readiness probe whose connect timed out
// under load keeps its socket until the broker drops it as idle
// (connections.max.idle.ms, 10 minutes), which once held `up --detach` for
// 713 s after every site was ready. Pending output gets a moment to flush.
setTimeout(() => process.exit(code), 1500).unref();
