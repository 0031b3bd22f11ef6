import { rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSource } from '../capture/fileSource.js';
import { FramePipeline, LiveModel, LiveSession, type ExecutionProviderChoice } from '../engine/index.js';
import type { Logger } from '../util/log.js';
import { generateMatches, readMatch } from './arenaWorld.js';
import { aggregate, judgeAnswers, judgeGoals, scoreMatch, type MatchScore, type RefMatch, type SpokenLine } from './metrics.js';

export interface EvalOptions {
  modelDir: string;
  episodes: number;
  seed: number;
  ep: ExecutionProviderChoice;
  threshold?: number;
  /** Matches played back to back in one stream (one LiveSession, one KV cache); 1 by default. */
  matchesPerStream?: number;
  /** The KV cache's token budget; default: the model's maxContext. */
  context?: number;
  logger: Logger;
}

/** What the cache policy did in one stream. */
interface StreamCount {
  matches: number;
  videoMinutes: number;
  compactions: number;
  contextResets: number;
}

/** Renders held-out arena matches, runs the real engine through the same decode
 * path as `cocaster run`, and scores what it said. With matchesPerStream > 1 the
 * matches follow each other in one stream, as hours of a broadcast would: the
 * KV cache carries over and its policy evicts the earlier matches. */
export async function evaluate(opts: EvalOptions) {
  const model = await LiveModel.load(opts.modelDir, { ep: opts.ep, logger: opts.logger });
  const { vision } = model.manifest;
  const perStream = opts.matchesPerStream ?? 1;
  const work = mkdtempSync(join(tmpdir(), 'cocaster-eval-'));
  try {
    opts.logger.info(`rendering ${opts.episodes} matches from seed ${opts.seed}…`);
    await generateMatches(opts.seed, opts.episodes, work, vision.fps, vision.width);
    const scores: MatchScore[] = [];
    const streams: StreamCount[] = [];
    let frames = 0;
    let engineMs = 0;
    // The match being played: where its lines go, and its start in stream time.
    let match = { spoken: [] as SpokenLine[], questionIndex: new Map<string, number>(), offset: 0 };
    let session: LiveSession | undefined;
    for (let i = 0; i < opts.episodes; i++) {
      if (i % perStream === 0) {
        const stream: StreamCount = { matches: 0, videoMinutes: 0, compactions: 0, contextResets: 0 };
        streams.push(stream);
        match.offset = 0;
        session = new LiveSession(model, (e) => {
          if (e.type === 'compaction') stream.compactions++;
          if (e.type === 'contextReset') stream.contextResets++;
          if (e.type !== 'say') return;
          const frame = Math.round((e.t - match.offset) * vision.fps);
          match.spoken.push({ frame, text: e.text, trigger: e.trigger, ...(e.questionId ? { questionIndex: match.questionIndex.get(e.questionId)! } : {}) });
        }, { threshold: opts.threshold, context: opts.context });
      }
      const stream = streams.at(-1)!;
      const seed = opts.seed + i;
      const { video, ref } = readMatch(work, seed);
      const spoken: SpokenLine[] = [];
      match = { spoken, questionIndex: new Map(), offset: match.offset };
      const { offset } = match;
      ref.turns.filter((t) => t.role === 'user').forEach((q, idx) => {
        // Asked while the question's frame is on screen: answered after that frame.
        match.questionIndex.set(session!.ask(offset + (q.frame + 0.4) / vision.fps, q.text).id, idx);
      });
      let count = 0;
      const start = performance.now();
      const pipeline = new FramePipeline(session!, model.framesPerStep);
      for await (const frame of fileSource(video, vision, { fast: true }).frames()) {
        await pipeline.push({ ...frame, t: offset + frame.t });
        count++;
      }
      await pipeline.drain();
      await session!.finish(offset + count / vision.fps);
      engineMs += performance.now() - start;
      frames += count;
      match.offset = offset + count / vision.fps;
      stream.matches++;
      stream.videoMinutes = Math.round((match.offset / 60) * 10) / 10;
      const score = scoreMatch(ref, spoken, vision.fps, count);
      logAnswers(opts.logger, ref, spoken);
      logMissedGoals(opts.logger, ref, spoken, vision.fps);
      scores.push(score);
      opts.logger.info(`seed ${seed}: goals ${score.goalsCommented}/${score.goals}, false alarms ${score.falseAlarms}, questions ${score.questionsRight}/${score.questions}`);
    }
    return {
      model: model.manifest.id,
      executionProvider: model.provider,
      episodes: opts.episodes,
      seed: opts.seed,
      threshold: opts.threshold ?? model.manifest.generation.threshold,
      matchesPerStream: perStream,
      ...aggregate(scores),
      contextResets: streams.reduce((n, s) => n + s.contextResets, 0),
      compactions: streams.reduce((n, s) => n + s.compactions, 0),
      streams,
      fps: Math.round((frames / engineMs) * 1000 * 10) / 10,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
    await model.release();
  }
}

/** Every question with the model's answer and the fact it needed (COCASTER_LOG=debug). */
function logAnswers(logger: Logger, ref: RefMatch, spoken: SpokenLine[]): void {
  for (const { question: q, answer, fact, right } of judgeAnswers(ref, spoken)) {
    logger.debug(`seed ${ref.seed} frame ${q.frame} [${q.kind}] ${right ? 'right' : 'WRONG'} Q: ${q.text} A: ${answer ?? '(none)'} fact: ${fact ?? '(unknowable)'}`);
  }
}

/** Goals the model did not comment, with what it said near them (COCASTER_LOG=debug). */
function logMissedGoals(logger: Logger, ref: RefMatch, spoken: SpokenLine[], fps: number): void {
  for (const g of judgeGoals(ref, spoken, fps).filter((j) => !j.commented)) {
    const near = g.linesNear.map((s) => `[${s.frame}] ${s.text}`).join(' | ') || '(silent)';
    logger.debug(`seed ${ref.seed} frame ${g.frame} [goal] MISSED ${g.team} scored; said: ${near}`);
  }
}
