import { TEST_ENV } from './support/env.ts';
import { missingPrerequisites } from './support/prerequisites.ts';

/**
 * The first step of `npm test`: every prerequisite checked before any test
 * runs, and everything missing named in one message with how to get it.
 */
const started = performance.now();
const missing = await missingPrerequisites({ env: TEST_ENV, databaseUrl: TEST_ENV.FEDGATE_TEST_DATABASE_URL });
if (missing.length > 0) {
  process.stderr.write(
    `npm test needs ${missing.length === 1 ? 'one more thing' : `${missing.length} more things`} on this machine:\n${missing
      .map((m) => `  - ${m.what}\n      ${m.fix}`)
      .join('\n')}\nInstall ${missing.length === 1 ? 'it' : 'them'} and run npm test again.\n`,
  );
  process.exit(1);
}
process.stderr.write(
  `preflight: Java, Maven, openssl, Chromium, a compose tool, Prometheus with promtool, PostgreSQL (a server, and initdb for the PIS database), keytool and javac, RabbitMQ (with rabbitmqctl), an MQTT broker, and network namespaces with nftables are there (${Math.round(performance.now() - started)} ms)\n`,
);
