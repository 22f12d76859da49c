#!/usr/bin/env node
import { MeasurePublisher } from '@mymonit/publisher';
import { deleteCheckpoint, describeMismatch, identify, readCheckpoint, writeCheckpoint, type FileIdentity } from './checkpoint';
import { USAGE, UsageError, parseCommandLine, type Options } from './options';
import { createProgress, summary, type Progress } from './progress';
import { scan, send, type Scan, type Sent } from './send';

const NAME = 'mymonit-csv';
const CONNECT_TIMEOUT_MS = 10_000;
const CLOSE_TIMEOUT_MS = 5_000;

/** Exit statuses (README "Exit status"). */
const OK = 0;
const BROKER_FAILURE = 1;
const INVALID = 2;

const out = (line: string) => void process.stdout.write(`${line}\n`);
const err = (line: string) => void process.stderr.write(`${line}\n`);

/** The broker URL without its credentials, for messages. */
function endpoint(url: string): string {
  const u = new URL(url);
  return `${u.protocol}//${u.host}${u.pathname === '/' ? '' : u.pathname}`;
}

async function connect(options: Options, state: { closing: boolean; lost: boolean }, progress: Progress): Promise<MeasurePublisher> {
  return MeasurePublisher.connect(
    {
      url: options.url,
      exchange: options.exchange,
      routingKey: options.routingKey,
      batchSize: options.batchSize,
      connectionName: `${NAME} ${options.input === '-' ? 'stdin' : options.input}`,
      onConnectionChange: (connected, reason) => {
        if (state.closing) return;
        if (!connected) {
          state.lost = true;
          progress.log(`connection to RabbitMQ lost${reason ? ` (${reason})` : ''}: reconnecting`);
        } else if (state.lost) {
          state.lost = false;
          progress.log('reconnected to RabbitMQ: unconfirmed measures are sent again');
        }
      },
    },
    CONNECT_TIMEOUT_MS,
  );
}

/** Closes without waiting forever: after a failure the broker may be gone. */
async function closeQuietly(publisher: MeasurePublisher): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    publisher.close().catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, CLOSE_TIMEOUT_MS);
    }),
  ]);
  clearTimeout(timer);
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The checkpoint's line to resume after, or an exit status if the run must not go on. */
async function resumePoint(options: Options, file: FileIdentity, path: string): Promise<number | { exit: number }> {
  if (!options.resume) return 0;
  let checkpoint;
  try {
    checkpoint = await readCheckpoint(path);
  } catch (error) {
    err(`${NAME}: ${message(error)}: delete it, or rerun with --no-resume`);
    return { exit: INVALID };
  }
  if (!checkpoint) return 0;
  const mismatch = describeMismatch(checkpoint, file);
  if (mismatch) {
    err(`${NAME}: the checkpoint ${path} does not fit ${options.input}: ${mismatch}`);
    err(`${NAME}: rerun with --no-resume to send the whole file again (MyMONIT stores a measure once), or delete the checkpoint`);
    return { exit: INVALID };
  }
  return checkpoint.line;
}

async function runFile(options: Options, checkpointPath: string): Promise<number> {
  let file: FileIdentity;
  try {
    file = await identify(options.input);
  } catch (error) {
    err(`${NAME}: cannot read ${options.input}: ${message(error)}`);
    return INVALID;
  }
  const afterLine = options.dryRun ? 0 : await resumePoint(options, file, checkpointPath);
  if (typeof afterLine !== 'number') return afterLine.exit;
  if (afterLine > 0) err(`resuming after line ${afterLine}`);

  // The whole file is checked before anything is sent: a file is sent entirely or not at all.
  let checked: Scan;
  try {
    checked = await scan(options, afterLine, err);
  } catch (error) {
    err(`${NAME}: cannot read ${options.input}: ${message(error)}`);
    return INVALID;
  }
  if (checked.header) {
    err(`${NAME}: ${checked.header}`);
    return INVALID;
  }
  const invalid = checked.lines.size;
  if (options.dryRun) {
    if (invalid > 0) {
      err(`${invalid} of ${checked.rows} rows invalid`);
      return INVALID;
    }
    out(`${checked.rows} rows, ${checked.measures} measures valid`);
    return OK;
  }
  if (invalid > 0 && !options.skipInvalid) {
    err(`${invalid} of ${checked.rows} rows invalid: nothing sent (fix them, or rerun with --skip-invalid to send the others)`);
    return INVALID;
  }
  if (checked.rows === 0) {
    await deleteCheckpoint(checkpointPath);
    err(summary(0, 0, 0));
    return OK;
  }

  return publishAll(options, {
    // A checkpoint that cannot be written would only show once the first chunk is sent.
    prepare: () =>
      writeCheckpoint(checkpointPath, file, afterLine).catch((error: unknown) => {
        throw new Error(`cannot write the checkpoint ${checkpointPath}: ${message(error)} (choose another place with --checkpoint)`);
      }),
    afterLine,
    total: checked.rows,
    reported: checked.lines,
    confirmed: (line) => writeCheckpoint(checkpointPath, file, line),
    completed: () => deleteCheckpoint(checkpointPath),
    resumeHint: (line) => (line > 0 ? `rerun the same command to resume after line ${line}` : 'rerun the same command'),
  });
}

