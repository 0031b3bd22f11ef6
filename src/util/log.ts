import { z } from 'zod';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
}

/** COCASTER_LOG=debug|info|warn|error; anything else means info. */
const LevelFromEnv = z.enum(['debug', 'info', 'warn', 'error']).catch('info');

/** Log lines carry outside text (chat, file names, peers' messages): control
 * characters and terminal escapes are written as \xNN, never passed through. */
export function escapeControls(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** Logs go to stderr so stdout stays the commentary (and pipes cleanly). */
export function createLogger(level: LogLevel = LevelFromEnv.parse(process.env.COCASTER_LOG)): Logger {
  const min = order[level];
  const write = (lvl: LogLevel, msg: string) => {
    if (order[lvl] >= min) process.stderr.write(`${lvl === 'info' ? '' : lvl + ': '}${escapeControls(msg)}\n`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
