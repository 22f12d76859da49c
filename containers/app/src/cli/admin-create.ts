import 'reflect-metadata';
import { parseArgs } from 'node:util';
import { ValidationError } from '../errors';
import { fieldErrors } from '../model/measure-message';
import { CreateUserBody } from '../rest/schemas';
import { UserService } from '../services/user.service';
import { Migrator } from '../storage/migrator';
import { StorageConnector } from '../storage/storage-connector';
import { Logging } from '../logging/logging';
import { cliContainer, runCli } from './cli-context';

const USAGE =
  'usage: npm run admin:create -- --user-id A1 --uid <firebase uid> --name "<full name>" --email <email>';

/**
 * `npm run admin:create`: creates (or brings up to date) an admin user, so a
 * fresh install is usable without touching SQL. Idempotent.
 */
runCli(async () => {
  const { values } = parseArgs({
    options: {
      'user-id': { type: 'string' },
      uid: { type: 'string' },
      name: { type: 'string' },
      email: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const input = CreateUserBody.safeParse({
    user_id: values['user-id'],
    username: values.uid,
    name: values.name,
    email: values.email,
    role: 'ADMIN',
  });
  if (!input.success) {
    const errors = fieldErrors(input.error).map((e) => ({ ...e, field: `--${e.field.replace('username', 'uid').replace('_', '-')}` }));
    throw new ValidationError(errors, `${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}\n${USAGE}`);
  }
  const container = cliContainer();
  let outcome;
  try {
    await container.resolve(Migrator).migrate();
    outcome = await container.resolve(UserService).bootstrapAdmin(input.data.user_id, input.data);
  } finally {
    await container.resolve(StorageConnector).close();
    await container.resolve(Logging).close();
  }
  // After the log is flushed, so that this line comes last.
  console.log(`admin ${input.data.user_id}: ${outcome}`);
});
