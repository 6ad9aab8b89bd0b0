import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { clientTls, siteSecret } from '../../certs/index.ts';
import { CDC_CONNECTOR, cdcConnectorConfig, connectUrl, isExternalPisDatabase, isPisSite, renderConnectProperties } from '../../federation/index.ts';
import { waitUntil } from '../kafka-probe.ts';
import { buildRestPrincipals, fetchDebezium, PrerequisiteError } from '../kafka-runtime.ts';
import { checkPisDatabase, renderPisChecks } from '../pis-check.ts';
import { cdcPassword } from '../pis-database.ts';
import { javaCommand } from '../process.ts';
import { type ComponentModule, JVM_COMMON, jvmCdsOptions, type LaunchContext, writeLog4j } from './component.ts';

const execFileAsync = promisify(execFile);

export interface ConnectAnswer {
  status: number;
  body: unknown;
}

/** A call to the PIS site's Connect REST API over HTTPS, with the site admin's client certificate. */
export function connectCall(
  ctx: Pick<LaunchContext, 'topology' | 'certsDir'>,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 5000,
): Promise<ConnectAnswer> {
  const tls = clientTls(ctx.certsDir, ctx.topology.pis!.site, 'admin');
  const url = new URL(path, connectUrl(ctx.topology));
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ca: tls.ca,
        cert: tls.cert,
        key: tls.key,
        timeout: timeoutMs,
        headers: { accept: 'application/json', ...(payload ? { 'content-type': 'application/json' } : {}) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            /* not JSON: keep the text */
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`Connect REST ${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(payload);
  });
}

interface ConnectorStatus {
  connector?: { state?: string; trace?: string };
  tasks?: Array<{ id: number; state?: string; trace?: string }>;
}

/** The connector's and its task's state ("RUNNING", "FAILED", …), or null while the worker does not know it. */
export async function cdcConnectorState(
  ctx: Pick<LaunchContext, 'topology' | 'certsDir'>,
): Promise<{ connector: string; task: string; trace?: string } | null> {
  const res = await connectCall(ctx, 'GET', `/connectors/${CDC_CONNECTOR}/status`).catch(() => null);
  if (res?.status !== 200) return null;
  const s = res.body as ConnectorStatus;
  const task = s.tasks?.[0];
  return { connector: s.connector?.state ?? 'UNKNOWN', task: task?.state ?? 'UNASSIGNED', trace: task?.trace ?? s.connector?.trace };
}

/**
 * The PIS site's Kafka Connect worker (distributed mode, one worker) running
 * Debezium's PostgreSQL connector. It reaches the site's Kafka over mTLS as
 * `<site>.connect.fedgate`; its REST listener takes HTTPS with a federation
 * client certificate only. Ready once the REST API answers; then the
 * connector's config is put (idempotent) and the task must run.
 */
export function connectModule(ctx: LaunchContext): ComponentModule {
  const secretsFile = (site: string) => join(ctx.certsDir, site, 'pis-cdc.properties');
  return {
    name: 'connect',
    skip: (site) => (isPisSite(ctx.topology, site.name) ? null : 'no PIS change capture at this site'),
    ports: (site) => [['connectPort', ctx.topology.pis!.connectPort, site.address]],
    async command(site, _node, options) {
      if (isExternalPisDatabase(ctx.topology)) {
        // The PIS's own database: checked before anything starts, so a missing setting is named, not a connector failing later.
        const check = await checkPisDatabase(ctx.topology, ctx.certsDir);
        if (!check.ok)
          throw new PrerequisiteError(
            `the PIS database ${check.where} is not ready for change capture:\n${renderPisChecks(check.checks.filter((c) => !c.ok))}\nFix these, check with \`npx fedgate pis check\`, and start again.`,
          );
        ctx.log(`${site.name}: the PIS database ${check.where} passed ${check.checks.length} checks`);
      }
      const rt = await ctx.prepare();
      const plugin = await fetchDebezium(ctx.stateDir, ctx.log);
      const restPrincipals = await buildRestPrincipals(ctx.stateDir, rt.classpath);
      const l = ctx.layout(site.name);
      mkdirSync(l.logDir, { recursive: true });
      // Read by the connector through FileConfigProvider: the password never enters the config topic.
      writeFileSync(secretsFile(site.name), `password=${cdcPassword(ctx.certsDir, site.name)}\n`, { mode: 0o600 });
      // The REST listener's stores, made from the site's Connect certificate and the federation CA each start (so a rotation takes effect).
      const rest = {
        keystore: join(l.dir, 'connect-rest.p12'),
        truststore: join(l.dir, 'connect-rest-trust.p12'),
        password: siteSecret(ctx.certsDir, site.name, 'connect-rest.secret'),
      };
      const own = ctx.certs.role(site.name, 'connect');
      const storeEnv = { ...ctx.systemEnv, FEDGATE_STORE_PASSWORD: rest.password };
      rmSync(rest.truststore, { force: true });
      await execFileAsync(
        'openssl',
        [
          'pkcs12',
          '-export',
          '-in',
          own.cert,
          '-inkey',
          own.key,
          '-certfile',
          ctx.certs.caCert,
          '-name',
          'connect',
          '-out',
          rest.keystore,
          '-passout',
          'env:FEDGATE_STORE_PASSWORD',
        ],
        { env: storeEnv },
      );
      await execFileAsync(
        'keytool',
        [
          '-importcert',
          '-noprompt',
          '-alias',
          'fedgate-ca',
          '-file',
          ctx.certs.caCert,
          '-keystore',
          rest.truststore,
          '-storetype',
          'PKCS12',
          '-storepass:env',
          'FEDGATE_STORE_PASSWORD',
        ],
        { env: storeEnv },
      );
      const props = join(l.dir, 'connect.properties');
      writeFileSync(
        props,
        renderConnectProperties(ctx.topology, {
          caFile: ctx.certs.caCert,
          keystoreFile: ctx.certs.role(site.name, 'connect').keystore,
          pluginPath: plugin.pluginPath,
          secretsFile: secretsFile(site.name),
          rest,
        }),
        // It holds the stores' password.
        { mode: 0o600 },
      );
      writeLog4j(l.log4jFile('connect'), options?.logToStdout ? null : l.logFile('connect'));
      return javaCommand({
        role: `${site.name}/connect`,
        runDir: ctx.runDir,
        // The REST authorization beside Kafka's jars (not in the plugin path: Connect loads REST extensions from its classpath too).
        classpath: `${rt.classpath}:${restPrincipals}`,
        mainClass: 'org.apache.kafka.connect.cli.ConnectDistributed',
        args: [props],
        jvmOptions: [
          '-Xms64m',
          `-Xmx${ctx.topology.pis!.connectHeap}`,
          ...JVM_COMMON,
          `-Dlog4j.configuration=file:${l.log4jFile('connect')}`,
          ...jvmCdsOptions(ctx, rt, 'connect'),
        ],
        env: ctx.systemEnv,
      });
    },
    stdoutFile: (site) => ctx.layout(site.name).outFile('connect'),
    ready: async () => (await connectCall(ctx, 'GET', '/connectors', undefined, 2000).catch(() => null))?.status === 200,
    async afterReady(site) {
      const res = await connectCall(
        ctx,
        'PUT',
        `/connectors/${CDC_CONNECTOR}/config`,
        cdcConnectorConfig(ctx.topology, secretsFile(site.name), ctx.certs.caCert),
        30_000,
      );
      if (res.status !== 200 && res.status !== 201)
        throw new Error(`Connect refused the ${CDC_CONNECTOR} connector (${res.status}): ${JSON.stringify(res.body)}`);
      let last: Awaited<ReturnType<typeof cdcConnectorState>> = null;
      await waitUntil(
        async () => {
          last = await cdcConnectorState(ctx);
          if (last?.task === 'FAILED' || last?.connector === 'FAILED')
            throw new Error(`the ${CDC_CONNECTOR} connector failed: ${last.trace?.split('\n').slice(0, 6).join('\n')}`);
          return last?.connector === 'RUNNING' && last.task === 'RUNNING';
        },
        { what: `${site.name} ${CDC_CONNECTOR} connector running`, timeoutMs: 60_000, intervalMs: 500 },
      );
    },
    readyTimeoutMs: 120_000,
    readyIntervalMs: 500,
    logs: (site) => [ctx.layout(site.name).logFile('connect'), ctx.layout(site.name).outFile('connect')],
    started: () => `Debezium on ${connectUrl(ctx.topology)} (REST, mTLS)`,
  };
}
