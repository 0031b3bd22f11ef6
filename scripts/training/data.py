"""Data of the cocaster-tiny pipeline: where things live, the arena matches and
their dialogues, per-frame reader targets, and the streaming token sequence
(which mirrors cocaster_model/live.py exactly).
"""
from __future__ import annotations

import json
import math
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(SCRIPTS)
if SCRIPTS not in sys.path:
    sys.path.insert(0, SCRIPTS)

from arena.world import PALETTE, TEAM_NAMES  # noqa: E402
from cocaster_model.layout import DEFAULT_LAYOUT, DEFAULT_TOKENS, Layout  # noqa: E402
from cocaster_model.model import reader_heads  # noqa: E402
from cocaster_model.tokenizer import BPETokenizer  # noqa: E402

FPS = 2
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
COLOURS = list(PALETTE)
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
HEADS = reader_heads(len(TEAM_NAMES), len(COLOURS))
# A name's index from its on-screen abbreviation (older matches may carry a name
# that shares its abbreviation with an earlier one: the screen shows the earlier).
NAME_OF_ABBR = {n[:3].upper(): i for i, n in enumerate(TEAM_NAMES)}
IGNORE = -100
QUIZ_KINDS = ("score", "possession", "time_left", "last_event", "colours")


@dataclass(frozen=True)
class Work:
    """A training run's folders: data/ (matches, frames) and runs/ (tokenizer,
    checkpoints, logs). Both are git-ignored under the repo root."""
    root: str

    def data(self, *parts: str) -> str:
        return os.path.join(self.root, "data", *parts)

    def runs(self, *parts: str) -> str:
        return os.path.join(self.root, "runs", *parts)


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def pixels(frames_u8: np.ndarray) -> torch.Tensor:
    """uint8 [N,H,W,3] -> normalised float [N,3,H,W] (same as live.preprocess)."""
    # a copy: frames may be a read-only memory map
    x = torch.from_numpy(np.array(frames_u8)).permute(0, 3, 1, 2).float() * (1 / 255)
    m = torch.tensor(MEAN).view(1, 3, 1, 1)
    s = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - m) / s


def warmup_cosine(peak: float, step: int, warmup: int, total: int, floor: float) -> float:
    """Learning rate at step (from 1): linear warm-up, then cosine from peak down to floor x peak."""
    progress = min(1.0, step / max(1, total))
    return peak * min(1.0, step / max(1, warmup)) * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


def run_steps(name: str, opt, step: int, steps: int, lr_at, batch_loss, every: int, checkpoint) -> int:
    """Optimiser steps from `step` to `steps`: lr_at(step) gives each step's learning
    rate, batch_loss() a fresh batch's loss; checkpoint(step) runs every `every` steps."""
    while step < steps:
        lr = lr_at(step + 1)
        for g in opt.param_groups:
            g["lr"] = lr
        loss = batch_loss()
        opt.zero_grad(); loss.backward(); opt.step()
        step += 1
        if step % 25 == 0:
            log(f"{name} step {step} loss {loss.item():.4f} lr {lr:.2e}")
        if step % every == 0:
            checkpoint(step)
    return step


def load_tokenizer(tok_dir: str):
    tok = BPETokenizer.load(os.path.join(tok_dir, "tokenizer.json"))
    return tok, Layout(tok, DEFAULT_LAYOUT, dict(DEFAULT_TOKENS))


def copy_ids(tok) -> dict[str, list[int]]:
    """Token ids the connector writes: every team name, digit and kit colour."""
    def one(word):
        ids = tok.encode(word)
        assert len(ids) == 1, f"{word!r} is not one token"
        return ids[0]
    return dict(name_ids=[one(" " + n) for n in TEAM_NAMES], digit_ids=[one(str(d)) for d in range(10)],
                colour_ids=[one(" " + c) for c in COLOURS])


def lexicon() -> torch.Tensor:
    """[names, 3] letter indices of each name's abbreviation (for Reader)."""
    return torch.tensor([[LETTERS.index(c) for c in n[:3].upper()] for n in TEAM_NAMES])


def parse_range(spec: str) -> range:
    lo, hi = (int(x) for x in spec.split(":"))
    return range(lo, hi)


# ------------------------------------------------------------ matches
def render_matches(seeds: str, out: str, duration: float, jobs: int, video_only: bool = False) -> None:
    """arena.dataset for the seeds not rendered yet (seeds >= 100000 are evaluation-only)."""
    todo = [s for s in parse_range(seeds) if not os.path.exists(os.path.join(out, str(s), "dialogue.json"))]
    if not todo:
        return
    assert max(todo) < 100000, "seeds >= 100000 are evaluation-only"
    extra = ["--video-only"] if video_only else []
    subprocess.run([sys.executable, "-m", "arena.dataset", "--seeds", f"{todo[0]}:{todo[-1] + 1}", "--out", out,
                    "--jobs", str(jobs), "--res", "128", "--fps", str(FPS), "--duration", str(duration), *extra],
                   cwd=SCRIPTS, check=True)


