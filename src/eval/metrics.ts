/**
 * Scoring rules of `cocaster eval`: what counts as a goal commented, a false
 * alarm, a right answer. Times are compared as frame indices at the model's fps
 * (VideoLLM-online's TimeDiff is a frame difference divided by fps).
 */

export interface RefTurn {
  frame: number;
  role: 'user' | 'assistant';
  text: string;
  trigger: 'self' | 'question';
  kind: string;
  fact: string | null;
}

export interface RefMatch {
  seed: number;
  duration: number;
  teams: Array<{ name: string }>;
  events: Array<{ t: number; type: string; team?: number }>;
  turns: RefTurn[];
}

/** What the model said: self commentary, or the answer to question `questionIndex`. */
export interface SpokenLine {
  frame: number;
  text: string;
  trigger: 'self' | 'question';
  /** Index into the match's user turns, for answers. */
  questionIndex?: number;
}

/** Windows in frames at 2 fps: a goal counts if commented within 2 s. */
export const MATCH_WINDOW_SEC = 2;

/** Phrases of an honest "the video can't tell me" answer. */
export const UNKNOWABLE_MARKERS = ["can't", 'cannot', 'no idea', 'not something i can see', "doesn't show", 'hard to say', "don't know"];

const contains = (text: string, fact: string) => text.toLowerCase().includes(fact.toLowerCase());

export function answerIsRight(answer: string, fact: string | null): boolean {
  if (fact === null) return UNKNOWABLE_MARKERS.some((m) => contains(answer, m));
  return contains(answer, fact);
}

/** One viewer question of a match, what the model answered, the fact it needed, and the verdict. */
export interface JudgedQuestion {
  question: RefTurn;
  answer: string | undefined;
  fact: string | null;
  right: boolean;
}

export function judgeAnswers(ref: RefMatch, spoken: SpokenLine[]): JudgedQuestion[] {
  return ref.turns.filter((t) => t.role === 'user').map((q, i) => {
    const answerTurn = ref.turns.find((t) => t.role === 'assistant' && t.trigger === 'question' && t.frame === q.frame && t.kind === q.kind);
    const fact = answerTurn?.fact ?? q.fact;
    const answer = spoken.find((s) => s.trigger === 'question' && s.questionIndex === i)?.text;
    return { question: q, answer, fact, right: answer !== undefined && answerIsRight(answer, fact) };
  });
}

/** One goal of a match: the scoring team, the model's self lines within the
 * window, and whether one of them names the scorer. */
export interface JudgedGoal {
  frame: number;
  team: string;
  linesNear: SpokenLine[];
  commented: boolean;
}

/** Goals: a self line within the window naming the scoring team. */
export function judgeGoals(ref: RefMatch, spoken: SpokenLine[], fps: number): JudgedGoal[] {
  const window = Math.round(MATCH_WINDOW_SEC * fps);
  const goalLines = ref.turns.filter((t) => t.role === 'assistant' && t.trigger === 'self' && t.kind === 'goal');
  const goalTeams = ref.events.filter((e) => e.type === 'goal').map((e) => ref.teams[e.team ?? -1]?.name ?? '');
  return goalLines.map((g, i) => {
    const team = goalTeams[i] ?? '';
    const linesNear = spoken.filter((s) => s.trigger === 'self' && Math.abs(s.frame - g.frame) <= window);
    return { frame: g.frame, team, linesNear, commented: team !== '' && linesNear.some((s) => contains(s.text, team)) };
  });
}

export interface MatchScore {
  minutes: number;
  goals: number;
  goalsCommented: number;
  selfLines: number;
  falseAlarms: number;
  questions: number;
  questionsRight: number;
  scoreQuestions: number;
  scoreQuestionsRight: number;
  timeDiffs: number[];
  /** Frames where speak/silent matched the reference, and frames judged. */
  fluentFrames: number;
  judgedFrames: number;
  byKind: Record<string, { asked: number; right: number }>;
}

