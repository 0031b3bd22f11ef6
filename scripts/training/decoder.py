"""The decoder's training on cached reader features, in phases (configs/*.json):
the connector + Llama stack first, then the answer branch on the frozen stack.

Loss of a stack phase: LM loss on answer and self-line tokens (+ EOS; fact words
x fact_w) + streaming loss at every frame's last token (`,` = silent,
`]\nAssistant:` = speak; speak x speak_w) + drill_w x the copy drill. A branch
phase learns only the branch: LM loss on answer tokens, balanced BCE for its gate
(open at answers, shut elsewhere) instead of the streaming loss, and the drill
read off the ungated branch. Each phase starts from the previous one's weights
with a fresh optimiser and warm-up + cosine schedule, and writes
runs/<phase>.pt every save_every steps (resumed from there).
"""
from __future__ import annotations

import math
import os
import random
from dataclasses import replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from cocaster_model.model import ModelConfig, Streamer, gate_from_logit

from .data import HEADS, IGNORE, SeqBuilder, Work, copy_ids, load_tokenizer, log, match_dirs, warmup_cosine
from .streams import MatchSet, copy_drill


def phase_config(model_cfg: ModelConfig, phase: dict) -> ModelConfig:
    """The stack phases train without the branch: it is grown on the trained stack."""
    return model_cfg if phase["branch"] else replace(model_cfg, side_layers=0)


def init_weights(m: Streamer) -> None:
    torch.manual_seed(0)
    for p in m.decoder.parameters():
        if p.dim() == 2:
            nn.init.normal_(p, std=0.02)
    for b in m.decoder.blocks:   # residual output projections smaller
        nn.init.normal_(b.attn.o.weight, std=0.02 / math.sqrt(2 * m.cfg.num_layers))
        nn.init.normal_(b.mlp.down.weight, std=0.02 / math.sqrt(2 * m.cfg.num_layers))
    for b in m.decoder.side_blocks:   # the branch starts as a no-op: a trained stack grown one answers as before
        nn.init.zeros_(b.attn.recency.weight)
        nn.init.zeros_(b.attn.o.weight)
        nn.init.zeros_(b.mlp.down.weight)


def load_weights(model: Streamer, path: str) -> int:
    """A phase's weights from a checkpoint (a stack's lacks the branch: it keeps
    its no-op init). Returns the checkpoint's step."""
    ck = torch.load(path, map_location="cpu")
    missing, unexpected = model.load_state_dict(ck["model"], strict=False)
    assert not unexpected and all(k.startswith("decoder.side_") for k in missing), (missing, unexpected)
    model.pin_facts()
    return ck["step"]


def gate_loss(gate_logit, kind_t) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """Balanced BCE (answers are ~2 % of a stream) for a gate open at answer
    positions (kind 3) and shut elsewhere; the stats count gates left open off
    answers and not fully open on them."""
    logit = gate_logit[0].float()
    on = kind_t == 3
    bce = F.binary_cross_entropy_with_logits(logit, on.float(), reduction="none")
    loss = bce[on].mean() + bce[~on].mean() if on.any() else bce.mean()
    with torch.no_grad():
        g = gate_from_logit(logit)
        stats = (int((g[~on] > 0).sum()), int((~on).sum()), int((g[on] < 1).sum()), int(on.sum()))
    return loss, stats


def seq_loss(model: Streamer, stream, p: dict, interval: int) -> tuple[torch.Tensor, dict]:
    """The phase's loss on one stream, and what the log shows of it (interval: the silence token)."""
    feats, ids, fidx, lab, kind = stream
    logits, branch = model(torch.from_numpy(ids), torch.from_numpy(fidx), feats)
    logits = logits.float()
    lab_t, kind_t = torch.from_numpy(lab).long(), torch.from_numpy(kind).long()
    sel = lab_t != IGNORE
    ce = F.cross_entropy(logits[sel], lab_t[sel], reduction="none")
    k = kind_t[sel]
    frame = (k == 1) | (k == 2)
    w = torch.where(k == 2, torch.full_like(ce, p["speak_w"]), torch.ones_like(ce))
    with torch.no_grad():   # decision accuracy: silent frames kept silent, speak frames spoken
        pred_sil = logits[sel][frame].argmax(-1) == interval
        is_sil = k[frame] == 1
        shown = {"sil": f"{int((pred_sil & is_sil).sum())}/{int(is_sil.sum())}",
                 "spk": f"{int((~pred_sil & ~is_sil).sum())}/{int((~is_sil).sum())}"}
    if branch is None:
        stream_loss, text = (ce[frame] * w[frame]).sum() / max(1, int(frame.sum())), k >= 3
    else:   # shut, the gate leaves the stack's logits exactly: the branch learns answers only
        stream_loss, gate_stats = gate_loss(branch.gate_logit, kind_t)
        text = k == 3
        shown["gate open-off/shut-on"] = "{}/{} {}/{}".format(*gate_stats)
    # Facts (names, digits, colours) are a few tokens of each line but all of its point.
    fw = torch.where(torch.isin(lab_t[sel], model.fact_ids), p["fact_w"], 1.0)[text]
    lm_loss = (ce[text] * fw).sum() / fw.sum() if text.any() else ce.sum() * 0
    loss = stream_loss + lm_loss
    shown.update(stream=stream_loss.item(), lm=lm_loss.item())
    if p["drill_w"] > 0:
        drill = copy_drill(model.connector, feats, fidx, p["drill"], model.cfg.tokens_per_frame)
        if bool((drill != IGNORE).any()):
            drill_loss = F.cross_entropy((logits if branch is None else branch.ungated_logits[0]).float(), drill,
                                         ignore_index=IGNORE)
            loss = loss + p["drill_w"] * drill_loss
            shown["drill"] = drill_loss.item()
    return loss, shown


