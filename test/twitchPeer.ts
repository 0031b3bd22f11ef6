import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** A Twitch-IRC-over-WebSocket server for tests, speaking the real line format
 * (IRCv3 tags, CAP, PASS/NICK, JOIN, PING/PONG, PRIVMSG, USERSTATE, NOTICE,
 * RECONNECT). The daemon's real tmi.js client connects to it through
 * twitch.server; it records every line the client sends. */

export interface PeerLine {
  at: number;
  conn: number;
  line: string;
}

/** A PRIVMSG the client posted, parsed. */
export interface Posted {
  at: number;
  channel: string;
  text: string;
  tags: Record<string, string>;
}

export interface ViewerMessage {
  login: string;
  text: string;
  displayName?: string;
  /** e.g. ['moderator/1'], ['subscriber/12'], ['vip/1'], ['broadcaster/1']. */
  badges?: string[];
  id?: string;
  userId?: string;
  firstMsg?: boolean;
}

interface Conn {
  n: number;
  ws: WebSocket;
  nick?: string;
  pass?: string;
  joined: Set<string>;
}

/** IRCv3 tag value escaping. */
const escapeTag = (v: string) => v.replace(/\\/g, '\\\\').replace(/;/g, '\\:').replace(/ /g, '\\s').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
const unescapeTag = (v: string) => v.replace(/\\(.)/g, (_m, c: string) => ({ ':': ';', s: ' ', r: '\r', n: '\n', '\\': '\\' })[c] ?? c);

export function parseTags(raw: string): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const kv of raw.split(';')) {
    const i = kv.indexOf('=');
    if (i < 0) tags[kv] = '';
    else tags[kv.slice(0, i)] = unescapeTag(kv.slice(i + 1));
  }
  return tags;
}

export class TwitchPeer {
  readonly received: PeerLine[] = [];
  readonly posted: Posted[] = [];
  /** Connections that completed login, in order. */
  readonly logins: Array<{ conn: number; nick: string; anonymous: boolean }> = [];
  readonly joins: Array<{ conn: number; channel: string }> = [];
  private readonly conns = new Set<Conn>();
  private nextConn = 1;
  private nextMsg = 1;
  /** The bot's badges in USERSTATE (after JOIN and after each PRIVMSG). */
  botBadges: string[] = [];
  /** While true, PRIVMSGs are swallowed: not posted, not acknowledged. */
  blackhole = false;

  private constructor(
    private readonly wss: WebSocketServer,
    readonly port: number,
    private readonly validToken: string,
  ) {
    wss.on('connection', (ws) => this.accept(ws));
  }

