"""Streaming dialogue for an arena match, generated from its event log.

Two kinds of assistant turns:
  * trigger "self": proactive commentary, ONLY at these events and always at
    them (a deterministic policy is easier for a tiny model to learn than
    "sometimes"): kickoff (match start, second half, restarts after goals),
    goal, save, miss (shot wide), replay, halftime, fulltime. Nothing is said
    in between: silence is the default.
  * trigger "question": the answer to a viewer question, at the same time t
    as the question, computed from `match.state_at(t)`. `fact` is the exact
    substring a correct answer must contain.

Timing: every turn sits on a decoded frame. `frame` is the index of the
2 fps decoded frame and `t` = `decoded_frame_time(frame)` = frame/2 + 0.2 s,
the video time that frame really shows (see world.decoded_frame_time), so
floor(t*fps) and round(t*fps) both give `frame` back. A "self" turn is on the
first decoded frame that shows its event (0 <= t - event time < 0.5 s).

Scores are always written home-away ("Falcons 2-1 Rovers", fact "2-1").
All text is ASCII and at most 80 characters.
"""
import math

from .world import PALETTE, SOURCE_FPS, decoded_frame_time, first_frame_showing

MAX_LEN = 80
QUIET_GAP = 1.5         # seconds questions keep away from commentary

# ---------------------------------------------------------------- commentary
KICKOFF_1 = [
    "And we're underway! {team} kick off.",
    "Kick-off! {team} get us started against {other}.",
    "Here we go, {team} kick off. {home} versus {away}.",
    "The match is on! {team} with the first touch.",
    "Kick-off, {team} in {colour} get it going.",
    "We're off! {team} start with the ball.",
    "{team} kick off against {other}.",
    "Play is underway, {team} get things started.",
    "{home} against {away}, and {team} kick off.",
]
KICKOFF_2 = [
    "Second half underway, {team} kick off.",
    "We're back! {team} start the second half.",
    "{team} get the second half going.",
    "Here we go again, {team} kick off the second half.",
    "The second half is on. {team} with the ball.",
    "Back under way, {team} restart at {score}.",
    "Second half! {team} kick off at {score}.",
    "{team} restart for the second half.",
]
RESTART = [
    "{team} restart.",
    "{team} kick off again.",
    "Play resumes, {team} kick off.",
    "We go again, {team} on the ball.",
    "{team} get it going again.",
    "Back to the centre, {team} restart.",
    "{team} kick off to restart play.",
    "And {team} restart, {score}.",
]
GOAL = [
    "Goal for {team}! It's {home} {score} {away}.",
    "{team} score! {home} {score} {away} now.",
    "GOAL! {team} find the net. {score}.",
    "It's in! {team} make it {score}.",
    "{team} strike! The score is now {score}.",
    "What a finish from {team}! {score}.",
    "Back of the net for {team}. {home} {score} {away}.",
    "{team} have scored! It's {score} now.",
    "And {team} score in the {nth} minute! {score}.",
    "{team} hit the back of the net. {score}!",
]
GOAL_TAIL_LEVEL = ["All square.", "Level again.", "We're level.", "Honours even for now."]
GOAL_TAIL_LEAD = ["{team} lead.", "{team} in front.", "{team} ahead now.", "Advantage {team}."]
GOAL_TAIL_BEHIND = ["{team} pull one back.", "{team} reduce the gap.", "Game on!", "{other} still lead."]
SAVE = [
    "What a save by {poss} keeper!",
    "Saved! The {team} keeper holds on.",
    "Great stop from the {team} keeper.",
    "{other} shoot, but {poss} keeper saves it.",
    "Denied! The {team} keeper gets there.",
    "Big save for {team}.",
    "{poss} keeper keeps it out.",
    "Shot from {other}, saved by {team}.",
    "No way through, the {team} keeper stops it.",
    "The {team} keeper gathers the shot from {other}.",
]
MISS = [
    "{team} shoot wide.",
    "Off target from {team}.",
    "Wide! {team} miss.",
    "{team} fire it past the post.",
    "Just wide from {team}.",
    "{team} try their luck, but it's wide.",
    "Not on target, {team} waste it.",
    "{team} pull the shot wide.",
]
REPLAY = [
    "Let's see that again.",
    "Here's the replay.",
    "Another look at the {team} goal.",
    "Replay of that {team} goal.",
    "Watch it again.",
    "One more look at that goal.",
    "The replay shows the {team} finish.",
    "Look at this replay.",
]
HALFTIME = [
    "That's half time. {home} {score} {away}.",
    "Half time here, {score}.",
    "The referee blows for half time. {score}.",
    "Half time! {home} {score} {away}.",
    "At the break it's {home} {score} {away}.",
    "Into the break at {score}.",
    "Half time, and it's {score}.",
    "That's the first half done. {home} {score} {away}.",
]
FULLTIME = [
    "Full time! {home} {score} {away}.",
    "That's it, it finishes {score}.",
    "The final whistle. {home} {score} {away}.",
    "It's all over! {score}.",
    "Full time here, {home} {score} {away}.",
    "Final score: {home} {score} {away}.",
    "And that's the end. {score}.",
    "The match ends {home} {score} {away}.",
]
END_TAIL_WIN = ["{winner} win it!", "Victory for {winner}.", "{winner} take it.", "A win for {winner}."]
END_TAIL_DRAW = ["Honours even.", "A draw.", "Nothing to split them.", "They share the points."]
HT_TAIL_WIN = ["{winner} lead at the break.", "{winner} in front.", "Advantage {winner}."]
HT_TAIL_DRAW = ["All square at the break.", "Level at half time.", "Nothing in it."]

