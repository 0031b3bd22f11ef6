"""Teacher-forced checks of a decoder checkpoint's answers on held-out matches
(the model card's per-checkpoint figures): quiz bursts of one kind spliced into
each validation match, the argmax at every fact position checked against the text.

  time    answers reading "<tens><ones> minutes": the two digits (3 bursts a match)
  colour  answers to colour questions: every kit-colour and team-name token
          (3 bursts a match, 2 draws of them)

    /usr/bin/python3 scripts/probe.py time --ckpt runs/branch.pt --matches 6
    /usr/bin/python3 scripts/probe.py colour --ckpt runs/branch.pt --matches 6
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cocaster_model.model import Streamer  # noqa: E402
from training.data import HEADS, QUIZ_KINDS, ROOT, SeqBuilder, Work, copy_ids, load_tokenizer, match_dirs  # noqa: E402
from training.streams import MatchSet  # noqa: E402


def streams(model: Streamer, matches: MatchSet, seeds: list[int]):
    """(turns, labels, kind, teacher-forced argmax) per draw of the bursts and match."""
    for seed in seeds:
        for d in matches.dirs:
            feats, turns = matches.arena(random.Random(seed), d, None, False, 3)
            ids, fidx, lab, kind = matches.b.build(turns, feats.shape[0])
            logits, _ = model(torch.from_numpy(ids), torch.from_numpy(fidx), feats)
            yield turns, lab, kind, logits.argmax(-1).numpy()


def time_left(tok, model, matches) -> dict:
    digits = set(copy_ids(tok)["digit_ids"])
    minutes = {i for i in range(tok.vocab_size) if "minute" in tok.decode([i])}
    hits = {"tens": [0, 0], "ones": [0, 0]}
    for _, lab, kind, pred in streams(model, matches, [1]):
        for i in np.where(kind == 3)[0]:
            if i + 2 < len(lab) and lab[i] in digits and lab[i + 1] in digits and lab[i + 2] in minutes:
                for name, j in (("tens", i), ("ones", i + 1)):
                    hits[name][0] += int(pred[j] == lab[j])
                    hits[name][1] += 1
    return hits


def colours(tok, model, matches) -> dict:
    ids = copy_ids(tok)
    classes = {"colour": set(ids["colour_ids"]), "name": set(ids["name_ids"])}
    hits = {k: [0, 0] for k in classes}
    for turns, lab, kind, pred in streams(model, matches, [0, 1]):
        answers = {t["text"] for t in turns if t.get("kind") == "colours" and t["role"] == "assistant"}
        at = np.where(kind == 3)[0]
        for span in np.split(at, np.where(np.diff(at) != 1)[0] + 1):
            if not any(ans in tok.decode([int(lab[i]) for i in span if lab[i] >= 0]) for ans in answers):
                continue
            for i in span:
                for name, members in classes.items():
                    if lab[i] in members:
                        hits[name][0] += int(pred[i] == lab[i])
                        hits[name][1] += 1
    return hits


PROBES = {"time": ("time_left", time_left), "colour": ("colours", colours)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=sorted(PROBES))
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--work", default=ROOT, help="folder with data/val (reader features cached) and runs/tokenizer")
    ap.add_argument("--matches", type=int, default=6)
    a = ap.parse_args()
    torch.set_num_threads(1)
    work = Work(os.path.abspath(a.work))
    tok, layout = load_tokenizer(work.runs("tokenizer"))
    model, step = Streamer.load(a.ckpt, HEADS, copy_ids(tok))
    kind, probe = PROBES[a.what]
    matches = MatchSet(match_dirs(work.data("val"))[:a.matches], SeqBuilder(layout, model.cfg.tokens_per_frame),
                       kind_weights={k: 1.0 if k == kind else 1e-4 for k in QUIZ_KINDS})
    with torch.no_grad():
        hits = probe(tok, model, matches)
    print(json.dumps({"step": step, **{k: {"right": h, "of": n} for k, (h, n) in hits.items()}}))


if __name__ == "__main__":
    main()
