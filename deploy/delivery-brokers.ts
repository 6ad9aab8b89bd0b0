import { connect } from 'node:net';
import type { Site } from '../federation/index.ts';

const HOW_TO_START = {
  amqp: 'RabbitMQ (Debian: apt-get install rabbitmq-server; systemctl start rabbitmq-server)',
  mqtt: 'an MQTT broker such as Mosquitto (Debian: apt-get install mosquitto; systemctl start mosquitto)',
} as const;

/** Whether a TCP connection to host:port opens within `ms`. */
function reachable(host: string, port: number, ms = 2000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (problem: string | null) => {
      socket.destroy();
      resolve(problem);
    };
    socket.setTimeout(ms, () => done(`no answer within ${ms} ms`));
    socket.once('connect', () => done(null));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? err.message));
  });
}

/**
 * The site's delivery brokers (RabbitMQ, MQTT) that do not answer, each with
 * how to start one. The instance still starts without them: its
 * subscriptions retry, and dead-letter after their attempts.
 */
export async function deliveryBrokerProblems(site: Site): Promise<string[]> {
  const problems: string[] = [];
  for (const protocol of ['amqp', 'mqtt'] as const) {
    const broker = site.delivery[protocol];
    if (!broker || !site.delivery.subscriptions.some((s) => s.protocol === protocol)) continue;
    const url = new URL(broker.url);
    const secure = url.protocol.endsWith('s:');
    const port = Number(url.port || (protocol === 'amqp' ? (secure ? 5671 : 5672) : secure ? 8883 : 1883));
    const problem = await reachable(url.hostname, port);
    if (problem) {
      problems.push(
        `${site.name}.delivery.${protocol}: ${url.host} does not answer (${problem}); its subscriptions will retry and then dead-letter. ` +
          `Start ${HOW_TO_START[protocol]}, or point sites.${site.name}.delivery.${protocol}.url at yours.`,
      );
    }
  }
  return problems;
}
