/** What the status bar and the transcript view show, as plain data (no vscode). */
import type { DaemonStatus, TranscriptLine } from '../../src/protocol/index.js';

export interface StatusBarView {
  text: string;
  tooltip: string;
  state: 'live' | 'paused' | 'offline';
}

export function statusBarView(status: DaemonStatus | undefined, problem?: string): StatusBarView {
  if (!status) return { state: 'offline', text: '$(debug-disconnect) cocaster: offline', tooltip: problem ?? 'The cocaster daemon is not running' };
  const state = status.paused ? 'paused' : 'live';
  const icon = status.paused ? '$(debug-pause)' : '$(broadcast)';
  return {
    state,
    text: `${icon} cocaster: ${state} · ${status.fps.toFixed(1)} fps · ${status.model}`,
    tooltip: `Source ${status.source} (${status.sourceState}), ${status.executionProvider}, talkativeness ${status.threshold}. Click to open the control panel.`,
  };
}

export interface TranscriptItem {
  key: string;
  who: string;
  text: string;
  time: string;
  role: TranscriptLine['role'];
}

/** Video seconds as m:ss. */
export const clock = (t: number): string => `${Math.floor(t / 60)}:${String(Math.floor(t % 60)).padStart(2, '0')}`;

/** The transcript view's lines, newest last, at most `max`. */
export function transcriptItems(lines: readonly TranscriptLine[], max = 200): TranscriptItem[] {
  return lines.slice(-max).map((l) => ({
    key: `${l.sessionId}:${l.wallMs}:${l.role}:${l.questionId ?? ''}`,
    who: l.role === 'assistant' ? 'cocaster' : (l.asker ?? 'viewer'),
    text: l.text,
    time: clock(l.t),
    role: l.role,
  }));
}

/** Talkativeness typed by the user: a number from 0 to 1, or a reason it is not. */
export function parseThreshold(input: string): number | string {
  const x = Number(input.trim());
  return input.trim() !== '' && Number.isFinite(x) && x >= 0 && x <= 1 ? x : 'a number from 0 (quiet) to 1 (talkative)';
}

/** Hides any token in a line before it reaches a log. */
export const redact = (line: string): string => line.replace(/(token=)[^&\s]+/gi, '$1…');
