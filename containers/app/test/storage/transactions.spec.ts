import 'reflect-metadata';
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import mysql from 'mysql2/promise';
import { loadConfig, type AppConfig } from '../../src/config';
import { Logging } from '../../src/logging/logging';
import { Migrator } from '../../src/storage/migrator';
import { StorageConnector } from '../../src/storage/storage-connector';
import { dropDatabase, testContainer, testEnvironment } from '../support/test-app';

/**
 * `StorageConnector.transaction` with `deadlockRetries` (used by the rollup
 * refreshes), against a real InnoDB deadlock: another transaction that has
 * changed more rows holds row 2 and waits for row 1, which the transaction
 * under test holds while it asks for row 2. InnoDB rolls back the transaction
 * that changed fewer rows: the one under test.
 */
describe('Transactions chosen as deadlock victims', () => {
  let config: AppConfig;
  let storage: StorageConnector;
  let logging: Logging;

  const connect = () => {
    const { host, port, user, password, database } = config.db;
    return mysql.createConnection({ host, port, user, password, database });
  };
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Runs `attempt` in storage.transaction while another transaction deadlocks with its first attempt. */
  async function againstADeadlock(deadlockRetries: number) {
    const other = await connect();
    let attempts = 0;
    try {
      await other.query('START TRANSACTION');
      await other.query('UPDATE deadlock_probe SET v = v + 10 WHERE id >= 2');
      let otherDone: Promise<unknown> = Promise.resolve();
      const result = storage.transaction(
        async (connection) => {
          attempts++;
          await connection.query('UPDATE deadlock_probe SET v = v + 1 WHERE id = 1');
          if (attempts === 1) {
            // The other transaction now waits for row 1; once it has it, it commits.
            otherDone = other.query('UPDATE deadlock_probe SET v = v + 10 WHERE id = 1').then(() => other.query('COMMIT'));
            await pause(200);
          }
          await connection.query('UPDATE deadlock_probe SET v = v + 1 WHERE id = 2');
        },
        { deadlockRetries },
      );
      const outcome = await result.then(
        () => null,
        (error: { code?: string }) => error,
      );
      await otherDone;
      return { attempts, outcome };
    } finally {
      await other.end();
    }
  }

  const values = async () => {
    const [rows] = (await storage.pool.query('SELECT id, v FROM deadlock_probe WHERE id <= 2 ORDER BY id')) as unknown as [
      { id: number; v: number }[],
    ];
    return rows.map((r) => r.v);
  };

  before(async () => {
    config = loadConfig(testEnvironment());
    const container = testContainer(config);
    await container.resolve(Migrator).migrate();
    storage = container.resolve(StorageConnector);
    logging = container.resolve(Logging);
    await storage.pool.query('CREATE TABLE deadlock_probe (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB');
  });
  beforeEach(async () => {
    await storage.pool.query('DELETE FROM deadlock_probe');
    await storage.pool.query('INSERT INTO deadlock_probe (id, v) VALUES (1, 0), (2, 0), (3, 0), (4, 0), (5, 0)');
  });
  after(async () => {
    await storage?.close();
    await logging?.close();
    await dropDatabase(config);
  });

  it('When a transaction with retries is chosen as the victim, then it runs again from the start and commits', async () => {
    const { attempts, outcome } = await againstADeadlock(2);
    assert.equal(outcome, null);
    assert.equal(attempts, 2);
    // The other transaction's +10 on both rows, and the retried +1 on both: nothing of the rolled-back attempt.
    assert.deepEqual(await values(), [11, 11]);
  });

  it('When a transaction without retries is chosen as the victim, then the deadlock reaches the caller and nothing of it stays', async () => {
    const { attempts, outcome } = await againstADeadlock(0);
    assert.equal(attempts, 1);
    assert.equal(outcome?.code, 'ER_LOCK_DEADLOCK');
    assert.deepEqual(await values(), [10, 10]);
  });
});
