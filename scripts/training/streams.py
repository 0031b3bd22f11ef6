"""Training streams for the decoder: arena windows (team names permuted, quiz bursts
spliced in), out-of-domain video (silence), the two spliced (a streamer switching
scenes), and the copy drill's targets at frame slots.
"""
from __future__ import annotations

import json
import os
import random
import re

import numpy as np
import torch

from arena.world import TEAM_NAMES
from cocaster_model.model import feature_slices

from .data import FPS, HEADS, IGNORE, NAME_OF_ABBR, QUIZ_KINDS, SeqBuilder, dialogue_draws


def window_turns(turns, first, last, offset):
    """Turns of frames [first, last), moved so that frame `first` becomes `offset`."""
    dt = (offset - first) / FPS
    return [dict(t, frame=t["frame"] - first + offset, t=t["t"] + dt) for t in turns if first <= t["frame"] < last]


def rename_text(text: str, rename: dict[str, str]) -> str:
    """Swap team names in a line, keeping possessives grammatical."""
    if all(k == v for k, v in rename.items()):
        return text

    def sub(m):
        new = rename[m.group(1)]
        if m.group(2):
            return new + ("'" if new.endswith("s") else "'s")
        return new
    return re.sub(r"\b(" + "|".join(map(re.escape, rename)) + r")\b('s|'(?!\w))?", sub, text)


def load_quiz(d: str) -> dict[int, dict[str, dict]]:
    """quiz.json of a match by frame, then kind (empty when it has none)."""
    qp = os.path.join(d, "quiz.json")
    by_frame: dict[int, dict[str, dict]] = {}
    if os.path.exists(qp):
        with open(qp) as f:
            for e in json.load(f):
                by_frame.setdefault(e["frame"], {})[e["kind"]] = e
    return by_frame


class MatchSet:
    """Matches with cached reader features (reader.npy), and optionally the
    out-of-domain clips' features (ood_npz), as training streams."""

    def __init__(self, dirs, builder: SeqBuilder, ood_npz: str | None = None, kind_weights: dict | None = None):
        self.dirs, self.b = dirs, builder
        self.feats = {d: torch.from_numpy(np.load(os.path.join(d, "reader.npy"))) for d in dirs}
        self.draws = {d: dialogue_draws(d) for d in dirs}
        self.quiz = {d: load_quiz(d) for d in dirs}
        self.teams = {}
        for d in dirs:
            with open(os.path.join(d, "dialogue.json")) as f:
                self.teams[d] = json.load(f)["teams"]
        self.name_cols = [feature_slices(HEADS)[k] for k in ("name_h", "name_a")]
        self.kind_weights = dict(kind_weights or {k: 1.0 for k in QUIZ_KINDS})
        assert set(self.kind_weights) == set(QUIZ_KINDS), f"quiz weights need exactly {QUIZ_KINDS}"
        self.ood = None
        if ood_npz:
            z = np.load(ood_npz)
            n_train = len(z["lengths"]) - len(z["lengths"]) // 10   # the last tenth is the reader's validation
            ends = np.cumsum(z["lengths"])[:n_train]
            self.ood = torch.from_numpy(z["f"][: ends[-1]])
            self.ood_clips = list(zip(np.concatenate([[0], ends[:-1]]), ends))

    def ood_frames(self, rng, w):
        parts, n = [], 0
        while n < w:
            a, b = rng.choice(self.ood_clips)
            parts.append(self.ood[a:b]); n += b - a
        return torch.cat(parts)[:w]

    def arena(self, rng, d, w, permute, bursts=0):
        """Window of w frames of match d (None = whole match), turns shifted to 0,
        with `bursts` quiz bursts spliced in."""
        draws = self.draws[d]
        # Half the streams from the dense draws (5 questions a minute): answers need the most practice.
        turns = rng.choice(draws[-2:] if len(draws) > 3 and rng.random() < 0.5 else draws)
        f = self.feats[d]
        n = f.shape[0]
        first = 0 if w is None or w >= n else rng.randrange(0, n - w + 1)
        last = n if w is None else min(n, first + w)
        if bursts and self.quiz[d]:
            turns = self.with_bursts(rng, d, turns, first, last, bursts)
        f = f[first:last]
        sigma = np.random.default_rng(rng.randrange(1 << 30)).permutation(len(TEAM_NAMES)) if permute \
            else np.arange(len(TEAM_NAMES))
        rename = {tm["name"]: TEAM_NAMES[sigma[NAME_OF_ABBR[tm["abbr"].upper()]]] for tm in self.teams[d]}
        if permute:   # the reader's name distributions follow the same permutation as the text
            f = f.clone()
            for sl in self.name_cols:
                block = f[:, sl]
                new = torch.empty_like(block)
                new[:, torch.from_numpy(sigma)] = block
                f[:, sl] = new
        return f, [dict(t, text=rename_text(t["text"], rename)) for t in window_turns(turns, first, last, 0)]

    def with_bursts(self, rng, d, turns, first, last, bursts):
        """Turns plus a few back-to-back questions (2-4, the weak kinds more often)
        at frames in [first, last) that are clear of other lines."""
        busy = {t["frame"] + k for t in turns for k in range(-3, 4)}
        free = [i for i in self.quiz[d] if first <= i < last and i not in busy]
        added = []
        for i in rng.sample(free, min(bursts, len(free))):
            kinds = dict(self.kind_weights)
            for _ in range(rng.randint(2, 4)):
                kind = rng.choices(list(kinds), list(kinds.values()))[0]
                del kinds[kind]
                e = self.quiz[d][i][kind]
                for role, text in (("user", e["q"]), ("assistant", e["a"])):
                    added.append({"t": e["t"], "frame": i, "role": role, "text": text, "trigger": "question",
                                  "kind": kind, "fact": e["fact"]})
        return sorted(turns + added, key=lambda x: x["t"])

    def sample(self, rng: random.Random, p: dict):
        """One training stream under phase p's mix: (feats, ids, fidx, labels, kind)."""
        d = rng.choice(self.dirs)
        r = rng.random()
        w = rng.randint(p["wmin"], p["wmax"])
        permute = rng.random() < p["permute_p"]
        if self.ood is not None and r < p["ood_p"]:
            feats, turns = self.ood_frames(rng, w), []
        elif self.ood is not None and r < p["ood_p"] + p["mix_p"]:
            w1 = rng.randint(20, w)
            af, at = self.arena(rng, d, w1, permute)
            of = self.ood_frames(rng, rng.randint(20, p["wmax"]))
            if rng.random() < 0.5:
                feats, turns = torch.cat([af, of]), at
            else:
                feats, turns = torch.cat([of, af]), window_turns(at, 0, len(af), len(of))
        else:
            bursts = rng.randint(1, p["bursts"]) if rng.random() < p["quiz_p"] else 0
            feats, turns = self.arena(rng, d, None if rng.random() < p["full_p"] else w, permute, bursts)
        ids, fidx, lab, kind = self.b.build(turns, feats.shape[0])
        return feats, ids, fidx, lab, kind


