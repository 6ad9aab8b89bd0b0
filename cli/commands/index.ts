import type { Command } from '../context.ts';
import { aclCommand } from './acl.ts';
import { certsCommand } from './certs.ts';
import { composeCommand } from './compose.ts';
import { downCommand } from './down.ts';
import { drillCommand } from './drill.ts';
import { failoverCommand } from './failover.ts';
import { k8sCommand } from './k8s.ts';
import { kafkaCommand } from './kafka.ts';
import { pisCommand } from './pis.ts';
import { prometheusCommand } from './prometheus.ts';
import { publishCommand } from './publish.ts';
import { replayCommand } from './replay.ts';
import { restartCommand } from './restart.ts';
import { runCommand } from './run.ts';
import { scaleCommand } from './scale.ts';
import { startCommand } from './start.ts';
import { statusCommand } from './status.ts';
import { tokenCommand } from './token.ts';
import { topologyCommand } from './topology.ts';
import { upCommand } from './up.ts';
import { webhookCommand } from './webhook.ts';

/** Every command, in the order `fedgate help` lists them. */
export const COMMANDS: readonly Command[] = [
  startCommand,
  kafkaCommand,
  certsCommand,
  topologyCommand,
  upCommand,
  restartCommand,
  scaleCommand,
  runCommand,
  composeCommand,
  k8sCommand,
  downCommand,
  statusCommand,
  prometheusCommand,
  pisCommand,
  tokenCommand,
  webhookCommand,
  aclCommand,
  drillCommand,
  failoverCommand,
  publishCommand,
  replayCommand,
];
