import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { UserError } from '../util/errors.js';
import type { RefMatch } from './metrics.js';

const SCRIPTS = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts');
export const EVAL_SEED_START = 100_000;

/** Training never used seeds from EVAL_SEED_START on; lower ones would score memorised matches. */
export function checkEvalSeed(seed: number): void {
  if (seed < EVAL_SEED_START) throw new UserError(`evaluation seeds start at ${EVAL_SEED_START} (lower seeds are for training)`);
}

/** Python with numpy and Pillow for the arena world generator (Debian's python3). */
function python(): string {
  return process.env.COCASTER_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
}

/** Renders matches seed..seed+n-1 of the arena world (scripts/arena) to `out`. */
export async function generateMatches(seed: number, n: number, out: string, fps: number, res: number): Promise<void> {
  checkEvalSeed(seed);
  const args = ['-m', 'arena.dataset', '--eval', '--video-only', '--seeds', `${seed}:${seed + n}`, '--out', out, '--fps', String(fps), '--res', String(res), '--jobs', '2'];
  const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((res, rej) => {
    const child = spawn(python(), args, { cwd: SCRIPTS, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('error', (e) => rej(new UserError(`cannot run ${python()} for the arena world: ${e.message}`)));
    child.on('close', (c) => res({ code: c, stderr: err }));
  });
  if (code !== 0) {
    const last = stderr.trim().split('\n').at(-1) ?? '';
    const hint = /No module named/.test(last) ? ' (apt-get install python3-numpy python3-pil)' : '';
    throw new UserError(`arena world generator failed: ${last}${hint}`);
  }
}

/** dialogue.json as scripts/arena/dataset.py writes it: checked, since a generator
 * change must fail here with a clear line rather than as NaN scores. */
const RefMatchSchema: z.ZodType<RefMatch> = z.object({
  seed: z.number(),
  duration: z.number(),
  teams: z.array(z.object({ name: z.string() })),
  events: z.array(z.object({ t: z.number(), type: z.string(), team: z.number().optional() })),
  turns: z.array(z.object({
    frame: z.number(), role: z.enum(['user', 'assistant']), text: z.string(), trigger: z.enum(['self', 'question']), kind: z.string(), fact: z.string().nullable(),
  })),
});

export function readMatch(out: string, seed: number): { video: string; ref: RefMatch } {
  const dir = join(out, String(seed));
  const path = join(dir, 'dialogue.json');
  const parsed = RefMatchSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`);
  return { video: join(dir, 'match.mp4'), ref: parsed.data };
}
