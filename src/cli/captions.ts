import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { sessionCaptions, TranscriptStore, type CaptionFormat } from '../outputs/store/index.js';
import { UserError } from '../util/errors.js';
import { configDir, loadConfig } from '../daemon/config.js';

export interface CaptionsOptions {
  configFile?: string;
  session?: string;
  format: string;
}

function parseFormat(format: string): CaptionFormat {
  if (format === 'srt' || format === 'vtt') return format;
  throw new UserError(`--format must be srt or vtt, got '${format}'`);
}

/** `cocaster captions`: a session's commentary as subtitles on stream time. */
export function exportCaptions(opts: CaptionsOptions): string {
  const format = parseFormat(opts.format);
  const config = loadConfig(opts.configFile);
  const path = config.store.path ?? join(configDir(), 'transcripts.db');
  if (!existsSync(path)) throw new UserError(`no transcript store at ${path} (run cocaster start first)`);
  const store = new TranscriptStore(path, { readonly: true });
  try {
    const sessions = store.sessions();
    const id = opts.session === undefined ? sessions.at(-1)?.id : Number(opts.session);
    if (id === undefined) throw new UserError(`${path} has no sessions yet`);
    if (!Number.isInteger(id) || !sessions.some((s) => s.id === id)) {
      throw new UserError(`no session '${opts.session}' in ${path} (sessions: ${sessions.map((s) => s.id).join(', ')})`);
    }
    return sessionCaptions(store.lines(id), format);
  } finally {
    store.close();
  }
}
