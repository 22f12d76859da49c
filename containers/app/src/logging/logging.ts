import { inject, injectable } from 'tsyringe';
import winston, { format, type Logger } from 'winston';
import type Transport from 'winston-transport';
import { CONFIG, type AppConfig } from '../config';
import { consoleFormat, wantsColour } from './console-format';

export type { Logger };

/**
 * The one logging service (the original's `Logging`): every component asks it
 * for a child logger named after itself; transports are added here only.
 */
@injectable()
export class Logging {
  private readonly root: Logger;

  constructor(@inject(CONFIG) config: AppConfig) {
    this.root = winston.createLogger({
      level: config.logLevel,
      defaultMeta: { service: 'mymonit' },
      format: format.timestamp({ alias: '@timestamp' }),
      transports: [
        new winston.transports.Console({
          format: consoleFormat(wantsColour()),
          stderrLevels: ['error'],
        }),
      ],
    });
  }

  logger(component: string): Logger {
    return this.root.child({ component });
  }

  addTransport(transport: Transport): void {
    this.root.add(transport);
  }

  /** Flushes every transport; lines logged before this call are not lost. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.root.once('finish', () => resolve());
      this.root.end();
    });
  }
}