# Lower number wins when two commentary lines would land within 1 s.
PRIORITY = {"goal": 0, "fulltime": 1, "halftime": 2, "kickoff": 3, "save": 4, "miss": 5, "replay": 6}

# ------------------------------------------------------------------ questions
Q_SCORE = ["What's the score?", "What is the score?", "Score please?", "Who's winning?",
           "How's the score?", "What's the scoreline?", "Can you tell me the score?",
           "What's it at now?", "score?"]
A_SCORE = ["{home} {score} {away}.", "It's {home} {score} {away}.", "Currently {home} {score} {away}.",
           "{home} {score} {away} at the moment.", "The score is {home} {score} {away}.",
           "Right now it's {home} {score} {away}."]
Q_POSS = ["Who has the ball?", "Who's got the ball?", "Which team has possession?",
          "Who is on the ball?", "Who has possession?", "Which side has the ball now?",
          "Who's in possession?"]
A_POSS = ["{team} have the ball.", "{team} are in possession.", "It's with {team}.",
          "{team}, in {colour}.", "{team} have it.", "The ball is with {team}."]
A_POSS_NONE = ["Play is stopped, nobody has it.", "At the moment nobody has the ball.",
               "Right now nobody, play is stopped.", "For now nobody, the game is paused."]
Q_TIME = ["How long is left?", "How much time is left?", "How many minutes to go?", "Time left?",
          "How long to go?", "How much longer?", "Is it nearly over?"]
A_TIME = ["It's {minute}', so {left} to go.", "{left} left.", "About {left} remain.",
          "The clock says {minute}', {left} to go.", "There are {left} left to play.",
          "{left} to go."]
A_TIME_HT = ["It's half time, {left} still to play.", "Half time, {left} to go after the break.",
             "{left} left, the whole second half."]
A_TIME_FT = ["None, it's full time.", "It's full time, the match is over.",
             "No time left, that was full time."]
Q_LAST = ["What just happened?", "What happened?", "What was that?", "Did I miss anything?",
          "What was the last big moment?", "Anything happen just now?", "What did I miss?"]
