import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runCli } from './helpers.js';

// `cocaster eval` renders arena matches with Debian's python3 (numpy, Pillow):
// .ci/run installs them; elsewhere the test needs them too.
const hasPython = existsSync(process.env.COCASTER_PYTHON ?? '/usr/bin/python3');

describe('cocaster eval', () => {
  it('refuses training seeds with a one-line error', async () => {
    const res = await runCli(['eval', '--episodes', '1', '--seed', '5', '--ep', 'cpu']);
    expect(res.code).toBe(2);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect(res.stderr).toMatch(/evaluation seeds start at 100000/);
  });

  it.skipIf(!hasPython)('renders a held-out match, runs the default model on it and scores it', async () => {
    const res = await runCli(['eval', '--episodes', '1', '--seed', '424242', '--ep', 'cpu', '--json'], { COCASTER_LOG: 'debug' });
    expect(res.stderr).not.toMatch(/error/i);
    expect(res.code).toBe(0);
    const r = JSON.parse(res.stdout) as Record<string, unknown> & { counts: Record<string, number>; byKind: Record<string, { asked: number }> };
    for (const k of ['goalRecall', 'falseAlarmsPerMin', 'questionAccuracy', 'timeDiffSec', 'fluency', 'fps']) expect(typeof r[k], k).toBe('number');
    expect(r.counts.minutes).toBeCloseTo(3, 1);
    expect(r.counts.goals).toBeGreaterThan(0);
    // The default model reads the scoreboard's names: most goal lines name the scorer.
    expect(r.goalRecall as number).toBeGreaterThanOrEqual(0.5);
    expect(r.falseAlarmsPerMin as number).toBeLessThanOrEqual(6);
    // Every question is judged once in the debug log, with the answer and the fact.
    const judged = res.stderr.split('\n').filter((l) => /seed 424242 frame \d+ \[\w+\] (right|WRONG) Q: /.test(l));
    expect(judged).toHaveLength(r.counts.questions!);
    expect(Object.values(r.byKind).reduce((n, k) => n + k.asked, 0)).toBe(r.counts.questions);
  });
});
