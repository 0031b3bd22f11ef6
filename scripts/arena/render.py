"""Render an arena match to real H.264 video (numpy frames piped to ffmpeg).

Layout at 256x256 (other sizes scale): a 64 px scoreboard band on top
([ABR] h-a [ABR] in big blocky letters, clock underneath, a white bar under
the team in possession), the pitch below. Everything the model must read is
drawn at >= 3 px per font pixel so it survives the downscale to 128x128
and H.264 compression. Cards: GOAL! band in the scorer's colour (2 s),
REPLAY band + washed-out footage, HALF TIME / FULL TIME panels with score.

Usage: python3 -m arena.render SEED OUT.mp4 [FPS] [SIZE]
"""
import subprocess
import sys
from functools import lru_cache

import numpy as np

from .font import draw_text, text_size
from .world import BALL, CY, FIELD_H, FIELD_W, GOAL_HALF, N_PER_TEAM, simulate_match

GRASS = (46, 122, 58)
GRASS_2 = (52, 134, 64)          # mowing stripes, kept subtle
LINE = (225, 235, 225)
BOARD = (38, 38, 48)
CARD = (18, 24, 70)


def _contrast(rgb):
    """Black text on light kits, white on dark ones."""
    lum = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    return (0, 0, 0) if lum > 140 else (255, 255, 255)


class Layout:
    def __init__(self, w, h):
        self.w, self.h = w, h
        k = w / 256.0
        self.k = k
        self.board_h = int(round(64 * k))
        # Pitch rectangle (field lines) inside the frame; goals stick out.
        self.px0, self.px1 = int(round(12 * k)), w - int(round(12 * k))
        self.py0, self.py1 = self.board_h + int(round(4 * k)), h - int(round(4 * k))
        self.sx = (self.px1 - self.px0) / FIELD_W
        self.sy = (self.py1 - self.py0) / FIELD_H
        self.r_player = max(2, int(round(6 * k)))
        self.r_ball = max(1, int(round(4 * k)))
        self.big = max(1, int(round(4 * k)))     # scoreboard font scale
        self.mid = max(1, int(round(3 * k)))

    def to_px(self, xy):
        return (self.px0 + xy[..., 0] * self.sx, self.py0 + xy[..., 1] * self.sy)


def _disc(r):
    yy, xx = np.mgrid[-r:r + 1, -r:r + 1]
    return xx * xx + yy * yy <= r * r + r * 0.8


