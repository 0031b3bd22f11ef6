import Database from 'better-sqlite3';
import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LineRole, SessionSummary, SpeechTrigger, TranscriptLine } from '../../protocol/index.js';

export interface SessionInfo {
  id: number;
  startedAt: number;
  source: string;
  model: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sessions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  started_at INTEGER NOT NULL,
  source TEXT NOT NULL,
  model TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lines (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id INTEGER NOT NULL REFERENCES sessions(id),
  video_t REAL NOT NULL,
  wall_ms INTEGER NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
  text TEXT NOT NULL,
  trigger TEXT,
  asker TEXT,
  question_id TEXT
);
CREATE INDEX IF NOT EXISTS lines_by_session ON lines(session_id, video_t);
`;

interface LineRow {
  session_id: number;
  video_t: number;
  wall_ms: number;
  role: LineRole;
  text: string;
  trigger: SpeechTrigger | null;
  asker: string | null;
  question_id: string | null;
}

interface SummaryRow {
  id: number;
  started_at: number;
  ended_at: number | null;
  last_ms: number | null;
  source: string;
  model: string;
  lines: number;
  matches: number | null;
}

/** At most this many rows per listing: the panel shows a list, not an export. */
const MAX_SESSIONS = 500;
const MAX_LINES = 20_000;

/** A LIKE pattern matching `text` anywhere, its own % and _ taken literally. */
const containing = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

const toLine = (r: LineRow): TranscriptLine => ({
  sessionId: r.session_id, t: r.video_t, wallMs: r.wall_ms, role: r.role, text: r.text,
  trigger: r.trigger, asker: r.asker, questionId: r.question_id,
});

/** The file holds viewers' names and questions: owner-only, like tokens.json. SQLite
 * gives its -wal and -shm files the database file's mode. */
function createPrivate(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600); // the umask may have widened it, or an older version made it 0644
}

/** The transcript on disk. Synchronous on purpose: `append` returns only once the
 * row is committed (WAL, synchronous=FULL), so a line broadcast after it survives a
 * kill -9 of the daemon. */
export class TranscriptStore {
  private readonly db: Database.Database;
  private readonly insertLine: Database.Statement;

  constructor(readonly path: string, options: { readonly?: boolean } = {}) {
    if (!options.readonly) createPrivate(path);
    this.db = new Database(path, { readonly: options.readonly ?? false, fileMustExist: options.readonly ?? false });
    if (!options.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.db.exec(SCHEMA);
      this.addEndedAt();
    }
    this.insertLine = this.db.prepare(
      'INSERT INTO lines (session_id, video_t, wall_ms, role, text, trigger, asker, question_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    );
  }

  startSession(source: string, model: string, startedAt = Date.now()): number {
    const info = this.db.prepare('INSERT INTO sessions (started_at, source, model) VALUES (?, ?, ?)').run(startedAt, source, model);
    return Number(info.lastInsertRowid);
  }

  /** Databases from before sessions had an end time get the column. */
  private addEndedAt(): void {
    const columns = this.db.pragma('table_info(sessions)') as Array<{ name: string }>;
    if (!columns.some((c) => c.name === 'ended_at')) this.db.exec('ALTER TABLE sessions ADD COLUMN ended_at INTEGER');
  }

  endSession(id: number, endedAt = Date.now()): void {
    this.db.prepare('UPDATE sessions SET ended_at = ? WHERE id = ?').run(endedAt, id);
  }

  /** Sessions, newest first, with line counts; with `query`, only those with a line
   * containing it (case-insensitive for ASCII). Needs a writable (migrated) store. */
  summaries(liveId: number, query = ''): SessionSummary[] {
    const rows = this.db
      .prepare(
        `SELECT s.id, s.started_at, s.ended_at, s.source, s.model, COUNT(l.id) AS lines, MAX(l.wall_ms) AS last_ms,
           SUM(CASE WHEN ? <> '' AND l.text LIKE ? ESCAPE '\\' THEN 1 ELSE 0 END) AS matches
         FROM sessions s LEFT JOIN lines l ON l.session_id = s.id
         GROUP BY s.id HAVING ? = '' OR matches > 0 ORDER BY s.id DESC LIMIT ${MAX_SESSIONS}`,
      )
      .all(query, containing(query), query) as SummaryRow[];
    return rows.map((r) => ({
      id: r.id, startedAt: r.started_at, endedAt: r.id === liveId ? null : (r.ended_at ?? r.last_ms), source: r.source, model: r.model,
      lines: r.lines, matches: r.matches ?? 0, live: r.id === liveId,
    }));
  }

  /** A session's lines containing `query` (all when empty), oldest first. */
  search(sessionId: number, query: string): TranscriptLine[] {
    const rows = this.db
      .prepare(`SELECT * FROM lines WHERE session_id = ? AND (? = '' OR text LIKE ? ESCAPE '\\') ORDER BY id LIMIT ${MAX_LINES}`)
      .all(sessionId, query, containing(query)) as LineRow[];
    return rows.map(toLine);
  }

  append(line: TranscriptLine): void {
    this.insertLine.run(line.sessionId, line.t, Math.round(line.wallMs), line.role, line.text, line.trigger, line.asker, line.questionId);
  }

  lines(sessionId: number): TranscriptLine[] {
    const rows = this.db.prepare('SELECT * FROM lines WHERE session_id = ? ORDER BY id').all(sessionId) as LineRow[];
    return rows.map(toLine);
  }

  /** The last `limit` lines of a session, oldest first. */
  recent(sessionId: number, limit: number): TranscriptLine[] {
    const rows = this.db.prepare('SELECT * FROM lines WHERE session_id = ? ORDER BY id DESC LIMIT ?').all(sessionId, limit) as LineRow[];
    return rows.reverse().map(toLine);
  }

  sessions(): SessionInfo[] {
    const rows = this.db.prepare('SELECT id, started_at, source, model FROM sessions ORDER BY id').all() as Array<{ id: number; started_at: number; source: string; model: string }>;
    return rows.map((r) => ({ id: r.id, startedAt: r.started_at, source: r.source, model: r.model }));
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