A_LAST = {
    "goal": ["A goal! {team} scored, it's {score}.", "{team} scored a goal, {score}.",
             "A goal by {team}, now {score}."],
    "save": ["A save by the {team} keeper.", "The {team} keeper made a save.",
             "{other} shot, and {team} made the save."],
    "shot": ["{team} just had a shot.", "A shot from {team}.", "{team} are taking a shot."],
    "miss": ["A shot from {team} went wide.", "{team} missed, it went wide.", "{team} shot wide."],
    "kickoff": ["The kick-off, {team} got play going.", "{team} took the kick-off.",
                "A kick-off by {team}."],
    "halftime": ["It's half time, {score}.", "We've reached half time at {score}.",
                 "The half time whistle went, {score}."],
    "fulltime": ["That's full time, {score}.", "The match ended, full time at {score}.",
                 "It's full time, {score}."],
}
LAST_FACT = {"goal": "goal", "save": "save", "shot": "shot", "miss": "wide",
             "kickoff": "kick-off", "halftime": "half time", "fulltime": "full time"}
QUIET_PREFIX = ["Nothing big lately.", "Quiet for a while.", "Not much just now."]
Q_COLOUR_TEAM = ["What colour are {team}?", "What colour do {team} wear?", "Which colour is {team}?",
                 "What are {team} wearing?", "{team} play in what colour?", "Which kit is {team}?"]
A_COLOUR_TEAM = ["{team} are in {colour}.", "{team} wear {colour}.", "They're in {colour}.",
                 "It's {colour}, that's {team}.", "{team} play in {colour}."]
Q_COLOUR_COL = ["Which team is in {colour}?", "Who is wearing {colour}?", "Who's in {colour}?",
                "Which side plays in {colour}?", "Who are the {colour} team?",
                "The {colour} team, who is that?"]
A_COLOUR_COL = ["That's {team}.", "{team} are in {colour}.", "The {colour} team is {team}.",
                "{team}.", "That would be {team}."]
A_COLOUR_NONE = ["Neither team wears {colour}.", "Actually neither side is in {colour}.",
                 "Neither, it's {home} in {c0} and {away} in {c1}."]
Q_UNKNOWABLE = ["What's the weather like there?", "How old is the keeper?", "How much are tickets?",
                "Who will win?", "How many fans are there?", "What's the coach's name?",
                "Which player is the captain?", "Is it raining?", "What stadium is this?",
                "How much does the striker earn?", "Who is the referee?",
                "What will the final score be?", "When was this team founded?"]
A_UNKNOWABLE = ["I can't tell from the video.", "That's not something I can see from here.",
                "No idea, the video doesn't show that.", "I can't know that from what's on screen.",
                "Can't tell, sorry, it's not on screen.", "The stream doesn't show that.",
                "Hard to say, I only see the pitch and the scoreboard."]

KIND_WEIGHTS = {"score": 0.22, "possession": 0.18, "time_left": 0.15, "last_event": 0.15,
                "colours": 0.15, "unknowable": 0.15}


def possessive(name):
    return name + "'" if name.endswith("s") else name + "'s"


def ordinal(n):
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def minutes(n):
    return "1 minute" if n == 1 else f"{n} minutes"


def _fill(rng, templates, tails=(), **kw):
    """Random template (plus an optional tail) that fits MAX_LEN."""
    order = list(templates)
    rng.shuffle(order)
    for tpl in order:
        text = tpl.format(**kw)
        if tails and rng.random() < 0.5:
            longer = text + " " + rng.choice(list(tails)).format(**kw)
            if len(longer) <= MAX_LEN:
                text = longer
        if len(text) <= MAX_LEN:
            return text[0].upper() + text[1:]
    raise ValueError(f"no template fits {MAX_LEN} chars: {kw}")


def _names(match, team=None, score=None):
    h, a = match.teams
    kw = {"home": h["name"], "away": a["name"]}
    if team is not None:
        kw.update(team=match.teams[team]["name"], other=match.teams[1 - team]["name"],
                  colour=match.teams[team]["colour"], poss=possessive(match.teams[team]["name"]))
    if score is not None:
        kw["score"] = f"{score[0]}-{score[1]}"
    return kw


