import { extname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MeasureInput } from '@mymonit/publisher';
import type { Mapping } from './mapping';

export type Format = 'csv' | 'jsonl';

export interface Options {
  /** A file path, or `-` for stdin. */
  input: string;
  url: string;
  exchange: string;
  routingKey: string;
  format: Format;
  delimiter: string;
  mapping: Mapping;
  /** Measures per publish call (and per AMQP message). */
  batchSize: number;
  dryRun: boolean;
  skipInvalid: boolean;
  resume: boolean;
  /** Null for stdin. */
  checkpoint: string | null;
}

export type ParsedCommandLine = { help: true } | { help: false; options: Options };

/** Bad flags: the message is for the user, the exit status is 2. */
export class UsageError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
    this.name = 'UsageError';
  }
}

export const DEFAULT_URL = 'amqp://guest:guest@localhost:5672';
export const MAX_BATCH_SIZE = 10_000;

export const USAGE = `usage: mymonit-csv <file | -> [options]

Publishes measures from a CSV or JSON Lines file (or stdin, "-") to MyMONIT.

Connection:
  --url <amqp-url>            broker URL (default: $RABBIT_URL_FULL or ${DEFAULT_URL})
  --exchange <name>           MyMONIT's exchange (default: $RABBIT_EXCHANGE or mymonit)
  --routing-key <key>         MyMONIT's routing key (default: $RABBIT_ROUTING or measures)

Input:
  --format csv|jsonl          default: from the extension (.jsonl/.ndjson: jsonl), else csv
  --delimiter <char>          CSV delimiter (default: ","; "tab" or "\\t" for a tab)

Mapping (CSV columns, or JSON keys for JSON Lines):
  --experiment <id>           one experiment for every row, or
  --experiment-column <name>  the experiment column (default: experiment_id)
  --sensor-column <name>      the sensor column (default: sensor)
  --value-column <name>       the value column (default: value)
  --timestamp-column <name>   the timestamp column (default: timestamp)
  --unit <unit>               one unit for every measure, or
  --unit-column <name>        the unit column (default: unit, used if present)
  --tag-columns <a,b>         columns that become tags
  --sensor-columns <t1,t2>    wide mode: each listed column is one sensor's value
                              (column name = sensor name; empty cells are skipped)

Run:
  --batch-size <n>            measures per publish (default: 500, at most ${MAX_BATCH_SIZE})
  --dry-run                   validate every row, send nothing
  --skip-invalid              report invalid rows and send the others
  --no-resume                 start from the first row even if a checkpoint exists
  --checkpoint <path>         checkpoint file (default: <file>.mymonit-checkpoint)
  -h, --help                  this help

Exit status: 0 all sent and confirmed (or dry run valid), 1 broker failure,
2 invalid rows, bad flags, unreadable input or a changed file.`;

