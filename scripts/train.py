"""Train cocaster-tiny (models/cocaster-tiny) from nothing, on CPU, end to end:

  data      render the arena matches (train, validation, demo), extra dialogue
            draws and quizzes, re-rendered frames, out-of-domain clips
  tokenizer byte-level BPE; every team name and colour one token
  reader    the frame reader's trunk and heads (then frozen)
  letters   its full-resolution letter path
  cache     the frozen reader's features of every frame
  decoder   connector + decoder stack, then the answer branch, in the config's phases
  export    the package (ONNX, tokenizer, model.json, demo.mp4)

    /usr/bin/python3 scripts/train.py                       # the shipped recipe, hours: run it under nohup
    /usr/bin/python3 scripts/train.py --smoke --work /tmp/smoke   # every stage at tiny sizes, minutes
    /usr/bin/python3 scripts/train.py --from-package models/cocaster-tiny --work /tmp/re --stages export --out /tmp/re/pkg

The recipe is configs/cocaster_tiny.json; --smoke applies its "smoke" overrides.
Every stage skips work already done and the training stages resume from their
last checkpoint, so an interrupted run continues with the same command. Scratch
goes to WORK/data and WORK/runs (git-ignored under the repo root). Seeds >= 100000
are never used here: they are the evaluation's.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from arena.world import PALETTE, TEAM_NAMES  # noqa: E402
from cocaster_model.layout import DEFAULT_TOKENS, SYSTEM_PROMPT  # noqa: E402
from cocaster_model.model import ModelConfig  # noqa: E402
from cocaster_model.tokenizer import chunks, train_bpe  # noqa: E402
from training import decoder, frames, package, reader  # noqa: E402
from training.data import (ROOT, SCRIPTS, Work, dialogue_draws, load_tokenizer, log, make_extra_dialogues,  # noqa: E402
                           make_quiz, match_dirs, render_matches)

STAGES = ("data", "tokenizer", "reader", "letters", "cache", "decoder", "export")


def merge(base, over):
    """base with over's values; dicts merged by key, lists of dicts by index."""
    if isinstance(base, dict) and isinstance(over, dict):
        return {k: merge(base[k], v) if k in base else v for k, v in {**base, **over}.items()}
    if isinstance(base, list) and isinstance(over, list) and all(isinstance(x, dict) for x in over):
        return [merge(b, o) for b, o in zip(base, over)] + base[len(over):]
    return over


def load_config(path: str, smoke: bool) -> dict:
    with open(path) as f:
        c = json.load(f)
    smoke_over = c.pop("smoke")
    c.pop("about")
    c = merge(c, smoke_over) if smoke else c
    defaults = c["decoder"]["defaults"]
    c["decoder"]["phases"] = [{**defaults, **p} for p in c["decoder"]["phases"]]
    return c


def stage_data(work: Work, c: dict, jobs: int) -> None:
    d = c["data"]
    render_matches(d["val"], work.data("val"), d["duration"], jobs)
    render_matches(d["train"], work.data("train"), d["duration"], jobs)
    render_matches(d["demo"], work.data("demo"), d["duration"], 1, video_only=True)
    for m in match_dirs(work.data("train")):
        make_extra_dialogues(m, d["duration"], d["extra_draws"], d["dense_draws"])
    for m in match_dirs(work.data("train")) + match_dirs(work.data("val")):   # the probes ask validation matches
        make_quiz(m, d["duration"], d["quiz_every"])
    log("matches, dialogues and quizzes ready")
    for random_abbr, parts in ((False, d["synth_parts"]), (True, d["letter_parts"])):
        frames.make_synth(work.data("synth"), parts, d["synth_clips"], d["synth_frames"], random_abbr)
    os.makedirs(work.data("ood"), exist_ok=True)
    frames.make_ood(work.data("ood", "ood.npz"), d["ood_clips"], d["ood_frames"])
    log("re-rendered and out-of-domain frames ready")


