import { readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certPaths, certSerial, issueToken, SCOPES } from '../certs/index.ts';
import { cdcConnectorState, isOurProcess, pisOwnerUrl, presentedPostgresSerial, readTopicToEnd, waitUntil } from '../deploy/index.ts';
import {
  CDC_TOPICS,
  connectUrl,
  DEAD_LETTER_TOPIC,
  localKafkaConfig,
  pisDatabaseEndpoint,
  remoteTopic,
  routedTopic,
  routedTopicsForSite,
  SOURCE_TOPIC,
} from '../federation/index.ts';
import { dropPostgresSchema } from '../instances/db/database.ts';
import { createTestFederation, TEST_DATABASE_URL, type TestFederation, testTopology } from './support/federation.ts';

/**
 * Change capture end to end, with real parts: the launcher's own PIS
 * PostgreSQL (wal_level=logical), Debezium 3.6 on a Kafka Connect worker, the
 * PIS site's gateway publishing each change, MM2 to the other site, and each
 * site's instance applying the effects.
 *
 * The ledger is the database's own: a second logical slot (test_decoding)
 * lists every committed change with its LSN, which the event id carries. The
 * Connect worker is SIGKILLed in the middle and restarted; afterwards every
 * change is an event exactly once in its routed topic at the PIS site, has
 * been consumed at every site it is routed to and nowhere else, and each
 * site's price book and availability equal the PIS tables, row by row.
 */
const HQ = 'cdchq';
const US = 'cdcus';
const topology = testTopology(
  241,
  [
    { name: HQ, regions: ['eu'], countries: ['DE', 'FR'] },
    { name: US, regions: ['us'], countries: ['US'] },
  ],
  { pisSite: HQ },
);
const CHANGES = 10_000;
const PER_TX = 25;
const KILL_AT = 4000;
const RESTART_AT = 6000;
const PRODUCTS = 150;
const REGIONS = ['eu', 'us'];
const COUNTRIES = ['DE', 'FR', 'US'];
const schemaOf = (site: string) => `site_${site}`;

interface LedgerChange {
  lsn: bigint;
  table: 'prices' | 'discounts' | 'availability';
  op: 'INSERT' | 'UPDATE' | 'DELETE';
  scope: string;
}

/** A row of pg_logical_slot_get_changes with test_decoding: `table public.prices: UPDATE: old-key: … new-tuple: region[text]:'eu' …`. */
function parseLedgerRow(lsn: string, data: string): LedgerChange | null {
  const m = /^table public\.(\w+): (INSERT|UPDATE|DELETE): (.*)$/s.exec(data);
  if (!m) return null;
  const tuple = m[3]!.includes('new-tuple:') ? m[3]!.slice(m[3]!.indexOf('new-tuple:')) : m[3]!;
  const scope = /(?:region|country)\[text\]:'([^']*)'/.exec(tuple)?.[1] ?? '';
  const [hi, lo] = lsn.split('/');
  return { lsn: (BigInt(`0x${hi}`) << 32n) + BigInt(`0x${lo}`), table: m[1] as LedgerChange['table'], op: m[2] as LedgerChange['op'], scope };
}

const lsnOfEventId = (id: string) => BigInt(`0x${id.split('-')[1]}`);

/** The routed topic a change's event goes to (deleted prices have none: they are refused). */
function topicOf(c: LedgerChange): string | null {
  if (c.table === 'prices') return c.op === 'DELETE' ? null : routedTopic('price', c.scope);
  return c.table === 'discounts' ? routedTopic('discount', c.scope) : routedTopic('country', c.scope);
}

