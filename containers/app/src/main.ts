import 'reflect-metadata';
import cluster from 'node:cluster';
import { Application } from './application';
import { configOrExit } from './cli/cli-context';
import { runCluster } from './cluster';
import { buildContainer } from './container';

async function main(): Promise<void> {
  // Read (and refused, naming every wrong value) once, before any worker is forked.
  const config = configOrExit();
  if (config.workers > 1 && cluster.isPrimary) {
    runCluster(config);
    return;
  }
  const app = buildContainer(config).resolve(Application);
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) return;
    stopping = true;
    app.stop().then(
      // 1: messages were handed back to the broker unsettled, or a connection hung.
      (clean) => process.exit(clean ? 0 : 1),
      (error) => {
        console.error(`error while stopping on ${reason}:`, error);
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
