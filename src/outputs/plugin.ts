import type { Disposable, EventBus } from '../bus/index.js';
import type { AcceptedQuestion, CaptionFormat, ChatStatus, DaemonStatus, ModeratedQuestion, PluginInfo, SessionSummary, TranscriptLine } from '../protocol/index.js';
import { errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';

/** The daemon's commands. Outputs that take input (the control server, chat) call
 * these; they never reach into the engine themselves. */
export interface DaemonControl {
  status(): DaemonStatus;
  pause(): void;
  resume(): void;
  setThreshold(threshold: number): void;
  ask(text: string, asker?: string): AcceptedQuestion;
  /** The last lines of this session's transcript ([] when no output records one). */
  recentLines(limit: number): TranscriptLine[];
  /** Questions waiting for a human's approval; absent when no output moderates them. */
  readonly questions: QuestionModeration | undefined;
  /** Recorded sessions (the transcript store's); absent when nothing records them. */
  readonly sessions?: SessionArchive | undefined;
  /** Third-party plugins and their commands; absent when none is configured. */
  readonly plugins?: PluginCommands | undefined;
}

export interface PluginCommands {
  list(): PluginInfo[];
  /** Sends a contributed command to an active plugin; otherwise says why not. */
  run(pluginId: string, command: string): 'ok' | 'no such plugin' | 'no such command' | 'not active';
}

/** Past and present sessions, for the control panel's session list. */
export interface SessionArchive {
  list(query: string): SessionSummary[];
  /** undefined: no such session. */
  transcript(sessionId: number, query: string): { session: SessionSummary; lines: TranscriptLine[] } | undefined;
  captions(sessionId: number, format: CaptionFormat): string | undefined;
}

export interface QuestionModeration {
  pending(): ModeratedQuestion[];
  /** undefined: no such question; 'rate': over the question rate, still queued. */
  approve(id: string): AcceptedQuestion | 'rate' | undefined;
  reject(id: string): boolean;
}

/** The transcript of this session, as an output that records it offers it. */
export interface TranscriptProvider {
  readonly sessionId: number;
  recent(limit: number): TranscriptLine[];
  /** Every recorded session, when the provider keeps them. */
  readonly archive?: SessionArchive;
}

export interface OutputContext {
  bus: EventBus;
  control: DaemonControl;
  logger: Logger;
  /** Offers chat-question moderation to the control API until the Disposable is disposed. */
  provideModeration(moderation: QuestionModeration): Disposable;
  /** Offers the session's transcript to the control API until disposed. */
  provideTranscript(transcript: TranscriptProvider): Disposable;
  /** Offers the chat's state to /api/status (the panel's health view) until disposed. */
  provideChatStatus(status: () => ChatStatus): Disposable;
  /** Offers the plugin host's plugins and their commands to the control API until disposed. */
  providePlugins(plugins: PluginCommands): Disposable;
}

/** An output, VS Code-extension style: `activate` subscribes to the bus and returns
 * what to dispose at shutdown (in reverse order). */
export interface OutputPlugin {
  readonly id: string;
  activate(ctx: OutputContext): Promise<Disposable[]> | Disposable[];
}

/** One slot a single output may fill (`ctx.provide…`): the latest provider wins, and
 * disposing it empties the slot only if it is still the one there. */
export class ProvidedSlot<T> {
  current: T | undefined;

  provide(impl: T): Disposable {
    this.current = impl;
    return { dispose: () => void (this.current === impl && (this.current = undefined)) };
  }
}

/** Activates plugins in order; returns one Disposable that tears all of them down
 * in reverse order. A plugin that fails to activate undoes the ones before it. */
export async function activateAll(plugins: readonly OutputPlugin[], ctx: OutputContext): Promise<Disposable> {
  const disposables: Disposable[] = [];
  const disposeAll = async () => {
    for (const d of disposables.splice(0).reverse()) {
      try {
        await d.dispose();
      } catch (err) {
        ctx.logger.warn(`dispose failed: ${errorMessage(err)}`);
      }
    }
  };
  try {
    for (const plugin of plugins) disposables.push(...(await plugin.activate(ctx)));
  } catch (err) {
    await disposeAll();
    throw err;
  }
  return { dispose: disposeAll };
}
