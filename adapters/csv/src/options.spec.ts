import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULT_URL, UsageError, parseCommandLine, type Options } from './options';

function options(argv: string[], env: NodeJS.ProcessEnv = {}): Options {
  const parsed = parseCommandLine(argv, env);
  assert.equal(parsed.help, false);
  return parsed.options;
}

const pick = ({ exchange, routingKey }: Options) => ({ exchange, routingKey });

function problems(argv: string[]): string[] {
  try {
    parseCommandLine(argv, {});
  } catch (error) {
    assert.ok(error instanceof UsageError);
    return error.problems;
  }
  assert.fail('expected a UsageError');
}

describe('parseCommandLine', () => {
  it('When only a CSV file is given, then every default applies', () => {
    assert.deepEqual(options(['data/run.csv']), {
      input: 'data/run.csv',
      url: DEFAULT_URL,
      exchange: 'mymonit',
      routingKey: 'measures',
      format: 'csv',
      delimiter: ',',
      mapping: {
        experiment: { column: 'experiment_id' },
        sensorColumn: 'sensor',
        valueColumn: 'value',
        timestampColumn: 'timestamp',
        unit: { column: 'unit', required: false },
        tagColumns: [],
        sensorColumns: null,
      },
      batchSize: 500,
      dryRun: false,
      skipInvalid: false,
      resume: true,
      checkpoint: resolve('data/run.csv.mymonit-checkpoint'),
    });
  });

  it('When RABBIT_URL_FULL is set, then it is the default URL and --url wins over it', () => {
    assert.equal(options(['a.csv'], { RABBIT_URL_FULL: 'amqp://u:p@broker:5672' }).url, 'amqp://u:p@broker:5672');
    assert.equal(options(['a.csv', '--url', 'amqps://x:y@h/vh'], { RABBIT_URL_FULL: 'amqp://u:p@broker' }).url, 'amqps://x:y@h/vh');
  });

  it('When RABBIT_EXCHANGE and RABBIT_ROUTING are set (as for the app), then they are the defaults and the flags win over them', () => {
    const env = { RABBIT_EXCHANGE: 'lab', RABBIT_ROUTING: 'lab.measures' };
    assert.deepEqual(pick(options(['a.csv'], env)), { exchange: 'lab', routingKey: 'lab.measures' });
    assert.deepEqual(pick(options(['a.csv', '--exchange', 'x', '--routing-key', 'y'], env)), { exchange: 'x', routingKey: 'y' });
  });

  it('When every flag is given, then each lands in the options', () => {
    const o = options([
      'in.txt',
      '--url=amqp://a:b@h:1',
      '--exchange', 'ex',
      '--routing-key', 'rk',
      '--format', 'jsonl',
      '--experiment', 'EXP-1',
      '--sensor-column', 'name',
      '--value-column', 'v',
      '--timestamp-column', 'ts',
      '--unit-column', 'u',
      '--tag-columns', 'run, shift',
      '--delimiter', ';',
      '--batch-size', '50',
      '--dry-run',
      '--skip-invalid',
      '--no-resume',
      '--checkpoint', '/tmp/cp.json',
    ]);
    assert.equal(o.format, 'jsonl');
    assert.deepEqual(o.mapping, {
      experiment: { fixed: 'EXP-1' },
      sensorColumn: 'name',
      valueColumn: 'v',
      timestampColumn: 'ts',
      unit: { column: 'u', required: true },
      tagColumns: ['run', 'shift'],
      sensorColumns: null,
    });
    assert.deepEqual(
      [o.url, o.exchange, o.routingKey, o.delimiter, o.batchSize, o.dryRun, o.skipInvalid, o.resume, o.checkpoint],
      ['amqp://a:b@h:1', 'ex', 'rk', ';', 50, true, true, false, '/tmp/cp.json'],
    );
  });

  it('When the format is not given, then the extension decides, and stdin is CSV without a checkpoint', () => {
    assert.equal(options(['m.jsonl']).format, 'jsonl');
    assert.equal(options(['m.NDJSON']).format, 'jsonl');
    assert.equal(options(['m.csv']).format, 'csv');
    assert.equal(options(['m.tsv']).delimiter, '\t');
    const stdin = options(['-']);
    assert.equal(stdin.format, 'csv');
    assert.equal(stdin.checkpoint, null);
  });

  it('When wide mode is asked, then the sensor columns are listed and a fixed unit applies', () => {
    const o = options(['w.csv', '--sensor-columns', 't1,t2,magnet/p', '--unit', 'K', '--delimiter', 'tab']);
    assert.deepEqual(o.mapping.sensorColumns, ['t1', 't2', 'magnet/p']);
    assert.deepEqual(o.mapping.unit, { fixed: 'K' });
    assert.equal(o.delimiter, '\t');
  });

  it('When --help is given, then the other flags are not checked', () => {
    assert.deepEqual(parseCommandLine(['--help', '--batch-size', '0', '--format', 'xml']), { help: true });
    assert.deepEqual(parseCommandLine(['-h']), { help: true });
  });

  it('When flags are wrong, then every problem is named at once', () => {
    const found = problems([
      '--experiment', 'bad id',
      '--experiment-column', 'e',
      '--unit', 'K',
      '--unit-column', 'u',
      '--sensor-columns', 't1,bad sensor',
      '--value-column', 'v',
      '--batch-size', '0',
      '--format', 'xml',
      '--url', 'http://h',
    ]);
    for (const expected of [
      /no input/,
      /--experiment and --experiment-column exclude each other/,
      /--experiment: "bad id"/,
      /--unit and --unit-column exclude each other/,
      /--value-column and --sensor-columns exclude each other/,
      /"bad sensor" is not a valid sensor name/,
      /--batch-size: must be an integer from 1 to 10000/,
      /--format: must be csv or jsonl/,
      /--url: must be an amqp/,
    ]) {
      assert.ok(found.some((p) => expected.test(p)), `${String(expected)} in ${found.join(' | ')}`);
    }
  });

  it('When an unknown flag, two inputs or a checkpoint for stdin are given, then it is a usage error', () => {
    assert.match(problems(['a.csv', '--nope'])[0], /Unknown option '--nope'/);
    assert.match(problems(['a.csv', 'b.csv'])[0], /one input only/);
    assert.match(problems(['-', '--checkpoint', 'x'])[0], /stdin cannot be resumed/);
    assert.match(problems(['a.csv', '--batch-size', '1.5'])[0], /--batch-size/);
  });
});
