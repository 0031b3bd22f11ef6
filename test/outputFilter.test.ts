import { describe, expect, it } from 'vitest';
import { OutputFilter, splitAtWords } from '../src/outputs/twitch/filter.js';
import { mayAsk, mayControl, parseCommand, type ChatUser } from '../src/outputs/twitch/commands.js';
import { FloodGuard } from '../src/outputs/twitch/floodGuard.js';
import { QuestionGate } from '../src/outputs/twitch/gate.js';
import { cleanChatText } from '../src/outputs/twitch/hygiene.js';
import { ChatRateLimiter } from '../src/outputs/twitch/rateLimiter.js';

describe('output filter', () => {
  it('splits at words under 500 characters', () => {
    const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
    const parts = new OutputFilter().apply(words);
    expect(parts.length).toBeGreaterThan(1);
    for (const p of parts) expect(p.length).toBeLessThanOrEqual(500);
    expect(parts.join(' ')).toBe(words);
    expect(new OutputFilter({ split: false }).apply(words)).toEqual([parts[0]]);
    expect(splitAtWords('x'.repeat(1200), 500).map((p) => p.length)).toEqual([500, 500, 200]);
  });

  it('drops blocked lines, by default list and user list, as whole words', () => {
    const f = new OutputFilter({ blocklist: ['kys', 'badword'] });
    expect(f.apply('just KYS already')).toEqual([]);
    expect(f.apply('this has badword in it')).toEqual([]);
    expect(f.apply('skyscraper is fine')).toEqual(['skyscraper is fine']);
  });

  it('strips links and mentions unless allowed, and chat commands always', () => {
    expect(new OutputFilter().apply('see https://evil.example/x and evil.com now @someone')).toEqual(['see and now']);
    expect(new OutputFilter({ allowLinks: true, allowMentions: true }).apply('see https://a.tv @bob')).toEqual(['see https://a.tv @bob']);
    expect(new OutputFilter().apply('/ban streamer')).toEqual(['ban streamer']);
    expect(new OutputFilter().apply('line\r\nPRIVMSG #x :injected')).toEqual(['line PRIVMSG #x :injected']);
  });

  it('never posts an identical line twice in a row', () => {
    const f = new OutputFilter({ memory: 2 });
    expect(f.apply('Goal!')).toEqual(['Goal!']);
    expect(f.apply('goal!')).toEqual([]);
    expect(f.apply('a')).toEqual(['a']);
    expect(f.apply('b')).toEqual(['b']);
    expect(f.apply('Goal!')).toEqual(['Goal!']);
  });

  it('allows repeats with memory 0 (twitch.noRepeatLines: 0), remembers 20 lines by default', () => {
    const f = new OutputFilter({ memory: 0 });
    expect(f.apply('Goal!')).toEqual(['Goal!']);
    expect(f.apply('Goal!')).toEqual(['Goal!']);
    const d = new OutputFilter();
    expect(d.apply('Goal!')).toEqual(['Goal!']);
    for (let i = 0; i < 19; i++) d.apply(`line ${i}`);
    expect(d.apply('Goal!')).toEqual([]);
    d.apply('line 19');
    expect(d.apply('Goal!')).toEqual(['Goal!']);
  });
});

describe('chat rate limiter', () => {
  function setup() {
    let now = 0;
    const timers: Array<{ at: number; fn: () => void; cancelled: boolean }> = [];
    const sent: Array<{ at: number; text: string; replyTo: string | undefined }> = [];
    const limiter = new ChatRateLimiter({
      send: (text, replyTo) => void sent.push({ at: now, text, replyTo }),
      now: () => now,
      setTimer: (fn, ms) => {
        const t = { at: now + ms, fn, cancelled: false };
        timers.push(t);
        return { cancel: () => void (t.cancelled = true) };
      },
      maxQueue: 1000,
      maxAgeMs: Infinity,
    });
    const advance = (ms: number) => {
      const end = now + ms;
      for (;;) {
        const next = timers.filter((t) => !t.cancelled && t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!next) break;
        timers.splice(timers.indexOf(next), 1);
        now = next.at;
        next.fn();
      }
      now = end;
    };
    const maxIn30s = () => Math.max(...sent.map((s) => sent.filter((o) => o.at >= s.at && o.at < s.at + 30_000).length));
    return { limiter, sent, advance, maxIn30s };
  }

  it('stays under 20 per 30 s with a margin, and drains the queue', () => {
    const { limiter, sent, advance, maxIn30s } = setup();
    for (let i = 0; i < 100; i++) limiter.enqueue(`m${i}`, i === 0 ? 'parent-id' : undefined);
    expect(sent.length).toBe(limiter.limit);
    expect(limiter.limit).toBeLessThan(20);
    expect(sent[0]!.replyTo).toBe('parent-id');
    advance(10 * 60_000);
    expect(sent.length).toBe(100);
    expect(maxIn30s()).toBeLessThanOrEqual(limiter.limit);
  });

  it('allows more as a moderator, and backs off on msg_ratelimit', () => {
    const { limiter, sent, advance } = setup();
    limiter.setModerator(true);
    expect(limiter.limit).toBeGreaterThan(20);
    expect(limiter.limit).toBeLessThan(100);
    limiter.backOff();
    for (let i = 0; i < 5; i++) limiter.enqueue(`m${i}`);
    expect(sent).toEqual([]);
    advance(29_999);
    expect(sent).toEqual([]);
    advance(1);
    expect(sent.length).toBe(5);
  });
});

