"""Time-left answers, teacher-forced: does the decoder copy the minutes-left digits?

Quiz bursts of time-left questions only are spliced into held-out matches; at
every answer that reads "<tens><ones> minutes", the argmax at the tens and the
ones position is checked against the text (the ones with the right tens digit
fed). Session 9, shipped decoder on 3 validation matches: tens 10/10, ones
2/10. The reader's minutes-left digits are right on every frame, so the ones
digit, which the connector puts in the acting token, is not being copied.

    cd scripts && /usr/bin/python3 -m tiny.time_probe --ckpt ../runs/decoder.pt --matches 3
"""
from __future__ import annotations

import argparse
import json
import random

import numpy as np
import torch

from tiny.common import VAL_DIR, SeqBuilder, load_tokenizer, match_dirs


def time_answer_streams(ckpt: str, data_dir: str, n_matches: int):
    """The checkpoint, and one teacher-forced stream per held-out match with 3
    time-left quiz bursts spliced in: (feats, ids, fidx, lab, kind, at), where
    `at` lists the positions i of the answers reading "<tens><ones> minutes"
    (lab[i] is the tens digit, lab[i + 1] the ones)."""
    import train_tiny as T   # noqa: E402 (scripts/ is on the path via tiny.common)
    tok, layout = load_tokenizer()
    model, ck = T.load_streamer(ckpt, tok)
    builder = SeqBuilder(layout, model.cfg.tokens_per_frame)
    dirs = match_dirs(data_dir)[:n_matches]
    matches = T.MatchSet(dirs, builder, ood=False)
    matches.kind_weights = {k: 1.0 if k == "time_left" else 1e-4 for k in matches.kind_weights}
    digits = set(T.copy_ids(tok)["digit_ids"])
    minutes = {i for i in range(tok.vocab_size) if "minute" in tok.decode([i])}
    streams = []
    for d in dirs:
        feats, turns = matches.arena(random.Random(1), d, None, False, 3)
        ids, fidx, lab, kind = builder.build(turns, feats.shape[0])
        at = [i for i in np.where(kind == 3)[0]
              if i + 2 < len(lab) and lab[i] in digits and lab[i + 1] in digits and lab[i + 2] in minutes]
        streams.append((feats, ids, fidx, lab, kind, at))
    return tok, model, ck, streams


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--dir", default=VAL_DIR)
    ap.add_argument("--matches", type=int, default=3)
    a = ap.parse_args()

    torch.set_num_threads(1)
    tok, model, ck, streams = time_answer_streams(a.ckpt, a.dir, a.matches)
    hits = {"tens": [0, 0], "ones": [0, 0]}
    examples = []
    with torch.no_grad():
        for feats, ids, fidx, lab, _, at in streams:
            pred = model(torch.from_numpy(ids), torch.from_numpy(fidx), feats).argmax(-1).numpy()
            for i in at:
                for name, j in (("tens", i), ("ones", i + 1)):
                    hits[name][0] += int(pred[j] == lab[j])
                    hits[name][1] += 1
                examples.append({"fact": tok.decode([int(lab[i]), int(lab[i + 1])]),
                                 "predicted": tok.decode([int(pred[i]), int(pred[i + 1])])})
    print(json.dumps({"step": ck["step"], **{k: {"right": h, "of": n} for k, (h, n) in hits.items()},
                      "examples": examples[:12]}))


if __name__ == "__main__":
    main()