def stage_tokenizer(work: Work, c: dict) -> None:
    """Every team name and colour is one token, so naming a team is copying one id
    (the connector feeds the reader's name/colour/digit distributions through the
    token embedding)."""
    out = work.runs("tokenizer")
    if os.path.exists(os.path.join(out, "tokenizer.json")):
        return
    texts = [SYSTEM_PROMPT + "\n\n[", "]\nUser:", "\nAssistant:", "]\nAssistant:", "\n[", ","] * 40
    texts += [" " + t["text"] for d in match_dirs(work.data("train")) for turns in dialogue_draws(d) for t in turns]
    t = DEFAULT_TOKENS
    tok = train_bpe(texts, c["tokenizer"]["vocab"], [t["framePlaceholder"], t["eos"], t["bos"]],
                    whole_words=[" " + n for n in TEAM_NAMES] + [" " + c for c in PALETTE])
    os.makedirs(out, exist_ok=True)
    tok.save(out, t["bos"], t["eos"])
    tok, layout = load_tokenizer(out)
    for x in texts[240:2000]:   # whole-segment encoding (the runtime's) == chunk by chunk
        assert tok.encode(x) == [i for ch in chunks(x) for i in tok.encode(ch)], x
    lens = [len(tok.encode(x)) for x in texts[240:2000]]
    log(f"vocab {tok.vocab_size}; mean tokens/text {np.mean(lens):.1f}; start {len(layout.start_ids())} tokens")


def stage_decoder(work: Work, c: dict) -> None:
    """The phases after the last finished one, each from the one before."""
    tok, _ = load_tokenizer(work.runs("tokenizer"))
    cfg = ModelConfig.from_dict({"vocab_size": tok.vocab_size, **c["model"]})
    phases = c["decoder"]["phases"]
    done = [i for i, p in enumerate(phases) if finished(work, p)]
    start = done[-1] + 1 if done else 0
    for i in range(start, len(phases)):
        decoder.train_phase(work, cfg, phases[i], work.runs(phases[i - 1]["name"] + ".pt") if i else None)


def finished(work: Work, phase: dict) -> bool:
    path = work.runs(phase["name"] + ".pt")
    return os.path.exists(path) and torch.load(path, map_location="cpu")["step"] >= phase["steps"]


def run(stage: str, work: Work, c: dict, a) -> None:
    log(f"stage {stage}")
    if stage == "data":
        stage_data(work, c, a.jobs)
    elif stage == "tokenizer":
        stage_tokenizer(work, c)
    elif stage == "reader":
        reader.train_trunk(work, c["reader"])
    elif stage == "letters":
        reader.train_letters(work, c["letters"])
    elif stage == "cache":
        reader.cache_features(work)
    elif stage == "decoder":
        stage_decoder(work, c)
    else:
        package.export(work, work.runs(c["decoder"]["phases"][-1]["name"] + ".pt"), a.out, c["export"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=os.path.join(SCRIPTS, "configs", "cocaster_tiny.json"))
    ap.add_argument("--smoke", action="store_true", help="the config's tiny sizes and few steps (CI)")
    ap.add_argument("--work", help="folder for data/ and runs/ (default: the repo root; with --smoke runs/smoke)")
    ap.add_argument("--out", help="package folder (default: models/cocaster-tiny; with --smoke WORK/package)")
    ap.add_argument("--stages", default=",".join(STAGES), help=f"comma-separated, from {','.join(STAGES)}")
    ap.add_argument("--from-package", help="first rebuild the checkpoints in WORK/runs from this package")
    ap.add_argument("--jobs", type=int, default=2, help="processes rendering matches")
    ap.add_argument("--threads", type=int, default=2, help="torch threads")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    c = load_config(a.config, a.smoke)
    work = Work(os.path.abspath(a.work or (os.path.join(ROOT, "runs", "smoke") if a.smoke else ROOT)))
    a.out = os.path.abspath(a.out or (os.path.join(work.root, "package") if a.smoke else os.path.join(ROOT, "models", "cocaster-tiny")))
    stages = a.stages.split(",")
    unknown = set(stages) - set(STAGES)
    if unknown:
        ap.error(f"unknown stages {sorted(unknown)}")
    if a.from_package:
        package.checkpoints_from_package(os.path.abspath(a.from_package), work, c)
    for stage in STAGES:
        if stage in stages:
            run(stage, work, c, a)


if __name__ == "__main__":
    main()