export function scoreMatch(ref: RefMatch, spoken: SpokenLine[], fps: number, totalFrames: number): MatchScore {
  const window = Math.round(MATCH_WINDOW_SEC * fps);
  const refSelf = ref.turns.filter((t) => t.role === 'assistant' && t.trigger === 'self');
  const self = spoken.filter((s) => s.trigger === 'self');
  const near = (a: number, b: number) => Math.abs(a - b) <= window;

  const goals = judgeGoals(ref, spoken, fps);
  const goalsCommented = goals.filter((g) => g.commented).length;

  // False alarms: self lines near no reference commentary.
  const falseAlarms = self.filter((s) => !refSelf.some((t) => near(s.frame, t.frame))).length;

  // TimeDiff: each reference line against the nearest model line within the window.
  const timeDiffs = refSelf.flatMap((t) => {
    const d = Math.min(...self.map((s) => Math.abs(s.frame - t.frame)));
    return d <= window ? [d / fps] : [];
  });

  // Questions: the answer contains the fact.
  const judged = judgeAnswers(ref, spoken);
  const byKind: MatchScore['byKind'] = {};
  let questionsRight = 0;
  let scoreQuestions = 0;
  let scoreQuestionsRight = 0;
  judged.forEach(({ question: q, right }) => {
    const k = (byKind[q.kind] ??= { asked: 0, right: 0 });
    k.asked++;
    if (right) k.right++;
    if (right) questionsRight++;
    if (q.kind === 'score') {
      scoreQuestions++;
      if (right) scoreQuestionsRight++;
    }
  });

  // Fluency: per frame, did the model speak exactly where the reference does?
  const questionFrames = new Set(judged.map(({ question: q }) => q.frame));
  const refSpeak = new Set(refSelf.map((t) => t.frame));
  const modelSpeak = new Set(self.map((s) => s.frame));
  let fluentFrames = 0;
  let judgedFrames = 0;
  for (let f = 0; f < totalFrames; f++) {
    if (questionFrames.has(f)) continue;
    judgedFrames++;
    if (refSpeak.has(f) === modelSpeak.has(f)) fluentFrames++;
  }

  return {
    minutes: totalFrames / fps / 60,
    goals: goals.length,
    goalsCommented,
    selfLines: self.length,
    falseAlarms,
    questions: judged.length,
    questionsRight,
    scoreQuestions,
    scoreQuestionsRight,
    timeDiffs,
    fluentFrames,
    judgedFrames,
    byKind,
  };
}

const ratio = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 1000) / 1000);
const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

export function aggregate(scores: MatchScore[]) {
  const total = <K extends keyof MatchScore>(k: K) => sum(scores.map((s) => s[k] as number));
  const diffs = scores.flatMap((s) => s.timeDiffs);
  const byKind: Record<string, { asked: number; accuracy: number | null }> = {};
  for (const s of scores) {
    for (const [k, v] of Object.entries(s.byKind)) {
      const acc = (byKind[k] ??= { asked: 0, accuracy: 0 });
      acc.asked += v.asked;
      acc.accuracy = (acc.accuracy ?? 0) + v.right;
    }
  }
  for (const v of Object.values(byKind)) v.accuracy = ratio(v.accuracy ?? 0, v.asked);
  return {
    goalRecall: ratio(total('goalsCommented'), total('goals')),
    falseAlarmsPerMin: ratio(total('falseAlarms'), total('minutes')),
    questionAccuracy: ratio(total('questionsRight'), total('questions')),
    scoreQuestionAccuracy: ratio(total('scoreQuestionsRight'), total('scoreQuestions')),
    timeDiffSec: diffs.length ? Math.round((sum(diffs) / diffs.length) * 1000) / 1000 : null,
    fluency: ratio(total('fluentFrames'), total('judgedFrames')),
    linesPerMin: ratio(total('selfLines'), total('minutes')),
    counts: {
      goals: total('goals'),
      goalsCommented: total('goalsCommented'),
      selfLines: total('selfLines'),
      falseAlarms: total('falseAlarms'),
      questions: total('questions'),
      matchedForTimeDiff: diffs.length,
      minutes: Math.round(total('minutes') * 100) / 100,
    },
    byKind,
  };
}
