import type { CaptionFormat, TranscriptLine } from '../../protocol/index.js';

export type { CaptionFormat };

export interface Cue {
  start: number;
  end: number;
  text: string;
}

/** How long a caption stays up when nothing follows it: reading time at ~3 words a
 * second, between 2 and 8 seconds. */
function readingTime(text: string): number {
  const words = text.split(/\s+/).filter(Boolean).length;
  return Math.min(8, Math.max(2, words / 3));
}

/** The commentary (assistant lines) as cues on stream time: each starts at its
 * video time and ends at its reading time or when the next one starts. */
export function commentaryCues(lines: readonly TranscriptLine[]): Cue[] {
  const spoken = lines.filter((l) => l.role === 'assistant' && l.text.trim() !== '').sort((a, b) => a.t - b.t);
  return spoken.map((l, i) => {
    const next = spoken[i + 1];
    const end = l.t + readingTime(l.text);
    return { start: l.t, end: next && next.t > l.t ? Math.min(end, next.t) : end, text: l.text.trim() };
  });
}

function timestamp(seconds: number, separator: ',' | '.'): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  return `${pad(h)}:${pad(m)}:${pad(s)}${separator}${pad(ms % 1000, 3)}`;
}

/** A cue's text may not contain a blank line (it would end the cue) nor, in VTT, '-->'. */
const cueText = (text: string) => text.replace(/\n\s*\n/g, '\n').replace(/-->/g, '->');

export function formatCaptions(cues: readonly Cue[], format: CaptionFormat): string {
  const sep = format === 'srt' ? ',' : '.';
  const blocks = cues.map((c, i) => {
    const timing = `${timestamp(c.start, sep)} --> ${timestamp(c.end, sep)}`;
    return format === 'srt' ? `${i + 1}\n${timing}\n${cueText(c.text)}\n` : `${timing}\n${cueText(c.text)}\n`;
  });
  return (format === 'vtt' ? 'WEBVTT\n\n' : '') + blocks.join('\n');
}

/** What `cocaster captions` prints and the panel downloads: one function, one file. */
export const sessionCaptions = (lines: readonly TranscriptLine[], format: CaptionFormat): string => formatCaptions(commentaryCues(lines), format);
