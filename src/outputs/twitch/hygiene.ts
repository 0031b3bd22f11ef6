/** What chat text goes through before it may become a question. Twitch already
 * caps messages at 500 characters, but a hostile or broken server need not. */

/** Zero-width characters, bidi embeddings/overrides/isolates, the BOM, soft hyphen,
 * variation selectors, and tag characters: invisible, so they only ever serve to
 * disguise text (spoofed commands, hidden tokens, reversed display). */
const INVISIBLE = /[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\u{e0000}-\u{e007f}\u{e0100}-\u{e01ef}]/gu;
/** C0/C1 controls, line and paragraph separators: a question is one line. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;

/** Raw messages longer than this are dropped before any work is done on them. */
export const MAX_RAW_LENGTH = 2000;

export type CleanResult = { ok: true; text: string } | { ok: false; reason: 'oversized' | 'empty' };

/** NFKC (so full-width or ligature look-alikes become plain letters), then controls
 * to spaces, invisibles removed, whitespace collapsed. The result is literal text:
 * the engine encodes it with a tokenizer that has no special tokens. */
export function cleanChatText(raw: string, maxLength: number): CleanResult {
  if (raw.length > MAX_RAW_LENGTH) return { ok: false, reason: 'oversized' };
  const text = raw
    .normalize('NFKC')
    .replace(INVISIBLE, '')
    .replace(CONTROL, ' ')
    .replace(/\s+/gu, ' ')
    .trim();
  if (text.length === 0) return { ok: false, reason: 'empty' };
  if (text.length > maxLength) return { ok: false, reason: 'oversized' };
  return { ok: true, text };
}

/** Display names come from tags; keep them printable and short. */
export function cleanName(raw: string | undefined, fallback: string): string {
  const cleaned = cleanChatText(raw ?? '', 60);
  return cleaned.ok ? cleaned.text : fallback;
}
