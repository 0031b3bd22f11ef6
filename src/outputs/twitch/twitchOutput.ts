import type { Disposable } from '../../bus/index.js';
import { UserError } from '../../util/errors.js';
import { OutputFilter, DEFAULT_BLOCKLIST, readBlocklistFile } from './filter.js';
import type { OutputPlugin, QuestionModeration } from '../plugin.js';
import { mayAsk, mayControl, parseCommand } from './commands.js';
import type { TwitchConfig } from './config.js';
import { openChat, type ChatMessage } from './connection.js';
import { FloodGuard } from './floodGuard.js';
import { QuestionGate } from './gate.js';
import { cleanChatText, cleanName, MAX_RAW_LENGTH } from './hygiene.js';
import { ChatRateLimiter } from './rateLimiter.js';

export interface TwitchOutputOptions {
  config: TwitchConfig;
  /** $TWITCH_TOKEN, used when the config has no token. */
  envToken: string | undefined;
}

export interface TwitchCounters {
  messagesIn: number;
  droppedOversized: number;
  droppedEmpty: number;
  droppedFlood: number;
  questionsOffered: number;
  questionsAccepted: number;
  questionsDenied: number;
  questionsLimited: number;
  controlDenied: number;
  /** Lines (answers and commentary) handed to the chat filter. */
  linesOffered: number;
  /** Lines the filter dropped whole (blocked, a repeat, nothing left). */
  droppedFiltered: number;
}

/** Answers remembered for a reply; older questions just get no reply. */
const MAX_OPEN_QUESTIONS = 200;

