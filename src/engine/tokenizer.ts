import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { errorMessage, UserError } from '../util/errors.js';
import type { ModelPackage } from './manifest.js';

interface TokenizerJson {
  added_tokens?: Array<{ id: number; content: string; special?: boolean }>;
  [key: string]: unknown;
}

/**
 * Two views of one tokenizer.json: `full` knows the added (special) tokens and is
 * used to look them up and to decode; `literal` has them removed, so encoding any
 * text, including "<v>" or the EOS string, can only yield ordinary text tokens.
 */
export class TextCodec {
  private readonly full: Tokenizer;
  private readonly literal: Tokenizer;
  readonly specialIds: ReadonlySet<number>;

  constructor(json: TokenizerJson, config: object) {
    this.full = new Tokenizer(json, config);
    this.literal = new Tokenizer({ ...json, added_tokens: [] }, config);
    this.specialIds = new Set((json.added_tokens ?? []).map((t) => t.id));
  }

  static load(pkg: ModelPackage): TextCodec {
    const id = pkg.manifest.id;
    const read = (path: string, what: string): TokenizerJson => {
      try {
        return JSON.parse(readFileSync(path, 'utf8')) as TokenizerJson;
      } catch (err) {
        throw new UserError(`model package ${id}: cannot read ${what} (${errorMessage(err)})`);
      }
    };
    const json = read(pkg.file('tokenizer'), 'tokenizer.json');
    const config = pkg.manifest.files.tokenizerConfig ? read(pkg.file('tokenizerConfig'), 'tokenizer_config.json') : {};
    try {
      return new TextCodec(json, config);
    } catch (err) {
      throw new UserError(`model package ${id}: tokenizer.json is not usable (${errorMessage(err)})`);
    }
  }

  /** Literal text to ids, never special tokens. */
  encode(text: string): number[] {
    if (text.length === 0) return [];
    return this.literal.encode(text, { add_special_tokens: false }).ids;
  }

  /** Id of a special (added) token, by its string. */
  specialId(token: string): number | undefined {
    const id = this.full.token_to_id(token);
    return id !== undefined && this.specialIds.has(id) ? id : undefined;
  }

  decode(ids: readonly number[]): string {
    // The library throws on an empty list; an answer that is just EOS is empty text.
    if (ids.length === 0) return '';
    return this.full.decode([...ids], { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  }
}
