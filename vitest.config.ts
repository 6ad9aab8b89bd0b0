import { defineConfig } from 'vitest/config';

// One suite, run file by file: the integration tests start real Kafka brokers
// and MirrorMaker 2 JVMs, and the machine has two cores.
export default defineConfig({
  test: {
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.fedgate/**'],
    fileParallelism: false,
    pool: 'forks',
    testTimeout: 180_000,
    hookTimeout: 300_000,
    globalSetup: ['test/support/global-setup.ts'],
    reporters: ['default'],
    sequence: { hooks: 'stack' },
  },
});
