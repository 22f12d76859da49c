import type { Channel } from 'amqplib';
import type { AppConfig } from '../config';

/** The AMQP names of SPEC §3, derived from the configuration. */
export interface Topology {
  exchange: string;
  routingKey: string;
  queue: string;
  deadLetterExchange: string;
  deadLetterQueue: string;
  /** Topic exchange of "stored" events (routing key = experiment id), for live streams. */
  storedExchange: string;
  /** Fanout exchange of access-change notices (users, experiments, associations), for the access caches. */
  accessExchange: string;
}

export function topologyOf(config: AppConfig): Topology {
  const { exchange, routingKey, queue } = config.rabbit;
  return {
    exchange,
    routingKey,
    queue,
    deadLetterExchange: `${exchange}.dlx`,
    deadLetterQueue: `${queue}.dead`,
    storedExchange: `${exchange}.stored`,
    accessExchange: `${exchange}.access`,
  };
}

/** Declares exchanges, queues and bindings; idempotent, run on every (re)connection. */
export async function declareTopology(channel: Channel, config: AppConfig): Promise<void> {
  const t = topologyOf(config);
  const queueType = { 'x-queue-type': config.rabbit.queueType };
  await channel.assertExchange(t.exchange, 'direct', { durable: true });
  await channel.assertExchange(t.deadLetterExchange, 'direct', { durable: true });
  await channel.assertExchange(t.storedExchange, 'topic', { durable: true });
  await channel.assertExchange(t.accessExchange, 'fanout', { durable: true });
  await channel.assertQueue(t.deadLetterQueue, { durable: true, arguments: queueType });
  await channel.bindQueue(t.deadLetterQueue, t.deadLetterExchange, t.routingKey);
  await channel.assertQueue(t.queue, {
    durable: true,
    arguments: {
      ...queueType,
      'x-dead-letter-exchange': t.deadLetterExchange,
      'x-dead-letter-routing-key': t.routingKey,
    },
  });
  await channel.bindQueue(t.queue, t.exchange, t.routingKey);
}
