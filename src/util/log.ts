export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** Logs go to stderr so stdout stays the commentary (and pipes cleanly). */
export function createLogger(level: LogLevel = (process.env.COCASTER_LOG as LogLevel) ?? 'info'): Logger {
  const min = order[level] ?? order.info;
  const write = (lvl: LogLevel, msg: string) => {
    if (order[lvl] >= min) process.stderr.write(`${lvl === 'info' ? '' : lvl + ': '}${msg}\n`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
