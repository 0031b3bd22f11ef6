import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, escapeControls } from '../src/util/log.js';

describe('log lines', () => {
  afterEach(() => vi.restoreAllMocks());

  it('escape control characters and terminal escapes from outside text', () => {
    const chat = 'hi\x00\x07\x1b[2J\x1b]0;owned\x07\r\nnext\x9b31m';
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    createLogger('debug').debug(`twitch: ${chat}`);
    expect(written).toEqual(['debug: twitch: hi\\x00\\x07\\x1b[2J\\x1b]0;owned\\x07\\x0d\\x0anext\\x9b31m\n']);
    expect(escapeControls('Stallions 1-0 Pumas, ünïcode ok')).toBe('Stallions 1-0 Pumas, ünïcode ok');
  });

  it('honour the level, and an unknown COCASTER_LOG means info', () => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    vi.stubEnv('COCASTER_LOG', 'verbose');
    const log = createLogger();
    log.debug('hidden');
    log.info('shown');
    log.warn('careful');
    vi.unstubAllEnvs();
    expect(written).toEqual(['shown\n', 'warn: careful\n']);
  });
});
