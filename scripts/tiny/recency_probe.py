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
import random

import numpy as np
import torch

from cocaster_model import model as M
from tiny.common import VAL_DIR, SeqBuilder, load_tokenizer, match_dirs

COLUMNS = ["slot0", "slot1", "slot2", "slot3", "slot4", "7 frames before", "older frames", "text since"]


def capture_attention(store: list) -> None:
    """Record every Attention call's probabilities (plain forward, empty past)."""
    orig = M.Attention.forward

    def forward(self, x, cos, sin, mask, past_k, past_v):
        b, s, _ = x.shape
        q, k, _ = self.project(x, cos, sin)
        k = k.repeat_interleave(self.h // self.hkv, 1)
        scores = torch.matmul(q, k.transpose(2, 3)) / math.sqrt(self.dh) + mask.reshape(1, 1, s, -1)
        store.append(torch.softmax(scores, -1)[0])   # [heads, S, S]
        return orig(self, x, cos, sin, mask, past_k, past_v)
    M.Attention.forward = forward


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--dir", default=VAL_DIR)
    ap.add_argument("--matches", type=int, default=6)
    a = ap.parse_args()

    import train_tiny as T   # noqa: E402
    torch.set_num_threads(1)
    tok, layout = load_tokenizer()
    model, ck = T.load_streamer(a.ckpt, tok)
    k = model.cfg.tokens_per_frame
    assert k == 5, "the columns name the five cocaster-tiny frame slots"
    builder = SeqBuilder(layout, k)
    dirs = match_dirs(a.dir)[:a.matches]
    matches = T.MatchSet(dirs, builder, ood=False)
    matches.kind_weights = {kd: 1.0 if kd == "time_left" else 1e-4 for kd in matches.kind_weights}
    digits = set(T.copy_ids(tok)["digit_ids"])
    minutes = {i for i in range(tok.vocab_size) if "minute" in tok.decode([i])}
    probs: list = []
    capture_attention(probs)
    layers = model.cfg.num_layers
    mass = {"tens": np.zeros((layers, len(COLUMNS))), "ones": np.zeros((layers, len(COLUMNS)))}
    n = 0
    with torch.no_grad():
        for d in dirs:
            feats, turns = matches.arena(random.Random(1), d, None, False, 3)
            ids, fidx, lab, kind = builder.build(turns, feats.shape[0])
            probs.clear()
            model(torch.from_numpy(ids), torch.from_numpy(fidx), feats)
            for i in np.where(kind == 3)[0]:
                if not (i + 2 < len(lab) and lab[i] in digits and lab[i + 1] in digits and lab[i + 2] in minutes):
                    continue
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
