"""Synthetic encoder pre-training frames: real arena matches re-rendered with random
team names / kit colours, so the encoder learns to read any 3-letter abbreviation
(the 200-odd real training matches hold too few distinct teams). Frames go through
libx264 (crf 23, like arena.render) and the runtime's decode filter."""
from __future__ import annotations

import random
import subprocess

import numpy as np

from arena.dataset import frame_labels
from arena.render import Renderer
from arena.world import pick_teams, simulate_match

from .common import COLOURS, HEADS, LETTERS


def synth(n_clips: int, per_clip: int, seed: int, match_seeds=range(50000, 50006), random_abbr: bool = False):
    rng = random.Random(seed)
    matches = [simulate_match(s) for s in match_seeds]
    frames, rows = [], []
    for c in range(n_clips):
        m = rng.choice(matches)
        orig = m.teams
        m.teams = pick_teams(rng)
        if random_abbr:  # any three letters: glyphs in every position and company, not just the name list's
            for tm in m.teams:
                tm["abbr"] = "".join(rng.choice(LETTERS) for _ in range(3))
        r = Renderer(m, (256, 256))
        ts = sorted(rng.uniform(0, m.duration - 0.3) for _ in range(per_clip))
        raw = b"".join(r.frame(t).tobytes() for t in ts)
        enc = subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "256x256",
                              "-r", "10", "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
                              "-pix_fmt", "yuv420p", "-f", "mp4", "-movflags", "frag_keyframe+empty_moov", "pipe:1"],
                             input=raw, capture_output=True, check=True).stdout
        vf = ("scale=128:128:force_original_aspect_ratio=decrease:flags=bilinear,"
              "pad=128:128:(ow-iw)/2:(oh-ih)/2:color=black")
        dec = subprocess.run(["ffmpeg", "-v", "error", "-i", "pipe:0", "-an", "-vf", vf, "-pix_fmt", "rgb24",
                              "-f", "rawvideo", "pipe:1"], input=enc, capture_output=True, check=True).stdout
        fr = np.frombuffer(dec, dtype=np.uint8).reshape(-1, 128, 128, 3)[:per_clip]
        frames.append(fr)
        for t in ts[:len(fr)]:
            st = m.state_at(t)
            rows.append((st, m.teams))
        m.teams = orig
    x = np.concatenate(frames)
    n = len(x)
    tg = {k: np.zeros(n, dtype=np.int64) for k, v in HEADS.items() if v}
    tg["ball"] = np.zeros((n, 2), dtype=np.float32)
    for i, (st, teams) in enumerate(rows):
        tg["score_h"][i], tg["score_a"][i] = min(st.score[0], 9), min(st.score[1], 9)
        for side, tm in zip("ha", teams):
            tg[f"colour_{side}"][i] = COLOURS.index(tm["colour"])
            for j in range(3):
                tg[f"l{j}_{side}"][i] = LETTERS.index(tm["abbr"][j].upper())
    return x, tg


def main():
    """python3 -m tiny.synth --parts 0:8 --out ../data/synth   (4,000 frames per part)"""
    import argparse
    import os
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", default="0:8")
    ap.add_argument("--out", required=True)
    ap.add_argument("--random_abbr", action="store_true", help="random letters instead of the names' abbreviations")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    lo, hi = (int(v) for v in a.parts.split(":"))
    for part in range(lo, hi):
        out = os.path.join(a.out, f"{'letters' if a.random_abbr else 'part'}{part}.npz")
        if os.path.exists(out):
            continue
        x, tg = synth(40, 100, (5000 if a.random_abbr else 1000) + part, random_abbr=a.random_abbr)
        np.savez(out, x=x, **tg)
        print(f"part {part}: {len(x)} frames", flush=True)


if __name__ == "__main__":
    main()
