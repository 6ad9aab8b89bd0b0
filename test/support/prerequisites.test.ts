import { describe, expect, it } from 'vitest';
import { findChromium, findCompose, missingPrerequisites } from './prerequisites.ts';

describe('test prerequisites', () => {
  it('takes the first Chromium that exists: CHROMIUM_PATH, Playwright’s, Debian’s', () => {
    expect(findChromium({ CHROMIUM_PATH: '/opt/chrome' }, (p) => p === '/opt/chrome' || p === '/usr/bin/chromium')).toBe('/opt/chrome');
    expect(findChromium({ CHROMIUM_PATH: '/opt/missing' }, (p) => p === '/usr/bin/chromium')).toBe('/usr/bin/chromium');
    expect(findChromium({}, () => false)).toBeNull();
  });

  it('takes `docker compose`, else `docker-compose`', () => {
    expect(findCompose((c) => c === 'docker')).toEqual({ command: 'docker', args: ['compose'] });
    expect(findCompose((c) => c === 'docker-compose')).toEqual({ command: 'docker-compose', args: [] });
    expect(findCompose(() => false)).toBeNull();
  });

  it('names everything missing at once, each with how to install it', async () => {
    const missing = await missingPrerequisites({
      env: {},
      databaseUrl: 'postgres://postgres:secret@127.0.0.1:1/postgres',
      exists: () => false,
      run: () => false,
      canConnect: async () => false,
      listens: async () => false,
    });
    const text = missing.map((m) => `${m.what}: ${m.fix}`).join('\n');
    expect(text).toContain('apt-get install chromium');
    expect(text).toContain('apt-get install docker-compose');
    expect(text).toContain('apt-get install openssl');
    expect(text).toContain('apt-get install prometheus');
    expect(text).toContain('FEDGATE_TEST_DATABASE_URL');
    expect(text).toContain('apt-get install rabbitmq-server');
    expect(text).toContain('apt-get install mosquitto');
    expect(text).toContain('rabbitmqctl');
    expect(text).toContain('apt-get install iproute2 nftables');
    expect(text).not.toContain('secret');
  });
});