def commentary(match, rng, fps=2, src_fps=SOURCE_FPS):
    """Proactive assistant turns, one per salient event."""
    out = []
    for e in match.events:
        typ = e["type"]
        if typ not in PRIORITY:
            continue
        frame = first_frame_showing(e["t"], fps, src_fps)
        t = decoded_frame_time(frame, fps, src_fps)
        if t >= match.duration:
            continue
        score = match.state_at(t).score
        team = e.get("team")
        kw = _names(match, team, score)
        fact = None
        if typ == "kickoff":
            if e["t"] <= match.times["kickoff_1"] + 1e-6:
                pool = KICKOFF_1
            elif abs(e["t"] - match.times["kickoff_2"]) < 1e-6:
                pool = KICKOFF_2
            else:
                pool = RESTART
            text, fact = _fill(rng, pool, **kw), kw["team"]
        elif typ == "goal":
            s = e["score"]
            kw["score"] = f"{s[0]}-{s[1]}"
            kw["nth"] = ordinal(e["minute"] + 1)
            mine, theirs = s[team], s[1 - team]
            tails = GOAL_TAIL_LEVEL if mine == theirs else GOAL_TAIL_LEAD if mine > theirs else GOAL_TAIL_BEHIND
            text, fact = _fill(rng, GOAL, tails, **kw), kw["score"]
        elif typ == "save":
            kw["other"] = match.teams[e["shooter_team"]]["name"]
            text, fact = _fill(rng, SAVE, **kw), kw["team"]
        elif typ == "miss":
            text, fact = _fill(rng, MISS, **kw), kw["team"]
        elif typ == "replay":
            goal = [g for g in match.events if g["type"] == "goal" and abs(g["t"] - e["of_goal"]) < 0.05]
            kw.update(_names(match, goal[0]["team"] if goal else 0, score))
            text = _fill(rng, REPLAY, **kw)
        else:
            s = e["score"]
            kw["score"] = f"{s[0]}-{s[1]}"
            if s[0] != s[1]:
                kw["winner"] = match.teams[0 if s[0] > s[1] else 1]["name"]
            ht = typ == "halftime"
            tails = ((HT_TAIL_WIN if ht else END_TAIL_WIN) if s[0] != s[1]
                     else (HT_TAIL_DRAW if ht else END_TAIL_DRAW))
            text, fact = _fill(rng, HALFTIME if ht else FULLTIME, tails, **kw), kw["score"]
        out.append({"t": t, "frame": frame, "role": "assistant", "text": text,
                    "trigger": "self", "kind": typ, "fact": fact, "event_t": e["t"]})
    # Two lines within 1 s can't both be spoken: keep the more important one.
    kept = []
    for turn in out:
        if kept and turn["t"] - kept[-1]["t"] < 1.0:
            if PRIORITY[turn["kind"]] < PRIORITY[kept[-1]["kind"]]:
                kept[-1] = turn
            continue
        kept.append(turn)
    return kept


