/** What the status bar and the transcript view show, as plain data (no vscode). */
import type { BusEvent, DaemonStatus, TranscriptLine } from '../../src/protocol/index.js';

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

const item = (role: TranscriptLine['role'], t: number, text: string, asker: string | null | undefined): TranscriptItem => ({
  key: `${role}:${t}:${text}`, who: role === 'assistant' ? 'cocaster' : (asker ?? 'viewer'), text, time: clock(t), role,
});

/** The transcript view's lines, newest last, at most `max`. */
export function transcriptItems(lines: readonly TranscriptLine[], max = 200): TranscriptItem[] {
  return lines.slice(-max).map((l) => item(l.role, l.t, l.text, l.asker));
}

/** The live transcript: the recorded lines, then the bus's questions and spoken lines as
 * they come, and the line being spoken growing with each delta. */
export class LiveTranscript {
  private items: TranscriptItem[] = [];
  private speaking: { t: number; text: string } | undefined;

  constructor(private readonly max = 200) {}

  /** The recorded lines (on connecting): they replace what was shown. */
  reset(lines: readonly TranscriptLine[]): void {
    this.items = transcriptItems(lines, this.max);
  }

  /** Returns true when the view changed. */
  apply(event: BusEvent): boolean {
    switch (event.type) {
      case 'question':
        return this.add(item('user', event.t, event.text, event.asker));
      case 'speechStart':
        this.speaking = { t: event.t, text: '' };
        return true;
      case 'speechDelta':
        if (!this.speaking) return false;
        this.speaking.text += event.text;
        return true;
      case 'say':
        this.speaking = undefined;
        return this.add(item('assistant', event.t, event.text, null));
      default:
        return false;
    }
  }

  view(): TranscriptItem[] {
    const speaking = this.speaking?.text ? [{ ...item('assistant', this.speaking.t, `${this.speaking.text}…`, null), key: 'speaking' }] : [];
    return [...this.items, ...speaking];
  }

  private add(next: TranscriptItem): boolean {
    // The recorded lines fetched on connecting may already hold it.
    if (this.items.some((i) => i.key === next.key)) return false;
    this.items = [...this.items, next].slice(-this.max);
    return true;
  }
}

/** Talkativeness typed by the user: a number from 0 to 1, or a reason it is not. */
export function parseThreshold(input: string): number | string {
  const x = Number(input.trim());
  return input.trim() !== '' && Number.isFinite(x) && x >= 0 && x <= 1 ? x : 'a number from 0 (quiet) to 1 (talkative)';
}

/** Hides any token in a line before it reaches a log. */
export const redact = (line: string): string => line.replace(/(token=)[^&\s]+/gi, '$1…');
