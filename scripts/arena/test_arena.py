"""Plain-assert checks for the arena world: python3 -m arena.test_arena"""
import contextlib
import io
import json
import os
import random
import tempfile

import numpy as np

from . import dialogue as D
from .dataset import build_one, main as dataset_main
from .world import PALETTE, TEAM_NAMES, decoded_frame_time, first_frame_showing, simulate_match

SEEDS = range(6)
DIALOGUE_SEEDS = range(24)


def test_lists():
    assert len(set(TEAM_NAMES)) == len(TEAM_NAMES) >= 150
    assert len({n[:3].upper() for n in TEAM_NAMES}) == len(TEAM_NAMES)  # readable from the scoreboard
    assert all(n.isalpha() and len(n) <= 11 for n in TEAM_NAMES)
    assert "green" not in PALETTE          # the pitch is green
    cols = list(PALETTE.values())
    for i in range(len(cols)):
        for j in range(i + 1, len(cols)):
            assert np.abs(np.subtract(cols[i], cols[j])).sum() > 100
    for pool in (D.KICKOFF_1, D.KICKOFF_2, D.RESTART, D.GOAL, D.SAVE, D.MISS, D.REPLAY,
                 D.HALFTIME, D.FULLTIME):
        assert len(pool) >= 8
    for pool in (D.Q_SCORE, D.Q_POSS, D.Q_TIME, D.Q_LAST, D.Q_COLOUR_TEAM, D.Q_COLOUR_COL,
                 D.Q_UNKNOWABLE, D.A_UNKNOWABLE):
        assert len(pool) >= 6


def test_determinism():
    a, b, c = simulate_match(11), simulate_match(11), simulate_match(12)
    assert a.events == b.events and a.teams == b.teams
    assert np.array_equal(a.pos, b.pos)
    assert a.events != c.events
    ta = D.make_dialogue(a, random.Random(5))
    assert ta == D.make_dialogue(b, random.Random(5))


def test_events_and_state():
    for seed in SEEDS:
        m = simulate_match(seed)
        ts = [e["t"] for e in m.events]
        assert ts == sorted(ts), seed
        assert m.events[0]["type"] == "kickoff" and abs(m.events[0]["t"] - 1.5) < 1e-6
        types = [e["type"] for e in m.events]
        assert types.count("halftime") == 1 and types.count("fulltime") == 1
        assert m.teams[0]["abbr"] != m.teams[1]["abbr"]
        assert m.teams[0]["colour"] != m.teams[1]["colour"]
        goals = [e for e in m.events if e["type"] == "goal"]
        final = m.state_at(m.duration - 0.01)
        assert final.score == (sum(g["team"] == 0 for g in goals), sum(g["team"] == 1 for g in goals))
        assert final.phase == "full_time" and final.clock_text == "FT"
        for g in goals:
            before, after = m.state_at(g["t"] - 0.1), m.state_at(g["t"])
            assert list(after.score) == g["score"]
            assert sum(after.score) == sum(before.score) + 1
            assert after.goal_banner == g["team"]
        assert m.state_at(m.times["halftime"] + 1).half_time_card
        assert m.state_at(0.5).phase == "pre"
        mins = [m.state_at(t).minute for t in np.arange(0, m.duration, 0.5)]
        assert mins == sorted(mins) and mins[-1] == 90


def test_frame_times():
    # ffmpeg's fps filter keeps the last 10 fps source frame before (i+0.5)/2.
    assert [decoded_frame_time(i) for i in range(3)] == [0.2, 0.7, 1.2]
    assert first_frame_showing(1.5) == 3 and first_frame_showing(1.2) == 2


def test_dialogue():
    for seed in DIALOGUE_SEEDS:
        m = simulate_match(seed)
        turns = D.make_dialogue(m, random.Random(seed), questions_per_min=3.0)
        assert [t["t"] for t in turns] == sorted(t["t"] for t in turns)
        for t in turns:
            assert t["text"].isascii() and len(t["text"]) <= D.MAX_LEN, t
            assert t["frame"] == int(t["t"] * 2) == round(t["t"] * 2)
        selfs = [t for t in turns if t["trigger"] == "self"]
        # Silence: commentary only on a salient event, on the first frame showing it.
        for t in selfs:
            assert t["role"] == "assistant" and t["kind"] in D.PRIORITY
            assert 0 <= t["t"] - t["event_t"] < 0.5
            assert any(e["t"] == t["event_t"] and e["type"] == t["kind"] for e in m.events)
        salient = [e for e in m.events if e["type"] in D.PRIORITY]
        assert len(selfs) >= len(salient) - 2, (len(selfs), len(salient))
        assert not [e for e in m.events if e["type"] == "goal"
                    and not any(t["kind"] == "goal" and t["event_t"] == e["t"] for t in selfs)]
        qs = [i for i, t in enumerate(turns) if t["role"] == "user"]
        assert qs, seed
        for i in qs:
            q, a = turns[i], turns[i + 1]
            assert q["t"] >= 2.0 and q["trigger"] == "question"
            assert a["role"] == "assistant" and a["t"] == q["t"] and a["kind"] == q["kind"]
            assert a["fact"] == q["fact"]
            if q["kind"] == "unknowable":
                assert a["fact"] is None
            else:
                assert a["fact"] and a["fact"] in a["text"], a
            if q["kind"] == "score":
                s = m.state_at(q["t"]).score
                assert a["fact"] == f"{s[0]}-{s[1]}"


def test_dataset_refuses_eval_seeds():
    with tempfile.TemporaryDirectory() as td, contextlib.redirect_stderr(io.StringIO()):
        assert dataset_main(["--seeds", "99990:100001", "--out", td]) == 2
        assert dataset_main(["--seeds", "100000", "--out", td]) == 2
        assert os.listdir(td) == []


def test_build_short_match():
    with tempfile.TemporaryDirectory() as td:
        seed, n = build_one(3, td, fps=2, res=128, duration=24.0)
        d = os.path.join(td, "3")
        frames = np.load(os.path.join(d, "frames.npy"))
        assert frames.shape == (48, 128, 128, 3) and frames.dtype == np.uint8 and n == 48
        labels = json.load(open(os.path.join(d, "labels.json")))["frames"]
        assert len(labels) == 48 and labels[0]["t_src"] == 0.2
        dlg = json.load(open(os.path.join(d, "dialogue.json")))
        assert dlg["teams"][0]["name"] and dlg["events"] and dlg["turns"]
        # The HALF TIME card (dark blue panel) really is in the decoded frames.
        ht = [i for i, lab in enumerate(labels) if lab["flags"]["half_time_card"]]
        assert ht
        mid = frames[ht[0], 70:110, 20:108].reshape(-1, 3).mean(axis=0)
        assert mid[2] > mid[1] + 20, mid


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print("ok", name)
    print("all arena tests passed")