def match_dirs(root: str) -> list[str]:
    if not os.path.isdir(root):
        return []
    out = []
    for name in sorted(os.listdir(root), key=lambda s: int(s) if s.isdigit() else -1):
        d = os.path.join(root, name)
        if name.isdigit() and os.path.exists(os.path.join(d, "dialogue.json")) and \
                os.path.exists(os.path.join(d, "labels.json")):
            out.append(d)
    return out


def frame_targets(d: str) -> dict[str, np.ndarray]:
    """Reader targets of every decoded frame of a match, from labels.json."""
    with open(os.path.join(d, "labels.json")) as f:
        frames = json.load(f)["frames"]
    with open(os.path.join(d, "dialogue.json")) as f:
        teams = json.load(f)["teams"]
    n = len(frames)
    out = {k: np.zeros(n, dtype=np.int64) for k, v in HEADS.items() if v}
    out["ball"] = np.zeros((n, 2), dtype=np.float32)
    out["arena"][:] = 1
    for i, fr in enumerate(frames):
        fl = fr["flags"]
        out["score_h"][i] = min(fr["score"][0], 9)
        out["score_a"][i] = min(fr["score"][1], 9)
        out["possession"][i] = fr["possession"] + 1
        out["phase"][i] = fr["phase_id"]
        out["goal_banner"][i] = int(fl["goal_banner"])
        out["goal_team"][i] = fl["goal_team"] + 1
        out["ht_card"][i] = int(fl["half_time_card"])
        out["ft_card"][i] = int(fl["full_time_card"])
        out["replay"][i] = int(fl["replay_banner"])
        out["kickoff"][i] = int(fl["kickoff"])
        ct = fr["clock_text"]
        out["clock"][i] = 90 if ct == "HT" else 91 if ct == "FT" else min(int(fr["clock_min"]), 89)
        mn, left = min(int(fr["clock_min"]), 99), min(int(fr["time_left_min"]), 99)
        out["min_t"][i], out["min_o"][i] = mn // 10, mn % 10
        out["left_t"][i], out["left_o"][i] = left // 10, left % 10
        out["ball"][i] = np.clip(np.array(fr["ball"], dtype=np.float32), -0.2, 1.2)
    for side, tm in zip("ha", teams):
        out[f"name_{side}"][:] = NAME_OF_ABBR[tm["abbr"].upper()]
        out[f"colour_{side}"][:] = COLOURS.index(tm["colour"])
        for j in range(3):
            out[f"l{j}_{side}"][:] = LETTERS.index(tm["abbr"][j].upper())
    return out


def dialogue_draws(d: str) -> list[list[dict]]:
    """Turn lists of a match: the dataset's own dialogue plus extra draws."""
    with open(os.path.join(d, "dialogue.json")) as f:
        draws = [json.load(f)["turns"]]
    for name in ("dialogues_extra.json", "dialogues_dense.json"):
        extra = os.path.join(d, name)
        if os.path.exists(extra):
            with open(extra) as f:
                draws += json.load(f)
    return draws


def _write_draws(path: str, seed: int, duration: float, n: int, salt: int, rate: float) -> None:
    from arena.dialogue import make_dialogue
    from arena.world import simulate_match
    if not n or os.path.exists(path):
        return
    m = simulate_match(seed, duration)
    draws = [make_dialogue(m, random.Random(seed * 7919 + 17 + salt * (j + 1)), questions_per_min=rate) for j in range(n)]
    with open(path, "w") as f:
        json.dump(draws, f)


def make_extra_dialogues(d: str, duration: float, n: int, dense: int, dense_rate: float = 5.0) -> None:
    """n extra draws at the normal question rate (1.5/min) and `dense` draws with
    dense_rate questions per minute (more Q&A supervision per frame)."""
    seed = int(os.path.basename(d))
    _write_draws(os.path.join(d, "dialogues_extra.json"), seed, duration, n, 1000003, 1.5)
    _write_draws(os.path.join(d, "dialogues_dense.json"), seed, duration, dense, 7000003, dense_rate)


