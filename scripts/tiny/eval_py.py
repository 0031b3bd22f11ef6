"""Python reference evaluation of cocaster-tiny with LiveReference (the exact streaming loop).

    /usr/bin/python3 scripts/tiny/eval_py.py [--seeds 90000:90020] [--thresholds 0.5] [--crafter] [--jobs 2]

Runs each validation match's decoded frames (frames.npy, the runtime's ffmpeg
decode) through LiveReference at t = k/2 with the match's viewer questions, and
reports goal recall (goal commented within 2 s naming the scoring team), false
alarms per minute (self lines with no commentary event within 2 s), question
accuracy (answer contains the turn's fact; unknowable questions excluded),
score-question accuracy and TimeDiff (mean |t_said - t_event| of matched
commentary). Seeds >= 100000 are refused: they are for the official eval.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from multiprocessing import Pool

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from tiny.common import FPS, MEAN, STD, VAL_DIR  # noqa: E402
from cocaster_model.live import LiveReference, preprocess  # noqa: E402

_MODEL = None


def _load(ckpt):
    global _MODEL
    if _MODEL is None:
        torch.set_num_threads(1)
        import train_tiny
        torch.set_num_threads(1)
        _MODEL = train_tiny.load_trained(ckpt) if ckpt else train_tiny.load_trained()
    return _MODEL


def pixel_fn(rgb):
    return preprocess(rgb, 1 / 255, MEAN, STD)


def run_stream(frames, questions, threshold, max_new_tokens, ckpt):
    tok, layout, cfg, enc, dec, step = _load(ckpt)
    ref = LiveReference(enc, dec, layout, threshold, max_new_tokens)
    trace = ref.run([(k / FPS, frames[k]) for k in range(len(frames))], questions, pixel_fn)
    says = []
    for e in trace:
        if e["type"] == "say":
            says.append({"t": e["t"], "trigger": e["trigger"], "question": e["question"],
                         "text": tok.decode([i for i in e["ids"] if i != layout.eos])})
    return says, ref.kv_len


def eval_match(job):
    d, threshold, max_new_tokens, ckpt = job
    with open(os.path.join(d, "dialogue.json")) as f:
        dia = json.load(f)
    frames = np.load(os.path.join(d, "frames.npy"))
    turns = dia["turns"]
    users = [t for t in turns if t["role"] == "user"]
    answers = [t for t in turns if t["role"] == "assistant" and t["trigger"] == "question"]
    questions = [(u["t"], u["text"]) for u in users]
    says, kv = run_stream(frames, questions, threshold, max_new_tokens, ckpt)
    selfs_said = [s for s in says if s["trigger"] == "self"]
    q_said = [s for s in says if s["trigger"] == "question"]
    comm = [t for t in turns if t["trigger"] == "self"]
    names = [tm["name"] for tm in dia["teams"]]
    goal_team = {round(e["t"], 3): e["team"] for e in dia["events"] if e["type"] == "goal"}
    r = {"seed": os.path.basename(d), "minutes": len(frames) / FPS / 60, "kv": kv, "goals": 0, "goals_hit": 0,
         "false_alarms": 0, "self_lines": len(selfs_said), "comm": len(comm), "comm_hit": 0, "dt": [],
         "q": {}, "examples": []}
    for t in comm:
        near = [s for s in selfs_said if abs(s["t"] - t["t"]) <= 2.0]
        if near:
            r["comm_hit"] += 1
            r["dt"].append(min(abs(s["t"] - t["t"]) for s in near))
        if t["kind"] == "goal":
            r["goals"] += 1
            team = names[goal_team.get(round(t["event_t"], 3), 0)]
            if any(team.lower() in s["text"].lower() for s in near):
                r["goals_hit"] += 1
    for s in selfs_said:
        if not any(abs(s["t"] - t["t"]) <= 2.0 for t in comm):
            r["false_alarms"] += 1
            if len(r["examples"]) < 3:
                r["examples"].append(f"FA t={s['t']:.1f}: {s['text']}")
    for u, a, s in zip(users, answers, q_said):
        kind = a["kind"]
        ok = None if a["fact"] is None else a["fact"].lower() in s["text"].lower()
        r["q"].setdefault(kind, []).append(ok)
        if ok is False and len(r["examples"]) < 8:
            r["examples"].append(f"Q[{kind}] {u['text']} -> {s['text']} (want {a['fact']})")
    return r


def summarize(rs):
    mins = sum(r["minutes"] for r in rs)
    goals = sum(r["goals"] for r in rs)
    out = {
        "matches": len(rs),
        "goalRecall": sum(r["goals_hit"] for r in rs) / max(1, goals),
        "falseAlarmsPerMin": sum(r["false_alarms"] for r in rs) / mins,
        "selfLinesPerMin": sum(r["self_lines"] for r in rs) / mins,
        "commentaryRecall": sum(r["comm_hit"] for r in rs) / max(1, sum(r["comm"] for r in rs)),
        "timeDiff": float(np.mean([x for r in rs for x in r["dt"]])) if any(r["dt"] for r in rs) else None,
    }
    allq = [ok for r in rs for k, v in r["q"].items() for ok in v if ok is not None]
    out["questionAccuracy"] = float(np.mean(allq)) if allq else None
    kinds = sorted({k for r in rs for k in r["q"]})
    for k in kinds:
        v = [ok for r in rs for ok in r["q"].get(k, []) if ok is not None]
        if v:
            out[f"q_{k}"] = float(np.mean(v))
            out[f"n_{k}"] = len(v)
    out["scoreQuestionAccuracy"] = out.get("q_score")
    out["maxKv"] = max(r["kv"] for r in rs)
    return out


def crafter(threshold, max_new_tokens, ckpt, path):
    sys.path.insert(0, os.path.dirname(HERE))
    from arena.dataset import decode_frames
    frames = decode_frames(path, FPS, 128)
    says, _ = run_stream(frames, [], threshold, max_new_tokens, ckpt)
    mins = len(frames) / FPS / 60
    return {"minutes": mins, "lines": len(says), "linesPerMin": len(says) / mins, "examples": [s["text"] for s in says[:5]]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="90000:90020")
    ap.add_argument("--thresholds", default="0.5")
    ap.add_argument("--max_new_tokens", type=int, default=32)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--ckpt", default=None)
    ap.add_argument("--crafter", action="store_true")
    ap.add_argument("--out", default=None)
    a = ap.parse_args()
    lo, hi = (int(x) for x in a.seeds.split(":"))
    if hi > 100000:
        sys.exit("seeds >= 100000 are evaluation-only")
    dirs = [os.path.join(VAL_DIR, str(s)) for s in range(lo, hi) if os.path.exists(os.path.join(VAL_DIR, str(s), "frames.npy"))]
    results = {}
    with Pool(a.jobs) as pool:
        for th in [float(x) for x in a.thresholds.split(",")]:
            rs = pool.map(eval_match, [(d, th, a.max_new_tokens, a.ckpt) for d in dirs])
            s = summarize(rs)
            results[str(th)] = s
            print(f"threshold {th}: " + json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in s.items()}), flush=True)
            for r in rs[:3]:
                for ex in r["examples"][:4]:
                    print("   ", r["seed"], ex)
        if a.crafter:
            path = os.path.join(os.path.dirname(os.path.dirname(HERE)), "..", "shared", "media", "crafter_gameplay_hud.mp4")
            for th in [float(x) for x in a.thresholds.split(",")]:
                c = pool.apply(crafter, (th, a.max_new_tokens, a.ckpt, path))
                results[str(th)]["crafter"] = c
                print(f"crafter threshold {th}: {json.dumps(c)}", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
