import amqplib, { type ConfirmChannel, type GetMessage } from 'amqplib';
import { declareTopology, topologyOf } from '../../src/rabbit/topology';
import type { AppConfig } from '../../src/config';

/** A plain amqplib client, as an instrument would use: publish with confirms, read queues. */
export class AmqpClient {
  private constructor(
    private readonly connection: amqplib.ChannelModel,
    readonly channel: ConfirmChannel,
    private readonly config: AppConfig,
  ) {}

  /** Connects and declares the app's topology (idempotent), so messages can queue before the app runs. */
  static async connect(config: AppConfig): Promise<AmqpClient> {
    const connection = await amqplib.connect(config.rabbit.url);
    const channel = await connection.createConfirmChannel();
    await declareTopology(channel, config);
    return new AmqpClient(connection, channel, config);
  }

  get topology() {
    return topologyOf(this.config);
  }

  /** Publishes bodies to the ingestion exchange, persistent, waiting for confirms every 1,000. */
  async publish(bodies: Iterable<string | Buffer | object>): Promise<void> {
    const { exchange, routingKey } = this.topology;
    let i = 0;
    for (const body of bodies) {
      const content = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      if (!this.channel.publish(exchange, routingKey, content, { persistent: true, contentType: 'application/json' })) {
        await new Promise((resolve) => this.channel.once('drain', resolve));
      }
      if (++i % 1000 === 0) await this.channel.waitForConfirms();
    }
    await this.channel.waitForConfirms();
  }

  async messageCount(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  /** Takes every message of the dead-letter queue. */
  async drainDeadLetters(): Promise<GetMessage[]> {
    const messages: GetMessage[] = [];
    for (;;) {
      const message = await this.channel.get(this.topology.deadLetterQueue, { noAck: true });
      if (!message) return messages;
      messages.push(message);
    }
  }

  /** Removes the test's exchanges and queues from the broker. */
  async deleteTopology(): Promise<void> {
    const t = this.topology;
    for (const queue of [t.queue, t.deadLetterQueue]) await this.channel.deleteQueue(queue);
    for (const exchange of [t.exchange, t.deadLetterExchange, t.storedExchange]) await this.channel.deleteExchange(exchange);
  }

  async close(): Promise<void> {
    await this.channel.close().catch(() => undefined);
    await this.connection.close().catch(() => undefined);
  }
}

/** A call to the local broker's management API (the tests' guest account). */
export function rabbitManagement(path: string, method = 'GET', body?: object): Promise<Response> {
  return fetch(`http://127.0.0.1:15672/api/${path}`, {
    method,
    headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`, 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
}

/** Polls `check` until it returns true, or fails after `ms`. */
export async function eventually(check: () => Promise<boolean> | boolean, ms = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
