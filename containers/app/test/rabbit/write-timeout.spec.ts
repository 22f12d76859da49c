import assert from 'node:assert/strict';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { AmqpClient, eventually } from '../support/amqp';
import { freePort } from '../support/app-process';
import { ConsoleLines } from '../support/log-capture';
import { scrapeMetric } from '../support/metrics';
import { startTestApp, storedMeasures, type TestApp } from '../support/test-app';
import { createAdmin, createExperiment } from '../support/world';

const T = Date.parse('2026-11-27T10:00:00.000Z');
const measure = (i: number) => ({ experiment_id: 'CUT', sensor: 's', value: i, unit: 'K', timestamp: T + i });

/**
 * A TCP relay to MySQL that can go silent on the connections it carries, as
 * a network partition or a failover does: nothing forwarded either way, and
 * no FIN or RST, so the app's sockets stay open with their statements
 * unanswered. Connections opened after that are relayed as usual.
 */
class SilentRelay {
  private readonly pairs: [Socket, Socket][] = [];
  private server: Server | null = null;

  async start(port: number, target: number): Promise<void> {
    this.server = createServer((client) => {
      const upstream = createConnection({ host: '127.0.0.1', port: target });
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      this.pairs.push([client, upstream]);
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
  }

  /** Every connection open now stops carrying anything, without closing. */
  silence(): void {
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
  }

  /** Closes every connection relayed so far; new ones are still relayed. */
  dropAll(): void {
    for (const [client, upstream] of this.pairs.splice(0)) {
      client.destroy();
      upstream.destroy();
    }
  }

  async close(): Promise<void> {
    this.dropAll();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

describe('Ingestion when MySQL goes silent (INGEST_WRITE_TIMEOUT_MS)', () => {
  let app: TestApp;
  let amqp: AmqpClient;
  const relay = new SilentRelay();
  const mysqlPort = Number(process.env.DB_PORT ?? 3306);
  let counted: () => Promise<number>;
  const appConsole = new ConsoleLines();

  before(async () => {
    const port = await freePort();
    await relay.start(port, mysqlPort);
    app = await startTestApp({ DB_PORT: String(port), INGEST_WRITE_TIMEOUT_MS: '2000', LOG_LEVEL: 'info' }, undefined, { console: appConsole });
    const admin = await createAdmin(app);
    await createExperiment(app, admin, 'CUT');
    amqp = await AmqpClient.connect(app.config);
    await eventually(async () => (await app.api.get('/ready')).status === 200, 10_000, 'ready');
    // Counted straight from MySQL, not through the relay.
    counted = () => storedMeasures({ ...app.config, db: { ...app.config.db, port: mysqlPort } });
  });

  after(async () => {
    await amqp?.close();
    relay.dropAll(); // the silent connections: the app stops (and drops its database) on new ones
    await app?.stop();
    await relay.close();
  });

  it('When every open MySQL connection goes silent mid-stream, then the batch is retried on a new one and nothing is lost', async () => {
    await amqp.publish(Array.from({ length: 50 }, (_, i) => measure(i)));
    await eventually(async () => (await counted()) === 50, 10_000, 'the first 50 stored');
    // Acknowledged too: the batch's connection is back in the pool, not waiting for its COMMIT's answer.
    await eventually(
      async () => (await scrapeMetric(app.baseUrl, 'mymonit_ingest_messages_total', { outcome: 'stored' })) === 50,
      10_000,
      'the first 50 acknowledged',
    );

    relay.silence();
    const cutAt = Date.now();
    await amqp.publish(Array.from({ length: 200 }, (_, i) => measure(50 + i)));
    // Both ingestion connections are silent: each write waits 2 s, is dropped, and is retried;
    // the third attempt opens a connection that answers. Without the timeout, never.
    await eventually(async () => (await counted()) === 250, 30_000, 'the 200 sent after the cut stored');
    const seconds = (Date.now() - cutAt) / 1000;
    assert.ok(seconds >= 2, `stored after ${seconds} s: not before a write timed out`);
    const retries = await scrapeMetric(app.baseUrl, 'mymonit_ingest_store_retries_total', { reason: 'PROTOCOL_SEQUENCE_TIMEOUT' });
    assert.ok(retries >= 1, `${retries} retries after a timeout`);
    assert.equal(await amqp.messageCount(amqp.topology.deadLetterQueue), 0, 'nothing dead-lettered');
    assert.equal(await counted(), 250, 'no duplicate');
  });

  it('When a write waits on a row lock past the timeout, then its session is ended on the server, and the batch is stored once the lock goes', async () => {
    const { host, user, password, database } = app.config.db;
    const direct = await mysql.createConnection({ host, port: mysqlPort, user, password, database });
    /** Transactions waiting for a lock, other than this test's own. */
    const waiting = async () => {
      const [rows] = await direct.query('SELECT COUNT(*) AS n FROM information_schema.innodb_trx WHERE trx_state = ? AND trx_mysql_thread_id <> CONNECTION_ID()', [
        'LOCK WAIT',
      ]);
      return Number((rows as { n: number }[])[0].n);
    };
    const locked = measure(0);
    try {
      // Someone holds the row of a measure stored before (50 were, by the first case) for longer than a write may take.
      await direct.query('START TRANSACTION');
      await direct.query('SELECT m.value FROM measures m JOIN experiments e ON e.id = m.experiment_ref WHERE e.experiment_id = ? AND m.ts = ? FOR UPDATE', [
        'CUT',
        locked.timestamp,
      ]);
      const timeouts = () => scrapeMetric(app.baseUrl, 'mymonit_ingest_store_retries_total', { reason: 'PROTOCOL_SEQUENCE_TIMEOUT' });
      const before = await timeouts();
      const linesBefore = appConsole.lines.length;
      await amqp.publish([{ ...locked, value: 1_000 }]);
      await eventually(async () => (await timeouts()) >= before + 2, 20_000, 'two writes timed out');
      // Each timed-out write was ended on the server: only the attempt of the moment waits for the lock,
      // not one more for every timeout (InnoDB would keep them waiting 50 s, holding what they wrote).
      assert.ok((await waiting()) <= 1, `${await waiting()} transactions wait for the lock`);
      const abandoned = appConsole.lines.slice(linesBefore).filter((l) => l.includes('"event":"ingest.write_abandoned"'));
      assert.ok(abandoned.length >= 2 && abandoned.every((l) => l.includes('"killed":true')), abandoned.join('\n'));
    } finally {
      await direct.query('ROLLBACK');
    }
    await eventually(async () => {
      const [rows] = await direct.query('SELECT m.value FROM measures m JOIN experiments e ON e.id = m.experiment_ref WHERE e.experiment_id = ? AND m.ts = ?', [
        'CUT',
        locked.timestamp,
      ]);
      return (rows as { value: number }[])[0]?.value === 1_000;
    }, 20_000, 'the new value stored once the lock is gone');
    assert.equal(await counted(), 250, 'no duplicate');
    assert.equal(await waiting(), 0, 'no session left waiting');
    await direct.end();
  });
});