describe('chat input', () => {
  const user = (over: Partial<ChatUser> = {}): ChatUser => ({ login: 'v', displayName: 'V', userId: '1', broadcaster: false, moderator: false, vip: false, subscriber: false, ...over });

  it('normalises and strips what is invisible or controls', () => {
    expect(cleanChatText('\uff01ask who\u200b\u202e scored\u0000?\n', 200)).toEqual({ ok: true, text: '!ask who scored ?' });
    expect(cleanChatText('x'.repeat(2001), 5000)).toEqual({ ok: false, reason: 'oversized' });
    expect(cleanChatText('\u200b\u200d', 200)).toEqual({ ok: false, reason: 'empty' });
  });

  it('parses !ask, mentions and !cocaster', () => {
    const o = { prefix: '!ask', botName: 'bot', mentions: true };
    expect(parseCommand('!ask who?', o)).toEqual({ kind: 'ask', text: 'who?' });
    expect(parseCommand('!asking', o)).toEqual({ kind: 'none' });
    expect(parseCommand('@Bot who?', o)).toEqual({ kind: 'ask', text: 'who?' });
    expect(parseCommand('@bot who?', { ...o, botName: undefined })).toEqual({ kind: 'none' });
    expect(parseCommand('!cocaster PAUSE', o)).toEqual({ kind: 'control', action: 'pause' });
  });

  it('knows who may ask and who may steer', () => {
    expect(mayAsk(user(), 'subscribers')).toBe(false);
    expect(mayAsk(user({ subscriber: true }), 'subscribers')).toBe(true);
    expect(mayAsk(user({ subscriber: true }), 'vips')).toBe(false);
    expect(mayAsk(user({ broadcaster: true }), 'moderators')).toBe(true);
    expect(mayControl(user({ vip: true }))).toBe(false);
    expect(mayControl(user({ moderator: true }))).toBe(true);
  });

  it('gates questions by cooldown, rate and approval', () => {
    let now = 0;
    const gate = new QuestionGate({ userCooldownMs: 10_000, perMinute: 2, queueSize: 2, manualApproval: false, now: () => now });
    const q = (userId: string) => ({ text: 't', asker: userId, userId, messageId: undefined });
    expect(gate.offer(q('a')).verdict).toBe('accepted');
    expect(gate.offer(q('a')).verdict).toBe('cooldown');
    expect(gate.offer(q('b')).verdict).toBe('accepted');
    expect(gate.offer(q('c')).verdict).toBe('rate');
    now = 60_000;
    expect(gate.offer(q('c')).verdict).toBe('accepted');
    const manual = new QuestionGate({ userCooldownMs: 0, perMinute: 1, queueSize: 2, manualApproval: true, now: () => now });
    const ids = ['a', 'b', 'c'].map((u) => manual.offer(q(u)).question.id);
    expect(manual.list().map((p) => p.id)).toEqual(ids.slice(1));
    expect(manual.approve(ids[1]!)?.verdict).toBe('accepted');
    expect(manual.approve(ids[2]!)?.verdict).toBe('rate');
    expect(manual.reject(ids[2]!)?.id).toBe(ids[2]);
    expect(manual.list()).toEqual([]);
  });

  it('ignores a flooding viewer for the rest of the window', () => {
    let now = 0;
    const guard = new FloodGuard(3, 1000, 100, () => now);
    expect([1, 2, 3, 4].map(() => guard.allow('x'))).toEqual([true, true, true, false]);
    expect(guard.allow('y')).toBe(true);
    now = 1000;
    expect(guard.allow('x')).toBe(true);
  });
});
