// Worker thread of bench:ingest (d): publishes single-measure messages at full
// confirmed rate for N seconds; each measure's value is its publish time (ms),
// so the live stream tells the publish → stored latency. Posts the count back.
import { parentPort, workerData } from 'node:worker_threads';
import amqplib from 'amqplib';

const { url, exchange, routingKey, experiment, seconds, t0 } = workerData;
const connection = await amqplib.connect(url);
const channel = await connection.createConfirmChannel();
const end = Date.now() + seconds * 1000;
let i = 0;
while (Date.now() < end) {
  const body = Buffer.from(JSON.stringify({ experiment_id: experiment, sensor: `s${i % 50}`, value: Date.now(), timestamp: t0 + i }));
  if (!channel.publish(exchange, routingKey, body, { persistent: true })) await new Promise((r) => channel.once('drain', r));
  i++;
  if (i % 500 === 0) await channel.waitForConfirms();
}
await channel.waitForConfirms();
await connection.close();
parentPort.postMessage(i);
