import { z } from 'zod';

export const ASK_ROLES = ['everyone', 'subscribers', 'vips', 'moderators'] as const;
export type AskRole = (typeof ASK_ROLES)[number];

/** Twitch chat. The token is a secret: it may also come from $TWITCH_TOKEN and is
 * never logged nor returned by /api. Without a token the bot reads anonymously. */
export const TwitchConfigSchema = z
  .object({
    /** The channel to join (without '#'). */
    channel: z.string().regex(/^#?[a-zA-Z0-9_]{1,25}$/, 'must be a Twitch login name').optional(),
    /** The bot account's login; needs a token to post. */
    botName: z.string().regex(/^[a-zA-Z0-9_]{1,25}$/, 'must be a Twitch login name').optional(),
    /** OAuth token (with or without the 'oauth:' prefix). */
    token: z.string().min(1).optional(),
    /** Twitch IRC over WebSocket; tests point it at a local peer. */
    server: z.string().regex(/^wss?:\/\/[^/\s]+\/?$/, 'must be ws://host[:port] or wss://host[:port]').default('wss://irc-ws.chat.twitch.tv:443'),
    commandPrefix: z.string().min(1).max(20).default('!ask'),
    /** '@botname question' also asks. */
    mentions: z.boolean().default(true),
    whoMayAsk: z.enum(ASK_ROLES).default('everyone'),
    /** Seconds between two questions of one viewer. */
    userCooldownS: z.number().min(0).max(3600).default(60),
    /** Questions accepted per minute, all viewers together. */
    questionsPerMinute: z.number().int().min(1).max(120).default(6),
    maxQuestionLength: z.number().int().min(10).max(500).default(200),
    /** Questions waiting for approval (manual mode), oldest dropped beyond this. */
    queueSize: z.number().int().min(1).max(200).default(20),
    /** Questions wait until approved through /api/questions/:id/approve. */
    manualApproval: z.boolean().default(false),
    /** Post the model's own commentary to chat too (answers always go). */
    proactive: z.boolean().default(false),
    /** Minimum seconds between two proactive lines in chat; 0 offers every line
     * (the rate limiter still caps what goes out). */
    proactiveIntervalS: z.number().min(0).max(3600).default(60),
    /** An outgoing line identical (ignoring case) to one of the last this-many
     * lines posted is dropped; 0 allows repeats. Twitch itself refuses a
     * non-moderator's identical message within 30 s (msg_duplicate). */
    noRepeatLines: z.number().int().min(0).max(1000).default(20),
    /** Links and @mentions are stripped from outgoing lines unless allowed. */
    allowLinks: z.boolean().default(false),
    allowMentions: z.boolean().default(false),
    /** A file with one blocked word or phrase per line, on top of the default list. */
    blocklistFile: z.string().min(1).optional(),
  })
  .strict();

export type TwitchConfig = z.infer<typeof TwitchConfigSchema>;
