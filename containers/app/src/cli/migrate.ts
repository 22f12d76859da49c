import 'reflect-metadata';
import { Logging } from '../logging/logging';
import { Migrator } from '../storage/migrator';
import { cliContainer, runCli } from './cli-context';

/** `npm run migrate`: create the database if needed and apply pending migrations. */
runCli(async () => {
  const container = cliContainer();
  const applied = await container.resolve(Migrator).migrate();
  // After the log is flushed, so that this line comes last.
  await container.resolve(Logging).close();
  console.log(applied.length > 0 ? `applied migrations ${applied.join(', ')}` : 'schema already up to date');
});
