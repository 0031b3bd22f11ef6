"""How often does a decoder checkpoint put the right fact word next, teacher-forced?

Runs whole held-out matches through the training graph (cached reader features,
the same token stream as the runtime) and, at every answer token that is a team
name, a digit or a kit colour, checks the argmax against the text. This is the
copy skill on its own, without sampling or the engine, so it shows within
minutes whether a run is learning to name teams (session 4: 0.107 name accuracy
at step 2,200 with learnt fact rows; 0.42 at step 4,000 with fixed ones).

    cd scripts && /usr/bin/python3 -m tiny.fact_probe --ckpt ../runs/decoder.pt --matches 4
"""
from __future__ import annotations

import argparse
import json
import random

import numpy as np
import torch

from tiny.common import VAL_DIR, SeqBuilder, load_tokenizer, match_dirs, model_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--dir", default=VAL_DIR)
    ap.add_argument("--matches", type=int, default=4)
    a = ap.parse_args()

    import train_tiny as T   # noqa: E402 (scripts/ is on the path via tiny.common)
    torch.set_num_threads(1)
    tok, layout = load_tokenizer()
    cfg = model_config(tok.vocab_size)
    ck = torch.load(a.ckpt, map_location="cpu")
    model = T.Streamer(cfg, tok)
    model.load_state_dict(ck["model"])
    model.pin_facts()
    model.eval()
    ids_by_class = {k.removesuffix("_ids"): set(v) for k, v in T.copy_ids(tok).items()}
    builder = SeqBuilder(layout, cfg.tokens_per_frame)
    dirs = match_dirs(a.dir)[:a.matches]
    matches = T.MatchSet(dirs, builder, ood=False)
    hits = {k: [0, 0] for k in [*ids_by_class, "other"]}
    with torch.no_grad():
        for d in dirs:
            feats, turns = matches.arena(random.Random(1), d, None, True)
            ids, fidx, lab, kind = builder.build(turns, feats.shape[0])
            pred = model(torch.from_numpy(ids), torch.from_numpy(fidx), feats).argmax(-1).numpy()
            for i in np.where(kind == 3)[0]:   # answer tokens
                cls = next((k for k, s in ids_by_class.items() if lab[i] in s), "other")
                hits[cls][0] += int(pred[i] == lab[i])
                hits[cls][1] += 1
    print(json.dumps({"step": ck["step"], **{k: {"accuracy": round(h / max(1, n), 3), "tokens": n} for k, (h, n) in hits.items()}}))


if __name__ == "__main__":
    main()
