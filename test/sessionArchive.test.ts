import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sessionArchive } from '../src/outputs/store/archive.js';
import { sessionCaptions, TranscriptStore } from '../src/outputs/store/index.js';
import type { TranscriptLine } from '../src/protocol/index.js';
import { tempDir } from './helpers.js';

/** The control panel's session list over the transcript store: counts, end times,
 * text search (LIKE with the user's % and _ taken literally), captions. */

const line = (sessionId: number, t: number, text: string, wallMs = 1000 + t * 1000): TranscriptLine => ({
  sessionId, t, wallMs, role: 'assistant', text, trigger: 'self', asker: null, questionId: null,
});

describe('session archive', () => {
  let store: TranscriptStore | undefined;
  afterEach(() => store?.close());

  it('lists sessions newest first with line counts, ends and the live one', () => {
    store = new TranscriptStore(join(tempDir(), 't.db'));
    const a = store.startSession('demo', 'm1', 1000);
    store.append(line(a, 1, 'first goal'));
    store.append(line(a, 5, 'second goal'));
    const b = store.startSession('obs', 'm2', 9000);
    store.endSession(a, 7000);
    const c = store.startSession('file:x', 'm2', 20_000);
    store.append(line(c, 2, 'late', 25_000));
    const list = sessionArchive(store, c).list('');
    expect(list.map((s) => [s.id, s.lines, s.endedAt, s.live])).toEqual([[c, 1, null, true], [b, 0, null, false], [a, 2, 7000, false]]);
  });

  it('falls back to the last line when a session never ended cleanly', () => {
    store = new TranscriptStore(join(tempDir(), 't.db'));
    const a = store.startSession('demo', 'm', 1000);
    store.append(line(a, 3, 'x', 4321));
    expect(store.summaries(0)[0]!.endedAt).toBe(4321);
  });

  it('searches case-insensitively and takes % and _ literally', () => {
    store = new TranscriptStore(join(tempDir(), 't.db'));
    const a = store.startSession('demo', 'm');
    ['A GOAL!', 'no goal', '100% sure', 'snake_case', 'plain'].forEach((text, i) => store!.append(line(a, i, text)));
    const b = store.startSession('demo', 'm');
    store.append(line(b, 1, 'nothing here'));
    const archive = sessionArchive(store, b);
    expect(archive.list('goal').map((s) => [s.id, s.matches])).toEqual([[a, 2]]);
    expect(archive.transcript(a, 'goal')!.lines.map((l) => l.text)).toEqual(['A GOAL!', 'no goal']);
    expect(archive.transcript(a, '%')!.lines.map((l) => l.text)).toEqual(['100% sure']);
    expect(archive.transcript(a, '_')!.lines.map((l) => l.text)).toEqual(['snake_case']);
    expect(archive.transcript(a, '')!.lines).toHaveLength(5);
    expect(archive.transcript(999, '')).toBeUndefined();
  });

  it('gives the same captions as cocaster captions, undefined for an unknown session', () => {
    store = new TranscriptStore(join(tempDir(), 't.db'));
    const a = store.startSession('demo', 'm');
    store.append(line(a, 1.5, 'hello there'));
    const archive = sessionArchive(store, a);
    expect(archive.captions(a, 'srt')).toBe(sessionCaptions(store.lines(a), 'srt'));
    expect(archive.captions(a, 'srt')).toContain('00:00:01,500 --> ');
    expect(archive.captions(a + 1, 'vtt')).toBeUndefined();
  });

  it('adds the end-time column to a database made before it existed', () => {
    const path = join(tempDir(), 'old.db');
    const old = new Database(path);
    old.exec('CREATE TABLE sessions (id INTEGER PRIMARY KEY AUTOINCREMENT, started_at INTEGER NOT NULL, source TEXT NOT NULL, model TEXT NOT NULL)');
    old.prepare('INSERT INTO sessions (started_at, source, model) VALUES (1, ?, ?)').run('demo', 'm');
    old.close();
    store = new TranscriptStore(path);
    store.endSession(1, 50);
    expect(store.summaries(0)[0]!.endedAt).toBe(50);
  });
});