async function runStdin(options: Options): Promise<number> {
  if (options.dryRun) {
    let checked: Scan;
    try {
      checked = await scan(options, 0, err);
    } catch (error) {
      err(`${NAME}: cannot read stdin: ${message(error)}`);
      return INVALID;
    }
    if (checked.header) {
      err(`${NAME}: ${checked.header}`);
      return INVALID;
    }
    if (checked.lines.size > 0) {
      err(`${checked.lines.size} of ${checked.rows} rows invalid`);
      return INVALID;
    }
    out(`${checked.rows} rows, ${checked.measures} measures valid`);
    return OK;
  }
  return publishAll(options, {
    prepare: () => Promise.resolve(),
    afterLine: 0,
    total: null,
    reported: new Set(),
    confirmed: () => Promise.resolve(),
    completed: () => Promise.resolve(),
    resumeHint: (line) => (line > 0 ? `lines up to ${line} were sent` : 'nothing was sent'),
  });
}

interface PublishPlan {
  /** Runs once connected, before anything is sent. */
  prepare(): Promise<void>;
  afterLine: number;
  total: number | null;
  reported: Set<number>;
  confirmed(line: number): Promise<void>;
  completed(): Promise<void>;
  resumeHint(line: number): string;
}

async function publishAll(options: Options, plan: PublishPlan): Promise<number> {
  const progress = createProgress(process.stderr);
  const state = { closing: false, lost: false };
  let publisher: MeasurePublisher;
  try {
    publisher = await connect(options, state, progress);
  } catch (error) {
    err(`${NAME}: cannot connect to ${endpoint(options.url)}: ${message(error)}`);
    return BROKER_FAILURE;
  }

  try {
    await plan.prepare();
  } catch (error) {
    state.closing = true;
    await closeQuietly(publisher);
    err(`${NAME}: ${message(error)}`);
    return INVALID;
  }

  const startedAt = Date.now();
  let confirmedLine = plan.afterLine;
  const interrupted = (signal: NodeJS.Signals) => {
    progress.stop();
    err(`${NAME}: interrupted; ${plan.resumeHint(confirmedLine)}`);
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);

  progress.start(plan.total);
  let sent: Sent;
  try {
    sent = await send({
      options,
      publisher,
      afterLine: plan.afterLine,
      reported: plan.reported,
      progress,
      confirmed: async (line) => {
        confirmedLine = line;
        await plan.confirmed(line);
      },
    });
    state.closing = true;
    await publisher.close();
  } catch (error) {
    progress.stop();
    state.closing = true;
    await closeQuietly(publisher);
    err(`${NAME}: publishing failed: ${message(error)} (${plan.resumeHint(confirmedLine)})`);
    return BROKER_FAILURE;
  } finally {
    process.off('SIGINT', interrupted);
    process.off('SIGTERM', interrupted);
  }
  progress.stop();

  if (sent.header) {
    err(`${NAME}: ${sent.header}`);
    return INVALID;
  }
  const line = summary(sent.measures, sent.sentRows, Date.now() - startedAt);
  err(sent.skipped > 0 ? `${line}; ${sent.skipped} invalid rows skipped` : line);
  if (sent.stoppedAt !== null) {
    err(`${NAME}: stopped at line ${sent.stoppedAt}, an invalid row: the rows before it were sent, nothing after it`);
    return INVALID;
  }
  await plan.completed();
  return OK;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    for (const problem of error.problems) err(`${NAME}: ${problem}`);
    err(`run ${NAME} --help for the options`);
    return INVALID;
  }
  if (parsed.help) {
    out(USAGE);
    return OK;
  }
  const { options } = parsed;
  return options.checkpoint === null ? runStdin(options) : runFile(options, options.checkpoint);
}

main(process.argv.slice(2)).then(
  (status) => process.exit(status),
  (error: unknown) => {
    err(`${NAME}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(BROKER_FAILURE);
  },
);
