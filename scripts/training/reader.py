"""The reader's training: the trunk on the world's frame labels, then the
full-resolution letter path alone (the trunk frozen), then the frozen reader's
features of every frame cached for the decoder (fp16).

Frames for the trunk: every `stride`-th frame of the training matches plus every
banner and kick-off frame (the newest `held_out` matches held out), re-rendered
frames with random teams and random abbreviations, and out-of-domain frames
(labelled only "not arena"). For the letter path: the re-rendered frames and
every 6th frame of the training matches.
"""
from __future__ import annotations

import glob
import json
import os
import random

import numpy as np
import torch
import torch.nn.functional as F

from cocaster_model.model import LETTER_HEADS, LetterReader, Reader

from .data import (HEADS, LETTERS, NAME_OF_ABBR, Work, frame_targets, lexicon, log, match_dirs, pixels, run_steps,
                   warmup_cosine)

# Heads a re-rendered frame has labels for (the rest of its state is not tracked).
SYNTH_HEADS = ("arena", "score_h", "score_a", "name_h", "name_a", "colour_h", "colour_a", *LETTER_HEADS)
BAND = 32   # the scoreboard band the letter path reads


def head_loss(out, tg, mask):
    """Sum over heads of the mean loss over the frames that have that label."""
    loss = 0.0
    for k, v in HEADS.items():
        m = mask[k]
        if m.any():
            loss = loss + (F.cross_entropy(out[k][m], tg[k][m]) if v else 5.0 * F.mse_loss(out[k][m], tg[k][m]))
    return loss


def load_frame_set(dirs, stride, rng):
    xs, tgs = [], {k: [] for k in HEADS}
    for d in dirs:
        fr = np.load(os.path.join(d, "frames.npy"), mmap_mode="r")
        tg = frame_targets(d)
        n = min(len(fr), len(tg["phase"]))
        idx = np.arange(rng.randrange(stride), n, stride)
        # every banner / card / kickoff frame too: rare classes
        special = np.nonzero(tg["goal_banner"][:n] | tg["replay"][:n] | tg["kickoff"][:n])[0]
        idx = np.unique(np.concatenate([idx, special]))
        xs.append(np.asarray(fr[idx]))
        for k in HEADS:
            tgs[k].append(tg[k][idx])
    return np.concatenate(xs), {k: np.concatenate(v) for k, v in tgs.items()}


def load_synth(work: Work):
    """Re-rendered frames with random teams (frames.make_synth); names from the letters."""
    xs, tgs = [], {k: [] for k in SYNTH_HEADS}
    for p in sorted(glob.glob(work.data("synth", "*.npz"))):
        z = np.load(p)
        xs.append(z["x"])
        n = len(z["x"])
        for k in SYNTH_HEADS:
            if k == "arena":
                tgs[k].append(np.ones(n, dtype=np.int64))
            elif k.startswith("name_"):
                side = k[-1]
                abbr = ["".join(LETTERS[z[f"l{j}_{side}"][i]] for j in range(3)) for i in range(n)]
                tgs[k].append(np.array([NAME_OF_ABBR.get(a, -1) for a in abbr], dtype=np.int64))  # -1: no such team
            else:
                tgs[k].append(z[k].astype(np.int64))
    return np.concatenate(xs), {k: np.concatenate(v) for k, v in tgs.items()}


