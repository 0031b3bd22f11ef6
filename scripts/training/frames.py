"""Reader pre-training frames that are not the training matches:

* out-of-domain clips (video that is not an arena match, so the model learns to
  stay silent on it; a streamer's OBS shows far more than our sport). Procedural
  only (nothing from ../shared/media, which is test material): pixel-art tile
  worlds with an inventory bar, photo-like smooth scenes with a score box in a
  random place, screencasts of text, stick figures with a pose overlay, arena
  pitches without the scoreboard, and ffmpeg's own test sources. Square and 16:9.
* re-rendered arena frames with random teams and kit colours, and optionally
  random three-letter abbreviations, so the reader learns to read any name (the
  training matches hold too few distinct teams).

All go through libx264 and the runtime's decode filter like every training frame.
"""
from __future__ import annotations

import os
import random
import subprocess

import numpy as np

from arena.font import draw_text
from cocaster_model.model import LETTER_HEADS

from .data import COLOURS, LETTERS

SIZES = [(256, 256), (320, 180), (384, 216), (256, 144), (240, 320)]
LAVFI = ["testsrc2", "smptehdbars", "mandelbrot", "life=mold=10:ratio=0.1:death_color=#{c1}:life_color=#{c2}",
         "cellauto=rule={rule}", "rgbtestsrc", "sierpinski", "gradients=c0=#{c1}:c1=#{c2}:speed=0.05"]
