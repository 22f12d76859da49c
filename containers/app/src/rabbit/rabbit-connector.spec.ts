import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { loadConfig, type AppConfig } from '../config';
import { Logging } from '../logging/logging';
import { Metrics } from '../metrics/metrics';
import { RabbitConnector, reconnectWait } from './rabbit-connector';

describe('RabbitConnector reconnection', () => {
  it('When attempts keep failing, then each wait is drawn from the upper half of a doubling back-off capped at 30 s', () => {
    assert.equal(reconnectWait(0), 1, 'after a lost connection: 1 s');
    for (const [failures, low, high] of [
      [1, 1, 2],
      [2, 2, 4],
      [4, 8, 16],
      [5, 15, 30],
      [12, 15, 30],
    ]) {
      assert.equal(reconnectWait(failures, () => 0), low);
      assert.equal(reconnectWait(failures, () => 1), high);
    }
  });

  it('When the broker cannot be reached, then the connection manager waits longer after each failed attempt', { timeout: 20_000 }, async () => {
    // A port that accepts nothing: listened on, then closed.
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const config: AppConfig = loadConfig({ RABBIT_URL: `127.0.0.1:${port}`, FIREBASE_PROJECT_ID: 'demo-test', LOGSTASH_ENABLED: 'false', LOG_LEVEL: 'error' });
    const connector = new RabbitConnector(config, new Logging(config, new Metrics(), 'process'), new Metrics());
    const failedAt: number[] = [];
    const waits: number[] = [];
    const connection = connector.start();
    connection.on('connectFailed', () => {
      failedAt.push(Date.now());
      waits.push(connection.reconnectTimeInSeconds);
    });
    try {
      while (failedAt.length < 3) await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await connector.close();
    }
    const gaps = [failedAt[1] - failedAt[0], failedAt[2] - failedAt[1]].map((ms) => ms / 1000);
    assert.ok(waits[0] >= 1 && waits[0] <= 2 && waits[1] >= 2 && waits[1] <= 4, `waits ${waits.join(', ')} s`);
    // Each attempt came after the wait set when the previous one failed.
    gaps.forEach((gap, i) => assert.ok(gap >= waits[i] - 0.05 && gap < waits[i] + 1, `gap ${gap} s after a wait of ${waits[i]} s`));
  });
});
