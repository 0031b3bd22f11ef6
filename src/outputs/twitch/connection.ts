import tmi from 'tmi.js';
import type { Logger } from '../../util/log.js';
import type { ChatUser } from './commands.js';

/** A thin typed wrapper over tmi.js: the rest of the plugin sees plain messages
 * and a send function, and never tmi's loosely typed tag bag. */

export interface ChatMessage {
  user: ChatUser;
  text: string;
  /** The message's `id` tag (what a reply names as reply-parent-msg-id). */
  id: string | undefined;
}

export interface ChatConnectionOptions {
  server: string;
  channel: string;
  /** Both or neither: without them the connection is anonymous (read-only). */
  botName: string | undefined;
  token: string | undefined;
  logger: Logger;
  onMessage(msg: ChatMessage): void;
  /** USERSTATE for our channel: whether the bot is a moderator (or the broadcaster). */
  onModerator(isMod: boolean): void;
  onNotice(msgId: string): void;
}

export interface ChatConnection {
  readonly canPost: boolean;
  /** Sends one PRIVMSG; with replyTo, as a reply to that message. */
  post(text: string, replyTo: string | undefined): void;
  close(): Promise<void>;
}

/** tmi.js's parsed IRC line, as its raw_message event hands it out. */
interface RawIrcMessage {
  command?: string;
  params?: unknown[];
  tags?: Record<string, unknown>;
}

type Badges = Record<string, string | undefined> | null | undefined;
const has = (badges: Badges, name: string): boolean => badges?.[name] !== undefined;
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);

export function toChatUser(tags: tmi.ChatUserstate): ChatUser {
  const badges = tags.badges as Badges;
  const login = str(tags.username) ?? '';
  return {
    login,
    displayName: str(tags['display-name']) ?? login,
    userId: str(tags['user-id']) ?? `login:${login}`,
    broadcaster: has(badges, 'broadcaster'),
    moderator: tags.mod === true || has(badges, 'moderator'),
    vip: has(badges, 'vip'),
    subscriber: tags.subscriber === true || has(badges, 'subscriber') || has(badges, 'founder'),
  };
}

/** A reply's text may not carry a line break (it would end the IRC line and start
 * a command of the attacker's choosing); the filter already removed them, this is
 * the last line of defence. */
const oneIrcLine = (s: string) => s.replace(/[\r\n\u0000]/g, ' ');

export function openChat(opts: ChatConnectionOptions): ChatConnection {
  const url = new URL(opts.server);
  const secure = url.protocol === 'wss:';
  const channel = opts.channel.replace(/^#/, '').toLowerCase();
  const canPost = opts.botName !== undefined && opts.token !== undefined;
  const client = new tmi.Client({
    options: { skipUpdatingEmotesets: true, skipMembership: true },
    connection: {
      server: url.hostname,
      port: Number(url.port) || (secure ? 443 : 80),
      secure,
      reconnect: true,
      reconnectInterval: 1000,
      reconnectDecay: 1.5,
      maxReconnectInterval: 30_000,
      maxReconnectAttempts: Infinity,
    },
    identity: canPost ? { username: opts.botName!.toLowerCase(), password: opts.token! } : {},
    channels: [channel],
    // tmi's own log lines never include the password; keep them at debug level.
    logger: { info: (m: string) => opts.logger.debug(`twitch: ${m}`), warn: (m: string) => opts.logger.debug(`twitch: ${m}`), error: (m: string) => opts.logger.debug(`twitch: ${m}`) },
  });
  client.on('message', (_chan, tags, message, self) => {
    if (self || tags['message-type'] === 'whisper') return;
    opts.onMessage({ user: toChatUser(tags), text: message, id: str(tags.id) });
  });
  // tmi.js keeps USERSTATE to itself (no typed event); its raw_message event carries
  // every parsed line, tags still as sent, before tmi transforms them.
  (client as unknown as NodeJS.EventEmitter).on('raw_message', (raw: RawIrcMessage) => {
    if (raw.command !== 'USERSTATE' || String(raw.params?.[0] ?? '').replace(/^#/, '') !== channel) return;
    const badges = typeof raw.tags?.badges === 'string' ? raw.tags.badges.split(',').map((b) => b.split('/')[0]) : [];
    opts.onModerator(raw.tags?.mod === '1' || badges.includes('moderator') || badges.includes('broadcaster'));
  });
  client.on('notice', (_chan, msgid) => opts.onNotice(String(msgid)));
  client.on('connected', () => opts.logger.info(`twitch: connected to ${url.host}, joining #${channel}${canPost ? ` as ${opts.botName}` : ' (read-only)'}`));
  client.on('disconnected', (reason) => opts.logger.warn(`twitch: disconnected (${reason}); reconnecting`));
  // A failed first connect is retried by tmi itself; the daemon must not wait on chat.
  client.connect().catch((err: unknown) => opts.logger.warn(`twitch: connect failed: ${String(err)}`));
  return {
    canPost,
    post: (text, replyTo) => {
      const tag = replyTo && /^[0-9a-zA-Z-]{1,64}$/.test(replyTo) ? `@reply-parent-msg-id=${replyTo} ` : '';
      client.raw(`${tag}PRIVMSG #${channel} :${oneIrcLine(text)}`).catch((err: unknown) => opts.logger.warn(`twitch: send failed: ${String(err)}`));
    },
    close: async () => {
      client.removeAllListeners();
      if (client.readyState() === 'OPEN') await client.disconnect().catch(() => undefined);
      // Stop a pending reconnect too.
      const raw = client as unknown as { reconnect: boolean };
      raw.reconnect = false;
    },
  };
}
