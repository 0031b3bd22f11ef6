export type Shortcut = 'toggle-pause' | 'focus-ask' | 'focus-search';

/** The panel's keys, as the streamer sees them in the hint line. */
export const SHORTCUTS: ReadonlyArray<{ key: string; does: string }> = [
  { key: 'K', does: 'pause / resume' },
  { key: '/', does: 'ask' },
  { key: 'S', does: 'search sessions' },
  { key: 'Esc', does: 'leave a field' },
];

interface KeyLike {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  /** The focused element's tag and whether it edits text. */
  target: { tagName: string; isContentEditable?: boolean; type?: string } | null;
}

/** Where a key is text, not a command: typing "k" into the ask box must type it. */
function isTyping(target: KeyLike['target']): boolean {
  if (!target) return false;
  if (target.isContentEditable) return true;
  if (target.tagName === 'TEXTAREA' || target.tagName === 'SELECT') return true;
  return target.tagName === 'INPUT' && !['range', 'checkbox', 'radio', 'button', 'submit'].includes(target.type ?? 'text');
}

/** The shortcut a keydown means, if any. Modifier chords stay the browser's (and OBS's). */
export function shortcutFor(e: KeyLike): Shortcut | undefined {
  if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return undefined;
  if (e.key === 'k' || e.key === 'K') return 'toggle-pause';
  if (e.key === '/') return 'focus-ask';
  if (e.key === 's' || e.key === 'S') return 'focus-search';
  return undefined;
}
