import { readFileSync } from 'node:fs';
import { errorMessage, UserError } from '../../util/errors.js';

/** Every line the daemon posts to chat goes through one OutputFilter: the model
 * can say anything, and a chat channel is public. */

/** Twitch's cap per message. */
export const CHAT_MAX_LENGTH = 500;

/** A deliberately short default list (slurs and the like are the broadcaster's
 * call via blocklistFile); matched as whole words, case-insensitively. */
export const DEFAULT_BLOCKLIST: readonly string[] = ['nigger', 'faggot', 'retard', 'kys', 'kill yourself'];

export interface FilterOptions {
  maxLength?: number;
  /** Split long lines into several messages (true) or trim at a word (false). */
  split?: boolean;
  blocklist?: readonly string[];
  allowLinks?: boolean;
  allowMentions?: boolean;
  /** How many recent lines count for "no identical repeats" (default 20); 0 allows repeats. */
  memory?: number;
}

const LINK = /\b(?:https?:\/\/|www\.)\S+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|tv|gg|ly|co|me|xyz|ru|info|link|app|dev)(?:\/\S*)?/gi;
const MENTION = /(^|\s)@\w+/g;
const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function readBlocklistFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new UserError(`cannot read blocklist ${path}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`);
  }
  return text.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#'));
}

/** Lines remembered for "no identical repeats" unless configured (twitch.noRepeatLines). */
export const DEFAULT_REPEAT_MEMORY = 20;

export class OutputFilter {
  private readonly maxLength: number;
  private readonly blocked: RegExp | undefined;
  private readonly recent: string[] = [];
  private readonly memory: number;

  constructor(private readonly opts: FilterOptions = {}) {
    this.maxLength = Math.min(opts.maxLength ?? CHAT_MAX_LENGTH, CHAT_MAX_LENGTH);
    const words = opts.blocklist ?? DEFAULT_BLOCKLIST;
    this.blocked = words.length ? new RegExp(`(?<![\\p{L}\\p{N}])(?:${words.map(escapeRe).join('|')})(?![\\p{L}\\p{N}])`, 'iu') : undefined;
    this.memory = Math.max(0, Math.floor(opts.memory ?? DEFAULT_REPEAT_MEMORY));
  }

  /** The messages to post for one line, in order: empty when the line must not go out. */
  apply(line: string): string[] {
    let text = line.normalize('NFKC').replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ');
    if (!this.opts.allowLinks) text = text.replace(LINK, '');
    if (!this.opts.allowMentions) text = text.replace(MENTION, '$1');
    // A leading '/' or '.' would be a chat command (/ban, .timeout), not a message.
    text = text.replace(/\s+/g, ' ').trim().replace(/^[/.]+/, '').trim();
    if (!text) return [];
    if (this.blocked?.test(text)) return [];
    if (this.memory > 0) {
      const key = text.toLowerCase();
      if (this.recent.includes(key)) return [];
      this.recent.push(key);
      if (this.recent.length > this.memory) this.recent.shift();
    }
    const parts = splitAtWords(text, this.maxLength);
    return this.opts.split === false ? parts.slice(0, 1) : parts;
  }
}

/** Pieces of at most `max` UTF-16 units (never more characters than Twitch
 * counts), cut at the last space before the limit; a single word longer than the
 * limit is hard-cut, never inside a surrogate pair. */
export function splitAtWords(text: string, max: number): string[] {
  const out: string[] = [];
  let rest = text;
  while (rest.length > max) {
    const cut = rest.lastIndexOf(' ', max);
    let end = cut > 0 ? cut : max;
    if (cut <= 0 && /[\ud800-\udbff]/.test(rest[end - 1] ?? '')) end -= 1;
    out.push(rest.slice(0, end).trim());
    rest = rest.slice(end).trim();
  }
  if (rest) out.push(rest);
  return out;
}
