"""Colour answers, teacher-forced: does the model put the right kit word (and the
right team name) in its answers to colour questions?

Colour-only quiz bursts (3 per match, 2 draws) are spliced into held-out
matches; in every answer to a colour question, the argmax at each kit-colour and
team-name position is checked against the text. Session 13, 6 validation matches:
the stack alone 5/32 kit words, the shipped answer branch (step 18,459) 17/32.

    cd scripts && /usr/bin/python3 -m tiny.colour_probe --ckpt ../runs/decoder.pt --matches 6
"""
from __future__ import annotations

import argparse
import json
import random

import numpy as np
import torch

from tiny.common import VAL_DIR, SeqBuilder, load_tokenizer, match_dirs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--dir", default=VAL_DIR)
    ap.add_argument("--matches", type=int, default=6)
    ap.add_argument("--draws", type=int, default=2)
    a = ap.parse_args()

    import train_tiny as T   # noqa: E402 (scripts/ is on the path via tiny.common)
    torch.set_num_threads(1)
    tok, layout = load_tokenizer()
    model, ck = T.load_streamer(a.ckpt, tok)
    builder = SeqBuilder(layout, model.cfg.tokens_per_frame)
    dirs = match_dirs(a.dir)[:a.matches]
    matches = T.MatchSet(dirs, builder, ood=False)
    matches.kind_weights = {k: 1.0 if k == "colours" else 1e-4 for k in matches.kind_weights}
    ids = T.copy_ids(tok)
    classes = {"colour": set(ids["colour_ids"]), "name": set(ids["name_ids"])}
    hits = {k: [0, 0] for k in classes}
    with torch.no_grad():
        for draw in range(a.draws):
            for d in dirs:
                feats, turns = matches.arena(random.Random(draw), d, None, False, 3)
                seq, fidx, lab, kind = builder.build(turns, feats.shape[0])
                pred = model(torch.from_numpy(seq), torch.from_numpy(fidx), feats).argmax(-1).numpy()
                answers = {t["text"] for t in turns if t.get("kind") == "colours" and t["role"] == "assistant"}
                at = np.where(kind == 3)[0]
                for span in np.split(at, np.where(np.diff(at) != 1)[0] + 1):
                    text = tok.decode([int(lab[i]) for i in span if lab[i] >= 0])
                    if not any(ans in text for ans in answers):
                        continue
                    for i in span:
                        for name, members in classes.items():
                            if lab[i] in members:
                                hits[name][0] += int(pred[i] == lab[i])
                                hits[name][1] += 1
    print(json.dumps({"step": ck["step"], **{k: {"right": h, "of": n} for k, (h, n) in hits.items()}}))


if __name__ == "__main__":
    main()
