import 'reflect-metadata';
import { Logging } from '../logging/logging';
import { Migrator } from '../storage/migrator';
import { cliContainer, runCli } from './cli-context';

/** `npm run migrate`: create the database if needed and apply pending migrations. */
runCli(async () => {
  const container = cliContainer();
  const applied = await container.resolve(Migrator).migrate();
  console.log(applied.length > 0 ? `applied migrations ${applied.join(', ')}` : 'schema already up to date');
  await container.resolve(Logging).close();
});
