import { describe, expect, it } from 'vitest';
import { aggregate, answerIsRight, judgeGoals, scoreMatch, type RefMatch, type SpokenLine } from '../src/eval/metrics.js';

// A hand-made 60 s match at 2 fps (120 frames): kickoff at frame 3, Falcons goal at
// frame 40, a save at frame 80; questions at frames 60 (score) and 100 (weather).
const ref: RefMatch = {
  seed: 1,
  duration: 60,
  teams: [{ name: 'Falcons' }, { name: 'Rovers' }],
  events: [
    { t: 1.5, type: 'kickoff', team: 0 },
    { t: 19.8, type: 'goal', team: 0 },
    { t: 39.8, type: 'save', team: 1 },
  ],
  turns: [
    { frame: 3, role: 'assistant', text: 'Kick-off!', trigger: 'self', kind: 'kickoff', fact: 'Falcons' },
    { frame: 40, role: 'assistant', text: 'Goal for Falcons! 1-0.', trigger: 'self', kind: 'goal', fact: '1-0' },
    { frame: 60, role: 'user', text: "What's the score?", trigger: 'question', kind: 'score', fact: '1-0' },
    { frame: 60, role: 'assistant', text: 'Falcons 1-0 Rovers.', trigger: 'question', kind: 'score', fact: '1-0' },
    { frame: 80, role: 'assistant', text: 'Great save by Rovers.', trigger: 'self', kind: 'save', fact: 'Rovers' },
    { frame: 100, role: 'user', text: 'Is it raining?', trigger: 'question', kind: 'unknowable', fact: null },
    { frame: 100, role: 'assistant', text: "I can't tell from the video.", trigger: 'question', kind: 'unknowable', fact: null },
  ],
};

const say = (frame: number, text: string): SpokenLine => ({ frame, text, trigger: 'self' });
const answer = (questionIndex: number, frame: number, text: string): SpokenLine => ({ frame, text, trigger: 'question', questionIndex });

describe('eval scoring rules', () => {
  it('a perfect run scores perfectly', () => {
    const s = scoreMatch(ref, [say(3, 'Kick-off!'), say(40, 'Goal for Falcons!'), answer(0, 60, 'Falcons 1-0 Rovers'), say(80, 'Save!'), answer(1, 100, "I can't tell.")], 2, 120);
    const a = aggregate([s]);
    expect(a).toMatchObject({ goalRecall: 1, falseAlarmsPerMin: 0, questionAccuracy: 1, scoreQuestionAccuracy: 1, timeDiffSec: 0, fluency: 1 });
  });

  it('a goal comment must name the scoring team and come within 2 s', () => {
    expect(scoreMatch(ref, [say(40, 'Goal for Rovers!')], 2, 120).goalsCommented).toBe(0);
    expect(scoreMatch(ref, [say(44, 'Falcons score!')], 2, 120).goalsCommented).toBe(1); // 2.0 s late
    expect(scoreMatch(ref, [say(45, 'Falcons score!')], 2, 120).goalsCommented).toBe(0); // 2.5 s late
  });

  it('judgeGoals names the scorer and keeps the lines said near a missed goal', () => {
    const [goal] = judgeGoals(ref, [say(20, 'Nice pass.'), say(41, 'Goal for Rovers!'), answer(0, 42, 'Falcons 1-0 Rovers')], 2);
    expect(goal).toMatchObject({ frame: 40, team: 'Falcons', commented: false });
    expect(goal!.linesNear.map((l) => l.text)).toEqual(['Goal for Rovers!']); // answers and far lines are not goal comments
    expect(judgeGoals(ref, [say(39, 'Falcons!')], 2)[0]!.commented).toBe(true);
  });

  it('lines near no event are false alarms, counted per minute', () => {
    const s = scoreMatch(ref, [say(20, 'Nice pass.'), say(41, 'Goal!'), say(110, 'Wow.')], 2, 120);
    expect(s.falseAlarms).toBe(2);
    expect(aggregate([s]).falseAlarmsPerMin).toBe(2); // 2 in one minute
  });

  it('TimeDiff is the frame difference over fps, for lines within the window', () => {
    const s = scoreMatch(ref, [say(4, 'Here we go'), say(43, 'Falcons goal')], 2, 120);
    expect(s.timeDiffs).toEqual([0.5, 1.5]);
  });

  it('answers must contain the fact; unknowable ones must admit it', () => {
    expect(answerIsRight('It is Falcons 1-0 Rovers', '1-0')).toBe(true);
    expect(answerIsRight('It is 0-1', '1-0')).toBe(false);
    expect(answerIsRight("Sorry, I can't see that from here.", null)).toBe(true);
    expect(answerIsRight('It is sunny.', null)).toBe(false);
    const s = scoreMatch(ref, [answer(0, 60, 'Rovers lead 0-1'), answer(1, 100, 'No idea, the video does not say.')], 2, 120);
    expect(s.questionsRight).toBe(1);
    expect(s.scoreQuestionsRight).toBe(0);
    expect(s.byKind).toEqual({ score: { asked: 1, right: 0 }, unknowable: { asked: 1, right: 1 } });
  });

  it('a missing answer is wrong, and silence costs fluency only at commentary frames', () => {
    const s = scoreMatch(ref, [], 2, 120);
    expect(s.questionsRight).toBe(0);
    expect(s.judgedFrames).toBe(118); // question frames are not judged
    expect(s.fluentFrames).toBe(115); // wrong only at the 3 commentary frames
  });
});
