import { UserError } from '../util/errors.js';
import type { ModelManifest } from './manifest.js';
import type { TextCodec } from './tokenizer.js';

/** Control characters and line breaks become spaces, runs of spaces collapse:
 * a question is one line, so it can never spell the layout's "\n"-anchored
 * markers such as "]\nAssistant:". */
export function cleanQuestion(text: string): string {
  return text
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
    .split(/\s+/)
    .filter((w) => w.length > 0)
    .join(' ');
}

/** The VideoLLM-online conversation layout as token ids (mirrors
 * scripts/cocaster_model/layout.py). */
export class Layout {
  readonly eosId: number;
  readonly intervalId: number;
  readonly bosId: number | undefined;
  readonly startIds: readonly number[];
  readonly afterEosIds: readonly number[];
  readonly selfSpeakIds: readonly number[];
  /** Tokens `queryIds` adds around a question's text: the role markers. */
  readonly queryOverhead: number;
  /** The most fixed tokens a turn adds after a frame, beyond what the model says
   * and the question's own text: the self-speak prompt, or a question's role
   * markers. A frame reserves this much so neither can overflow the context. */
  readonly turnOverhead: number;
  private readonly queryBefore: string;
  private readonly queryAfter: string;

  constructor(
    private readonly codec: TextCodec,
    manifest: ModelManifest,
  ) {
    const { tokens, layout, id } = { ...manifest, id: manifest.id };
    const special = (name: string, token: string): number => {
      const found = codec.specialId(token);
      if (found === undefined) throw new UserError(`model package ${id}: ${name} token '${token}' is not a special token of tokenizer.json`);
      return found;
    };
    this.eosId = special('EOS', tokens.eos);
    special('frame placeholder', tokens.framePlaceholder);
    this.bosId = tokens.bos ? special('BOS', tokens.bos) : undefined;
    const interval = codec.encode(tokens.interval);
    if (interval.length !== 1) throw new UserError(`model package ${id}: interval token '${tokens.interval}' is not a single token`);
    this.intervalId = interval[0]!;
    const head = this.bosId === undefined ? [] : [this.bosId];
    this.startIds = [...head, ...codec.encode(layout.start.replace('{system}', layout.system))];
    this.afterEosIds = codec.encode(layout.afterEos);
    this.selfSpeakIds = codec.encode(layout.selfSpeak);
    const [before, after] = layout.query.split('{question}') as [string, string];
    this.queryBefore = before;
    this.queryAfter = after;
    // The parts are encoded separately (see queryIds), so their lengths add up.
    this.queryOverhead = codec.encode(before.endsWith(' ') ? before.slice(0, -1) : before).length + codec.encode(after).length;
    this.turnOverhead = Math.max(this.selfSpeakIds.length, this.queryOverhead);
  }

  /** `]\nUser: <question>\nAssistant:` with the question encoded as literal text,
   * cut to maxTokens. */
  queryIds(question: string, maxTokens = Infinity): number[] {
    let before = this.queryBefore;
    let text = cleanQuestion(question);
    // A space that ends the prefix belongs to the question's first word.
    if (before.endsWith(' ')) {
      before = before.slice(0, -1);
      text = ' ' + text;
    }
    const textIds = this.codec.encode(text).slice(0, maxTokens);
    return [...this.codec.encode(before), ...textIds, ...this.codec.encode(this.queryAfter)];
  }
}
