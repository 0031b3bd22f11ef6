import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readManifest } from '../src/engine/index.js';
import { TextCodec } from '../src/engine/tokenizer.js';
import { ROOT } from './helpers.js';

const TINY = join(ROOT, 'models/cocaster-tiny');

// cocaster-tiny names a team by copying one token id from its frame tokens
// (the Reader in scripts/cocaster_model/model.py), and it was trained on text cut into chunks (words,
// punctuation runs, single digits; scripts/cocaster_model/tokenizer.py). The
// runtime encodes whole lines without that cut, so both must agree.
describe.skipIf(!existsSync(join(TINY, 'model.json')))('the default model tokenizer', () => {
  const codec = TextCodec.load(readManifest(TINY));
  const piece = (id: number) => codec.decode([id]);
  const chunks = (text: string) => text.match(/'(?:s|t|re|ve|m|ll|d)\b| ?[A-Za-z]+| ?[^\sA-Za-z0-9]+|[0-9]|\s+/g) ?? [];

  it.each(['Falcons', 'Rovers', 'Kestrels', 'Hippos', 'Lynx'])('" %s" is one token', (name) => {
    expect(codec.encode(` ${name}`).map(piece)).toEqual([` ${name}`]);
  });

  it('writes every digit of a score and a minute count as its own token', () => {
    const pieces = codec.encode(" It's Falcons 12-10 Rovers, 45 minutes left.").map(piece);
    expect(pieces).toEqual(expect.arrayContaining(['1', '2', '-', '0', '4', '5']));
    expect(pieces.filter((p) => /\d/.test(p)).every((p) => /^\d$/.test(p))).toBe(true);
  });

  it.each([
    "Goal for Kestrels! It's Kestrels 2-1 Hawks. Kestrels lead.",
    "What a save by Rovers' keeper!",
    "It's 34', so 11 minutes to go.",
    'Which team is in cyan?',
    'Hard to say, I only see the pitch and the scoreboard.',
  ])('encodes %j as its chunks, one by one', (line) => {
    const whole = codec.encode(` ${line}`);
    expect(whole).toEqual(chunks(` ${line}`).flatMap((c) => codec.encode(c)));
    expect(codec.decode(whole)).toBe(` ${line}`);
  });
});
