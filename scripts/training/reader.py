"""Train the full-resolution letter path of the reader (tiny.reader.LetterReader).

Only the six scoreboard letters are learnt; the frozen reader trunk, its z and
every other head stay as they are, so the decoder trained on them needs nothing
new. Frames: the re-rendered synth sets (random teams and random three-letter
abbreviations, every glyph in every slot) and every 6th frame of the training
matches; validation: the reader's 10 held-out training matches and the
validation matches (seeds 90000-90019).

    cd scripts && /usr/bin/python3 -m tiny.letters --minutes 25     # -> runs/letters.pt

`train_tiny.load_reader()` attaches runs/letters.pt when it exists, so `cache`
and `export` use it.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from tiny.common import RUNS, TRAIN_DIR, VAL_DIR, frame_targets, log, match_dirs, pixels, warmup_cosine
from tiny.reader import LETTER_HEADS, LetterReader

LETTERS_CKPT = os.path.join(RUNS, "letters.pt")
BAND = 32


def load_matches(dirs: list[str], stride: int) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for d in dirs:
        fr = np.load(os.path.join(d, "frames.npy"), mmap_mode="r")
        tg = frame_targets(d)
        idx = np.arange(0, min(len(fr), len(tg["l0_h"])), stride)
        xs.append(np.asarray(fr[idx, :BAND]))
        ys.append(np.stack([tg[h][idx] for h in LETTER_HEADS], 1))
    return np.concatenate(xs), np.concatenate(ys)


def known_name_dirs(root: str) -> list[str]:
    """Matches whose teams are in today's name list (older renders used other names)."""
    from tiny.common import NAME_OF_ABBR
    out = []
    for d in match_dirs(root):
        with open(os.path.join(d, "dialogue.json")) as f:
            if all(t["abbr"].upper() in NAME_OF_ABBR for t in json.load(f)["teams"]):
                out.append(d)
    return out


def load_synth() -> tuple[np.ndarray, np.ndarray]:
    from tiny.common import DATA
    xs, ys = [], []
    for p in sorted(glob.glob(os.path.join(DATA, "synth", "*.npz"))):
        z = np.load(p)
        xs.append(z["x"][:, :BAND].copy())
        ys.append(np.stack([z[h] for h in LETTER_HEADS], 1))
    return np.concatenate(xs), np.concatenate(ys)


@torch.no_grad()
def accuracy(model: LetterReader, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Per letter, and all three letters of a side right at once."""
    model.eval()
    pred = torch.cat([torch.stack([o.argmax(-1) for o in model(pixels(x[i:i + 512])).values()], 1)
                      for i in range(0, len(x), 512)]).numpy()
    model.train()
    ok = (pred == y) | (y < 0)
    return {"letter": round(float(ok[y >= 0].mean() if (y >= 0).any() else 1), 4),
            "home_abbr": round(float(ok[:, :3].all(1).mean()), 4), "away_abbr": round(float(ok[:, 3:].all(1).mean()), 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=25)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--bs", type=int, default=96)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--widths", default="16,32,48,48", help="conv channels; the first conv keeps full resolution")
    ap.add_argument("--fc", type=int, default=128)
    ap.add_argument("--out", default=LETTERS_CKPT)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    tdirs = match_dirs(TRAIN_DIR)
    tdirs, held = tdirs[:-10], tdirs[-10:]   # the reader's own held-out matches
    sx, sy = load_synth()
    mx, my = load_matches(tdirs, 6)
    hx, hy = load_matches(held, 4)
    vx, vy = load_matches(known_name_dirs(VAL_DIR), 3)
    log(f"letters: synth {len(sx)}, match frames {len(mx)}; val held-out {len(hx)}, val matches {len(vx)}")
    arch = {"widths": tuple(int(w) for w in a.widths.split(",")), "fc": a.fc}
    model = LetterReader(**arch)
    log(f"letter reader params {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M")
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    t0, step, best = time.time(), 0, -1.0

    def evaluate_and_save():
        nonlocal best
        res = {"held": accuracy(model, hx, hy), "val": accuracy(model, vx, vy)}
        score = res["val"]["home_abbr"] + res["val"]["away_abbr"] + res["held"]["home_abbr"] + res["held"]["away_abbr"]
        log(f"step {step} {json.dumps(res)}")
        if score > best:
            best = score
            torch.save({"model": model.state_dict(), "arch": arch, "step": step, "val": res}, a.out)

    while step < a.steps and time.time() - t0 < a.minutes * 60:
        lr = warmup_cosine(a.lr, step + 1, 30, step / a.steps, 0.03)
        for g in opt.param_groups:
            g["lr"] = lr
        ns = a.bs // 2
        si, mi = rng.integers(0, len(sx), ns), rng.integers(0, len(mx), a.bs - ns)
        x = np.concatenate([sx[si], mx[mi]])
        y = torch.from_numpy(np.concatenate([sy[si], my[mi]])).long()
        out = model(pixels(x))
        loss = sum(F.cross_entropy(out[h], y[:, j], ignore_index=-1) for j, h in enumerate(LETTER_HEADS))
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        if step % 25 == 0:
            log(f"step {step} loss {loss.item():.4f} lr {lr:.2e} {(time.time() - t0) / 60:.1f} min")
        if step % 250 == 0:
            evaluate_and_save()
    evaluate_and_save()
    log(f"letters done; best kept in {a.out}")


if __name__ == "__main__":
    main()
