import { inject, injectable } from 'tsyringe';
import { CONFIG, type AppConfig } from '../config';
import { RabbitConnector } from './rabbit-connector';
import { topologyOf } from './topology';

/** Publishes measure messages to the ingestion exchange, as instruments do, and waits for the broker's confirm. */
@injectable()
export class MeasurePublisher {
  private readonly topology;

  constructor(
    @inject(CONFIG) config: AppConfig,
    @inject(RabbitConnector) private readonly connector: RabbitConnector,
  ) {
    this.topology = topologyOf(config);
  }

  async publish(body: Buffer, meta: { messageId: string; userId: string }): Promise<void> {
    await this.connector.publish(this.topology.exchange, this.topology.routingKey, body, {
      contentType: 'application/json',
      // A queue deleted by hand must not turn a 202 into a loss: unroutable fails the request.
      mandatory: true,
      messageId: meta.messageId,
      appId: 'mymonit-http',
      timestamp: Math.floor(Date.now() / 1000),
      headers: { 'x-mymonit-user': meta.userId },
    });
  }
}
