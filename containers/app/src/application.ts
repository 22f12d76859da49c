import 'reflect-metadata';
import { inject, injectable } from 'tsyringe';
import type { AddressInfo } from 'node:net';
import { IDENTITY_VERIFIER, type IdentityVerifier } from './auth/identity-verifier';
import { CONFIG, describeConfig, type AppConfig } from './config';
import { Logging, type Log } from './logging/logging';
import { settledWithin } from './settled-within';
import { AccessChanges } from './rabbit/access-changes';
import { LiveMeasures } from './rabbit/live-measures';
import { RabbitConnector } from './rabbit/rabbit-connector';
import { RabbitListener } from './rabbit/rabbit-listener';
import { RestListener } from './rest/rest-listener';
import { Migrator } from './storage/migrator';
import { StorageConnector } from './storage/storage-connector';

/** How long closing the connections may take on shutdown, after in-flight work is settled. */
export const CLOSE_TIMEOUT_MS = 10_000;

/** The running app: start order, and the reverse on shutdown. */
@injectable()
export class Application {
  private readonly log: Log;

  constructor(
    @inject(CONFIG) private readonly config: AppConfig,
    @inject(Logging) private readonly logging: Logging,
    @inject(Migrator) private readonly migrator: Migrator,
    @inject(StorageConnector) private readonly storage: StorageConnector,
    @inject(RabbitConnector) private readonly rabbit: RabbitConnector,
    @inject(RabbitListener) private readonly listener: RabbitListener,
    @inject(LiveMeasures) private readonly live: LiveMeasures,
    @inject(AccessChanges) private readonly accessChanges: AccessChanges,
    @inject(RestListener) private readonly rest: RestListener,
    @inject(IDENTITY_VERIFIER) private readonly identities: IdentityVerifier,
  ) {
    this.log = logging.logger('app');
  }

  async start(): Promise<AddressInfo> {
    this.log.info('starting MyMONIT', { event: 'app.start', config: describeConfig(this.config) });
    if (this.config.firebase.emulatorHost) {
      this.log.warn(
        `FIREBASE_AUTH_EMULATOR_HOST=${this.config.firebase.emulatorHost}: tokens are checked against the Firebase Auth Emulator, NOT signature-verified. Development and tests only.`,
      );
    }
    await this.migrator.migrate();
    this.rabbit.start();
    this.live.start();
    this.accessChanges.start();
    this.listener.start();
    return this.rest.start();
  }

  /**
   * Stops taking work, finishes and acknowledges what is in flight, closes the
   * connections, flushes the logs. True when all of it was done; false when
   * in-flight messages were left to the broker (the listener's grace period ran
   * out) or a connection did not close in time (a server that stopped
   * answering), so that the process says so with its exit status.
   */
  async stop(): Promise<boolean> {
    this.log.info('stopping MyMONIT', { event: 'app.stop' });
    // Stop taking work on both doors; finish and acknowledge what is in flight.
    const [, settled] = await Promise.all([this.rest.stop(), this.listener.stop()]);
    const closing = (async () => {
      await this.live.close();
      await this.accessChanges.close();
      await this.rabbit.close();
      await this.storage.close();
      await this.identities.close?.();
    })();
    const closed = await settledWithin(closing, CLOSE_TIMEOUT_MS);
    if (!closed) this.log.error('connections did not close in time; stopping without them', { event: 'app.stop_timeout' });
    this.log.info('stopped', { clean: settled && closed });
    await this.logging.close();
    return settled && closed;
  }
}