  static async start(validToken = 'oauth:testtoken'): Promise<TwitchPeer> {
    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has('irc') ? 'irc' : false) });
    await new Promise<void>((res) => wss.once('listening', () => res()));
    return new TwitchPeer(wss, (wss.address() as AddressInfo).port, validToken);
  }

  get url(): string {
    return `ws://127.0.0.1:${this.port}`;
  }

  get openConnections(): number {
    return [...this.conns].filter((c) => c.joined.size > 0).length;
  }

  /** A viewer's chat line to everyone joined to the channel. Returns the message id. */
  chat(channel: string, m: ViewerMessage): string {
    const id = m.id ?? `00000000-0000-4000-8000-${String(this.nextMsg++).padStart(12, '0')}`;
    const badges = m.badges ?? [];
    const tags: Record<string, string> = {
      'badge-info': '', badges: badges.join(','), color: '#1E90FF', 'display-name': m.displayName ?? m.login, emotes: '',
      'first-msg': m.firstMsg ? '1' : '0', flags: '', id, mod: badges.some((b) => b.startsWith('moderator/')) ? '1' : '0',
      'returning-chatter': '0', 'room-id': '1000', subscriber: badges.some((b) => b.startsWith('subscriber/')) ? '1' : '0',
      'tmi-sent-ts': String(Date.now()), turbo: '0', 'user-id': m.userId ?? String(100000 + hash(m.login)), 'user-type': '',
    };
    const tagText = Object.entries(tags).map(([k, v]) => `${k}=${escapeTag(v)}`).join(';');
    this.toJoined(channel, `@${tagText} :${m.login}!${m.login}@${m.login}.tmi.twitch.tv PRIVMSG #${channel} :${m.text}`);
    return id;
  }

  /** Twitch's keep-alive; the client must answer PONG (see `received`). */
  ping(): void {
    for (const c of this.conns) c.ws.send('PING :tmi.twitch.tv');
  }

  /** Twitch is about to restart this server: clients must reconnect. */
  sendReconnect(): void {
    for (const c of this.conns) c.ws.send(':tmi.twitch.tv RECONNECT');
  }

  noticeRatelimit(channel: string): void {
    this.toJoined(channel, `@msg-id=msg_ratelimit :tmi.twitch.tv NOTICE #${channel} :Your message was not sent because you are sending messages too quickly.`);
  }

  /** The TCP connection dies without a goodbye. */
  dropAll(): void {
    for (const c of this.conns) c.ws.terminate();
  }

  /** The most messages the client posted within any `windowMs`. */
  maxInWindow(windowMs = 30_000): number {
    let best = 0;
    let lo = 0;
    for (let hi = 0; hi < this.posted.length; hi++) {
      while (this.posted[hi]!.at - this.posted[lo]!.at >= windowMs) lo++;
      best = Math.max(best, hi - lo + 1);
    }
    return best;
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.ws.terminate();
    await new Promise<void>((res) => this.wss.close(() => res()));
  }

  private toJoined(channel: string, line: string): void {
    for (const c of this.conns) if (c.joined.has(`#${channel}`)) c.ws.send(line);
  }

  private accept(ws: WebSocket): void {
    const conn: Conn = { n: this.nextConn++, ws, joined: new Set() };
    this.conns.add(conn);
    ws.on('close', () => this.conns.delete(conn));
    ws.on('message', (data) => {
      for (const line of data.toString().split('\r\n')) if (line.length) this.handle(conn, line);
    });
  }

  private handle(c: Conn, line: string): void {
    this.received.push({ at: Date.now(), conn: c.n, line });
    let tags: Record<string, string> = {};
    let rest = line;
    if (rest.startsWith('@')) {
      const sp = rest.indexOf(' ');
      tags = parseTags(rest.slice(1, sp));
      rest = rest.slice(sp + 1);
    }
    const [command = '', ...args] = rest.split(' ');
    const nick = c.nick ?? '*';
    switch (command.toUpperCase()) {
      case 'CAP':
        if (args[0] === 'REQ') c.ws.send(`:tmi.twitch.tv CAP * ACK ${args.slice(1).join(' ')}`);
        return;
      case 'PASS':
        c.pass = args[0];
        return;
      case 'NICK': {
        c.nick = (args[0] ?? '').toLowerCase();
        const anonymous = /^justinfan\d+$/.test(c.nick);
        if (!anonymous && c.pass !== this.validToken) {
          c.ws.send(':tmi.twitch.tv NOTICE * :Login authentication failed');
          c.ws.close();
          return;
        }
        this.logins.push({ conn: c.n, nick: c.nick, anonymous });
        for (const [code, text] of [['001', 'Welcome, GLHF!'], ['002', 'Your host is tmi.twitch.tv'], ['003', 'This server is rather new'], ['004', '-'], ['375', '-'], ['372', 'You are in a maze of twisty passages, all alike.'], ['376', '>']] as const) {
          c.ws.send(`:tmi.twitch.tv ${code} ${c.nick} :${text}`);
        }
        return;
      }
      case 'JOIN':
        for (const ch of (args[0] ?? '').split(',')) {
          c.joined.add(ch);
          this.joins.push({ conn: c.n, channel: ch });
          c.ws.send(`:${nick}!${nick}@${nick}.tmi.twitch.tv JOIN ${ch}`);
          c.ws.send(`:${nick}.tmi.twitch.tv 353 ${nick} = ${ch} :${nick}`);
          c.ws.send(`:${nick}.tmi.twitch.tv 366 ${nick} ${ch} :End of /NAMES list`);
          c.ws.send(`@emote-only=0;followers-only=-1;r9k=0;room-id=1000;slow=0;subs-only=0 :tmi.twitch.tv ROOMSTATE ${ch}`);
          if (!/^justinfan\d+$/.test(nick)) this.sendUserstate(c, ch);
        }
        return;
      case 'PING':
        // As Twitch answers a client's bare PING (tmi.js only accepts an unprefixed PONG).
        c.ws.send(`PONG :${args.join(' ').replace(/^:/, '') || 'tmi.twitch.tv'}`);
        return;
      case 'PRIVMSG': {
        // A dying server: the line arrives but is neither delivered nor acknowledged.
        if (this.blackhole) return;
        const channel = args[0] ?? '';
        const text = rest.slice(rest.indexOf(' :') + 2);
        this.posted.push({ at: Date.now(), channel, text, tags });
        // Twitch acknowledges an accepted PRIVMSG with USERSTATE, echoing the client's nonce.
        this.sendUserstate(c, channel, tags['client-nonce']);
        return;
      }
      default:
        return;
    }
  }

  private sendUserstate(c: Conn, channel: string, nonce?: string): void {
    const mod = this.botBadges.some((b) => b.startsWith('moderator/')) ? '1' : '0';
    const echo = nonce === undefined ? '' : `client-nonce=${escapeTag(nonce)};id=${crypto.randomUUID()};`;
    c.ws.send(`@badge-info=;badges=${this.botBadges.join(',')};${echo}color=;display-name=${c.nick};emote-sets=0;mod=${mod};subscriber=0;user-type=${mod === '1' ? 'mod' : ''} :tmi.twitch.tv USERSTATE ${channel}`);
  }
}

function hash(s: string): number {
  let h = 0;
  for (const ch of s) h = (h * 31 + ch.charCodeAt(0)) % 1_000_000;
  return h;
}
