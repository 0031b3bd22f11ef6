"""The arena world: a tiny, fully deterministic 2-D team sport.

Two teams of five discs (one keeper + four outfield players) play on a
walled pitch 100 x 80 units; only the two goal mouths are open. Everything
is driven by `random.Random(seed)`, so `simulate_match(seed)` always returns
the same match.

Timeline for the default 180 s video (other durations scale the same way):
  0.0 - 1.5 s   teams lined up, ball on the centre spot ("pre")
  1.5 s         kickoff (home team), first half
  87 s          half-time card for 6 s, play stopped
  93 s          second-half kickoff (away team)
  175 s         full-time card until the end of the video

Clock: game minutes 0'-90' mapped linearly onto the playing time of each half
(first half 0'..44', second half 45'..89'); the scoreboard shows "37'", or
"HT" / "FT" during the cards. `time_left_min` is 90 minus the shown minute
(45 at half time, 0 at full time). The clock keeps running through goal
celebrations and replays, like real football.

After a goal: the GOAL banner is shown for 2 s; in ~60 % of cases a 3 s
REPLAY of the 2.5 s before the goal follows (the old frames are replayed with
a REPLAY banner while the scoreboard already shows the new score); then the
conceding team kicks off.

The pitch is green, so "green" is deliberately not a team colour.
"""
import bisect
import math
import random
from dataclasses import dataclass, field

import numpy as np

DT = 0.1                      # simulation step = 10 Hz video time
SOURCE_FPS = 10               # the rendered mp4 has one frame per step
FIELD_W, FIELD_H = 100.0, 80.0
CY = FIELD_H / 2              # goal mouths are centred on this y
GOAL_HALF = 9.0               # half width of a goal mouth
N_PER_TEAM = 5                # index 0 of each team is the keeper
BALL = 2 * N_PER_TEAM         # row of the ball in Match.pos

PHASES = ("pre", "first_half", "half_time", "second_half", "full_time")
# Events worth answering "what just happened?" with (passes are too small).
NOTABLE = ("kickoff", "shot", "save", "goal", "miss", "halftime", "fulltime")

ALL_TEAM_NAMES = """
Falcons Rovers Comets Hawks Eagles Tigers Lions Wolves Bears Sharks Dragons
Panthers Jaguars Cobras Vipers Stallions Mustangs Bulls Rams Bison Raptors
Ravens Owls Condors Kestrels Herons Pelicans Gulls Swans Cranes Foxes Badgers
Otters Beavers Lynx Pumas Cougars Leopards Cheetahs Rhinos Hippos Gorillas
Buffaloes Moose Elks Stags Hornets Wasps Bees Scorpions Spiders Pirates
Vikings Knights Spartans Titans Giants Warriors Rangers Raiders Royals Kings
Monarchs Barons Dukes Lords Chiefs Nomads Pilots Sailors Mariners Anchors
Rockets Jets Meteors Stars Planets Orbits Novas Quasars Pulsars Astros Cosmos
Lightning Thunder Storm Cyclones Tornadoes Hurricanes Blizzard Avalanche
Glaciers Volcanoes Flames Blaze Embers Sparks Inferno Wildfire Tides Waves
Breakers Surf Rapids Rivers Lakers Canyons Summits Peaks Ridges Cliffs Rocks
Boulders Granite Diamonds Rubies Emeralds Sapphires Jades Crystals Pearls
Arrows Blades Sabres Lancers Archers Hunters Trappers Miners Smiths Builders
Wizards Magic Mystics Phantoms Ghosts Shadows Spirits Saints Angels Legends
Heroes Champions Express Flyers Gliders Racers Chargers Dynamos Pistons
Engines Turbos Gears Bolts Magnets Atoms Lasers Robots Pioneers Voyagers
Explorers Rebels Outlaws Bandits Cowboys Drifters Wanderers Strikers Mammoths
Bobcats Wildcats Coyotes Jackals Hyenas Orcas Dolphins Marlins Barracudas
Stingrays Piranhas Krakens Griffins Phoenix Unicorns Centaurs Golems Trolls
Goblins Ogres Yetis Sphinx Hydras Wyverns
""".split()
# The scoreboard shows a name's first three letters, so a name is only readable
# from the screen when no other name shares them: keep the first of each group.
TEAM_NAMES = [n for i, n in enumerate(ALL_TEAM_NAMES)
              if all(m[:3].upper() != n[:3].upper() for m in ALL_TEAM_NAMES[:i])]