VF_ALL = "scale=128:128:force_original_aspect_ratio=decrease:flags=bilinear,pad=128:128:(ow-iw)/2:(oh-ih)/2:color=black"
VF = "fps=2," + VF_ALL   # the runtime decode of a 2 fps source
CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int) -> np.ndarray:
    small = rng.random((cells, max(2, cells * w // h), 3))
    ys = np.linspace(0, small.shape[0] - 1, h)
    xs = np.linspace(0, small.shape[1] - 1, w)
    y0, x0 = ys.astype(int), xs.astype(int)
    y1, x1 = np.minimum(y0 + 1, small.shape[0] - 1), np.minimum(x0 + 1, small.shape[1] - 1)
    fy, fx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    top = small[y0][:, x0] * (1 - fx) + small[y0][:, x1] * fx
    bot = small[y1][:, x0] * (1 - fx) + small[y1][:, x1] * fx
    return top * (1 - fy) + bot * fy


def rand_text(r: random.Random, n: int) -> str:
    return "".join(r.choice(CHARS + "  ") for _ in range(n)).strip() or "A"


def tiles(r: random.Random, g: np.random.Generator, h: int, w: int, n: int):
    """Top-down pixel-art world scrolling under a player, inventory bar below."""
    ts = r.choice([8, 12, 16, 20])
    palette = g.integers(0, 256, (r.randint(4, 9), 3))
    wh, ww = h // ts + 40, w // ts + 40
    world = (smooth_noise(g, wh, ww, r.randint(4, 12))[:, :, 0] * len(palette)).astype(int).clip(0, len(palette) - 1)
    sprinkle = g.random((wh, ww)) < r.uniform(0.02, 0.2)
    world[sprinkle] = g.integers(0, len(palette), int(sprinkle.sum()))
    tex = g.random((len(palette), ts, ts, 1)) * 0.35 + 0.8
    px, py = 10.0, 10.0
    bar = r.random() < 0.7
    for i in range(n):
        px += r.uniform(-1, 1); py += r.uniform(-1, 1)
        ox, oy = int(min(max(px, 0), 38)), int(min(max(py, 0), 38))
        view = world[oy:oy + h // ts + 1, ox:ox + w // ts + 1]
        img = (palette[view][:, :, None, None, :] * tex[view]).transpose(0, 2, 1, 3, 4)
        img = np.clip(img.reshape(view.shape[0] * ts, view.shape[1] * ts, 3)[:h, :w], 0, 255).astype(np.uint8)
        cy, cx = h // 2, w // 2
        img[cy - ts // 2:cy + ts // 2, cx - ts // 2:cx + ts // 2] = (230, 200, 160)
        if bar:
            img[h - 2 * ts:] = (20, 20, 20)
            for k in range(r.randint(3, 9)):
                x0 = 4 + k * (ts + 6)
                if x0 + ts < w:
                    img[h - 2 * ts + 3:h - ts + 3, x0:x0 + ts] = palette[k % len(palette)]
                    draw_text(img, str(r.randint(0, 9)), x0 + ts // 2, h - ts + 2, 1, (255, 255, 255))
        yield img


def scene_with_box(r: random.Random, g: np.random.Generator, h: int, w: int, n: int):
    """Photo-like smooth scene (people, courts, rooms) with a score box somewhere."""
    base = smooth_noise(g, h, w, r.randint(3, 10)) * 255
    drift = smooth_noise(g, h, w, r.randint(2, 5)) * 60 - 30
    box_y = r.choice([2, h - 22, h // 2, 8])
    box_x = r.randint(0, max(0, w - 150))
    a, b = r.randint(0, 120), r.randint(0, 120)
    names = (rand_text(r, 3), rand_text(r, 3))
    for i in range(n):
        img = np.clip(base + drift * np.sin(i / 7 + r.random()), 0, 255).astype(np.uint8)
        for _ in range(r.randint(0, 4)):
            y, x = r.randrange(h - 30), r.randrange(w - 12)
            img[y:y + 30, x:x + 12] = g.integers(0, 256, 3)
        if r.random() < 0.1:
            a += r.choice([1, 2, 3])
        if r.random() < 0.85:
            img[box_y:box_y + 18, box_x:box_x + 150] = (15, 15, 40)
            draw_text(img, f"{names[0]} {a} {names[1]} {b}", box_x + 3, box_y + 3, r.choice([1, 2]), (255, 255, 255))
        yield img


def screencast(r: random.Random, g: np.random.Generator, h: int, w: int, n: int):
    dark = r.random() < 0.5
    bg = (30, 30, 35) if dark else (245, 245, 245)
    lines = [(rand_text(r, r.randint(4, 30)), tuple(int(c) for c in g.integers(0, 200 if not dark else 256, 3)))
             for _ in range(60)]
    top = 0
    for i in range(n):
        img = np.full((h, w, 3), bg, dtype=np.uint8)
        img[:14] = (60, 60, 70) if dark else (220, 220, 225)
        if r.random() < 0.2:
            top = min(top + r.randint(1, 4), 40)
        for j, (txt, col) in enumerate(lines[top:top + (h - 16) // 10]):
            draw_text(img, txt, 6, 16 + j * 10, 1, col)
        yield img


def pose(r: random.Random, g: np.random.Generator, h: int, w: int, n: int):
    base = (smooth_noise(g, h, w, r.randint(2, 6)) * 200 + 30).astype(np.uint8)
    cx, cy, s = w / 2, h / 2, h / 4
    skin = tuple(int(c) for c in g.integers(90, 240, 3))
    for i in range(n):
        img = base.copy()
        ph = i / 3.0
        hip = (cx, cy + s * (0.3 + 0.25 * abs(np.sin(ph))))
        pts = [(cx, cy - s), hip, (cx - s / 2, cy + s * 1.5), (cx + s / 2, cy + s * 1.5),
               (cx - s / 1.5, cy - s / 3), (cx + s / 1.5, cy - s / 3)]
        for (x0, y0) in pts:
            for t in np.linspace(0, 1, 30):
                x, y = int(x0 * t + hip[0] * (1 - t)), int(y0 * t + hip[1] * (1 - t))
                img[max(0, y - 4):y + 4, max(0, x - 4):x + 4] = skin
                img[max(0, y - 1):y + 1, max(0, x - 1):x + 1] = (0, 255, 0)
            img[max(0, int(y0) - 3):int(y0) + 3, max(0, int(x0) - 3):int(x0) + 3] = (255, 0, 0)
        yield img


def pitch_only(r: random.Random, g: np.random.Generator, h: int, w: int, n: int):
    """An arena pitch with no scoreboard: not a match the model can read."""
    from arena.render import Layout, pitch_background
    img0 = np.array(pitch_background(Layout(w, h)), dtype=np.uint8)
    cover = tuple(int(c) for c in g.integers(0, 256, 3))
    for i in range(n):
        img = img0.copy()
        img[: h // 4] = cover
        for _ in range(8):
            y, x = r.randrange(h // 4, h - 6), r.randrange(w - 6)
            img[y:y + 6, x:x + 6] = g.integers(0, 256, 3)
        yield img


NUMPY_KINDS = [tiles, scene_with_box, screencast, pose, pitch_only]


def x264_roundtrip(raw: bytes, w: int, h: int, rate: int, vf: str) -> np.ndarray:
    """RGB frames through libx264 (crf 23) and back through the decode filter vf."""
    enc = subprocess.run(["ffmpeg", "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}", "-r", str(rate),
                          "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                          "-f", "mp4", "-movflags", "frag_keyframe+empty_moov", "pipe:1"],
                         input=raw, capture_output=True, check=True).stdout
    return run_decode(["-i", "pipe:0"], enc, vf)


def run_decode(inp: list[str], data: bytes | None = None, vf: str = VF) -> np.ndarray:
    out = subprocess.run(["ffmpeg", "-v", "error", *inp, "-an", "-vf", vf, "-pix_fmt", "rgb24", "-f", "rawvideo",
                          "pipe:1"], input=data, capture_output=True, check=True).stdout
    return np.frombuffer(out, dtype=np.uint8).reshape(-1, 128, 128, 3)


def clip(i: int, seed: int, n: int) -> np.ndarray:
    r = random.Random(seed * 100003 + i)
    g = np.random.default_rng(seed * 100003 + i)
    w, h = r.choice(SIZES)
    if r.random() < 0.25:
        src = r.choice(LAVFI).format(c1=f"{r.randrange(1 << 24):06x}", c2=f"{r.randrange(1 << 24):06x}",
                                     rule=r.randrange(256))
        return run_decode(["-f", "lavfi", "-i", f"{src}:size={w}x{h}:rate=10" if ":" in src or "=" in src
                           else f"{src}=size={w}x{h}:rate=10", "-t", str(n / 2)])[:n]
    kind = r.choice(NUMPY_KINDS)
    # 2-D kinds draw at an even size (libx264 + yuv420p)
    raw = b"".join(f.tobytes() for f in kind(r, g, h, w, n))
    return x264_roundtrip(raw, w, h, 2, VF)[:n]


def make_ood(out: str, clips: int, frames: int, seed: int = 0) -> None:
    """out (ood.npz): x [frames, 128, 128, 3] of all clips, lengths per clip."""
    if os.path.exists(out):
        return
    made = [clip(i, seed, frames) for i in range(clips)]
    lengths = np.array([len(c) for c in made])
    np.savez(out, x=np.concatenate(made), lengths=lengths)


def synth(n_clips: int, per_clip: int, seed: int, random_abbr: bool, match_seeds=range(50000, 50006)):
    """Frames of matches 50000-50005 re-rendered with random teams, and their
    labels: scores, kit colours and letters (the rest of the state is not tracked)."""
    from arena.render import Renderer
    from arena.world import pick_teams, simulate_match
    rng = random.Random(seed)
    matches = [simulate_match(s) for s in match_seeds]
    frames, rows = [], []
    for _ in range(n_clips):
        m = rng.choice(matches)
        orig = m.teams
        m.teams = pick_teams(rng)
        if random_abbr:  # any three letters: glyphs in every position and company, not just the name list's
            for tm in m.teams:
                tm["abbr"] = "".join(rng.choice(LETTERS) for _ in range(3))
        r = Renderer(m, (256, 256))
        ts = sorted(rng.uniform(0, m.duration - 0.3) for _ in range(per_clip))
        fr = x264_roundtrip(b"".join(r.frame(t).tobytes() for t in ts), 256, 256, 10, VF_ALL)[:per_clip]
        frames.append(fr)
        rows += [(m.state_at(t), m.teams) for t in ts[:len(fr)]]
        m.teams = orig
    x = np.concatenate(frames)
    tg = {k: np.zeros(len(x), dtype=np.int64) for k in ("score_h", "score_a", "colour_h", "colour_a", *LETTER_HEADS)}
    for i, (st, teams) in enumerate(rows):
        tg["score_h"][i], tg["score_a"][i] = min(st.score[0], 9), min(st.score[1], 9)
        for side, tm in zip("ha", teams):
            tg[f"colour_{side}"][i] = COLOURS.index(tm["colour"])
            for j in range(3):
                tg[f"l{j}_{side}"][i] = LETTERS.index(tm["abbr"][j].upper())
    return x, tg


def make_synth(out_dir: str, parts: int, clips: int, per_clip: int, random_abbr: bool) -> None:
    """out_dir/part{i}.npz (or letters{i}.npz with random abbreviations), one per part."""
    os.makedirs(out_dir, exist_ok=True)
    for part in range(parts):
        out = os.path.join(out_dir, f"{'letters' if random_abbr else 'part'}{part}.npz")
        if not os.path.exists(out):
            x, tg = synth(clips, per_clip, (5000 if random_abbr else 1000) + part, random_abbr)
            np.savez(out, x=x, **tg)
