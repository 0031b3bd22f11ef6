"""Where do time-left answers look? Attention from the two digit positions, by age.

Teacher-forced like tiny.time_probe (time-left quiz bursts spliced into held-out
matches). For the position that predicts the tens digit and the one that
predicts the ones digit, each layer's attention (heads averaged) is summed over:
the last frame's five tokens (slots 0-4), the 7 frames before it, older frames,
and the text since the last frame. Session 10, shipped decoder and a fine-tune:
the last frame's tokens get under 0.1 in every layer, and the last layer puts
~0.75 (tens) / ~0.4 (ones) on frames more than 8 back. Answers are read off many
frames at once: right for facts that hold for a long time (score, names, the
tens digit), wrong for one that changes every 2 s (the ones digit).

    cd scripts && /usr/bin/python3 -m tiny.recency_probe --ckpt ../runs/decoder.pt --matches 6
"""
from __future__ import annotations

import argparse
import math

import numpy as np
import torch

from cocaster_model import model as M
from tiny.common import VAL_DIR
from tiny.time_probe import time_answer_streams

COLUMNS = ["slot0", "slot1", "slot2", "slot3", "slot4", "7 frames before", "older frames", "text since"]


def capture_attention(store: list) -> None:
    """Record every Attention call's probabilities (plain forward, empty past)."""
    orig = M.Attention.forward

    def forward(self, x, cos, sin, mask, past_k, past_v, dist=None):
        b, s, _ = x.shape
        q, k, _ = self.project(x, cos, sin)
        k = k.repeat_interleave(self.h // self.hkv, 1)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.dh) + mask.reshape(1, 1, s, -1)
        if dist is not None:
            scores = scores + self.recency_bias(x, dist)
        store.append(torch.softmax(scores, -1)[0])   # [heads, S, S]
        return orig(self, x, cos, sin, mask, past_k, past_v, dist)
    M.Attention.forward = forward


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--dir", default=VAL_DIR)
    ap.add_argument("--matches", type=int, default=6)
    a = ap.parse_args()

    torch.set_num_threads(1)
    _, model, ck, streams = time_answer_streams(a.ckpt, a.dir, a.matches)
    k = model.cfg.tokens_per_frame
    assert k == 5, "the columns name the five cocaster-tiny frame slots"
    probs: list = []
    capture_attention(probs)
    layers = model.cfg.num_layers
    mass = {"tens": np.zeros((layers, len(COLUMNS))), "ones": np.zeros((layers, len(COLUMNS)))}
    n = 0
    with torch.no_grad():
        for feats, ids, fidx, _, _, at in streams:
            probs.clear()
            model(torch.from_numpy(ids), torch.from_numpy(fidx), feats)
            for i in at:
                frames = np.where(fidx[:i] >= 0)[0]
                last = frames[-k:]
                for name, j in (("tens", i), ("ones", i + 1)):
                    for layer in range(layers):
                        p = probs[layer][:, j].mean(0)
                        row = mass[name][layer]
                        row[:k] += p[last].numpy()
                        row[5] += p[frames[-8 * k:-k]].sum().item()
                        row[6] += p[frames[:-8 * k]].sum().item()
                        row[7] += p[last[-1] + 1: j + 1].sum().item()
                n += 1
    print(f"step {ck['step']}: {n} time-left answers; attention mass per layer (heads averaged)")
    for name, m in mass.items():
        print(f"{name} digit position: " + " | ".join(COLUMNS))
        for layer, row in enumerate(m / max(1, n)):
            print(f"  layer {layer}: " + " ".join(f"{x:.3f}" for x in row))


if __name__ == "__main__":
    main()
