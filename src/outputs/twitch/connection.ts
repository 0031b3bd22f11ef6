import tmi from 'tmi.js';
import type { Logger } from '../../util/log.js';
import type { ChatUser } from './commands.js';
import { SendFailure } from './rateLimiter.js';

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
  /** True once our channel is joined, false from a RECONNECT or a lost socket on. */
  onLink(up: boolean): void;
}

export interface ChatConnection {
  readonly canPost: boolean;
  /** Sends one PRIVMSG (with replyTo, as a reply to that message). Resolves when
   * Twitch acknowledged it: the USERSTATE it sends for every accepted PRIVMSG echoes
   * our client-nonce tag. Rejects with a retryable SendFailure when the link drops
   * first, with a final one when no acknowledgement comes in time. */
  post(text: string, replyTo: string | undefined): Promise<void>;
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
  const acks = new PendingAcks();
  let linkUp = false;
  const setLink = (up: boolean) => {
    if (up === linkUp) return;
    linkUp = up;
    if (!up) acks.rejectAll(new SendFailure(true, 'the chat connection dropped before Twitch acknowledged the line'));
    opts.onLink(up);
  };
  client.on('message', (_chan, tags, message, self) => {
    if (self || tags['message-type'] === 'whisper') return;
    opts.onMessage({ user: toChatUser(tags), text: message, id: str(tags.id) });
  });
  // tmi.js keeps USERSTATE and RECONNECT to itself (no typed event); its raw_message
  // event carries every parsed line, tags still as sent, before tmi acts on them.
  (client as unknown as NodeJS.EventEmitter).on('raw_message', (raw: RawIrcMessage) => {
    // Twitch is about to close this connection: what is sent from now on may be lost.
    if (raw.command === 'RECONNECT') {
      opts.logger.info('twitch: the server asked for a reconnect (RECONNECT)');
      return setLink(false);
    }
    if (raw.command !== 'USERSTATE' || String(raw.params?.[0] ?? '').replace(/^#/, '') !== channel) return;
    const badges = typeof raw.tags?.badges === 'string' ? raw.tags.badges.split(',').map((b) => b.split('/')[0]) : [];
    opts.onModerator(raw.tags?.mod === '1' || badges.includes('moderator') || badges.includes('broadcaster'));
    const nonce = raw.tags?.['client-nonce'];
    if (typeof nonce === 'string') acks.resolve(nonce);
  });
  client.on('notice', (_chan, msgid) => opts.onNotice(String(msgid)));
  let connected = false;
  client.on('connected', () => {
    connected = true;
    opts.logger.info(`twitch: connected to ${url.host}, joining #${channel}${canPost ? ` as ${opts.botName}` : ' (read-only)'}`);
  });
  client.on('join', (chan, _user, self) => {
    if (self && chan.replace(/^#/, '') === channel) setLink(true);
  });
  // tmi reports a failed attempt twice (socket error, then close): log the fall once.
  client.on('disconnected', (reason) => {
    if (connected) opts.logger.warn(`twitch: disconnected (${reason}); reconnecting`);
    else opts.logger.debug(`twitch: still disconnected (${reason})`);
    connected = false;
    setLink(false);
  });
  // A failed first connect is retried by tmi itself; the daemon must not wait on chat.
  client.connect().catch((err: unknown) => opts.logger.warn(`twitch: connect failed: ${String(err)}; retrying`));
  return {
    canPost,
    post: (text, replyTo) => {
      if (!linkUp) return Promise.reject(new SendFailure(true, 'not connected to Twitch'));
      const { nonce, acked } = acks.add();
      const reply = replyTo && /^[0-9a-zA-Z-]{1,64}$/.test(replyTo) ? `;reply-parent-msg-id=${replyTo}` : '';
      client.raw(`@client-nonce=${nonce}${reply} PRIVMSG #${channel} :${oneIrcLine(text)}`).catch(() => acks.reject(nonce, new SendFailure(true, 'not connected to Twitch')));
      return acked;
    },
    close: async () => {
      acks.rejectAll(new SendFailure(false, 'chat closed'));
      client.removeAllListeners();
      if (client.readyState() === 'OPEN') await client.disconnect().catch(() => undefined);
      // Stop a pending reconnect too.
      const raw = client as unknown as { reconnect: boolean };
      raw.reconnect = false;
    },
  };
}

/** How long Twitch may take to acknowledge a PRIVMSG before the line is given up
 * (it dropped it: a duplicate, a rate-limit NOTICE, a message it refused). */
const ACK_TIMEOUT_MS = 10_000;

/** Lines sent and not yet acknowledged, by client-nonce. */
class PendingAcks {
  private readonly pending = new Map<string, { resolve(): void; reject(err: Error): void; timer: NodeJS.Timeout }>();
  private next = 1;

  add(): { nonce: string; acked: Promise<void> } {
    const nonce = `cc${process.pid.toString(36)}x${(this.next++).toString(36)}`;
    const acked = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => this.reject(nonce, new SendFailure(false, 'Twitch did not acknowledge the line')), ACK_TIMEOUT_MS);
      this.pending.set(nonce, { resolve, reject, timer });
    });
    return { nonce, acked };
  }

  resolve(nonce: string): void {
    this.take(nonce)?.resolve();
  }

  reject(nonce: string, err: Error): void {
    this.take(nonce)?.reject(err);
  }

  rejectAll(err: Error): void {
    for (const nonce of [...this.pending.keys()]) this.reject(nonce, err);
  }

  private take(nonce: string) {
    const p = this.pending.get(nonce);
    if (!p) return undefined;
    clearTimeout(p.timer);
    this.pending.delete(nonce);
    return p;
  }
}
