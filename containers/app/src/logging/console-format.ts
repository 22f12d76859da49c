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

function paintedOnce(paint: (name: string) => string): (name: string) => string {
  const painted = new Map<string, string>();
  return (name) => {
    let text = painted.get(name);
    if (text === undefined) painted.set(name, (text = paint(name)));
    return text;
  };
}

/** Human-readable console lines: `time LEVEL [component] message {fields}`. */
export function consoleFormat(colour: boolean) {
  const paint = new chalk.Instance({ level: colour ? 1 : 0 });
  // Painted once per level and per component, not once per line.
  const levelOf = paintedOnce((name) => (LEVEL_COLOURS[name] ?? ((c: chalk.Chalk) => c))(paint)(name.toUpperCase().padEnd(5)));
  const componentOf = paintedOnce((name) => paint.dim(`[${name}] `));
  return format((info) => {
    // A string: Logging.logger(component) puts it on every line.
    const component = info.component ? componentOf(info.component as string) : '';
    const fields: Record<string, unknown> = {};
    let any = false;
    for (const key of Object.keys(info)) {
      if (HIDDEN.has(key)) continue;
      fields[key] = info[key];
      any = true;
    }
    const rest = any ? ` ${colour ? paint.dim(JSON.stringify(fields)) : JSON.stringify(fields)}` : '';
    (info as Record<string | symbol, unknown>)[MESSAGE] =
      `${String(info.timestamp)} ${levelOf(info.level)} ${component}${String(info.message)}${rest}`;
    return info;
  })();
}