# Named kit colours: far apart from each other and from the green pitch.
PALETTE = {
    "red": (225, 35, 35),
    "blue": (40, 90, 240),
    "yellow": (250, 225, 30),
    "orange": (255, 135, 0),
    "purple": (145, 50, 210),
    "white": (250, 250, 250),
    "black": (15, 15, 15),
    "pink": (255, 125, 205),
    "cyan": (40, 225, 235),
}

# Outfield formation for a team attacking +x (keeper handled separately):
# two defenders, two forwards.
_FORMATION = [(3.0, CY), (22.0, 24.0), (22.0, 56.0), (40.0, 30.0), (40.0, 50.0)]


def decoded_frame_time(i, fps=2, src_fps=SOURCE_FPS):
    """Video time of the source frame that decoded frame i really shows.

    The runtime decodes with ffmpeg's `fps=` filter, which keeps the LAST
    source frame before the midpoint (i + 0.5) / fps, so decoded frame i
    of a 10 fps mp4 shows time i/2 + 0.2, not i/2 (checked empirically for
    fps 1-4). Labels and dialogue use this time so they describe exactly
    what is in the frame.
    """
    k = math.ceil((i + 0.5) * src_fps / fps - 1e-9) - 1
    return round(max(k, 0) / src_fps, 4)


def first_frame_showing(t, fps=2, src_fps=SOURCE_FPS):
    """Index of the first decoded frame whose content time is >= t."""
    i = max(0, int(math.floor(t * fps)) - 1)
    while decoded_frame_time(i, fps, src_fps) < t - 1e-6:
        i += 1
    return i


def team_of(i):
    return i // N_PER_TEAM


def attack_dir(team):
    """Home (0) attacks towards x=100, away (1) towards x=0; no side swap."""
    return 1.0 if team == 0 else -1.0


def goal_x(team):
    """x of the goal line `team` attacks."""
    return FIELD_W if team == 0 else 0.0


@dataclass
class State:
    t: float
    phase: str
    score: tuple                 # (home, away)
    possession: object           # 0, 1 or None
    clock_text: str              # exactly what the scoreboard shows
    minute: int
    time_left_min: int
    last_event: object           # last event dict with time <= t, or None
    last_notable: object         # same, restricted to NOTABLE types
    goal_banner: object          # team index while the GOAL banner shows
    replay: bool
    half_time_card: bool
    full_time_card: bool
    kickoff: bool                # within 1 s after a kickoff


@dataclass
class Match:
    seed: int
    duration: float
    teams: list                  # [{name, abbr, colour, rgb}] home, away
    events: list                 # time-ordered dicts with "t" and "type"
    pos: np.ndarray              # [S, 11, 2] players 0-9 then ball, units
    score: np.ndarray            # [S, 2]
    poss: np.ndarray             # [S] team index or -1
    phase: np.ndarray            # [S] index into PHASES
    replay: np.ndarray           # [S] bool
    minute: np.ndarray           # [S]
    times: dict = field(default_factory=dict)

    @property
    def n_steps(self):
        return len(self.phase)

    def step_index(self, t):
        # Tiny epsilon so t=0.3 maps to step 3 despite float error.
        return min(self.n_steps - 1, max(0, int(math.floor(t / DT + 1e-6))))

    def state_at(self, t) -> State:
        i = self.step_index(t)
        ts = t + 1e-6
        k = bisect.bisect_right(self._event_times, ts)
        last = self.events[k - 1] if k else None
        notable = None
        for e in reversed(self.events[:k]):
            if e["type"] in NOTABLE:
                notable = e
                break
        ph = PHASES[self.phase[i]]
        m = int(self.minute[i])
        clock = {"half_time": "HT", "full_time": "FT"}.get(ph, f"{m}'")
        banner = None
        kick = False
        for e in reversed(self.events[:k]):
            if e["t"] < ts - 3.0:
                break
            if e["type"] == "goal" and ts - e["t"] < 2.0 and banner is None:
                banner = e["team"]
            if e["type"] == "kickoff" and ts - e["t"] < 1.0:
                kick = True
        p = int(self.poss[i])
        return State(
            t=t, phase=ph,
            score=(int(self.score[i, 0]), int(self.score[i, 1])),
            possession=None if p < 0 else p,
            clock_text=clock, minute=m,
            time_left_min=0 if ph == "full_time" else 90 - m,
            last_event=last, last_notable=notable, goal_banner=banner,
            replay=bool(self.replay[i]),
            half_time_card=ph == "half_time", full_time_card=ph == "full_time",
            kickoff=kick)

    def __post_init__(self):
        self._event_times = [e["t"] for e in self.events]


