import 'reflect-metadata';
import type { DependencyContainer } from 'tsyringe';
import { ConfigError, loadConfig, loadEnvFile, type AppConfig } from '../config';
import { buildContainer } from '../container';

/** Exit status for a configuration error (sysexits EX_CONFIG). */
export const EX_CONFIG = 78;

/** Configuration from the environment (and `.env`), or exit naming every bad value. */
export function configOrExit(environment: NodeJS.ProcessEnv = process.env, options?: { verifiesTokens?: boolean }): AppConfig {
  loadEnvFile();
  try {
    return loadConfig(environment, options);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`MyMONIT cannot start. ${error.message}`);
      process.exit(EX_CONFIG);
    }
    throw error;
  }
}

/**
 * Defaults for the local services of a development machine (MariaDB as root
 * with an empty password, RabbitMQ as guest, the Auth Emulator's demo
 * project). The environment and `.env` win over them.
 */
export function applyLocalDefaults(extra: Record<string, string> = {}): void {
  loadEnvFile();
  const defaults: Record<string, string> = {
    NODE_ENV: 'development',
    DB_HOST: '127.0.0.1',
    DB_PASSWORD: '',
    RABBIT_URL: '127.0.0.1',
    FIREBASE_PROJECT_ID: 'demo-mymonit',
    // A development machine has no Logstash; the console shows every line.
    LOGSTASH_ENABLED: 'false',
    ...extra,
  };
  for (const [name, value] of Object.entries(defaults)) process.env[name] ??= value;
}

/** The app's components for a command-line tool, which works on MySQL alone: no Firebase project is needed. */
export function cliContainer(): DependencyContainer {
  return buildContainer(configOrExit(process.env, { verifiesTokens: false }));
}

/** Runs a command-line tool: its errors are printed in one line, and it exits with a status. */
export function runCli(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: Error) => {
      console.error(`error: ${error.message}`);
      process.exit(1);
    },
  );
}