export function twitchOutput(opts: TwitchOutputOptions): OutputPlugin {
  const { config } = opts;
  if (!config.channel) throw new UserError("bad config: the 'twitch' output needs twitch.channel");
  const channel = config.channel;
  const token = config.token ?? opts.envToken;
  if (token && !config.botName) throw new UserError('bad config: a Twitch token needs twitch.botName');
  return {
    id: 'twitch',
    activate: ({ bus, control, logger, provideModeration, provideChatStatus }) => {
      const counters: TwitchCounters = {
        messagesIn: 0, droppedOversized: 0, droppedEmpty: 0, droppedFlood: 0, questionsOffered: 0,
        questionsAccepted: 0, questionsDenied: 0, questionsLimited: 0, controlDenied: 0, linesOffered: 0, droppedFiltered: 0,
      };
      const blocklist = [...DEFAULT_BLOCKLIST, ...(config.blocklistFile ? readBlocklistFile(config.blocklistFile) : [])];
      const filter = new OutputFilter({ blocklist, allowLinks: config.allowLinks, allowMentions: config.allowMentions, memory: config.noRepeatLines });
      const gate = new QuestionGate({
        userCooldownMs: config.userCooldownS * 1000, perMinute: config.questionsPerMinute,
        queueSize: config.queueSize, manualApproval: config.manualApproval,
      });
      const flood = new FloodGuard();
      /** Engine question id → the chat message it came from. */
      const replyTo = new Map<string, string | undefined>();
      let lastProactive = -Infinity;
      let joined = false;

      const chat = openChat({
        server: config.server, channel, botName: token ? config.botName : undefined, token, logger,
        onMessage: (m) => onMessage(m),
        onModerator: (isMod) => limiter.setModerator(isMod),
        onLink: (up) => {
          joined = up;
          limiter.setLinkUp(up);
        },
        onNotice: (id) => {
          if (id === 'msg_ratelimit') {
            logger.warn('twitch: msg_ratelimit from Twitch; pausing chat posts');
            limiter.backOff();
          }
        },
      });
      // Lines wait until the channel is joined; only what Twitch acknowledged counts as sent.
      const limiter = new ChatRateLimiter({ linkUp: false, send: (text, parent) => chat.post(text, parent) });

      const post = (line: string, parent: string | undefined) => {
        if (!chat.canPost) return;
        counters.linesOffered++;
        const parts = filter.apply(line);
        if (!parts.length) counters.droppedFiltered++;
        for (const part of parts) limiter.enqueue(part, parent);
      };

      const ask = (text: string, asker: string, messageId: string | undefined) => {
        const q = control.ask(text, asker);
        counters.questionsAccepted++;
        replyTo.set(q.id, messageId);
        if (replyTo.size > MAX_OPEN_QUESTIONS) replyTo.delete(replyTo.keys().next().value!);
        return q;
      };

      function onMessage(m: ChatMessage): void {
        counters.messagesIn++;
        // Flood and size checks come first and cost O(1): nothing else runs for junk.
        if (!flood.allow(m.user.userId)) return void counters.droppedFlood++;
        const cleaned = cleanChatText(m.text, MAX_RAW_LENGTH);
        if (!cleaned.ok) return void (cleaned.reason === 'oversized' ? counters.droppedOversized++ : counters.droppedEmpty++);
        const cmd = parseCommand(cleaned.text, { prefix: config.commandPrefix, botName: token ? config.botName : undefined, mentions: config.mentions });
        if (cmd.kind === 'control') {
          if (!mayControl(m.user)) return void counters.controlDenied++;
          logger.info(`twitch: ${cmd.action} by ${cleanName(m.user.displayName, m.user.login)}`);
          if (cmd.action === 'pause') control.pause();
          else control.resume();
          return;
        }
        if (cmd.kind !== 'ask') return;
        counters.questionsOffered++;
        if (!mayAsk(m.user, config.whoMayAsk)) return void counters.questionsDenied++;
        if (cmd.text.length > config.maxQuestionLength) return void counters.droppedOversized++;
        const asker = cleanName(m.user.displayName, m.user.login || 'viewer');
        const { verdict } = gate.offer({ text: cmd.text, asker, userId: m.user.userId, messageId: m.id });
        if (verdict === 'accepted') ask(cmd.text, asker, m.id);
        else if (verdict !== 'pending') counters.questionsLimited++;
      }

      const onSay = bus.on('say', (e) => {
        if (e.trigger === 'question') {
          if (e.questionId === undefined || !replyTo.has(e.questionId)) return;
          const parent = replyTo.get(e.questionId);
          replyTo.delete(e.questionId);
          post(e.text, parent);
        } else if (config.proactive && Date.now() - lastProactive >= config.proactiveIntervalS * 1000) {
          lastProactive = Date.now();
          post(e.text, undefined);
        }
      });

      const moderation: QuestionModeration = {
        pending: () => gate.list().map((q) => ({ id: q.id, text: q.text, asker: q.asker, receivedAt: q.receivedAt })),
        approve: (id) => {
          const res = gate.approve(id);
          if (!res) return undefined;
          if (res.verdict === 'rate') return 'rate';
          const q = ask(res.question.text, res.question.asker, res.question.messageId);
          return { id: q.id, t: q.t };
        },
        reject: (id) => gate.reject(id) !== undefined,
      };

      const disposables: Disposable[] = [
        onSay,
        provideModeration(moderation),
        provideChatStatus(() => ({
          channel, joined, canPost: chat.canPost, questionsWaiting: gate.list().length,
          sentLast30s: limiter.inWindow, limit: limiter.limit, queuedOut: limiter.queued,
        })),
        {
          dispose: async () => {
            const queuedOutgoing = limiter.queued;
            limiter.dispose();
            await chat.close();
            // One summary line: what a broadcaster (and the flood test) wants to know.
            const outgoing = { messagesOut: limiter.sent, droppedOutgoing: limiter.dropped, expiredOutgoing: limiter.expired, unackedOutgoing: limiter.failed + limiter.inFlight, queuedOutgoing };
            logger.info(`twitch: summary ${JSON.stringify({ ...counters, ...outgoing, moderator: limiter.moderator })}`);
          },
        },
      ];
      return disposables;
    },
  };
}
