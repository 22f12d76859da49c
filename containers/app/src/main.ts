import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { Application } from './application';
import { ConfigError, loadConfig } from './config';
import { buildContainer } from './container';

/** Exit status for a configuration error (sysexits EX_CONFIG). */
const EX_CONFIG = 78;

async function main(): Promise<void> {
  // Variables already in the environment win over the .env file.
  if (existsSync('.env')) process.loadEnvFile('.env');
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`MyMONIT cannot start. ${error.message}`);
      process.exit(EX_CONFIG);
    }
    throw error;
  }
  const app = buildContainer(config).resolve(Application);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    app.stop().then(
      () => process.exit(0),
      (error) => {
        console.error(`error while stopping on ${signal}:`, error);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  await app.start();
}

main().catch((error) => {
  console.error('MyMONIT failed to start:', error);
  process.exit(1);
});
