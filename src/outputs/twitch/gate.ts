/** Which viewer questions reach the engine: a per-user cooldown, a global rate
 * (sliding window of one minute) and, in manual mode, an approval queue. Time is
 * injected so the rules are tested without waiting. */

export interface PendingQuestion {
  id: string;
  text: string;
  asker: string;
  userId: string;
  /** The chat message's id, for the reply. */
  messageId: string | undefined;
  receivedAt: number;
}

export interface GateOptions {
  userCooldownMs: number;
  perMinute: number;
  queueSize: number;
  manualApproval: boolean;
  now?: () => number;
}

export type GateVerdict = 'accepted' | 'pending' | 'cooldown' | 'rate';

export class QuestionGate {
  private readonly lastByUser = new Map<string, number>();
  private readonly acceptedAt: number[] = [];
  private readonly pending = new Map<string, PendingQuestion>();
  private nextId = 1;
  private readonly now: () => number;

  constructor(private readonly opts: GateOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Decides on a new question. `accepted`: ask the engine now. `pending`: wait for approval. */
  offer(q: Omit<PendingQuestion, 'id' | 'receivedAt'>): { verdict: GateVerdict; question: PendingQuestion } {
    const now = this.now();
    const question: PendingQuestion = { ...q, id: `c${this.nextId++}`, receivedAt: now };
    const last = this.lastByUser.get(q.userId);
    if (last !== undefined && now - last < this.opts.userCooldownMs) return { verdict: 'cooldown', question };
    this.forgetOldUsers(now);
    if (this.opts.manualApproval) {
      // Cooldown still applies in manual mode, so one viewer cannot fill the queue.
      this.lastByUser.set(q.userId, now);
      this.pending.set(question.id, question);
      while (this.pending.size > this.opts.queueSize) this.pending.delete(this.pending.keys().next().value!);
      return { verdict: 'pending', question };
    }
    if (!this.takeRate(now)) return { verdict: 'rate', question };
    this.lastByUser.set(q.userId, now);
    return { verdict: 'accepted', question };
  }

  /** Manual mode: the question leaves the queue. An approval still counts against the
   * global rate, as the engine's time is what the rate protects; over it, the
   * question stays queued and `rate` is returned. */
  approve(id: string): { verdict: 'accepted' | 'rate'; question: PendingQuestion } | undefined {
    const question = this.pending.get(id);
    if (!question) return undefined;
    if (!this.takeRate(this.now())) return { verdict: 'rate', question };
    this.pending.delete(id);
    return { verdict: 'accepted', question };
  }

  reject(id: string): PendingQuestion | undefined {
    const question = this.pending.get(id);
    this.pending.delete(id);
    return question;
  }

  list(): PendingQuestion[] {
    return [...this.pending.values()];
  }

  private takeRate(now: number): boolean {
    while (this.acceptedAt.length && now - this.acceptedAt[0]! >= 60_000) this.acceptedAt.shift();
    if (this.acceptedAt.length >= this.opts.perMinute) return false;
    this.acceptedAt.push(now);
    return true;
  }

  /** Bounded memory under a flood of distinct users: entries past the cooldown are useless. */
  private forgetOldUsers(now: number): void {
    if (this.lastByUser.size < 10_000) return;
    for (const [user, at] of this.lastByUser) if (now - at >= this.opts.userCooldownMs) this.lastByUser.delete(user);
    // Still too many (a huge cooldown): drop the oldest; they may ask again early, which is harmless.
    for (const user of this.lastByUser.keys()) {
      if (this.lastByUser.size < 10_000) break;
      this.lastByUser.delete(user);
    }
  }
}
