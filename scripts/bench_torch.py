"""The PyTorch side of `npm run bench -- --json --compare-torch`: the reference loop
(cocaster_model/live.py) on a package's own weights and the benchmark's frames.

    /usr/bin/python3 scripts/bench_torch.py --model models/cocaster-tiny --frames 600 [--threads T]

The torch modules are rebuilt from the package's ONNX files (training/package.py),
so they are the weights the TypeScript engine runs: cocaster-tiny's VisionTower
(Reader + letter path + Connector) and tied decoder, or a test fixture's
FrameEncoder and Decoder. The frames are syntheticFrame(k, width, height) at
t = k / fps (src/engine/syntheticFrame.ts is a port of make_fixture.synthetic_frame),
no questions; the cache budget is the package's maxContext, as in the engine. All
frames are made first; only LiveReference.run is timed, under torch.no_grad.

Prints one JSON line on stdout: torchFps, frames, threads, torch, decisions
{silent, speak, answer}, linesSpoken, finalContext (tokens in the cache). Logs go to
stderr. Exit 2 for a package whose model.json has no architecture block.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time

import torch

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)
from cocaster_model.layout import Layout  # noqa: E402
from cocaster_model.live import LiveReference, SceneCut, preprocess  # noqa: E402
from cocaster_model.tokenizer import BPETokenizer  # noqa: E402
from make_fixture import synthetic_frame  # noqa: E402
from training.package import package_modules  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="models/cocaster-tiny", help="package directory")
    ap.add_argument("--frames", type=int, default=600)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own)")
    a = ap.parse_args()
    if a.frames < 1:
        ap.error("--frames must be at least 1")
    with open(os.path.join(a.model, "model.json")) as f:
        manifest = json.load(f)
    if "architecture" not in manifest:
        print(f"bench_torch: {a.model}/model.json has no architecture block, so there are no torch modules to rebuild",
              file=sys.stderr)
        sys.exit(2)
    if a.threads > 0:
        torch.set_num_threads(a.threads)

    t0 = time.perf_counter()
    # Rebuilding prints nothing we need on stdout (training's log() prints there): keep stdout for the JSON.
    with contextlib.redirect_stdout(sys.stderr):
        encoder, decoder = package_modules(a.model, manifest)
    tok = BPETokenizer.load(os.path.join(a.model, "tokenizer.json"))
    layout = Layout(tok, manifest["layout"], manifest["tokens"])
    v, gen = manifest["vision"], manifest["generation"]
    pixel_fn = lambda rgb: preprocess(rgb, v["rescale"], v["mean"], v["std"])  # noqa: E731
    frames = [(k / v["fps"], synthetic_frame(k, v["width"], v["height"])) for k in range(a.frames)]
    cut = v.get("sceneCut")
    ref = LiveReference(encoder, decoder, layout, gen["threshold"], gen["maxNewTokens"], manifest["decoder"]["maxContext"],
                        SceneCut(cut["tokens"], cut["minCosine"]) if cut else None)
    log(f"bench_torch: {manifest['id']} rebuilt from its ONNX files and {a.frames} frames made in "
        f"{time.perf_counter() - t0:.1f} s; torch {torch.__version__}, {torch.get_num_threads()} thread(s)")

    with torch.no_grad():
        start = time.perf_counter()
        trace = ref.run(frames, [], pixel_fn)
        seconds = time.perf_counter() - start
    decisions = [e["decision"] for e in trace if e["type"] == "frame"]
    out = {
        "torchFps": round(a.frames / seconds, 3),
        "frames": a.frames,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "decisions": {d: decisions.count(d) for d in ("silent", "speak", "answer")},
        "linesSpoken": sum(e["type"] == "say" for e in trace),
        "finalContext": ref.kv_len,
    }
    log(f"bench_torch: {seconds:.2f} s, compactions {sum(e['type'] == 'compaction' for e in trace)}, "
        f"context resets {sum(e['type'] == 'contextReset' for e in trace)}")
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
