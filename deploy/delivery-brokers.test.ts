import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../federation/index.ts';
import { deliveryBrokerProblems } from './delivery-brokers.ts';

const site = (delivery: unknown) =>
  parseTopology({
    federation: 'f',
    sites: [
      {
        name: 'a',
        regions: ['eu'],
        address: '127.0.1.1',
        ports: { kafka: 9092, interSite: 9093, controller: 9094, instance: 8081, gateway: 8080, peer: 8443 },
        delivery,
      },
    ],
  }).sites[0]!;

describe('delivery brokers at instance start', () => {
  it('names a broker that does not answer, with how to start one, and says nothing of one that does or that no subscription uses', async () => {
    const listening = createServer();
    await new Promise<void>((r) => listening.listen(0, '127.0.0.1', r));
    const port = (listening.address() as { port: number }).port;
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    try {
      const problems = await deliveryBrokerProblems(
        site({
          amqp: { url: `amqp://127.0.0.1:${closedPort}` },
          mqtt: { url: `mqtt://127.0.0.1:${port}` },
          subscriptions: [
            { name: 's', protocol: 'amqp' },
            { name: 'm', protocol: 'mqtt' },
          ],
        }),
      );
      expect(problems).toHaveLength(1);
      expect(problems[0]).toContain(`a.delivery.amqp: 127.0.0.1:${closedPort} does not answer (ECONNREFUSED)`);
      expect(problems[0]).toContain('apt-get install rabbitmq-server');
      expect(await deliveryBrokerProblems(site({ amqp: { url: `amqp://127.0.0.1:${closedPort}` } }))).toEqual([]);
    } finally {
      await new Promise((r) => listening.close(r));
    }
  });
});
