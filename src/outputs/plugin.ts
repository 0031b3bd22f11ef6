import type { DaemonStatus, Disposable, EventBus } from '../bus/index.js';

export type { DaemonStatus } from '../bus/index.js';
import type { TranscriptLine } from '../store/index.js';
import type { Logger } from '../util/log.js';

/** The daemon's commands. Outputs that take input (the control server) call these;
 * they never reach into the engine themselves. */
export interface DaemonControl {
  status(): DaemonStatus;
  pause(): void;
  resume(): void;
  setThreshold(threshold: number): void;
  ask(text: string, asker?: string): { id: string; t: number };
  recentLines(limit: number): TranscriptLine[];
  /** Questions waiting for a human's approval (chat in manual mode); absent when no
   * output moderates questions. */
  questions?: QuestionModeration;
}

export interface ModeratedQuestion {
  id: string;
  text: string;
  asker: string;
  receivedAt: number;
}

export interface QuestionModeration {
  pending(): ModeratedQuestion[];
  /** undefined: no such question; 'rate': over the question rate, still queued. */
  approve(id: string): { id: string; t: number } | 'rate' | undefined;
  reject(id: string): boolean;
}

export interface OutputContext {
  bus: EventBus;
  control: DaemonControl;
  logger: Logger;
}

/** An output, VS Code-extension style: `activate` subscribes to the bus and returns
 * what to dispose at shutdown (in reverse order). */
export interface OutputPlugin {
  readonly id: string;
  activate(ctx: OutputContext): Promise<Disposable[]> | Disposable[];
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
        ctx.logger.warn(`dispose failed: ${(err as Error).message}`);
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
