export type LogLevel = 'info' | 'warn' | 'error';

export type Logger = (level: LogLevel, message: string) => void;

/** One line per event on stderr: time, level, message. */
export const consoleLogger: Logger = (level, message) => {
  process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}\n`);
};

export const silentLogger: Logger = () => undefined;
