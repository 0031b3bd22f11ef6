"""How often does a decoder checkpoint put the right fact word next, teacher-forced?

Runs whole held-out matches through the training graph (cached reader features,
the same token stream as the runtime) and, at every answer token that is a team
name, a digit or a kit colour, checks the argmax against the text. This is the
copy skill on its own, without sampling or the engine, so it shows within
minutes whether a run is learning to name teams (session 4: 0.107 name accuracy
at step 2,200 with learnt fact rows; 0.42 at step 4,000 with fixed ones).

    cd scripts && /usr/bin/python3 -m tiny.fact_probe --ckpt ../runs/decoder.pt --matches 4

`--bursts 3` splices quiz bursts into each stream (so colour and time-left
answers are asked, as in training); `--drill` also prints the copy drill's
accuracy per frame slot, in the layout the checkpoint was trained with
(train_tiny.DRILL_LAYOUTS), the same lookups at every frame instead of a few
answers.
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
    ap.add_argument("--matches", type=int, default=4)
    ap.add_argument("--bursts", type=int, default=0, help="quiz bursts spliced into each stream")
    ap.add_argument("--drill", action="store_true", help="also the copy drill's accuracy per frame slot")
    a = ap.parse_args()

    import train_tiny as T   # noqa: E402 (scripts/ is on the path via tiny.common)
    torch.set_num_threads(1)
    tok, layout = load_tokenizer()
    model, ck = T.load_streamer(a.ckpt, tok)
    cfg = model.cfg
    ids_by_class = {k.removesuffix("_ids"): set(v) for k, v in T.copy_ids(tok).items()}
    builder = SeqBuilder(layout, cfg.tokens_per_frame)
    dirs = match_dirs(a.dir)[:a.matches]
    matches = T.MatchSet(dirs, builder, ood=False)
    hits = {k: [0, 0] for k in [*ids_by_class, "other"]}
    name_ids = torch.tensor(sorted(ids_by_class["name"]))
    name_ranks = []   # the right name's rank among all names: ~87 is chance, far above it is "avoid the names on screen"
    layout = ck.get("drill", "s5")   # checkpoints from before the layouts were trained with s5
    drill = {slot: [0, 0] for slot in T.DRILL_LAYOUTS[layout]}
    with torch.no_grad():
        for d in dirs:
            feats, turns = matches.arena(random.Random(1), d, None, True, a.bursts)
            ids, fidx, lab, kind = builder.build(turns, feats.shape[0])
            fidx_t = torch.from_numpy(fidx)
            pred_logits = model(torch.from_numpy(ids), fidx_t, feats)
            pred = pred_logits.argmax(-1)
            for i in np.where(kind >= 3)[0]:   # answer and self-line tokens
                cls = next((k for k, s in ids_by_class.items() if lab[i] in s), "other")
                hits[cls][0] += int(pred[i] == lab[i])
                hits[cls][1] += 1
                if cls == "name":
                    name_ranks.append(int((pred_logits[i, name_ids] > pred_logits[i, lab[i]]).sum()))
            if a.drill:
                target = T.copy_drill(model, feats, fidx, layout)
                slot_of = fidx_t.long() % cfg.tokens_per_frame
                for s, slot in enumerate(drill):
                    at = (fidx_t >= 0) & (slot_of == s) & (target != T.IGNORE)
                    drill[slot][0] += int((pred[at] == target[at]).sum())
                    drill[slot][1] += int(at.sum())
    rate = lambda h, n: {"accuracy": round(h / max(1, n), 3), "tokens": n}  # noqa: E731
    out = {"step": ck["step"], **{k: rate(*hn) for k, hn in hits.items()}}
    if name_ranks:
        out["name"]["median_rank"] = float(np.median(name_ranks))
    if a.drill:
        out["drill"] = {slot: rate(*hn) for slot, hn in drill.items()}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