def copy_drill(connector, feats: torch.Tensor, fidx: np.ndarray, slots: list[str], k: int) -> torch.Tensor:
    """Targets at the frame slots the runtime never decodes from (slots 0-3): each
    asks for one fact as the reader reads the frame (`slots` names it per slot),
    drilled at every frame instead of a few times per stream. The acting colour is
    a lookup by content (find the team token with the acting team's name), as in
    "What colour are Hawks?"."""
    sl = feature_slices(HEADS)
    am = lambda h: feats[:, sl[h]].float().argmax(1)  # noqa: E731
    c = connector
    banner = am("goal_banner") == 1
    side = torch.where(banner, am("goal_team"), am("possession")) - 1      # -1 = nobody
    nobody = torch.full_like(side, IGNORE)
    by_side = lambda h, a: torch.where(side == 0, h, torch.where(side == 1, a, nobody))  # noqa: E731
    facts = {
        "home_name": lambda: c.name_ids[am("name_h")],
        "away_name": lambda: c.name_ids[am("name_a")],
        "home_score": lambda: c.digit_ids[am("score_h")],
        "left_tens": lambda: c.digit_ids[am("left_t")],
        "left_ones": lambda: c.digit_ids[am("left_o")],
        "acting_colour": lambda: by_side(c.colour_ids[am("colour_h")], c.colour_ids[am("colour_a")]),
        "acting_name": lambda: by_side(c.name_ids[am("name_h")], c.name_ids[am("name_a")]),
    }
    targets = torch.stack([facts[f]() for f in slots], 1)   # [frames, 4]
    targets[am("arena") == 0] = IGNORE                        # nothing to read off-arena
    out = torch.full((len(fidx),), IGNORE, dtype=torch.long)
    f = torch.from_numpy(fidx).long()
    at = (f >= 0) & (f % k < len(slots))
    out[at] = targets[f[at] // k, f[at] % k]
    return out
