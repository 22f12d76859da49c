import { inject, injectable } from 'tsyringe';
import amqp, { type AmqpConnectionManager } from 'amqp-connection-manager';
import { CONFIG, rabbitEndpoint, type AppConfig } from '../config';
import { Logging, type Logger } from '../logging/logging';

/**
 * The AMQP connection (the original's RabbitConnector): it connects in the
 * background and reconnects with back-off, so the app starts and serves REST
 * while the broker is away.
 */
@injectable()
export class RabbitConnector {
  private connection: AmqpConnectionManager | null = null;
  private readonly log: Logger;

  constructor(
    @inject(CONFIG) private readonly config: AppConfig,
    @inject(Logging) logging: Logging,
  ) {
    this.log = logging.logger('rabbit');
  }

  start(): AmqpConnectionManager {
    if (this.connection) return this.connection;
    const endpoint = rabbitEndpoint(this.config);
    const connection = amqp.connect([this.config.rabbit.url], {
      heartbeatIntervalInSeconds: 15,
      reconnectTimeInSeconds: 2,
      connectionOptions: { timeout: 5_000, clientProperties: { connection_name: 'mymonit-app' } },
    });
    connection.on('connect', () => this.log.info('connected to RabbitMQ', { endpoint }));
    connection.on('disconnect', ({ err }) =>
      this.log.warn('disconnected from RabbitMQ; reconnecting', { endpoint, reason: err?.message }),
    );
    connection.on('connectFailed', ({ err }) =>
      this.log.warn('cannot connect to RabbitMQ; retrying', { endpoint, reason: err?.message }),
    );
    this.connection = connection;
    return connection;
  }

  isConnected(): boolean {
    return this.connection?.isConnected() ?? false;
  }

  async close(): Promise<void> {
    await this.connection?.close();
    this.connection = null;
  }
}