def _stamp(img, mask, cx, cy, rgb):
    r = mask.shape[0] // 2
    x0, y0 = cx - r, cy - r
    H, W = img.shape[:2]
    ax0, ay0 = max(x0, 0), max(y0, 0)
    ax1, ay1 = min(x0 + mask.shape[1], W), min(y0 + mask.shape[0], H)
    if ax1 <= ax0 or ay1 <= ay0:
        return
    sub = mask[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    img[ay0:ay1, ax0:ax1][sub] = rgb


def _rect(img, x0, y0, x1, y1, rgb):
    img[max(y0, 0):max(y1, 0), max(x0, 0):max(x1, 0)] = rgb


def _frame_rect(img, x0, y0, x1, y1, t, rgb):
    _rect(img, x0, y0, x1, y0 + t, rgb)
    _rect(img, x0, y1 - t, x1, y1, rgb)
    _rect(img, x0, y0, x0 + t, y1, rgb)
    _rect(img, x1 - t, y0, x1, y1, rgb)


def pitch_background(L: Layout):
    img = np.zeros((L.h, L.w, 3), dtype=np.uint8)
    img[:] = GRASS
    stripe = max(4, int(round(20 * L.k)))
    for x in range(L.px0, L.px1, 2 * stripe):
        _rect(img, x, L.py0, min(x + stripe, L.px1), L.py1, GRASS_2)
    lw = max(1, int(round(2 * L.k)))
    _frame_rect(img, L.px0 - lw, L.py0 - lw, L.px1 + lw, L.py1 + lw, lw, LINE)
    mx = (L.px0 + L.px1) // 2
    _rect(img, mx - lw // 2, L.py0, mx - lw // 2 + lw, L.py1, LINE)
    # Centre circle as a ring.
    cy = int(L.py0 + CY * L.sy)
    r = int(10 * L.sx)
    yy, xx = np.mgrid[0:L.h, 0:L.w]
    d = np.sqrt((xx - mx) ** 2 + (yy - cy) ** 2)
    img[(d >= r - lw / 2) & (d <= r + lw / 2)] = LINE
    # Penalty boxes and goals (goal nets outside the end lines).
    gy0, gy1 = int(L.py0 + (CY - GOAL_HALF) * L.sy), int(L.py0 + (CY + GOAL_HALF) * L.sy)
    by0, by1 = int(L.py0 + (CY - 20) * L.sy), int(L.py0 + (CY + 20) * L.sy)
    bw = int(14 * L.sx)
    gd = max(3, int(round(9 * L.k)))
    for x_line, s in ((L.px0, 1), (L.px1, -1)):
        xa, xb = sorted((x_line, x_line + s * bw))
        _frame_rect(img, xa, by0, xb + 1, by1, lw, LINE)
        xa, xb = sorted((x_line, x_line - s * gd))
        _rect(img, xa, gy0, xb, gy1, (170, 170, 170))
        for yy_ in range(gy0, gy1, max(2, lw * 2)):      # net hatching
            _rect(img, xa, yy_, xb, yy_ + 1, (120, 120, 120))
        _frame_rect(img, xa - lw, gy0 - lw, xb + lw, gy1 + lw, lw, (255, 255, 255))
    return img


@lru_cache(maxsize=64)
def _team_box(abbr, rgb, scale, pad):
    """Abbreviation in a filled box of the team colour, light outline."""
    w, h = text_size(abbr, scale)
    box = np.zeros((h + 2 * pad, w + 2 * pad, 3), dtype=np.uint8)
    box[:] = rgb
    _frame_rect(box, 0, 0, box.shape[1], box.shape[0], max(1, pad // 3), (200, 200, 200))
    draw_text(box, abbr, pad, pad, scale, _contrast(rgb))
    box.flags.writeable = False
    return box


def _paste(img, patch, x, y):
    h, w = patch.shape[:2]
    img[y:y + h, x:x + w] = patch[:max(0, min(h, img.shape[0] - y)), :max(0, min(w, img.shape[1] - x))]


def score_line(img, teams, score, cx, y, scale, L, poss=None):
    """Draw '[ABR] h-a [ABR]' centred on cx; returns its height."""
    pad = max(1, int(round(3 * L.k)))
    boxes = [_team_box(t["abbr"], tuple(t["rgb"]), scale, pad) for t in teams]
    txt = f"{score[0]}-{score[1]}"
    sc = scale
    gap = max(2, int(round(8 * L.k)))
    while True:
        tw, th = text_size(txt, sc)
        total = boxes[0].shape[1] + boxes[1].shape[1] + tw + 2 * gap
        if total <= L.w - 4 or sc == 1:
            break
        sc -= 1
    x = cx - total // 2
    bh = boxes[0].shape[0]
    _paste(img, boxes[0], x, y)
    draw_text(img, txt, x + boxes[0].shape[1] + gap, y + (bh - th) // 2, sc, (255, 255, 255))
    xb = x + boxes[0].shape[1] + tw + 2 * gap
    _paste(img, boxes[1], xb, y)
    if poss is not None:
        bx = x if poss == 0 else xb
        bw = boxes[poss].shape[1]
        t = max(2, int(round(5 * L.k)))
        _rect(img, bx, y + bh + t // 2, bx + bw, y + bh + t // 2 + t, (255, 255, 255))
    return bh


@lru_cache(maxsize=256)
def _scoreboard(key, L):
    teams, score, clock, poss = key
    band = np.zeros((L.board_h, L.w, 3), dtype=np.uint8)
    band[:] = BOARD
    teams = [{"abbr": a, "rgb": c} for a, c in teams]
    y = max(1, int(round(3 * L.k)))
    bh = score_line(band, teams, score, L.w // 2, y, L.big, L, poss)
    cw, ch = text_size(clock, L.mid)
    draw_text(band, clock, (L.w - cw) // 2, min(L.board_h - ch - 1, y + bh + int(round(4 * L.k))),
              L.mid, (255, 235, 120))
    band.flags.writeable = False
    return band


def _centered(img, text, cy, scale, rgb, shadow=None):
    w, h = text_size(text, scale)
    draw_text(img, text, (img.shape[1] - w) // 2, cy - h // 2, scale, rgb, shadow=shadow)
    return h


def _band(img, y0, y1, rgb, border):
    _rect(img, 0, y0, img.shape[1], y1, rgb)
    t = max(1, (y1 - y0) // 20)
    _rect(img, 0, y0, img.shape[1], y0 + t, border)
    _rect(img, 0, y1 - t, img.shape[1], y1, border)


class Renderer:
    def __init__(self, match, size=(256, 256)):
        self.m = match
        self.L = Layout(*size)
        self.bg = pitch_background(self.L)
        self.disc = _disc(self.L.r_player)
        self.ring = _disc(self.L.r_player + max(1, int(round(self.L.k))))
        self.ball = _disc(self.L.r_ball)
        self.ball_ring = _disc(self.L.r_ball + 1)
        self.team_key = tuple((t["abbr"], tuple(t["rgb"])) for t in match.teams)

    def frame(self, t):
        m, L = self.m, self.L
        st = m.state_at(t)
        i = m.step_index(t)
        img = self.bg.copy()
        xs, ys = L.to_px(m.pos[i].astype(np.float64))
        xs, ys = np.round(xs).astype(int), np.round(ys).astype(int)
        for p in range(BALL):
            team = m.teams[p // N_PER_TEAM]
            rgb = tuple(team["rgb"])
            outline = (200, 200, 200) if sum(rgb) < 150 else (10, 10, 10)
            _stamp(img, self.ring, xs[p], ys[p], outline)
            _stamp(img, self.disc, xs[p], ys[p], rgb)
        _stamp(img, self.ball_ring, xs[BALL], ys[BALL], (0, 0, 0))
        _stamp(img, self.ball, xs[BALL], ys[BALL], (255, 255, 255))
        pitch = img[L.board_h:]
        if st.replay:
            # Washed-out footage makes replays distinct even without the band.
            g = pitch.mean(axis=2, keepdims=True)
            pitch[:] = (0.45 * pitch + 0.35 * g + np.array([40, 30, 10])).clip(0, 255)
            y0 = L.h - int(round(50 * L.k))
            _band(img, y0, L.h, (20, 20, 20), (230, 40, 40))
            sc = max(1, int(round(5 * L.k)))
            _centered(img, "REPLAY", (y0 + L.h) // 2, sc, (255, 255, 255))
            r = max(2, int(round(6 * L.k)))
            _stamp(img, _disc(r), int(14 * L.k), (y0 + L.h) // 2, (230, 40, 40))
        if st.goal_banner is not None:
            rgb = tuple(m.teams[st.goal_banner]["rgb"])
            cy = L.board_h + (L.h - L.board_h) // 2
            hh = int(round(38 * L.k))
            _band(img, cy - hh, cy + hh, rgb, _contrast(rgb))
            _centered(img, "GOAL!", cy, max(1, int(round(8 * L.k))), _contrast(rgb))
        if st.half_time_card or st.full_time_card:
            title = "HALF TIME" if st.half_time_card else "FULL TIME"
            m0 = int(round(4 * L.k))
            y0, y1 = L.board_h + m0, L.h - m0
            _rect(img, m0, y0, L.w - m0, y1, CARD)
            _frame_rect(img, m0, y0, L.w - m0, y1, max(1, int(round(3 * L.k))),
                        (255, 215, 0) if st.full_time_card else (255, 255, 255))
            _centered(img, title, y0 + int(round(50 * L.k)), L.big, (255, 255, 255))
            teams = [{"abbr": a, "rgb": c} for a, c in self.team_key]
            score_line(img, teams, st.score, L.w // 2, y0 + int(round(95 * L.k)), L.big, L)
        poss = None if (st.half_time_card or st.full_time_card) else st.possession
        img[:L.board_h] = _scoreboard((self.team_key, st.score, st.clock_text, poss), L)
        return img


def render_match(match, out_path, fps=10, size=(256, 256)):
    """Render all frames (t = k/fps) and encode with libx264 via ffmpeg."""
    w, h = size
    r = Renderer(match, size)
    n = int(round(match.duration * fps))
    cmd = ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", "libx264",
           "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p", str(out_path)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE)
    try:
        for k in range(n):
            proc.stdin.write(r.frame(k / fps).tobytes())
    finally:
        proc.stdin.close()
        rc = proc.wait()
    if rc:
        raise RuntimeError(f"ffmpeg failed with exit code {rc}")
    return n


if __name__ == "__main__":
    seed = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    out = sys.argv[2] if len(sys.argv) > 2 else f"/tmp/arena_{seed}.mp4"
    fps = int(sys.argv[3]) if len(sys.argv) > 3 else 10
    size = int(sys.argv[4]) if len(sys.argv) > 4 else 256
    n = render_match(simulate_match(seed), out, fps, (size, size))
    print(f"wrote {n} frames to {out}")
