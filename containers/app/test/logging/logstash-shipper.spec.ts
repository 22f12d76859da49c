import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import winston from 'winston';
import { LogstashShipper } from '../../src/logging/logstash-shipper';
import { eventually } from '../support/amqp';
import { freePort } from '../support/app-process';
import { LogstashListener } from '../support/logstash-listener';

/** A shipper behind a winston logger, as the app has it, with what it reported. */
function shipperTo(port: number, bufferLines: number) {
  const seen = { dropped: 0, shipped: 0, connections: [] as boolean[] };
  const shipper = new LogstashShipper(
    { host: '127.0.0.1', port, bufferLines, reconnectDelayMs: 50, maxReconnectDelayMs: 200 },
    {
      dropped: () => seen.dropped++,
      shipped: () => seen.shipped++,
      connection: (connected) => seen.connections.push(connected),
    },
  );
  const logger = winston.createLogger({ transports: [shipper] });
  const log = (from: number, to: number) => {
    for (let n = from; n <= to; n++) logger.info('line', { n });
  };
  return { shipper, seen, log };
}

const numbers = (listener: LogstashListener) => listener.lines.map((l) => l.n);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('Shipping log lines to Logstash', () => {
  const cleanup: (() => unknown)[] = [];
  after(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('When Logstash is down at start, then the newest lines up to the bound are kept, the rest counted as dropped, and delivered in order once it is up', async () => {
    const port = await freePort();
    const { shipper, seen, log } = shipperTo(port, 100);
    cleanup.push(() => shipper.close());
    await eventually(() => seen.connections.includes(false), 5_000, 'the refused connection');
    log(1, 250);
    assert.equal(seen.dropped, 150);
    assert.equal(shipper.bufferedLines, 100);

    const listener = await LogstashListener.start(port);
    cleanup.push(() => listener.stop());
    await eventually(() => listener.lines.length === 100, 10_000, '100 buffered lines');
    assert.deepEqual(numbers(listener), range(151, 250));
    assert.deepEqual(seen.connections, [false, true]);
    assert.equal(seen.shipped, 100);
    assert.deepEqual(listener.malformed, []);
  });

  it('When Logstash goes away mid-run and comes back, then the lines logged meanwhile arrive after the earlier ones', async () => {
    const listener = await LogstashListener.start();
    cleanup.push(() => listener.stop());
    const { shipper, seen, log } = shipperTo(listener.port, 1_000);
    cleanup.push(() => shipper.close());
    log(1, 10);
    await eventually(() => listener.lines.length === 10, 5_000, 'the first 10 lines');

    await listener.stop();
    await eventually(() => seen.connections.at(-1) === false, 5_000, 'the lost connection');
    log(11, 30);
    assert.equal(shipper.bufferedLines, 20);
    await listener.start();
    await eventually(() => listener.lines.length === 30, 10_000, 'the 20 lines of the outage');
    assert.deepEqual(numbers(listener), range(1, 30));
    assert.equal(seen.dropped, 0);
  });

  it('When Logstash stops reading, then logging never waits: memory stays bounded, and every line is either delivered or counted as dropped', async () => {
    const listener = await LogstashListener.start();
    cleanup.push(() => listener.stop());
    const { shipper, seen, log } = shipperTo(listener.port, 2_000);
    cleanup.push(() => shipper.close());
    await eventually(() => listener.connections === 1, 5_000, 'the connection');
    listener.pause(true);
    const total = 200_000;
    for (let from = 1; from <= total; from += 10_000) {
      log(from, from + 9_999);
      // What the process holds never exceeds the bound plus the lines in flight on the socket.
      assert.ok(shipper.bufferedLines <= 2_000 + 64, `holds ${shipper.bufferedLines} lines`);
      await new Promise((resolve) => setImmediate(resolve));
    }
    assert.ok(seen.dropped > 0, 'a reader that stopped must make the buffer overflow');

    listener.pause(false);
    await eventually(() => shipper.bufferedLines === 0 && listener.lines.length === seen.shipped, 20_000, 'the buffer to drain');
    assert.equal(seen.shipped + seen.dropped, total);
    // What arrives is in order and ends with the newest line.
    const received = numbers(listener) as number[];
    assert.ok(received.every((n, i) => i === 0 || n > received[i - 1]), 'lines out of order');
    assert.equal(received.at(-1), total);
  });

  it('When flushed while connected, then it resolves once every line is on the socket', async () => {
    const listener = await LogstashListener.start();
    cleanup.push(() => listener.stop());
    const { shipper, log } = shipperTo(listener.port, 5_000);
    await eventually(() => shipper.isConnected, 5_000, 'the connection');
    log(1, 3_000);
    assert.equal(await shipper.flush(5_000), true);
    assert.equal(shipper.bufferedLines, 0);
    shipper.close();
    await eventually(() => listener.lines.length === 3_000, 5_000, 'all 3,000 lines');
  });

  it('When flushed while Logstash is unreachable, then it gives up after the timeout', async () => {
    const { shipper, log } = shipperTo(await freePort(), 100);
    cleanup.push(() => shipper.close());
    log(1, 5);
    assert.equal(await shipper.flush(200), false);
    assert.equal(shipper.bufferedLines, 5);
  });
});
