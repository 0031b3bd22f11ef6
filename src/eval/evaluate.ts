import { rmSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileSource } from '../capture/fileSource.js';
import { LiveModel, LiveSession, type ExecutionProviderChoice } from '../engine/index.js';
import type { Logger } from '../util/log.js';
import { generateMatches, readMatch } from './arenaWorld.js';
import { aggregate, judgeAnswers, judgeGoals, scoreMatch, type MatchScore, type RefMatch, type SpokenLine } from './metrics.js';

export interface EvalOptions {
  modelDir: string;
  episodes: number;
  seed: number;
  ep: ExecutionProviderChoice;
  threshold?: number;
  logger: Logger;
}

/** Renders held-out arena matches, runs the real engine through the same decode
 * path as `cocaster run`, and scores what it said. */
export async function evaluate(opts: EvalOptions) {
  const model = await LiveModel.load(opts.modelDir, { ep: opts.ep, logger: opts.logger });
  const { vision } = model.manifest;
  const work = mkdtempSync(join(tmpdir(), 'cocaster-eval-'));
  try {
    opts.logger.info(`rendering ${opts.episodes} matches from seed ${opts.seed}…`);
    await generateMatches(opts.seed, opts.episodes, work, vision.fps, vision.width);
    const scores: MatchScore[] = [];
    let frames = 0;
    let engineMs = 0;
    for (let i = 0; i < opts.episodes; i++) {
      const seed = opts.seed + i;
      const { video, ref } = readMatch(work, seed);
      const spoken: SpokenLine[] = [];
      const questionIndex = new Map<string, number>();
      const session = new LiveSession(model, (e) => {
        if (e.type === 'say') spoken.push({ frame: Math.round(e.t * vision.fps), text: e.text, trigger: e.trigger, ...(e.questionId ? { questionIndex: questionIndex.get(e.questionId)! } : {}) });
      }, { threshold: opts.threshold });
      ref.turns.filter((t) => t.role === 'user').forEach((q, idx) => {
        // Asked while the question's frame is on screen: answered after that frame.
        questionIndex.set(session.ask((q.frame + 0.4) / vision.fps, q.text).id, idx);
      });
      let count = 0;
      const start = performance.now();
      for await (const frame of fileSource(video, vision, { fast: true }).frames()) {
        await session.pushFrame(frame);
        count++;
      }
      await session.finish(count / vision.fps);
      engineMs += performance.now() - start;
      frames += count;
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
      ...aggregate(scores),
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
