#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { consoleLogger } from './log';
import { DEFAULT_MAPPING } from './mapping';
import { startServer, type ServerOptions } from './server';

const USAGE = `Usage: mymonit-line-protocol [options]

An InfluxDB line protocol endpoint (POST /api/v2/write, POST /write) that
publishes every numeric field to MyMONIT over AMQP.

Options:
  --port <n>                  HTTP port (default 8086, InfluxDB's)
  --host <address>            address to listen on (default 0.0.0.0)
  --url <amqp-url>            RabbitMQ URL with credentials
                              (default $RABBIT_URL_FULL or amqp://guest:guest@localhost:5672)
  --exchange <name>           MyMONIT's exchange (default $RABBIT_EXCHANGE or mymonit)
  --routing-key <key>         MyMONIT's routing key (default $RABBIT_ROUTING or measures)
  --sensor-separator <s>      between measurement and field in the sensor name (default ".")
  --no-measurement-prefix     the sensor is the field key alone
  --experiment-tag <key>      the tag naming the experiment (default "experiment");
                              lines without it go to the bucket (v2) / db (v1) parameter
  --token <token>             require Authorization: Token <token> (default $MYMONIT_LP_TOKEN;
                              prefer the variable: arguments are visible to every local user)
  --max-body-mib <n>          largest request body, after gunzip (default 10)
  -h, --help                  this help
`;

function fail(message: string): never {
  process.stderr.write(`mymonit-line-protocol: ${message}\n\n${USAGE}`);
  process.exit(2);
}

function integer(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) fail(`--${name} must be an integer from ${min} to ${max}`);
  return value;
}

function options(argv: string[]): ServerOptions {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        port: { type: 'string', default: '8086' },
        host: { type: 'string', default: '0.0.0.0' },
        url: { type: 'string' },
        exchange: { type: 'string' },
        'routing-key': { type: 'string' },
        'sensor-separator': { type: 'string', default: DEFAULT_MAPPING.sensorSeparator },
        'no-measurement-prefix': { type: 'boolean', default: false },
        'experiment-tag': { type: 'string', default: DEFAULT_MAPPING.experimentTag },
        token: { type: 'string' },
        'max-body-mib': { type: 'string', default: '10' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    fail((error as Error).message);
  }
  const { values } = parsed;
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  if (values['experiment-tag'] === '') fail('--experiment-tag must not be empty');
  const token = values.token ?? process.env.MYMONIT_LP_TOKEN;
  return {
    port: integer('port', values.port, 0, 65_535),
    host: values.host,
    amqpUrl: values.url ?? process.env.RABBIT_URL_FULL ?? 'amqp://guest:guest@localhost:5672',
    exchange: values.exchange ?? process.env.RABBIT_EXCHANGE ?? 'mymonit',
    routingKey: values['routing-key'] ?? process.env.RABBIT_ROUTING ?? 'measures',
    token: token === '' ? undefined : token,
    mapping: {
      sensorSeparator: values['sensor-separator'],
      measurementPrefix: !values['no-measurement-prefix'],
      experimentTag: values['experiment-tag'],
    },
    maxBodyBytes: integer('max-body-mib', values['max-body-mib'], 1, 1024) * 1024 * 1024,
    log: consoleLogger,
  };
}

async function main(): Promise<void> {
  const server = await startServer(options(process.argv.slice(2)));
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      consoleLogger('warn', `${signal} again: exiting without waiting`);
      process.exit(1);
    }
    stopping = true;
    consoleLogger('info', `${signal}: finishing in-flight requests`);
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        consoleLogger('error', `while stopping: ${(error as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error: unknown) => {
  consoleLogger('error', `cannot start: ${(error as Error).message}`);
  process.exit(1);
});
