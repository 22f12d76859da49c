import chalk from 'chalk';
import { format } from 'winston';
import { MESSAGE } from 'triple-beam';

const LEVEL_COLOURS: Record<string, (c: chalk.Chalk) => chalk.Chalk> = {
  error: (c) => c.red.bold,
  warn: (c) => c.yellow,
  info: (c) => c.green,
  http: (c) => c.cyan,
  debug: (c) => c.gray,
};

const HIDDEN = new Set(['level', 'message', 'timestamp', '@timestamp', 'service', 'component']);

/** Whether the console should be coloured: a TTY and no NO_COLOR (https://no-color.org). */
export function wantsColour(stream: NodeJS.WriteStream = process.stdout): boolean {
  return Boolean(stream.isTTY) && process.env.NO_COLOR === undefined;
}

/** Human-readable console lines: `time LEVEL [component] message {fields}`. */
export function consoleFormat(colour: boolean) {
  const paint = new chalk.Instance({ level: colour ? 1 : 0 });
  return format((info) => {
    const level = info.level.toUpperCase().padEnd(5);
    const painted = (LEVEL_COLOURS[info.level] ?? ((c: chalk.Chalk) => c))(paint)(level);
    // A string: Logging.logger(component) puts it on every line.
    const component = info.component ? paint.dim(`[${info.component as string}] `) : '';
    const fields = Object.fromEntries(
      Object.entries(info).filter(([key]) => !HIDDEN.has(key)),
    );
    const rest = Object.keys(fields).length > 0 ? ` ${paint.dim(JSON.stringify(fields))}` : '';
    (info as Record<string | symbol, unknown>)[MESSAGE] =
      `${String(info.timestamp)} ${painted} ${component}${String(info.message)}${rest}`;
    return info;
  })();
}