def load_ood(work: Work):
    """Out-of-domain frames: (train, validation); the last tenth of the clips validates."""
    z = np.load(work.data("ood", "ood.npz"))
    n_val = int(z["lengths"][-len(z["lengths"]) // 10:].sum())
    return z["x"][:-n_val], z["x"][-n_val:]


def full_targets(n, part: dict, keys):
    """Targets for all heads with a mask of the ones this frame set has."""
    tg, mask = {}, {}
    for k, v in HEADS.items():
        if k in keys:
            tg[k] = torch.from_numpy(part[k])
            mask[k] = tg[k] >= 0 if v else torch.ones(n, dtype=torch.bool)
            tg[k] = tg[k].clamp(min=0) if v else tg[k]
        else:
            tg[k] = torch.zeros((n, 2), dtype=torch.float32) if not v else torch.zeros(n, dtype=torch.long)
            mask[k] = torch.zeros(n, dtype=torch.bool)
    return tg, mask


def not_arena(n):
    return full_targets(n, {"arena": np.zeros(n, dtype=np.int64)}, ("arena",))


@torch.no_grad()
def reader_eval(model, x, tg, mask, bs=256):
    """Accuracy per head (ball: mean absolute error), names spelled from the letters."""
    model.eval()
    outs = {k: [] for k in list(HEADS) + ["lex_h", "lex_a"]}
    for i in range(0, len(x), bs):
        o = model(pixels(x[i:i + bs]))
        o["lex_h"], o["lex_a"] = model.name_logits(o, "h"), model.name_logits(o, "a")
        for k in outs:
            outs[k].append(o[k])
    res = {}
    for side in "ha":
        m = mask[f"name_{side}"]
        if m.any():
            res[f"lex_{side}"] = float((torch.cat(outs[f"lex_{side}"])[m].argmax(-1) == tg[f"name_{side}"][m]).float().mean())
    for k, v in HEADS.items():
        m = mask[k]
        if m.any():
            o = torch.cat(outs[k])[m]
            res[k] = float((o.argmax(-1) == tg[k][m]).float().mean()) if v else float((o - tg[k][m]).abs().mean())
    model.train()
    return res


def train_trunk(work: Work, c: dict) -> None:
    """The reader's trunk and heads from scratch: runs/reader.pt, runs/reader_val.json."""
    ckpt = work.runs("reader.pt")
    ck = torch.load(ckpt) if os.path.exists(ckpt) else {"step": 0}
    if ck["step"] >= c["steps"]:
        return
    rng = random.Random(c["seed"] + ck["step"])
    torch.manual_seed(c["seed"])
    np.random.seed(c["seed"] + ck["step"])
    tdirs = match_dirs(work.data("train"))
    tdirs, vdirs = tdirs[:-c["held_out"]], tdirs[-c["held_out"]:]
    x, tg = load_frame_set(tdirs, c["stride"], rng)
    vx, vtg = load_frame_set(vdirs, 4, random.Random(1))
    sx, stg = load_synth(work)
    ox, ovx = load_ood(work)
    sets = [(x, *full_targets(len(x), tg, HEADS)), (sx, *full_targets(len(sx), stg, SYNTH_HEADS)), (ox, *not_arena(len(ox)))]
    bs = c["bs"]
    share = (bs // 2, bs * 5 // 16, bs - bs // 2 - bs * 5 // 16)   # match frames, re-rendered, out-of-domain
    log(f"reader: frames real {len(x)} synth {len(sx)} ood {len(ox)}; val real {len(vx)} ood {len(ovx)}")
    model = Reader(HEADS, lexicon())
    opt = torch.optim.AdamW(model.parameters(), lr=c["lr"], weight_decay=0.01)
    if "model" in ck:
        model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"])
        log(f"resumed reader at step {ck['step']}")

    def batch_loss():
        xb, tb, mb = [], {k: [] for k in HEADS}, {k: [] for k in HEADS}
        for (sx_, stg_, smask), nb in zip(sets, share):
            idx = np.sort(np.random.randint(0, len(sx_), nb))
            xb.append(sx_[idx])
            for k in HEADS:
                tb[k].append(stg_[k][idx]); mb[k].append(smask[k][idx])
        out = model(pixels(np.concatenate(xb)))
        return head_loss(out, {k: torch.cat(v) for k, v in tb.items()}, {k: torch.cat(v) for k, v in mb.items()})

    save = lambda step: torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, ckpt)  # noqa: E731
    step = run_steps("reader", opt, ck["step"], c["steps"], lambda i: warmup_cosine(c["lr"], i, 50, c["steps"], 0.03),
                     batch_loss, 200, save)
    save(step)
    res = reader_eval(model, vx, *full_targets(len(vx), vtg, HEADS))
    res["arena_on_ood"] = reader_eval(model, ovx, *not_arena(len(ovx)))["arena"]
    log("reader val: " + " ".join(f"{k}={v:.3f}" for k, v in res.items()))
    with open(work.runs("reader_val.json"), "w") as f:
        json.dump({"step": step, "val_frames": len(vx), "val_ood_frames": len(ovx), "metrics": res}, f, indent=1)


def letter_frames(dirs: list[str], stride: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for d in dirs:
        fr = np.load(os.path.join(d, "frames.npy"), mmap_mode="r")
        tg = frame_targets(d)
        idx = np.arange(0, min(len(fr), len(tg["l0_h"])), stride)
        xs.append(np.asarray(fr[idx, :BAND]))
        ys.append(np.stack([tg[h][idx] for h in LETTER_HEADS], 1))
    return np.concatenate(xs), np.concatenate(ys)


@torch.no_grad()
def letter_accuracy(model: LetterReader, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Per letter, and all three letters of a side right at once."""
    model.eval()
    pred = torch.cat([torch.stack([o.argmax(-1) for o in model(pixels(x[i:i + 512])).values()], 1)
                      for i in range(0, len(x), 512)]).numpy()
    model.train()
    ok = pred == y
    return {"letter": round(float(ok.mean()), 4), "home_abbr": round(float(ok[:, :3].all(1).mean()), 4),
            "away_abbr": round(float(ok[:, 3:].all(1).mean()), 4)}


def train_letters(work: Work, c: dict) -> None:
    """The letter path alone (cross-entropy on the six letters; half re-rendered
    frames, half match frames): runs/letters.pt, the best of its evaluations."""
    ckpt = work.runs("letters.pt")
    if os.path.exists(ckpt):
        return
    torch.manual_seed(c["seed"])
    rng = np.random.default_rng(c["seed"])
    tdirs = match_dirs(work.data("train"))
    tdirs, held = tdirs[:-c["held_out"]], tdirs[-c["held_out"]:]   # the trunk's own held-out matches
    sx, stg = load_synth(work)
    sx, sy = sx[:, :BAND], np.stack([stg[h] for h in LETTER_HEADS], 1)
    mx, my = letter_frames(tdirs, 6)
    hx, hy = letter_frames(held, 4)
    vx, vy = letter_frames(match_dirs(work.data("val")), 3)
    arch = {"widths": tuple(c["widths"]), "fc": c["fc"]}
    model = LetterReader(**arch)
    opt = torch.optim.AdamW(model.parameters(), lr=c["lr"], weight_decay=0.01)
    best = -1.0

    def evaluate_and_save(step):
        nonlocal best
        res = {"held": letter_accuracy(model, hx, hy), "val": letter_accuracy(model, vx, vy)}
        score = sum(r[k] for r in res.values() for k in ("home_abbr", "away_abbr"))
        log(f"letters step {step} {json.dumps(res)}")
        if score > best:
            best = score
            torch.save({"model": model.state_dict(), "arch": arch, "step": step, "val": res}, ckpt + ".part")

    def batch_loss():
        ns = c["bs"] // 2
        si, mi = rng.integers(0, len(sx), ns), rng.integers(0, len(mx), c["bs"] - ns)
        y = torch.from_numpy(np.concatenate([sy[si], my[mi]])).long()
        out = model(pixels(np.concatenate([sx[si], mx[mi]])))
        return sum(F.cross_entropy(out[h], y[:, j]) for j, h in enumerate(LETTER_HEADS))

    step = run_steps("letters", opt, 0, c["steps"], lambda i: warmup_cosine(c["lr"], i, 30, c["steps"], 0.03),
                     batch_loss, 250, evaluate_and_save)
    evaluate_and_save(step)
    os.replace(ckpt + ".part", ckpt)


def load_reader(work: Work) -> Reader:
    """The frozen reader with its letter path, which replaces the trunk's letter heads."""
    model = Reader(HEADS, lexicon())
    model.load_state_dict(torch.load(work.runs("reader.pt"))["model"])
    ck = torch.load(work.runs("letters.pt"))
    model.letters = LetterReader(**ck["arch"])
    model.letters.load_state_dict(ck["model"])
    return model.eval()


@torch.no_grad()
def cache_features(work: Work) -> None:
    """Reader features (head distributions + z) of every match frame (reader.npy)
    and out-of-domain frame (ood/reader.npz), fp16; redone when the reader is newer."""
    reader = load_reader(work)
    stamp = max(os.path.getmtime(work.runs(p)) for p in ("reader.pt", "letters.pt"))
    feats = lambda x: torch.cat([reader.features(pixels(x[i:i + 120])) for i in range(0, len(x), 120)])  # noqa: E731
    for d in match_dirs(work.data("val")) + match_dirs(work.data("train")):
        fp = os.path.join(d, "reader.npy")
        if not os.path.exists(fp) or os.path.getmtime(fp) < stamp:
            np.save(fp, feats(np.load(os.path.join(d, "frames.npy"), mmap_mode="r")).numpy().astype(np.float16))
    fp = work.data("ood", "reader.npz")
    if not os.path.exists(fp) or os.path.getmtime(fp) < stamp:
        z = np.load(work.data("ood", "ood.npz"))
        np.savez(fp, f=feats(z["x"]).numpy().astype(np.float16), lengths=z["lengths"])
    log("reader features cached")