def make_quiz(d: str, duration: float, every: int = 4) -> None:
    """quiz.json: a question and answer of every kind at every `every`-th decoded
    frame (from 2 s in), answered from the match's true state at that frame. The
    decoder training splices short bursts of these into streams: more answer
    supervision per frame of video than the dialogues' 1.5-5 questions a minute."""
    out = os.path.join(d, "quiz.json")
    if os.path.exists(out):
        return
    from arena.dialogue import answer
    from arena.world import decoded_frame_time, simulate_match
    seed = int(os.path.basename(d))
    m = simulate_match(seed, duration)
    # The names list grew after the older matches were rendered: the same seed now
    # draws other names (same events, colours). Answer with the names on screen.
    with open(os.path.join(d, "dialogue.json")) as f:
        stored = json.load(f)
    shown = stored["teams"]
    events = lambda evs: [(round(e["t"], 2), e["type"]) for e in evs]  # noqa: E731
    same = events(stored["events"]) == events(m.events) and \
        [t["colour"] for t in m.teams] == [t["colour"] for t in shown]
    for team, was in zip(m.teams, shown):
        team["name"] = was["name"]
    rng = random.Random(seed * 104729 + 3)
    quiz = []   # stays empty for a match the world no longer simulates the same
    for i in range(4, int(m.duration * FPS) - 1, every) if same else ():
        t = decoded_frame_time(i, FPS)
        for kind in QUIZ_KINDS:
            q, a, fact = answer(m, rng, kind, t)
            quiz.append({"frame": i, "t": t, "kind": kind, "q": q, "a": a, "fact": fact})
    with open(out, "w") as f:
        json.dump(quiz, f)


# ------------------------------------------------------------ sequences
class SeqBuilder:
    """Token stream of one match as the runtime's streaming loop would feed it.

    Output arrays (same length S):
      ids    token id, or -1 at a frame-embedding slot
      fidx   frame*K + slot at frame slots, else -1
      labels target id for the NEXT token at this position, or IGNORE
      kind   0 none, 1 silent frame decision, 2 speak frame decision, 3 answer text, 4 self-line text
    """

    def __init__(self, layout: Layout, k: int):
        self.L, self.k = layout, k
        self.start = layout.start_ids()
        self.after_eos = layout.after_eos_ids()
        self.speak = layout.self_speak_ids()
        self.eos, self.interval = layout.eos, layout.interval
        self._enc_cache: dict[str, list[int]] = {}

    def text_ids(self, text: str) -> list[int]:
        ids = self._enc_cache.get(text)
        if ids is None:
            ids = self.L.tok.encode(" " + text)
            self._enc_cache[text] = ids
        return ids

    def build(self, turns: list[dict], n_frames: int, first: int = 0, last: int | None = None):
        last = n_frames if last is None else last
        ids, fidx, labels, kind = [], [], [], []

        def put(tok_ids, lab=None, kd=0):
            for j, t in enumerate(tok_ids):
                ids.append(t); fidx.append(-1)
                labels.append(IGNORE if lab is None else lab[j]); kind.append(kd if lab is not None else 0)

        selfs = {}
        questions = []
        pending_user = None
        for t in turns:
            if t["trigger"] == "self":
                selfs[t["frame"]] = t["text"]
            elif t["role"] == "user":
                pending_user = t
            elif t["role"] == "assistant" and pending_user is not None:
                questions.append((pending_user["t"], pending_user["text"], t["text"]))
                pending_user = None
        questions.sort(key=lambda q: q[0])
        questions = [q for q in questions if q[0] >= first / FPS]
        state = {"empty": True, "last": None}  # last: None | "eos" | "interval"

        def answer(q, a):
            if state["empty"]:
                pre = list(self.start)
            elif state["last"] == "eos":
                pre = [self.eos] + self.after_eos
            else:
                pre = []  # a pending interval token is dropped
            prompt = pre + self.L.query_ids(q)
            put(prompt[:-1])
            a_ids = self.text_ids(a)
            # last prompt token predicts the first answer token; each answer token the next; last -> EOS
            put([prompt[-1]] + a_ids, a_ids + [self.eos], 3)
            state["empty"], state["last"] = False, "eos"

        qi = 0
        for f in range(first, last):
            t_frame = f / FPS
            while qi < len(questions) and questions[qi][0] < t_frame:
                answer(questions[qi][1], questions[qi][2]); qi += 1
            if state["empty"]:
                pre = list(self.start)
            elif state["last"] == "eos":
                pre = [self.eos] + self.after_eos
            elif state["last"] == "interval":
                pre = [self.interval]
            else:
                pre = []
            put(pre)
            for s in range(self.k):
                ids.append(-1); fidx.append(f * self.k + s); labels.append(IGNORE); kind.append(0)
            state["empty"] = False
            if qi < len(questions) and questions[qi][0] <= t_frame:
                while qi < len(questions) and questions[qi][0] <= t_frame:
                    answer(questions[qi][1], questions[qi][2]); qi += 1
                continue
            if f in selfs:
                labels[-1], kind[-1] = self.speak[0], 2
                a_ids = self.text_ids(selfs[f])
                sp = self.speak
                put(sp[:-1])
                put([sp[-1]] + a_ids, a_ids + [self.eos], 4)
                state["last"] = "eos"
            else:
                labels[-1], kind[-1] = self.interval, 1
                state["last"] = "interval"
        return (np.array(ids, dtype=np.int32), np.array(fidx, dtype=np.int32),
                np.array(labels, dtype=np.int32), np.array(kind, dtype=np.int8))
