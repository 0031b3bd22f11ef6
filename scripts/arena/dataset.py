"""Build the arena training set: video, decoded frames, labels, dialogue.

    cd scripts && python3 -m arena.dataset --seeds 0:1000 --out DIR [--res 128] [--fps 2] [--jobs 2]

SEEDS >= 100000 ARE RESERVED FOR EVALUATION. A training build refuses (exit
code 2) any seed range that reaches 100000 or above; pass --eval to build
an evaluation set on purpose.

Per seed, DIR/<seed>/ holds:
  match.mp4      rendered video (256x256, 10 fps, H.264 crf 23)
  frames.npy     uint8 [T, res, res, 3] decoded from match.mp4 with exactly
                 the ffmpeg command the TypeScript runtime uses (see
                 `decode_cmd`), so training sees the same compression
                 artefacts. Frame i is nominally at i / fps, but ffmpeg's fps
                 filter keeps the last source frame before (i + 0.5) / fps,
                 so its content is from t_src = i/2 + 0.2 s for a 10 fps
                 mp4 (world.decoded_frame_time); labels and turns use t_src
  labels.json    one record per decoded frame (score, possession, phase,
                 banner flags, clock, ball position) for encoder pre-training
  dialogue.json  teams, events and the streaming dialogue turns
"""
import argparse
import json
import os
import random
import subprocess
import sys
import time
from multiprocessing import Pool

import numpy as np

from .dialogue import make_dialogue
from .render import Layout, render_match
from .world import BALL, PHASES, decoded_frame_time, simulate_match

EVAL_SEED_START = 100000
RENDER_FPS = 10
RENDER_SIZE = 256


def decode_cmd(mp4, fps=2, res=128):
    """The runtime's decode command, verbatim apart from fps/res/path."""
    vf = (f"fps={fps},scale={res}:{res}:force_original_aspect_ratio=decrease:flags=bilinear,"
          f"pad={res}:{res}:(ow-iw)/2:(oh-ih)/2:color=black")
    return ["ffmpeg", "-v", "error", "-i", str(mp4), "-an", "-vf", vf,
            "-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"]


def decode_frames(mp4, fps=2, res=128):
    raw = subprocess.run(decode_cmd(mp4, fps, res), check=True, capture_output=True).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, res, res, 3)


def frame_labels(match, n_frames, fps):
    L = Layout(RENDER_SIZE, RENDER_SIZE)
    out = []
    for i in range(n_frames):
        t = decoded_frame_time(i, fps, RENDER_FPS)
        st = match.state_at(t)
        bx, by = L.to_px(match.pos[match.step_index(t), BALL].astype(np.float64))
        out.append({
            "t": round(i / fps, 3),       # nominal time the runtime assigns
            "t_src": t,                   # time of the content actually shown
            "score": list(st.score),
            "possession": -1 if st.possession is None else st.possession,
            "phase": st.phase,
            "phase_id": PHASES.index(st.phase),
            "clock_text": st.clock_text,
            "clock_min": st.minute,
            # Game-clock seconds: minutes only tick in the video, so this is
            # minute*60 (kept in seconds for convenience of regressors).
            "clock_s": st.minute * 60,
            "time_left_min": st.time_left_min,
            "flags": {
                "goal_banner": st.goal_banner is not None,
                "goal_team": -1 if st.goal_banner is None else st.goal_banner,
                "half_time_card": st.half_time_card,
                "full_time_card": st.full_time_card,
                "replay_banner": st.replay,
                "kickoff": st.kickoff,
            },
            # Ball centre in [0,1] frame coordinates (same for any res).
            "ball": [round(bx / RENDER_SIZE, 4), round(by / RENDER_SIZE, 4)],
        })
    return out


def build_one(seed, out_dir, fps=2, res=128, duration=180.0, keep_mp4=True, with_frames=True):
    d = os.path.join(out_dir, str(seed))
    os.makedirs(d, exist_ok=True)
    match = simulate_match(seed, duration)
    mp4 = os.path.join(d, "match.mp4")
    render_match(match, mp4, RENDER_FPS, (RENDER_SIZE, RENDER_SIZE))
    if with_frames:  # evaluation decodes match.mp4 itself, through the runtime
        frames = decode_frames(mp4, fps, res)
        np.save(os.path.join(d, "frames.npy"), frames)
        with open(os.path.join(d, "labels.json"), "w") as f:
            json.dump({"fps": fps, "res": res, "frames": frame_labels(match, len(frames), fps)}, f)
    # Dialogue randomness is separate from the world's but still seeded.
    turns = make_dialogue(match, random.Random(seed * 7919 + 17), fps=fps, src_fps=RENDER_FPS)
    with open(os.path.join(d, "dialogue.json"), "w") as f:
        json.dump({"seed": seed, "duration": match.duration, "fps": fps,
                   "teams": match.teams, "times": match.times,
                   "events": match.events, "turns": turns}, f, indent=1)
    if not keep_mp4:
        os.remove(mp4)
    return seed, len(frames) if with_frames else 0


def _build_star(job):
    return build_one(*job)


def parse_seeds(spec):
    """'A:B' -> range(A, B) (B exclusive); 'N' -> [N]."""
    if ":" in spec:
        a, b = spec.split(":")
        return list(range(int(a), int(b)))
    return [int(spec)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", required=True, help="A:B (B exclusive) or a single seed")
    ap.add_argument("--out", required=True)
    ap.add_argument("--res", type=int, default=128)
    ap.add_argument("--fps", type=int, default=2)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--duration", type=float, default=180.0)
    ap.add_argument("--eval", action="store_true", help="allow seeds >= 100000 (evaluation set)")
    ap.add_argument("--video-only", action="store_true", help="write match.mp4 and dialogue.json only")
    args = ap.parse_args(argv)
    seeds = parse_seeds(args.seeds)
    if not seeds:
        print("error: empty seed range", file=sys.stderr)
        return 2
    if not args.eval and max(seeds) >= EVAL_SEED_START:
        print(f"error: seeds >= {EVAL_SEED_START} are reserved for evaluation; "
              f"pass --eval to build them", file=sys.stderr)
        return 2
    os.makedirs(args.out, exist_ok=True)
    t0 = time.time()
    jobs = [(s, args.out, args.fps, args.res, args.duration, True, not args.video_only) for s in seeds]
    if args.jobs > 1:
        with Pool(args.jobs) as pool:
            for seed, n in pool.imap_unordered(_build_star, jobs):
                print(f"seed {seed}: {n} frames", flush=True)
    else:
        for j in jobs:
            seed, n = build_one(*j)
            print(f"seed {seed}: {n} frames", flush=True)
    print(f"built {len(seeds)} matches in {time.time() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