describe('change capture from the PIS database (Debezium)', () => {
  let fed: TestFederation;
  let pis: pg.Client;

  beforeAll(async () => {
    for (const s of [HQ, US]) await dropPostgresSchema(TEST_DATABASE_URL, schemaOf(s));
    fed = createTestFederation('cdc', topology, { databaseUrl: TEST_DATABASE_URL, env: { LOG_LEVEL: 'warn' } });
    await fed.launcher.up();
    pis = new pg.Client({ connectionString: pisOwnerUrl(topology, fed.certsDir) });
    await pis.connect();
  }, 600_000);

  afterAll(async () => {
    await pis?.end().catch(() => {});
    await fed?.stop();
    for (const s of [HQ, US]) await dropPostgresSchema(TEST_DATABASE_URL, schemaOf(s)).catch(() => {});
  }, 180_000);

  it('delivers 10,000 row changes exactly once to the sites they are routed to, through a Connect worker SIGKILL', async () => {
    const state = await cdcConnectorState(fed.launcher);
    expect(state).toMatchObject({ connector: 'RUNNING', task: 'RUNNING' });
    await pis.query("SELECT pg_create_logical_replication_slot('fedgate_test_ledger', 'test_decoding')");

    // Inserts, updates and deletes of prices, discounts and availability, in multi-row transactions.
    let seed = 42;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let made = 0;
    let killedPid: number | null = null;
    while (made < CHANGES) {
      if (made >= KILL_AT && killedPid === null) {
        killedPid = fed.launcher.pidOf(HQ, 'connect');
        expect(killedPid).not.toBeNull();
        await fed.launcher.stop(HQ, 'connect', { hard: true });
        expect(isOurProcess(killedPid!, fed.runDir)).toBe(false);
      }
      if (made >= RESTART_AT && fed.launcher.pidOf(HQ, 'connect') === null) await fed.launcher.start(HQ, 'connect');
      await pis.query('BEGIN');
      for (let i = 0; i < PER_TX; i++) {
        const product = `P${rand(PRODUCTS)}`;
        const pick = rand(10);
        if (pick < 5) {
          const amount = `${1 + rand(500)}.${String(rand(100)).padStart(2, '0')}`;
          await pis.query(
            `INSERT INTO prices (product_id, region, currency, amount) VALUES ($1, $2, $3, $4)
             ON CONFLICT (product_id, region) DO UPDATE SET amount = EXCLUDED.amount, currency = EXCLUDED.currency`,
            [product, REGIONS[rand(2)], rand(2) ? 'EUR' : 'USD', amount],
          );
          made++;
        } else if (pick < 8) {
          const country = COUNTRIES[rand(3)];
          if (rand(4) === 0) {
            const r = await pis.query('DELETE FROM availability WHERE product_id = $1 AND country = $2', [product, country]);
            made += r.rowCount ?? 0;
          } else {
            await pis.query(
              `INSERT INTO availability (product_id, country, available, reason) VALUES ($1, $2, $3, $4)
               ON CONFLICT (product_id, country) DO UPDATE SET available = EXCLUDED.available, reason = EXCLUDED.reason`,
              [product, country, rand(2) === 1, rand(3) === 0 ? 'stock check' : null],
            );
            made++;
          }
        } else {
          const region = REGIONS[rand(2)]!;
          const discountId = `D-${region}-${rand(3)}`;
          if (rand(4) === 0) {
            const r = await pis.query('DELETE FROM discounts WHERE product_id = $1 AND discount_id = $2', [product, discountId]);
            made += r.rowCount ?? 0;
          } else {
            await pis.query(
              `INSERT INTO discounts (product_id, discount_id, region, percent, active) VALUES ($1, $2, $3, $4, true)
               ON CONFLICT (product_id, discount_id) DO UPDATE SET percent = EXCLUDED.percent, active = EXCLUDED.active`,
              [product, discountId, region, `${rand(60)}.${rand(10)}`],
            );
            made++;
          }
        }
      }
      await pis.query('COMMIT');
    }
    if (fed.launcher.pidOf(HQ, 'connect') === null) await fed.launcher.start(HQ, 'connect');

    // The ledger: every committed change, with its LSN, from the database itself.
    const ledger = (await pis.query("SELECT lsn::text AS lsn, data FROM pg_logical_slot_get_changes('fedgate_test_ledger', NULL, NULL)")).rows
      .map((r: { lsn: string; data: string }) => parseLedgerRow(r.lsn, r.data))
      .filter((c): c is LedgerChange => c !== null);
    await pis.query("SELECT pg_drop_replication_slot('fedgate_test_ledger')");
    expect(ledger.length).toBeGreaterThanOrEqual(CHANGES);
    const expectedByTopic = new Map<string, Set<bigint>>();
    for (const c of ledger) {
      const topic = topicOf(c);
      if (!topic) continue;
      if (!expectedByTopic.has(topic)) expectedByTopic.set(topic, new Set());
      expectedByTopic.get(topic)!.add(c.lsn);
    }

    // Every change is one event in its routed topic at the PIS site: none missing, none twice, none extra.
    const site = (name: string) => topology.sites.find((s) => s.name === name)!;
    const wait = { timeoutMs: 240_000, intervalMs: 2000 };
    const inTopics = new Map<string, bigint[]>();
    await waitUntil(
      async () => {
        inTopics.clear();
        for (const topic of expectedByTopic.keys()) {
          const lsns: bigint[] = [];
          await readTopicToEnd(fed.local(HQ), topic, (_p, m) => {
            const id = m.headers?.ce_id?.toString() ?? '';
            if (id.startsWith('pis-')) lsns.push(lsnOfEventId(id));
          });
          inTopics.set(topic, lsns);
        }
        return [...expectedByTopic].every(([t, want]) => (inTopics.get(t)?.length ?? 0) >= want.size);
      },
      { what: 'every captured change published at the PIS site', ...wait },
    );
    for (const [topic, want] of expectedByTopic) {
      const got = inTopics.get(topic) ?? [];
      expect(new Set(got).size, `${topic}: distinct events`).toBe(got.length);
      expect(new Set(got), `${topic}: the ledger's changes`).toEqual(want);
    }
    // Debezium did send changes again after the kill: the idempotency window answered them.
    let sentByDebezium = 0;
    for (const topic of CDC_TOPICS) await readTopicToEnd(fed.local(HQ), topic, () => void sentByDebezium++);
    console.log(`cdc: ${ledger.length} changes in the ledger, ${sentByDebezium} change records from Debezium, ${sentByDebezium - ledger.length} sent again`);
    expect(sentByDebezium).toBeGreaterThanOrEqual(ledger.length);

    // Each site consumed exactly the events routed to it.
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    try {
      for (const name of [HQ, US]) {
        const served = new Set(routedTopicsForSite(site(name)));
        const want = new Set([...expectedByTopic].filter(([t]) => served.has(t)).flatMap(([, lsns]) => [...lsns]));
        let got = new Set<bigint>();
        await waitUntil(
          async () => {
            const rows = await db.query(`SELECT DISTINCT event_id FROM ${schemaOf(name)}.monitoring_events WHERE stage = 'consumed' AND event_id LIKE 'pis-%'`);
            got = new Set(rows.rows.map((r: { event_id: string }) => lsnOfEventId(r.event_id)));
            return got.size >= want.size;
          },
          { what: `${name} consumed every change routed to it`, ...wait },
        );
        expect(got, `${name}: consumed exactly the changes routed to it`).toEqual(want);
      }

      // The effects equal the PIS tables, row by row, for what each site serves.
      const minor = (amount: string) => Math.round(Number(amount) * 100);
      const pisPrices = (await pis.query('SELECT product_id, region, currency, amount::text AS amount FROM prices')).rows;
      const pisAvail = (await pis.query('SELECT product_id, country, available FROM availability')).rows;
      for (const name of [HQ, US]) {
        const s = site(name);
        const book = (await db.query(`SELECT product_id, region, currency, amount_minor FROM ${schemaOf(name)}.price_book WHERE event_id LIKE 'pis-%'`)).rows;
        const expected = pisPrices
          .filter((r) => s.regions.includes(r.region))
          .map((r) => `${r.product_id}|${r.region}|${r.currency}|${minor(r.amount)}`)
          .sort();
        expect(book.map((r) => `${r.product_id}|${r.region}|${r.currency}|${Number(r.amount_minor)}`).sort(), `${name}: price book`).toEqual(expected);
        const avail = (await db.query(`SELECT product_id, country, available, reason FROM ${schemaOf(name)}.availability WHERE event_id LIKE 'pis-%'`)).rows;
        const live = new Map(pisAvail.filter((r) => s.countries.includes(r.country)).map((r) => [`${r.product_id}|${r.country}`, r.available as boolean]));
        for (const r of avail) {
          const key = `${r.product_id}|${r.country}`;
          // A row deleted in the PIS is, at the sites, the country marked unavailable.
          if (live.has(key)) expect(r.available, key).toBe(live.get(key));
          else expect({ key, available: r.available, reason: r.reason }).toEqual({ key, available: false, reason: 'removed from the PIS' });
        }
        expect(new Set(avail.map((r) => `${r.product_id}|${r.country}`)), `${name}: availability rows`).toEqual(
          new Set([...live.keys(), ...avail.filter((r) => !live.has(`${r.product_id}|${r.country}`)).map((r) => `${r.product_id}|${r.country}`)]),
        );
        for (const key of live.keys())
          expect(
            avail.some((r) => `${r.product_id}|${r.country}` === key),
            `${name}: has ${key}`,
          ).toBe(true);
      }
    } finally {
      await db.end();
    }
  }, 900_000);

  it('dead-letters a change that fails validation with its reason, and delivers the changes after it', async () => {
    await pis.query('BEGIN');
    // EUR has two minor digits: 1.005 EUR is not a price.
    await pis.query("INSERT INTO prices (product_id, region, currency, amount) VALUES ('POISON-1', 'eu', 'EUR', 1.005)");
    await pis.query("INSERT INTO prices (product_id, region, currency, amount) VALUES ('AFTER-1', 'eu', 'EUR', 2.50)");
    await pis.query('COMMIT');
    await pis.query("DELETE FROM prices WHERE product_id = 'AFTER-1'");
    await pis.query("INSERT INTO prices (product_id, region, currency, amount) VALUES ('AFTER-2', 'us', 'USD', 3.75)");

    const dead: Array<{ reason: string; key: string }> = [];
    await waitUntil(
      async () => {
        dead.length = 0;
        await readTopicToEnd(fed.local(HQ), DEAD_LETTER_TOPIC, (_p, m) => {
          if (m.headers?.fedgate_dlq_consumer?.toString() === 'cdc')
            dead.push({ reason: m.headers.fedgate_dlq_reason!.toString(), key: m.key?.toString() ?? '' });
        });
        return dead.length >= 2;
      },
      { what: 'the two refused changes in the dead-letter topic', timeoutMs: 120_000, intervalMs: 1000 },
    );
    expect(dead.find((d) => d.key.includes('POISON-1'))?.reason).toMatch(/invalid-event: .*EUR has 2 minor digits/);
    expect(dead.find((d) => d.key.includes('AFTER-1'))?.reason).toMatch(/price row was deleted/);

    // The changes after them are delivered: AFTER-1's price at the EU site, AFTER-2's at the US site.
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    try {
      await waitUntil(
        async () => {
          const hq = await db.query(`SELECT amount_minor FROM ${schemaOf(HQ)}.price_book WHERE product_id = 'AFTER-1' AND region = 'eu'`);
          const us = await db.query(`SELECT amount_minor FROM ${schemaOf(US)}.price_book WHERE product_id = 'AFTER-2' AND region = 'us'`);
          return Number(hq.rows[0]?.amount_minor) === 250 && Number(us.rows[0]?.amount_minor) === 375;
        },
        { what: 'the changes after the poison applied', timeoutMs: 120_000, intervalMs: 1000 },
      );
      const poison = await db.query(`SELECT 1 FROM ${schemaOf(HQ)}.price_book WHERE product_id = 'POISON-1'`);
      expect(poison.rows).toHaveLength(0);
    } finally {
      await db.end();
    }
  }, 300_000);

  it('distributes what the PIS writes to its own source topic (native and seed shapes) with its own principal, which may write nothing else', async () => {
    const tls = fed.clientTls(HQ, 'pis');
    const kafka = new Kafka({ ...localKafkaConfig(fed.site(HQ), 'test-pis', tls), logLevel: logLevel.NOTHING, retry: { retries: 2 } });
    const producer = kafka.producer({ allowAutoTopicCreation: false });
    await producer.connect();
    try {
      await producer.send({
        topic: SOURCE_TOPIC,
        acks: -1,
        messages: [
          {
            key: 'SRC-1',
            value: JSON.stringify({
              type: 'com.fedgate.pim.price.updated',
              id: 'src-native-1',
              data: { productId: 'SRC-1', region: 'us', price: { currency: 'USD', amount: '4.20' } },
            }),
          },
          {
            key: 'SRC-2',
            value: JSON.stringify({
              event_type: 'product-price-update',
              data: { productId: 'SRC-2', region: 'eu', price: { currency: 'EUR', amount: '5.10' } },
            }),
          },
          {
            key: 'SRC-3',
            value: JSON.stringify({ event_type: 'product-price-update', data: { productId: 'SRC-3', region: 'eu', price: { currency: 'EUR', amount: 5.1 } } }),
          },
        ],
      });
      // Its certificate writes the source topic only: a routed topic is refused by the broker's ACLs.
      await expect(producer.send({ topic: routedTopic('price', 'eu'), acks: -1, messages: [{ key: 'x', value: '{}' }] })).rejects.toThrow(/authoriz/i);
    } finally {
      await producer.disconnect();
    }
    const db = new pg.Client({ connectionString: TEST_DATABASE_URL });
    await db.connect();
    try {
      await waitUntil(
        async () => {
          const us = await db.query(`SELECT amount_minor, event_id FROM ${schemaOf(US)}.price_book WHERE product_id = 'SRC-1'`);
          const hq = await db.query(`SELECT amount_minor FROM ${schemaOf(HQ)}.price_book WHERE product_id = 'SRC-2'`);
          return Number(us.rows[0]?.amount_minor) === 420 && us.rows[0]?.event_id === 'src-native-1' && Number(hq.rows[0]?.amount_minor) === 510;
        },
        { what: 'the source topic events applied at their sites', timeoutMs: 120_000, intervalMs: 1000 },
      );
    } finally {
      await db.end();
    }
    let reason = '';
    await waitUntil(
      async () => {
        await readTopicToEnd(fed.local(HQ), DEAD_LETTER_TOPIC, (_p, m) => {
          if (m.headers?.fedgate_dlq_consumer?.toString() === 'source' && m.key?.toString() === 'SRC-3') reason = m.headers.fedgate_dlq_reason!.toString();
        });
        return reason !== '';
      },
      { what: 'the float price dead-lettered', timeoutMs: 60_000, intervalMs: 1000 },
    );
    expect(reason).toMatch(/^invalid-event: /);
  }, 300_000);

  it('enriches events with the PIS catalog at every gateway: an HTTP event at the other site and a captured change, known and unknown products', async () => {
    await pis.query("INSERT INTO products VALUES ('ENR-1', 'Espresso machine', 'Acme', 'kitchen'), ('ENR-2', 'Grinder', NULL, NULL)");
    // At the site without the PIS: its gateway asks the PIS site's gateway for the catalog over the peer listener.
    const token = await issueToken({ secretsDir: fed.certsDir, topology, site: US, scopes: [...SCOPES], subject: 'enrichment-test', ttlSeconds: 600 });
    const res = await fetch(`${fed.launcher.gatewayUrl(US)}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify([
        { type: 'com.fedgate.pim.price.updated', id: 'enr-http-1', data: { productId: 'ENR-1', region: 'eu', price: { currency: 'EUR', amount: '199.00' } } },
        {
          type: 'com.fedgate.pim.price.updated',
          id: 'enr-http-2',
          data: { productId: 'NOT-IN-CATALOG', region: 'eu', price: { currency: 'EUR', amount: '1.00' } },
        },
      ]),
    });
    expect(res.status).toBe(202);
    // A change captured at the PIS site, for the other site's region.
    await pis.query("INSERT INTO prices VALUES ('ENR-2', 'us', 'USD', 49.00)");

    const catalogs = new Map<string, unknown>();
    await waitUntil(
      async () => {
        // What arrived at each remote site: the copies MM2 wrote there.
        await readTopicToEnd(fed.local(HQ), remoteTopic(US, routedTopic('price', 'eu')), (_p, m) => {
          const id = m.headers?.ce_id?.toString() ?? '';
          if (id.startsWith('enr-http-')) catalogs.set(id, JSON.parse(m.value!.toString()).catalog);
        });
        await readTopicToEnd(fed.local(US), remoteTopic(HQ, routedTopic('price', 'us')), (_p, m) => {
          const data = JSON.parse(m.value!.toString());
          if (data.productId === 'ENR-2') catalogs.set('cdc-ENR-2', data.catalog);
        });
        return catalogs.size >= 3;
      },
      { what: 'the enriched events at the remote sites', timeoutMs: 120_000, intervalMs: 1000 },
    );
    expect(catalogs.get('enr-http-1')).toEqual({ status: 'enriched', name: 'Espresso machine', brand: 'Acme', category: 'kitchen' });
    expect(catalogs.get('enr-http-2')).toEqual({ status: 'unenriched', reason: 'unknown-product' });
    expect(catalogs.get('cdc-ENR-2')).toEqual({ status: 'enriched', name: 'Grinder' });
  }, 300_000);

  it('guards the PIS side: the database takes TLS logins only, and the Connect REST API only the site admin and the worker', async () => {
    // As the server sees them: every connection of fedgate's roles and the PIS owner is TLS (Debezium's walsender too).
    const { rows } = await pis.query<{ usename: string; backend_type: string; ssl: boolean }>(
      'SELECT a.usename, a.backend_type, s.ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.usename IS NOT NULL',
    );
    expect(rows.map((r) => `${r.usename} ${r.backend_type}`)).toEqual(expect.arrayContaining(['fedgate_cdc walsender', 'pis client backend']));
    expect(rows.filter((r) => !r.ssl)).toEqual([]);
    // A plaintext login with the right password is refused by pg_hba.conf (hostssl lines only).
    const plain = new pg.Client({ connectionString: pisOwnerUrl(topology, fed.certsDir).replace(/\?.*$/, '?sslmode=disable') });
    await expect(plain.connect()).rejects.toThrow(/no pg_hba\.conf entry for host .* no encryption/);
    await plain.end().catch(() => {});

    // The REST API: the site admin's certificate is let through; other certificates of the same federation CA are not.
    const call = (role: 'admin' | 'gateway' | 'pis', site = HQ) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const tls = fed.clientTls(site, role);
        const req = httpsRequest(new URL('/connectors', connectUrl(topology)), { ca: tls.ca, cert: tls.cert, key: tls.key, timeout: 10_000 }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      });
    const admin = await call('admin');
    expect(admin.status).toBe(200);
    expect(JSON.parse(admin.body)).toContain('pis-cdc');
    for (const [role, site] of [
      ['gateway', HQ],
      ['pis', HQ],
      ['admin', US],
    ] as const) {
      const refused = await call(role, site);
      expect(refused.status, `${site}/${role}`).toBe(403);
      expect(JSON.parse(refused.body)).toEqual({ error_code: 403, message: `CN=${site}.${role}.fedgate may not use this Connect worker's REST API` });
    }
  }, 120_000);
  it('renews the PIS database certificate in place (certs rotate): new handshakes get the new one, open sessions and the capture go on', async () => {
    const cert = certPaths(fed.certsDir).role(HQ, 'pisdb').cert;
    const ca = readFileSync(certPaths(fed.certsDir).caCert, 'utf8');
    const { host, port } = pisDatabaseEndpoint(topology);
    const oldSerial = certSerial(cert);
    expect(await presentedPostgresSerial(host, port, ca)).toBe(oldSerial);
    const serverPid = fed.launcher.pidOf(HQ, 'pisdb');

    const result = await fed.launcher.rotateCerts(HQ);
    const newSerial = certSerial(cert);
    expect(newSerial).not.toBe(oldSerial);
    expect(result.reloaded.map((r) => [r.component, r.serial])).toEqual([['pisdb', newSerial]]);
    console.log(`the PIS database presents the new certificate ${result.reloaded[0]!.reloadMs} ms after the rotation's reload`);
    expect(result.restartToRenew).not.toContain('pisdb');
    // The same server process, checked with this test's own handshake.
    expect(fed.launcher.pidOf(HQ, 'pisdb')).toBe(serverPid);
    expect(await presentedPostgresSerial(host, port, ca)).toBe(newSerial);
    // Another CA is refused: the probe verifies the server.
    const otherCa = readFileSync(certPaths(fed.certsDir).role(HQ, 'broker').cert, 'utf8');
    await expect(presentedPostgresSerial(host, port, otherCa)).rejects.toThrow(/certificate/);

    // The open session (the PIS owner's) goes on; a new login verifies the new certificate (verify-full).
    expect((await pis.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    const fresh = new pg.Client({ connectionString: pisOwnerUrl(topology, fed.certsDir) });
    await fresh.connect();
    try {
      expect((await fresh.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')).rows).toEqual([{ ssl: true }]);
    } finally {
      await fresh.end();
    }
    // Debezium's replication session was not dropped: the walsender that was streaming sends a change made after the reload.
    const before = await pis.query<{ pid: number }>("SELECT pid FROM pg_stat_replication WHERE usename = 'fedgate_cdc'");
    expect(before.rows).toHaveLength(1);
    await pis.query("INSERT INTO prices VALUES ('AFTER-ROTATE', 'eu', 'EUR', 12.34) ON CONFLICT (product_id, region) DO UPDATE SET amount = EXCLUDED.amount");
    const { rows } = await pis.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn');
    await waitUntil(
      async () => {
        const r = await pis.query<{ pid: number; sent: boolean }>(
          "SELECT pid, sent_lsn >= $1::pg_lsn AS sent FROM pg_stat_replication WHERE usename = 'fedgate_cdc'",
          [rows[0]!.lsn],
        );
        return r.rows.length === 1 && r.rows[0]!.pid === before.rows[0]!.pid && r.rows[0]!.sent;
      },
      { what: 'the capture session streaming past the change made after the reload', timeoutMs: 30_000 },
    );
  }, 120_000);
});
