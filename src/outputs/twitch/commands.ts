import type { AskRole } from './config.js';

/** The parts of a chat message's IRCv3 tags the bot acts on. */
export interface ChatUser {
  login: string;
  displayName: string;
  userId: string;
  broadcaster: boolean;
  moderator: boolean;
  vip: boolean;
  subscriber: boolean;
}

export type ChatCommand =
  | { kind: 'ask'; text: string }
  | { kind: 'control'; action: 'pause' | 'resume' }
  | { kind: 'none' };

export interface CommandOptions {
  prefix: string;
  /** The bot's login, for '@botname question'; undefined when anonymous. */
  botName: string | undefined;
  mentions: boolean;
}

const startsWithWord = (text: string, word: string): string | undefined => {
  if (text.toLowerCase() === word.toLowerCase()) return '';
  if (text.toLowerCase().startsWith(word.toLowerCase() + ' ')) return text.slice(word.length + 1).trim();
  return undefined;
};

/** Parses an already cleaned, single-line message. */
export function parseCommand(text: string, opts: CommandOptions): ChatCommand {
  const control = startsWithWord(text, '!cocaster');
  if (control !== undefined) {
    const action = control.toLowerCase();
    return action === 'pause' || action === 'resume' ? { kind: 'control', action } : { kind: 'none' };
  }
  const asked = startsWithWord(text, opts.prefix);
  if (asked !== undefined) return asked ? { kind: 'ask', text: asked } : { kind: 'none' };
  if (opts.mentions && opts.botName) {
    const mention = startsWithWord(text, `@${opts.botName}`) ?? startsWithWord(text, `@${opts.botName},`);
    if (mention) return { kind: 'ask', text: mention };
  }
  return { kind: 'none' };
}

/** Roles are cumulative: moderators (and the broadcaster) may do what VIPs may, and so on. */
export function mayAsk(user: ChatUser, who: AskRole): boolean {
  const mod = user.broadcaster || user.moderator;
  switch (who) {
    case 'everyone':
      return true;
    case 'subscribers':
      return mod || user.vip || user.subscriber;
    case 'vips':
      return mod || user.vip;
    case 'moderators':
      return mod;
  }
}

/** Only the broadcaster and moderators steer the daemon from chat. */
export const mayControl = (user: ChatUser): boolean => user.broadcaster || user.moderator;