def pick_teams(rng):
    """Two distinct names with distinct 3-letter abbreviations and colours."""
    while True:
        a, b = rng.sample(TEAM_NAMES, 2)
        if a[:3] != b[:3]:
            break
    ca, cb = rng.sample(sorted(PALETTE), 2)
    return [{"name": n, "abbr": n[:3].upper(), "colour": c, "rgb": list(PALETTE[c])}
            for n, c in ((a, ca), (b, cb))]


class _Sim:
    """Step-by-step match engine; only `simulate_match` uses it."""

    def __init__(self, rng, duration):
        self.rng = rng
        self.S = int(round(duration / DT))
        # Key instants in steps (see module docstring).
        self.k1 = 15
        self.h1 = int(round((duration / 2 - 3.0) / DT))
        self.k2 = int(round((duration / 2 + 3.0) / DT))
        self.ft = int(round((duration - 5.0) / DT))
        self.p = np.zeros((BALL, 2))
        self.ball = np.array([FIELD_W / 2, CY])
        self.bv = np.zeros(2)
        self.holder = -1
        self.pass_to = -1
        self.shot = None
        self.poss = None              # team currently in possession
        self.last_poss = None         # last team that had it (for events)
        self.cool = np.zeros(BALL, dtype=int)   # steps a player can't touch
        self.decide_at = 0
        self.lane = 0.0
        self.mode = "pre"
        self.pending = None           # (step, action, arg) after stoppages
        self.replay_src = None        # (start_step, replay_start_step)
        self.score = [0, 0]
        self.events = []
        self.i = 0
        self.hist = np.zeros((self.S, BALL + 1, 2), dtype=np.float32)
        self.kickoff_positions(0)

    # ---- helpers -------------------------------------------------------
    def ev(self, typ, **kw):
        e = {"t": round(self.i * DT, 2), "type": typ}
        e.update(kw)
        self.events.append(e)
        return e

    def half_end(self):
        return self.h1 if self.i < self.h1 else self.ft

    def home_spot(self, i, kickoff=False):
        team, j = team_of(i), i % N_PER_TEAM
        x, y = _FORMATION[j]
        d = attack_dir(team)
        if kickoff and j:
            x = min(x, 44.0)
        return np.array([x if d > 0 else FIELD_W - x, y])

    def kickoff_positions(self, team):
        for i in range(BALL):
            self.p[i] = self.home_spot(i, kickoff=True)
        kicker = team * N_PER_TEAM + 3
        d = attack_dir(team)
        self.p[kicker] = (FIELD_W / 2 - 3.0 * d, CY)
        self.ball[:] = (FIELD_W / 2, CY)
        self.bv[:] = 0
        return kicker

    def gain(self, i, how):
        """Player i takes the ball."""
        team = team_of(i)
        self.holder, self.pass_to, self.shot = i, -1, None
        self.bv[:] = 0
        if self.last_poss is not None and team != self.last_poss:
            self.ev("possession", team=team, player=i, how=how)
        self.poss = self.last_poss = team
        self.lane = self.rng.uniform(-14, 14)
        wait = (0.8, 1.4) if i % N_PER_TEAM == 0 else (0.3, 1.1)
        self.decide_at = self.i + int(self.rng.uniform(*wait) / DT)

    def move(self, i, target, speed):
        d = target - self.p[i]
        n = float(np.hypot(*d))
        step = speed * DT
        self.p[i] = target if n <= step else self.p[i] + d / n * step

    # ---- set pieces ----------------------------------------------------
    def kickoff(self, team):
        kicker = self.kickoff_positions(team)
        self.mode = "play"
        self.pending = None
        self.shot, self.pass_to = None, -1
        half = 1 if self.i < self.h1 else 2
        self.ev("kickoff", team=team, half=half)
        self.last_poss = team
        self.gain(kicker, "kickoff")
        self.decide_at = self.i + 6

    def whistle(self, kind):
        """Half or full time: play stops for the break and no restart or replay is pending."""
        self.ev(kind, score=list(self.score))
        self.stop_play("break")
        self.pending = self.replay_src = None

    def stop_play(self, mode):
        self.mode = mode
        self.holder, self.pass_to, self.shot = -1, -1, None
        self.poss = None

    # ---- decisions -----------------------------------------------------
    def holder_decides(self):
        h = self.holder
        team = team_of(h)
        gx = goal_x(team)
        dist = float(np.hypot(gx - self.p[h][0], CY - self.p[h][1]))
        if h % N_PER_TEAM == 0:
            self.do_pass(h)
            return
        p_shoot = 0.18 + 0.65 * max(0.0, 1 - dist / 36.0)
        if dist < 10 or (dist < 36 and self.rng.random() < p_shoot):
            self.do_shot(h, dist)
        elif self.rng.random() < 0.45:
            self.do_pass(h)
        else:
            self.decide_at = self.i + int(self.rng.uniform(0.4, 1.0) / DT)

    def do_pass(self, h):
        team = team_of(h)
        d = attack_dir(team)
        opp = [j for j in range(BALL) if team_of(j) != team]
        cands, weights = [], []
        for j in range(team * N_PER_TEAM + 1, (team + 1) * N_PER_TEAM):
            if j == h:
                continue
            gap = min(float(np.hypot(*(self.p[j] - self.p[k]))) for k in opp)
            fwd = d * (self.p[j][0] - self.p[h][0])
            cands.append(j)
            weights.append(math.exp(fwd / 20.0) * min(gap, 12.0))
        to = self.rng.choices(cands, weights)[0]
        vec = self.p[to] - self.p[h]
        dist = float(np.hypot(*vec))
        ang = math.atan2(vec[1], vec[0]) + self.rng.uniform(-0.15, 0.15)
        # Friction is 0.96/step, so a ball at v travels at most v*DT/0.04.
        speed = min(30.0, max(18.0, dist * 1.3 * 0.04 / DT))
        self.bv[:] = (math.cos(ang) * speed, math.sin(ang) * speed)
        self.ev("pass", team=team, player=h, to=to)
        self.holder, self.pass_to = -1, to
        self.cool[h] = 4

    def do_shot(self, h, dist):
        team = team_of(h)
        rng = self.rng
        keeper = (1 - team) * N_PER_TEAM
        ky = self.p[keeper][1]
        q = min(0.6, max(0.22, 0.68 - 0.011 * dist))
        r = rng.random()
        if r < q:
            outcome = "goal"
            side = -1.0 if ky > CY else 1.0
            if abs(ky - CY) < 1:
                side = rng.choice((-1.0, 1.0))
            ty = CY + side * (GOAL_HALF - rng.uniform(1.0, 2.5))
        elif r < q + (1 - q) * 0.6:
            outcome = "save"
            ty = min(CY + GOAL_HALF - 1, max(CY - GOAL_HALF + 1, ky + rng.uniform(-3, 3)))
        else:
            outcome = "miss"
            ty = CY + rng.choice((-1.0, 1.0)) * (GOAL_HALF + rng.uniform(2.0, 9.0))
        target = np.array([goal_x(team), ty])
        vec = target - self.ball
        n = float(np.hypot(*vec))
        self.bv[:] = vec / n * 40.0
        self.shot = {"team": team, "outcome": outcome, "ty": ty, "keeper": keeper}
        self.holder, self.pass_to = -1, -1
        self.ev("shot", team=team, player=h, distance=round(dist, 1))

    # ---- per-step update -----------------------------------------------
    def step_play(self):
        rng = self.rng
        self.cool = np.maximum(self.cool - 1, 0)
        if self.holder >= 0 and self.i >= self.decide_at:
            self.holder_decides()
        h = self.holder
        # Who chases the ball: receiver of a pass, else nearest outfield
        # player of each team not holding it.
        chasers = set()
        # Nobody harries a keeper holding the ball (it can't be tackled).
        keeper_has_it = h >= 0 and h % N_PER_TEAM == 0
        if self.shot is None and not keeper_has_it:
            for team in (0, 1):
                if h >= 0 and team_of(h) == team:
                    continue
                if self.pass_to >= 0 and team_of(self.pass_to) == team:
                    chasers.add(self.pass_to)
                    continue
                outs = range(team * N_PER_TEAM + 1, (team + 1) * N_PER_TEAM)
                chasers.add(min(outs, key=lambda j: float(np.hypot(*(self.p[j] - self.ball)))))
        bx, by = self.ball
        for i in range(BALL):
            team, j = team_of(i), i % N_PER_TEAM
            d = attack_dir(team)
            if i == h:
                if j:
                    tgt = np.array([goal_x(team), CY + self.lane * 0.6])
                    self.move(i, tgt, 7.0)
                continue
            if j == 0:
                own = FIELD_W - goal_x(team)
                ty = min(CY + GOAL_HALF - 1.5, max(CY - GOAL_HALF + 1.5, by))
                speed = 8.0
                if self.shot and self.shot["keeper"] == i:
                    if self.shot["outcome"] == "save":
                        ty, speed = self.shot["ty"], 30.0
                    elif self.shot["outcome"] == "goal":
                        ty, speed = self.shot["ty"], 4.0   # beaten, dives late
                self.move(i, np.array([own + 2.5 * d, ty]), speed)
                continue
            if i in chasers:
                self.move(i, self.ball.copy(), 10.0)
                continue
            base = self.home_spot(i)
            # The side in possession pushes up (forwards most), so forwards
            # get within shooting range; the other side drops back a little.
            if self.poss == team:
                push = (26.0 if j >= 3 else 12.0) * d
            else:
                push = -4.0 * d
            tx = min(92.0, max(8.0, base[0] + (bx - FIELD_W / 2) * 0.55 + push))
            ty = base[1] + (by - CY) * 0.3
            self.move(i, np.array([tx, ty]), 8.0)
        self.separate()
        if h >= 0:
            team = team_of(h)
            vel = np.array([attack_dir(team), self.lane * 0.02])
            vel /= np.hypot(*vel)
            self.ball[:] = self.p[h] + vel * 3.2
            if h % N_PER_TEAM:
                self.try_tackle(h)
            return
        self.ball += self.bv * DT
        if self.shot is not None:
            self.shot_flight()
            return
        self.bv *= 0.96
        self.bounce()
        self.try_collect()

    def separate(self):
        # Gentle push so discs don't sit on top of each other.
        for a in range(BALL):
            for b in range(a + 1, BALL):
                v = self.p[a] - self.p[b]
                n = float(np.hypot(*v))
                if 1e-6 < n < 4.5:
                    push = v / n * (4.5 - n) * 0.25
                    self.p[a] += push
                    self.p[b] -= push
        np.clip(self.p[:, 0], 1.0, FIELD_W - 1.0, out=self.p[:, 0])
        np.clip(self.p[:, 1], 2.0, FIELD_H - 2.0, out=self.p[:, 1])

    def try_tackle(self, h):
        team = team_of(h)
        for i in range(BALL):
            if team_of(i) == team or i % N_PER_TEAM == 0 or self.cool[i]:
                continue
            if float(np.hypot(*(self.p[i] - self.p[h]))) < 4.8 and self.rng.random() < 0.02:
                self.cool[h] = 8
                self.gain(i, "tackle")
                return

    def try_collect(self):
        speed = float(np.hypot(*self.bv))
        best, bd = -1, 2.8
        for i in range(BALL):
            if self.cool[i]:
                continue
            dist = float(np.hypot(*(self.p[i] - self.ball)))
            if dist >= bd:
                continue
            ok = (i == self.pass_to or speed < 6.0
                  or (self.pass_to >= 0 and team_of(i) != team_of(self.pass_to)
                      and self.rng.random() < 0.12))
            if ok:
                best, bd = i, dist
        if best >= 0:
            self.gain(best, "interception" if speed >= 6.0 else "loose ball")

    def bounce(self):
        for k, hi in ((0, FIELD_W), (1, FIELD_H)):
            if self.ball[k] < 0.5:
                self.ball[k], self.bv[k] = 0.5, abs(self.bv[k]) * 0.6
            elif self.ball[k] > hi - 0.5:
                self.ball[k], self.bv[k] = hi - 0.5, -abs(self.bv[k]) * 0.6

    def shot_flight(self):
        s = self.shot
        team = s["team"]
        line = goal_x(team)
        crossed = (self.ball[0] >= line) if team == 0 else (self.ball[0] <= line)
        keeper = s["keeper"]
        if s["outcome"] == "save":
            near = float(np.hypot(*(self.p[keeper] - self.ball))) < 3.2
            if near or crossed:
                self.ev("save", team=1 - team, player=keeper, shooter_team=team)
                self.p[keeper][1] = self.ball[1] = min(max(self.ball[1], CY - GOAL_HALF), CY + GOAL_HALF)
                self.gain(keeper, "save")
                self.ball[:] = self.p[keeper] + (attack_dir(1 - team) * 3.2, 0)
            return
        if not crossed:
            return
        if s["outcome"] == "goal":
            self.score[team] += 1
            self.ev("goal", team=team, score=list(self.score),
                    minute=self.minute_now())
            self.stop_play("goal")
            self.after_goal(team)
        else:
            self.ev("miss", team=team)
            self.stop_play("dead")
            self.pending = (self.i + 12, "goal_kick", 1 - team)
        self.bv *= 0.5   # the ball rolls on into the net / off the pitch

    def after_goal(self, team):
        g = self.i
        replay = (g + 25 + 30 + 10 + 20 < self.half_end() and g >= 25
                  and self.rng.random() < 0.6)
        if replay:
            self.pending = (g + 25, "replay", (g - 25, 30))
        elif g + 35 + 20 < self.half_end():
            self.pending = (g + 35, "kickoff", 1 - team)
        # else: too close to the whistle, play stays stopped until the card.
        self.concede = 1 - team

    def minute_now(self):
        i = self.i
        if i < self.k1:
            return 0
        if i < self.h1:
            return min(44, int(45 * (i - self.k1) / (self.h1 - self.k1)))
        if i < self.k2:
            return 45
        if i < self.ft:
            return 45 + min(44, int(45 * (i - self.k2) / (self.ft - self.k2)))
        return 90

    def phase_now(self):
        i = self.i
        if i < self.k1:
            return 0
        if i < self.h1:
            return 1
        if i < self.k2:
            return 2
        if i < self.ft:
            return 3
        return 4

    def drift_home(self):
        """During stoppages players stroll back towards kickoff shape."""
        for i in range(BALL):
            self.move(i, self.home_spot(i, kickoff=True), 5.0)
        self.ball += self.bv * DT
        self.bv *= 0.85

    def run(self):
        hist_replay = np.zeros(self.S, dtype=bool)
        poss = np.full(self.S, -1, dtype=np.int8)
        phase = np.zeros(self.S, dtype=np.int8)
        minute = np.zeros(self.S, dtype=np.int16)
        score = np.zeros((self.S, 2), dtype=np.int16)
        for i in range(self.S):
            self.i = i
            if i == self.k1:
                self.kickoff(0)
            elif i == self.h1:
                self.whistle("halftime")
            elif i == self.k2:
                self.kickoff(1)
            elif i == self.ft:
                self.whistle("fulltime")
            elif self.pending and i >= self.pending[0]:
                _, what, arg = self.pending
                self.pending = None
                if what == "kickoff":
                    self.kickoff(arg)
                elif what == "goal_kick":
                    self.mode = "play"
                    k = arg * N_PER_TEAM
                    self.gain(k, "goal kick")
                    self.ball[:] = self.p[k] + (attack_dir(arg) * 3.2, 0)
                elif what == "replay":
                    src, n = arg
                    self.mode = "replay"
                    self.replay_src = (src, i)
                    self.ev("replay", end=round((i + n) * DT, 2), of_goal=round((src + 25) * DT, 2))
                    self.pending = (i + n + 10, "kickoff", self.concede)
            if self.mode == "play":
                self.step_play()
            elif self.mode != "pre" and self.mode != "replay":
                self.drift_home()
            if self.mode == "replay":
                src, start = self.replay_src
                self.hist[i] = self.hist[src + (i - start)]
                hist_replay[i] = True
                if i - start >= 29:
                    self.mode = "reset"
            else:
                self.hist[i, :BALL] = self.p
                self.hist[i, BALL] = self.ball
            poss[i] = -1 if (self.mode != "play" or self.poss is None) else self.poss
            phase[i] = self.phase_now()
            minute[i] = self.minute_now()
            score[i] = self.score
        return hist_replay, poss, phase, minute, score


def simulate_match(seed: int, duration_s: float = 180.0) -> Match:
    if duration_s < 20:
        raise ValueError("duration_s must be at least 20 s")
    rng = random.Random(seed)
    teams = pick_teams(rng)
    sim = _Sim(rng, duration_s)
    replay, poss, phase, minute, score = sim.run()
    times = {"kickoff_1": sim.k1 * DT, "halftime": round(sim.h1 * DT, 2),
             "kickoff_2": round(sim.k2 * DT, 2), "fulltime": round(sim.ft * DT, 2)}
    return Match(seed=seed, duration=duration_s, teams=teams, events=sim.events,
                 pos=sim.hist, score=score, poss=poss, phase=phase,
                 replay=replay, minute=minute, times=times)


if __name__ == "__main__":
    import sys
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    m = simulate_match(seed)
    print(m.teams[0]["name"], m.teams[0]["colour"], "vs", m.teams[1]["name"], m.teams[1]["colour"])
    for e in m.events:
        if e["type"] != "pass":
            print(e)
