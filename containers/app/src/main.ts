import 'reflect-metadata';
import { Application } from './application';
import { configOrExit } from './cli/cli-context';
import { buildContainer } from './container';

async function main(): Promise<void> {
  const app = buildContainer(configOrExit()).resolve(Application);
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