@torch.no_grad()
def validate(model: Streamer, val: MatchSet, p: dict) -> None:
    """Losses on whole validation matches (no bursts, no renamed teams)."""
    model.eval()
    tot = {}
    for d in val.dirs:
        feats, turns = val.arena(random.Random(0), d, None, False)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=p["bf16"]):
            _, shown = seq_loss(model, (feats, *val.b.build(turns, feats.shape[0])), dict(p, speak_w=1.0, fact_w=1.0, drill_w=0),
                                 val.b.interval)
        for k in ("stream", "lm"):
            tot[k] = tot.get(k, 0.0) + shown[k] / len(val.dirs)
    log(f"VAL {p['name']}: " + " ".join(f"{k} {v:.4f}" for k, v in tot.items()))
    model.train()


def build(work: Work, cfg: ModelConfig) -> tuple[Streamer, object]:
    tok, layout = load_tokenizer(work.runs("tokenizer"))
    return Streamer(cfg, HEADS, copy_ids(tok)), layout


def train_phase(work: Work, model_cfg: ModelConfig, p: dict, prev: str | None) -> None:
    """One phase to p["steps"]: resumed from runs/<name>.pt, else started from prev's weights."""
    ckpt = work.runs(p["name"] + ".pt")
    ck = torch.load(ckpt) if os.path.exists(ckpt) else {}
    if ck.get("step", -1) >= p["steps"]:
        return
    cfg = phase_config(model_cfg, p)
    model, layout = build(work, cfg)
    init_weights(model)
    model.pin_facts()
    if prev and not ck:
        log(f"{p['name']}: from {prev} (step {load_weights(model, prev)})")
    if p["branch"]:   # only the branch learns: the trained stack's answers stay as they were
        for name, t in model.named_parameters():
            t.requires_grad_(name.startswith("decoder.side_"))
    opt = torch.optim.AdamW([t for t in model.parameters() if t.requires_grad], lr=p["lr"], betas=(0.9, 0.98), weight_decay=0.05)
    step = 0
    if ck:
        model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"]); step = ck["step"]
        log(f"{p['name']}: resumed at step {step}")
    builder = SeqBuilder(layout, cfg.tokens_per_frame)
    train = MatchSet(match_dirs(work.data("train")), builder, work.data("ood", "reader.npz"), p["quiz_weights"])
    val = MatchSet(match_dirs(work.data("val"))[:p["val_matches"]], builder)
    n_train = sum(t.numel() for t in model.parameters() if t.requires_grad)
    log(f"{p['name']}: {len(train.dirs)} train matches, {len(val.dirs)} val; trains {n_train / 1e6:.2f} M parameters")
    rng = random.Random(p["seed"] + step)
    save = lambda: torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step,  # noqa: E731
                               "cfg": cfg.to_dict(), "phase": p}, ckpt)
    while step < p["steps"]:
        lr = warmup_cosine(p["lr"], step + 1, p["warmup"], p["steps"], 0.05)
        for g in opt.param_groups:
            g["lr"] = lr
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=p["bf16"]):
            loss, shown = seq_loss(model, train.sample(rng, p), p, layout.interval)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.pin_facts()
        step += 1
        if step % 10 == 0:
            log(f"{p['name']} step {step} " + " ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                                                         for k, v in shown.items()) + f" lr {lr:.2e}")
        if step % p["save_every"] == 0:
            save()
    save()
    validate(model, val, p)
