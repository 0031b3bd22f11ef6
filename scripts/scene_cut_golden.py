"""The scene-cut golden trace of the compact test fixture.

    /usr/bin/python3 scripts/scene_cut_golden.py [--fixture test/fixtures/tiny-random-compact]

Runs the reference loop (cocaster_model/live.py) over frames made of a few still
scenes, with the package's cache budget and a SceneCut over the frame tokens that
separate those scenes best, and writes golden-scenecut.json beside the fixture's
golden.json: the sceneCut block the package gets for the test (model.json
vision.sceneCut), the scene starts, and the trace. test/golden.test.ts replays it in
a copy of the package that declares that block. The fixture's files do not change.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cocaster_model.layout import Layout  # noqa: E402
from cocaster_model.live import LiveReference, SceneCut, preprocess  # noqa: E402
from cocaster_model.tokenizer import BPETokenizer  # noqa: E402
from make_fixture import synthetic_frame  # noqa: E402
from training.package import package_modules  # noqa: E402

# Scene starts: the scene at 30 lasts 3 frames, too short to be cut from (SceneCut.STABLE_FRAMES).
SCENES = [0, 30, 33, 70, 120, 160, 200]
NUM_FRAMES, MAX_NEW_TOKENS = 240, 6
# The cosine threshold must sit clear of every frame pair's cosine: the runtime's
# embeddings differ from torch's in the last bits.
MIN_GAP = 0.02


def scene_frame(k: int, w: int, h: int) -> np.ndarray:
    """A still scene (a synthetic_frame) with a small white square moving over it; the
    TypeScript test computes the same bytes."""
    s = max(i for i, start in enumerate(SCENES) if start <= k)
    out = synthetic_frame(41 * s + 5, w, h)
    cx, cy = (k * 3) % (w - 4), (k * 2) % (h - 4)
    out[cy:cy + 4, cx:cx + 4] = 255
    return out


def cosines(embeds: list[torch.Tensor], tokens: list[int]) -> list[float]:
    out = []
    for a, b in zip(embeds, embeds[1:]):
        x, y = a[tokens].reshape(-1).double(), b[tokens].reshape(-1).double()
        out.append(float(x @ y / (x.norm() * y.norm())))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fixture", default="test/fixtures/tiny-random-compact")
    a = ap.parse_args()
    with open(os.path.join(a.fixture, "model.json")) as f:
        manifest = json.load(f)
    with open(os.path.join(a.fixture, "golden.json")) as f:
        golden = json.load(f)
    encoder, decoder = package_modules(a.fixture, manifest)
    v = manifest["vision"]
    pixel_fn = lambda rgb: preprocess(rgb, v["rescale"], v["mean"], v["std"])  # noqa: E731
    frames = [(k / v["fps"], scene_frame(k, v["width"], v["height"])) for k in range(NUM_FRAMES)]
    with torch.no_grad():
        embeds = [encoder(pixel_fn(rgb).unsqueeze(0))[0] for _, rgb in frames]

    # The frame tokens whose cosine separates the scenes most: the lowest within a
    # scene against the highest across a scene start.
    best = None
    for tokens in [[i] for i in range(v["tokensPerFrame"])] + [list(range(v["tokensPerFrame"]))]:
        c = cosines(embeds, tokens)
        across = max(c[k - 1] for k in SCENES[1:])
        within = min(x for k, x in enumerate(c, start=1) if k not in SCENES)
        if best is None or within - across > best[0]:
            best = (within - across, tokens, (within + across) / 2)
    gap, tokens, min_cosine = best
    if gap < 2 * MIN_GAP:
        sys.exit(f"the scenes are {gap:.3f} apart in cosine; need {2 * MIN_GAP}")
    min_cosine = round(min_cosine, 4)
    print(f"sceneCut tokens {tokens}, minCosine {min_cosine} (scenes {gap:.3f} apart)")

    layout = Layout(BPETokenizer.load(os.path.join(a.fixture, "tokenizer.json")), manifest["layout"], manifest["tokens"])
    questions = [(q["t"], q["text"]) for q in golden["questions"]]
    ref = LiveReference(encoder, decoder, layout, golden["threshold"], MAX_NEW_TOKENS,
                        budget=manifest["decoder"]["maxContext"], scene_cut=SceneCut(tokens, min_cosine))
    trace = ref.run(frames, questions, pixel_fn)
    margin = min(e.get("margin", 1.0) for e in trace)
    decisions = [e["decision"] for e in trace if e["type"] == "frame"]
    print(f"decisions {{{', '.join(f'{d}: {decisions.count(d)}' for d in sorted(set(decisions)))}}}, "
          f"compactions {sum(e['type'] == 'compaction' for e in trace)}, resets {sum(e['type'] == 'contextReset' for e in trace)}, "
          f"min decision margin {margin:.2e}, min token gap {ref.min_token_gap:.2e}")
    if margin < 1e-4 or ref.min_token_gap < 2e-4:
        sys.exit("margins too small for a golden trace")
    out = {
        "sceneCut": {"tokens": tokens, "minCosine": min_cosine},
        "frames": {"count": NUM_FRAMES, "fps": v["fps"], "width": v["width"], "height": v["height"],
                   "scenes": SCENES, "pattern": "scene_frame v1 (scripts/scene_cut_golden.py)"},
        "threshold": golden["threshold"],
        "questions": golden["questions"],
        "runs": [{"maxNewTokens": MAX_NEW_TOKENS, "trace": [{k: x for k, x in e.items() if k != "margin"} for e in trace]}],
    }
    path = os.path.join(a.fixture, "golden-scenecut.json")
    with open(path, "w") as f:
        json.dump(out, f)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