def answer(match, rng, kind, t):
    """(question, answer, fact) for `kind` asked at time t."""
    st = match.state_at(t)
    kw = _names(match, score=st.score)
    if kind == "score":
        q = rng.choice(Q_SCORE)
        return q, _fill(rng, A_SCORE, **kw), kw["score"]
    if kind == "possession":
        q = rng.choice(Q_POSS)
        if st.possession is None:
            return q, _fill(rng, A_POSS_NONE), "nobody"
        kw = _names(match, st.possession, st.score)
        return q, _fill(rng, A_POSS, **kw), kw["team"]
    if kind == "time_left":
        q = rng.choice(Q_TIME)
        if st.phase == "full_time":
            return q, _fill(rng, A_TIME_FT), "full time"
        kw.update(minute=st.minute, left=minutes(st.time_left_min))
        pool = A_TIME_HT if st.phase == "half_time" else A_TIME
        return q, _fill(rng, pool, **kw), str(st.time_left_min)
    if kind == "last_event":
        q = rng.choice(Q_LAST)
        e = st.last_notable
        kw = _names(match, e.get("team") if e.get("team") is not None else 0, st.score)
        if e["type"] == "save":
            kw["other"] = match.teams[e["shooter_team"]]["name"]
        if e["type"] == "goal":
            kw["score"] = f"{e['score'][0]}-{e['score'][1]}"
        if e["type"] in ("halftime", "fulltime"):
            kw["score"] = f"{e['score'][0]}-{e['score'][1]}"
        text = _fill(rng, A_LAST[e["type"]], **kw)
        if t - e["t"] > 20 and e["type"] not in ("halftime", "fulltime"):
            longer = rng.choice(QUIET_PREFIX) + " Last: " + text[0].lower() + text[1:]
            if len(longer) <= MAX_LEN:
                text = longer
        return q, text, LAST_FACT[e["type"]]
    if kind == "colours":
        team = rng.randrange(2)
        kw = _names(match, team, st.score)
        r = rng.random()
        if r < 0.45:
            return (_fill(rng, Q_COLOUR_TEAM, **kw), _fill(rng, A_COLOUR_TEAM, **kw), kw["colour"])
        if r < 0.85:
            return (_fill(rng, Q_COLOUR_COL, **kw), _fill(rng, A_COLOUR_COL, **kw), kw["team"])
        used = {tm["colour"] for tm in match.teams}
        kw["colour"] = rng.choice(sorted(set(PALETTE) - used) + ["green"])
        kw.update(c0=match.teams[0]["colour"], c1=match.teams[1]["colour"])
        text = _fill(rng, A_COLOUR_NONE, **kw)
        return _fill(rng, Q_COLOUR_COL, **kw), text, "neither" if "neither" in text else "Neither"
    if kind == "unknowable":
        return rng.choice(Q_UNKNOWABLE), rng.choice(A_UNKNOWABLE), None
    raise ValueError(kind)


def question_frames(match, rng, per_min, busy, fps=2, src_fps=SOURCE_FPS):
    """Poisson arrivals snapped to decoded frames, >= 2 s in, away from commentary."""
    frames, t = [], 2.0
    rate = per_min / 60.0
    gap = int(math.ceil(QUIET_GAP * fps))
    last = int(match.duration * fps) - 1          # last decoded frame
    if rate <= 0:
        return frames
    while True:
        t += rng.expovariate(rate)
        i = first_frame_showing(max(t, 2.0), fps, src_fps)
        moved = True
        while moved:          # push past commentary lines and earlier questions
            moved = False
            for b in busy:
                if abs(i - b) < gap:
                    i, moved = b + gap, True
            if frames and i <= frames[-1]:
                i, moved = frames[-1] + 1, True
        if i > last:
            return frames
        frames.append(i)
        t = max(t, i / fps)


def make_dialogue(match, rng, questions_per_min: float = 1.5, fps=2, src_fps=SOURCE_FPS):
    """All turns of a match, time-ordered (question then its answer)."""
    turns = commentary(match, rng, fps, src_fps)
    busy = [x["frame"] for x in turns]
    kinds, weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    for i in question_frames(match, rng, questions_per_min, busy, fps, src_fps):
        t = decoded_frame_time(i, fps, src_fps)
        kind = rng.choices(kinds, weights)[0]
        q, a, fact = answer(match, rng, kind, t)
        for role, text in (("user", q), ("assistant", a)):
            turns.append({"t": t, "frame": i, "role": role, "text": text,
                          "trigger": "question", "kind": kind, "fact": fact})
    # Stable sort keeps each question before its answer.
    turns.sort(key=lambda x: x["t"])
    return turns


if __name__ == "__main__":
    import random
    import sys
    from .world import simulate_match
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    m = simulate_match(seed)
    for turn in make_dialogue(m, random.Random(seed)):
        print(f"{turn['t']:6.1f} {turn['role'][:4]:4} [{turn['kind']}] {turn['text']}  <{turn['fact']}>")