const FLAGS = {
  url: { type: 'string' },
  exchange: { type: 'string' },
  'routing-key': { type: 'string' },
  format: { type: 'string' },
  experiment: { type: 'string' },
  'experiment-column': { type: 'string' },
  'sensor-column': { type: 'string' },
  'value-column': { type: 'string' },
  'timestamp-column': { type: 'string' },
  'unit-column': { type: 'string' },
  unit: { type: 'string' },
  'tag-columns': { type: 'string' },
  'sensor-columns': { type: 'string' },
  delimiter: { type: 'string' },
  'batch-size': { type: 'string' },
  'dry-run': { type: 'boolean' },
  'skip-invalid': { type: 'boolean' },
  'no-resume': { type: 'boolean' },
  checkpoint: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function list(text: string | undefined): string[] {
  return (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function formatOf(input: string, flag: string | undefined, problems: string[]): Format {
  if (flag !== undefined) {
    if (flag === 'csv' || flag === 'jsonl') return flag;
    problems.push(`--format: must be csv or jsonl, not "${flag}"`);
    return 'csv';
  }
  if (input === '-') return 'csv';
  const extension = extname(input).toLowerCase();
  return extension === '.jsonl' || extension === '.ndjson' ? 'jsonl' : 'csv';
}

function delimiterOf(flag: string | undefined, input: string, problems: string[]): string {
  if (flag === undefined) return extname(input).toLowerCase() === '.tsv' ? '\t' : ',';
  if (flag === 'tab' || flag === '\\t') return '\t';
  if (flag.length === 0 || /[\r\n"]/.test(flag)) {
    problems.push('--delimiter: must be a non-empty string without quotes or line breaks');
    return ',';
  }
  return flag;
}

/**
 * Parses the command line (without node and the script). Throws UsageError
 * naming every problem at once.
 */
export function parseCommandLine(argv: string[], env: NodeJS.ProcessEnv = process.env): ParsedCommandLine {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: FLAGS, allowPositionals: true, strict: true });
  } catch (error) {
    throw new UsageError([(error as Error).message]);
  }
  const { values, positionals } = parsed;
  if (values.help) return { help: true };

  const problems: string[] = [];
  if (positionals.length !== 1) {
    problems.push(positionals.length === 0 ? 'no input: give a file, or - for stdin' : `one input only, got ${positionals.join(' ')}`);
  }
  const input = positionals[0] ?? '-';
  const stdin = input === '-';

  if (values.experiment !== undefined && values['experiment-column'] !== undefined) {
    problems.push('--experiment and --experiment-column exclude each other');
  }
  if (values.experiment !== undefined && !MeasureInput.shape.experiment_id.safeParse(values.experiment).success) {
    problems.push(`--experiment: "${values.experiment}" must be 1-64 characters of A-Z a-z 0-9 . _ : -`);
  }
  if (values.unit !== undefined && values['unit-column'] !== undefined) {
    problems.push('--unit and --unit-column exclude each other');
  }
  if (values.unit !== undefined && !MeasureInput.shape.unit.safeParse(values.unit).success) {
    problems.push(`--unit: "${values.unit}" is longer than 16 characters`);
  }

  const sensorColumns = values['sensor-columns'] === undefined ? null : list(values['sensor-columns']);
  if (sensorColumns !== null) {
    if (sensorColumns.length === 0) problems.push('--sensor-columns: give at least one column');
    for (const flag of ['sensor-column', 'value-column'] as const) {
      if (values[flag] !== undefined) problems.push(`--${flag} and --sensor-columns exclude each other`);
    }
    for (const column of sensorColumns) {
      if (!MeasureInput.shape.sensor.safeParse(column).success) {
        problems.push(`--sensor-columns: "${column}" is not a valid sensor name (1-128 characters of A-Z a-z 0-9 . _ : / -)`);
      }
    }
  }

  let batchSize = 500;
  if (values['batch-size'] !== undefined) {
    batchSize = Number(values['batch-size']);
    if (!/^\d+$/.test(values['batch-size']) || batchSize < 1 || batchSize > MAX_BATCH_SIZE) {
      problems.push(`--batch-size: must be an integer from 1 to ${MAX_BATCH_SIZE}`);
    }
  }

  const url = values.url ?? (env.RABBIT_URL_FULL || DEFAULT_URL);
  if (!/^amqps?:\/\//.test(url) || !URL.canParse(url)) problems.push('--url: must be an amqp:// or amqps:// URL');

  if (stdin && values.checkpoint !== undefined) problems.push('--checkpoint: stdin cannot be resumed, so it has no checkpoint');

  const format = formatOf(input, values.format, problems);
  const delimiter = delimiterOf(values.delimiter, input, problems);
  if (problems.length > 0) throw new UsageError(problems);

  const unitColumn = values['unit-column'];
  return {
    help: false,
    options: {
      input,
      url,
      exchange: values.exchange ?? (env.RABBIT_EXCHANGE || 'mymonit'),
      routingKey: values['routing-key'] ?? (env.RABBIT_ROUTING || 'measures'),
      format,
      delimiter,
      mapping: {
        experiment: values.experiment !== undefined ? { fixed: values.experiment } : { column: values['experiment-column'] ?? 'experiment_id' },
        sensorColumn: values['sensor-column'] ?? 'sensor',
        valueColumn: values['value-column'] ?? 'value',
        timestampColumn: values['timestamp-column'] ?? 'timestamp',
        unit:
          values.unit !== undefined
            ? { fixed: values.unit }
            : { column: unitColumn ?? 'unit', required: unitColumn !== undefined },
        tagColumns: list(values['tag-columns']),
        sensorColumns,
      },
      batchSize,
      dryRun: values['dry-run'] ?? false,
      skipInvalid: values['skip-invalid'] ?? false,
      resume: !(values['no-resume'] ?? false),
      checkpoint: stdin ? null : resolve(values.checkpoint ?? `${input}.mymonit-checkpoint`),
    },
  };
}
