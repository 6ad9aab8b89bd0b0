import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO } from './support/federation.ts';
import { findCompose } from './support/prerequisites.ts';

const run = promisify(execFile);

/**
 * There is no Docker engine on this project's machines, so the compose file is
 * checked by a real compose implementation's `config` validation (Debian's
 * docker-compose), which needs no engine.
 */
describe('docker-compose.multi.yml under a real compose tool', () => {
  it('passes `docker-compose config` validation', async () => {
    const tool = findCompose();
    expect(tool, 'no compose tool: the preflight of npm test names how to install one').not.toBeNull();
    const { stdout } = await run(tool!.command, [...tool!.args, '-f', 'docker-compose.multi.yml', '-p', 'fedgate', 'config'], { cwd: REPO });
    expect(stdout).toContain('cloud-a-broker:');
    expect(stdout).toContain('service_completed_successfully');
    expect(stdout).toMatch(/wan:\s+internal: true/);
  });
});
