import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { LiveSession, type EngineEvent, type SessionModel } from '../engine/index.js';
import { syntheticFrame } from '../engine/syntheticFrame.js';
import { UserError } from '../util/errors.js';

/** reference.json: what an independent implementation (the exporter's torch model,
 * or scripts/make_fixture.py for test fixtures) did on a fixed stream of test
 * frames and questions. The same schema as the fixtures' golden.json. */
const RunSchema = z.object({
  maxNewTokens: z.number().int().positive(),
  /** A KV budget below maxContext, so the run goes through the cache policy's compactions. */
  context: z.number().int().positive().optional(),
  trace: z.array(z.union([
    z.object({ type: z.literal('frame'), t: z.number(), pInterval: z.number(), decision: z.string() }),
    z.object({ type: z.literal('say'), t: z.number(), trigger: z.string(), ids: z.array(z.number().int()) }),
    z.object({ type: z.string() }),
  ])),
});

const ReferenceSchema = z.object({
  frames: z.object({ count: z.number().int().positive(), fps: z.number().positive(), width: z.number().int().positive(), height: z.number().int().positive() }),
  threshold: z.number(),
  questions: z.array(z.object({ t: z.number(), text: z.string() })),
  runs: z.array(RunSchema).min(1),
  compactionRuns: z.array(RunSchema).default([]),
  /** What the package promises against its float32 reference. Default (fp32): every
   * decision and spoken id equal, |ΔP| ≤ 1e-4. fp16/int4: a share of equal decisions. */
  tolerance: z.object({
    pInterval: z.number().positive().nullable().optional(),
    decisionAgreement: z.number().min(0).max(1).optional(),
    idsExact: z.boolean().optional(),
  }).optional(),
});
export type Reference = z.infer<typeof ReferenceSchema>;

export function readReference(dir: string, file = 'reference.json'): Reference {
  const path = join(dir, file);
  if (!existsSync(path)) throw new UserError(`model package ${dir}: no ${file} to verify against (packages made by the exporter carry one)`);
  const parsed = ReferenceSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new UserError(`${path}: field '${parsed.error.issues[0]!.path.join('.')}' ${parsed.error.issues[0]!.message}`);
  return parsed.data;
}

export interface RunAgreement {
  maxNewTokens: number;
  context: number | undefined;
  frames: number;
  /** Frames whose decision (silent, speak, answer) equals the reference's. */
  decisionAgreement: number;
  maxDeltaP: number;
  /** Spoken lines with the same time, trigger and token ids, of the reference's. */
  saysEqual: number;
  says: number;
  pass: boolean;
}

/** Replays every run of the reference through the engine, as test/golden.test.ts does. */
export async function verifyAgainst(model: SessionModel, ref: Reference): Promise<RunAgreement[]> {
  const results: RunAgreement[] = [];
  for (const run of [...ref.runs, ...ref.compactionRuns]) {
    const events: EngineEvent[] = [];
    const session = new LiveSession(model, (e) => events.push(e), { threshold: ref.threshold, maxNewTokens: run.maxNewTokens, context: run.context });
    for (const q of ref.questions) session.ask(q.t, q.text);
    const { count, fps, width, height } = ref.frames;
    for (let k = 0; k < count; k++) await session.pushFrame({ t: k / fps, rgb: syntheticFrame(k, width, height) });
    results.push(compare(run, events, ref.tolerance));
  }
  return results;
}

function compare(run: Reference['runs'][number], events: EngineEvent[], tolerance: Reference['tolerance']): RunAgreement {
  const frames = events.flatMap((e) => (e.type === 'frame' ? [e] : []));
  const expected = run.trace.flatMap((e) => ('decision' in e ? [e] : []));
  const n = Math.max(frames.length, expected.length);
  const same = expected.filter((e, i) => frames[i]?.t === e.t && frames[i]?.decision === e.decision).length;
  const maxDeltaP = Math.max(0, ...expected.map((e, i) => Math.abs((frames[i]?.pInterval ?? Infinity) - e.pInterval)));
  const says = events.flatMap((e) => (e.type === 'say' ? [JSON.stringify([e.t, e.trigger, e.tokenIds])] : []));
  const expectedSays = run.trace.flatMap((e) => ('ids' in e ? [JSON.stringify([e.t, e.trigger, e.ids])] : []));
  const saysEqual = expectedSays.filter((s, i) => says[i] === s).length;
  const decisionAgreement = n === 0 ? 1 : same / n;
  const idsOk = tolerance?.idsExact === false || (saysEqual === expectedSays.length && says.length === expectedSays.length);
  const pOk = tolerance?.pInterval === null || maxDeltaP <= (tolerance?.pInterval ?? 1e-4);
  const pass = decisionAgreement >= (tolerance?.decisionAgreement ?? 1) && idsOk && pOk;
  return { maxNewTokens: run.maxNewTokens, context: run.context, frames: n, decisionAgreement, maxDeltaP, saysEqual, says: expectedSays.length, pass };
}
