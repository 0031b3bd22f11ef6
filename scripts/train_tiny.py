"""Train the embedded default model models/cocaster-tiny/ on the arena world (CPU).

    /usr/bin/python3 scripts/train_tiny.py data      [--train 0:400] [--val 90000:90020] [--jobs 2]
    /usr/bin/python3 scripts/train_tiny.py extra     [--draws 3]      # extra dialogue draws per match
    /usr/bin/python3 scripts/train_tiny.py tokenizer [--vocab 1536]
    /usr/bin/python3 scripts/train_tiny.py encoder   [--minutes 10] [--resume]
    /usr/bin/python3 scripts/train_tiny.py cache                      # frozen encoder features
    /usr/bin/python3 scripts/train_tiny.py decoder   [--minutes 40] [--resume]
    /usr/bin/python3 scripts/train_tiny.py export    [--threshold T]
    /usr/bin/python3 scripts/tiny/eval_py.py ...                      # Python reference eval

Everything scratch goes to data/ (matches) and runs/ (tokenizer, checkpoints,
logs); both are git-ignored. Seeds >= 100000 are never used here.
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import random
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny.common import (DATA, DEC_CFG, ENC_CFG, FPS, HEADS, IGNORE, MEAN, RUNS, SCRIPTS, STD, TOK_DIR,  # noqa: E402
                         TRAIN_DIR, VAL_DIR, SeqBuilder, dialogue_draws, frame_targets, load_tokenizer,
                         make_extra_dialogues, match_dirs, model_config)
from cocaster_model.layout import DEFAULT_LAYOUT, DEFAULT_TOKENS, SYSTEM_PROMPT  # noqa: E402
from cocaster_model.model import Decoder, FrameEncoder, ModelConfig  # noqa: E402
from cocaster_model.tokenizer import train_bpe  # noqa: E402

torch.set_num_threads(2)
ENC_CKPT = os.path.join(RUNS, "encoder.pt")
DEC_CKPT = os.path.join(RUNS, "decoder.pt")
OUT = os.path.join(os.path.dirname(SCRIPTS), "models", "cocaster-tiny")


def log(msg: str) -> None:
    print(time.strftime("%H:%M:%S"), msg, flush=True)


def pixels(frames_u8: np.ndarray) -> torch.Tensor:
    """uint8 [N,H,W,3] -> normalised float [N,3,H,W] (same as live.preprocess)."""
    x = torch.from_numpy(np.ascontiguousarray(frames_u8)).permute(0, 3, 1, 2).float() * (1 / 255)
    m = torch.tensor(MEAN).view(1, 3, 1, 1)
    s = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - m) / s


# ------------------------------------------------------------------ data
def cmd_data(a):
    for spec, out in ((a.val, VAL_DIR), (a.train, TRAIN_DIR)):
        lo, hi = (int(x) for x in spec.split(":"))
        assert hi <= 100000, "seeds >= 100000 are evaluation-only"
        subprocess.run([sys.executable, "-m", "arena.dataset", "--seeds", spec, "--out", out,
                        "--jobs", str(a.jobs), "--res", "128", "--fps", str(FPS)], cwd=SCRIPTS, check=True)


def cmd_extra(a):
    for d in match_dirs(TRAIN_DIR):
        make_extra_dialogues(d, a.draws, a.dense, a.dense_rate)
    log("extra dialogues done")


# ------------------------------------------------------------------ tokenizer
def cmd_tokenizer(a):
    texts = [SYSTEM_PROMPT + "\n\n[", "]\nUser:", "\nAssistant:", "]\nAssistant:", "\n[", ","] * 40
    for d in match_dirs(TRAIN_DIR):
        for turns in dialogue_draws(d):
            for t in turns:
                texts.append(" " + t["text"])
    # Every team name and colour, so names unseen in the training matches still tokenise well.
    from arena.world import PALETTE, TEAM_NAMES
    for n in TEAM_NAMES:
        texts += [" " + n] * 3
    for c in PALETTE:
        texts += [" " + c] * 3
    log(f"tokenizer corpus {len(texts)} texts")
    t = DEFAULT_TOKENS
    tok = train_bpe(texts, a.vocab, [t["framePlaceholder"], t["eos"], t["bos"]])
    os.makedirs(TOK_DIR, exist_ok=True)
    tok.save(TOK_DIR, t["bos"], t["eos"])
    tok, layout = load_tokenizer()
    lens = [len(tok.encode(x)) for x in texts[240:2000]]
    log(f"vocab {tok.vocab_size}; mean tokens/text {np.mean(lens):.1f}; start {len(layout.start_ids())} tokens; "
        f"speak {layout.self_speak_ids()} interval {layout.interval}")


# ------------------------------------------------------------------ encoder
class EncoderWithHeads(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.enc = FrameEncoder(cfg)
        dim = cfg.tokens_per_frame * self.enc.width
        self.norm = nn.LayerNorm(dim)
        self.heads = nn.ModuleDict({k: nn.Linear(dim, v if v else 2) for k, v in HEADS.items()})

    def forward(self, x):
        z = self.norm(self.enc.tokens(x).flatten(1))
        return {k: h(z) for k, h in self.heads.items()}


def head_loss(out, tg):
    loss = 0.0
    for k, v in HEADS.items():
        if v:
            loss = loss + F.cross_entropy(out[k], tg[k])
        else:
            loss = loss + 5.0 * F.mse_loss(out[k], tg[k])
    return loss


def load_frame_set(dirs, stride, rng):
    xs, tgs = [], {k: [] for k in HEADS}
    for d in dirs:
        fr = np.load(os.path.join(d, "frames.npy"), mmap_mode="r")
        tg = frame_targets(d)
        n = min(len(fr), len(tg["phase"]))
        idx = np.arange(rng.randrange(stride), n, stride)
        # every banner / card / kickoff frame too: rare classes
        special = np.nonzero(tg["goal_banner"][:n] | tg["replay"][:n] | tg["kickoff"][:n])[0]
        idx = np.unique(np.concatenate([idx, special]))
        xs.append(np.asarray(fr[idx]))
        for k in HEADS:
            tgs[k].append(tg[k][idx])
    return np.concatenate(xs), {k: torch.from_numpy(np.concatenate(v)) for k, v in tgs.items()}


@torch.no_grad()
def encoder_eval(model, x, tg, bs=256):
    model.eval()
    outs = {k: [] for k in HEADS}
    for i in range(0, len(x), bs):
        o = model(pixels(x[i:i + bs]))
        for k in HEADS:
            outs[k].append(o[k])
    res = {}
    for k, v in HEADS.items():
        o = torch.cat(outs[k])
        res[k] = float((o.argmax(-1) == tg[k]).float().mean()) if v else float((o - tg[k]).abs().mean())
    model.train()
    return res


SYNTH_HEADS = ("score_h", "score_a", "name_h", "name_a", "colour_h", "colour_a",
               "l0_h", "l1_h", "l2_h", "l0_a", "l1_a", "l2_a")


def cmd_encoder(a):
    rng = random.Random(a.seed)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    cfg = model_config(16)
    tdirs = match_dirs(TRAIN_DIR)
    vdirs = match_dirs(VAL_DIR)[:10]
    log(f"encoder: {len(tdirs)} train matches")
    x, tg = load_frame_set(tdirs, a.stride, rng)
    vx, vtg = load_frame_set(vdirs, 4, random.Random(1))
    sx = None
    if a.synth:
        from tiny.synth import synth
        sx, stg = synth(a.synth // 100, 100, a.seed)
        stg = {k: torch.from_numpy(v) for k, v in stg.items()}
        log(f"synthetic frames {len(sx)}")
    log(f"frames train {len(x)} val {len(vx)}")
    model = EncoderWithHeads(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    step = 0
    if a.resume and os.path.exists(ENC_CKPT):
        ck = torch.load(ENC_CKPT)
        model.load_state_dict(ck["model"])
        log(f"resumed encoder weights (step {ck['step']}); fresh schedule")
    t0 = time.time()
    total_steps = a.steps
    while step < total_steps and time.time() - t0 < a.minutes * 60:
        lr = a.lr * min(1.0, (step + 1) / 30) * 0.5 * (1 + math.cos(math.pi * min(1.0, step / total_steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        nb = a.bs if sx is None else a.bs // 2
        idx = np.sort(np.random.randint(0, len(x), nb))
        out = model(pixels(x[idx]))
        loss = head_loss(out, {k: v[idx] for k, v in tg.items()})
        if sx is not None:
            sidx = np.sort(np.random.randint(0, len(sx), a.bs - nb))
            so = model(pixels(sx[sidx]))
            loss = loss + sum(F.cross_entropy(so[k], stg[k][sidx]) for k in SYNTH_HEADS)
        opt.zero_grad(); loss.backward(); opt.step()
        step += 1
        if step % 25 == 0:
            log(f"enc step {step} loss {loss.item():.3f} lr {lr:.2e} {(time.time() - t0) / 60:.1f} min")
        if step % 200 == 0:
            torch.save({"model": model.state_dict(), "step": step, "cfg": cfg.to_dict()}, ENC_CKPT)
    torch.save({"model": model.state_dict(), "step": step, "cfg": cfg.to_dict()}, ENC_CKPT)
    res = encoder_eval(model, vx, vtg)
    log("encoder val: " + " ".join(f"{k}={v:.3f}" for k, v in res.items()))
    with open(os.path.join(RUNS, "encoder_val.json"), "w") as f:
        json.dump({"step": step, "val_frames": len(vx), "metrics": res}, f, indent=1)


def load_encoder(cfg: ModelConfig) -> FrameEncoder:
    ck = torch.load(ENC_CKPT)
    enc = FrameEncoder(cfg)
    sd = {k[4:]: v for k, v in ck["model"].items() if k.startswith("enc.") and not k.startswith("enc.connector")}
    missing, _ = enc.load_state_dict(sd, strict=False)
    assert all(m.startswith("connector") for m in missing), missing
    return enc.eval()


@torch.no_grad()
def cmd_cache(a):
    cfg = model_config(16)
    enc = load_encoder(cfg)
    stamp = os.path.getmtime(ENC_CKPT)
    dirs = match_dirs(VAL_DIR) + match_dirs(TRAIN_DIR)
    n = 0
    for d in dirs:
        fp = os.path.join(d, "feats.npy")
        if os.path.exists(fp) and os.path.getmtime(fp) > stamp:
            continue
        fr = np.load(os.path.join(d, "frames.npy"), mmap_mode="r")
        feats = torch.cat([enc.tokens(pixels(fr[i:i + 120])) for i in range(0, len(fr), 120)])
        np.save(fp, feats.numpy().astype(np.float16))
        n += 1
        if n % 20 == 0:
            log(f"cached {n}")
    log(f"cached {n} matches")


# ------------------------------------------------------------------ decoder
class Streamer(nn.Module):
    """Decoder + connector trained on cached (frozen) encoder tokens."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.decoder = Decoder(cfg)
        enc = FrameEncoder(cfg)
        self.connector = enc.connector

    def forward(self, ids, fidx, feats):
        s = ids.shape[0]
        tok = self.decoder.embed(ids.clamp(min=0).long())
        is_frame = fidx >= 0
        fe = self.connector(feats[fidx[is_frame].long()].float())
        x = tok.clone()
        x[is_frame] = fe.to(x.dtype)
        x = x.unsqueeze(0)
        mask = torch.ones(1, s, dtype=torch.long)
        pos = torch.arange(s).unsqueeze(0)
        logits, _ = self.decoder(x, mask, pos, self.decoder.empty_past())
        return logits[0]


def init_weights(m: Streamer):
    for name, p in m.named_parameters():
        if p.dim() == 2 and "connector" not in name:
            nn.init.normal_(p, std=0.02)
    # residual output projections smaller
    for b in m.decoder.blocks:
        nn.init.normal_(b.attn.o.weight, std=0.02 / math.sqrt(2 * m.cfg.num_layers))
        nn.init.normal_(b.mlp.down.weight, std=0.02 / math.sqrt(2 * m.cfg.num_layers))


class MatchSet:
    def __init__(self, dirs, builder: SeqBuilder, k: int):
        self.dirs, self.b, self.k = dirs, builder, k
        self.feats = {}
        self.draws = {}
        for d in dirs:
            f = np.load(os.path.join(d, "feats.npy"))
            self.feats[d] = torch.from_numpy(f.reshape(-1, f.shape[-1]))
            self.draws[d] = dialogue_draws(d)

    def sample(self, rng: random.Random, full_p: float, wmin: int, wmax: int):
        """A whole match (prob full_p) or a window of wmin..wmax frames that starts
        like a fresh stream (start_ids) at a random frame."""
        d = rng.choice(self.dirs)
        turns = rng.choice(self.draws[d])
        n = self.feats[d].shape[0] // self.k
        first, last = 0, n
        if rng.random() >= full_p:
            w = rng.randint(wmin, wmax)
            first = rng.randrange(0, n - w + 1)
            last = first + w
        ids, fidx, lab, kind = self.b.build(turns, n, first=first, last=last)
        return d, ids, fidx, lab, kind


def seq_loss(model, feats, ids, fidx, lab, kind, speak_w):
    ids_t, fidx_t = torch.from_numpy(ids), torch.from_numpy(fidx)
    logits = model(ids_t, fidx_t, feats).float()
    lab_t = torch.from_numpy(lab).long()
    kind_t = torch.from_numpy(kind).long()
    sel = lab_t != IGNORE
    ce = F.cross_entropy(logits[sel], lab_t[sel], reduction="none")
    k = kind_t[sel]
    w = torch.where(k == 2, torch.full_like(ce, speak_w), torch.ones_like(ce))
    frame = (k == 1) | (k == 2)
    text = k == 3
    stream_loss = (ce[frame] * w[frame]).sum() / max(1, int(frame.sum()))
    lm_loss = ce[text].mean() if text.any() else ce.sum() * 0
    # decision accuracy diagnostics
    with torch.no_grad():
        lg = logits[sel][frame]
        pred_sil = lg.argmax(-1) == int(model.interval)
        is_sil = k[frame] == 1
        stats = (int((pred_sil & is_sil).sum()), int(is_sil.sum()), int((~pred_sil & ~is_sil).sum()), int((~is_sil).sum()))
    return stream_loss, lm_loss, stats


def cmd_decoder(a):
    tok, layout = load_tokenizer()
    cfg = model_config(tok.vocab_size)
    k = cfg.tokens_per_frame
    builder = SeqBuilder(layout, k)
    tdirs = [d for d in match_dirs(TRAIN_DIR) if os.path.exists(os.path.join(d, "feats.npy"))]
    vdirs = [d for d in match_dirs(VAL_DIR) if os.path.exists(os.path.join(d, "feats.npy"))][:6]
    log(f"decoder: {len(tdirs)} train matches, {len(vdirs)} val")
    train, val = MatchSet(tdirs, builder, k), MatchSet(vdirs, builder, k)
    torch.manual_seed(0)
    model = Streamer(cfg)
    init_weights(model)
    model.interval = layout.interval
    n_dec = sum(p.numel() for p in model.decoder.parameters())
    n_con = sum(p.numel() for p in model.connector.parameters())
    log(f"decoder params {n_dec / 1e6:.2f} M, connector {n_con / 1e6:.3f} M")
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.98), weight_decay=0.05)
    step, rng, ck = 0, random.Random(a.seed), {}
    if a.resume and os.path.exists(DEC_CKPT):
        ck = torch.load(DEC_CKPT)
        model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"]); step = ck["step"]
        rng = random.Random(a.seed + step)
        log(f"resumed at step {step}")
    from tiny import fastattn
    fastattn.enable()
    t0 = time.time()
    budget = a.minutes * 60
    ema = None

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "cfg": cfg.to_dict(),
                    "elapsed": elapsed + time.time() - t0}, DEC_CKPT)

    elapsed = ck.get("elapsed", 0.0) if a.resume and os.path.exists(DEC_CKPT) else 0.0
    total = a.total_minutes * 60
    while time.time() - t0 < budget:
        prog = min(1.0, (elapsed + time.time() - t0) / total)
        lr = a.lr * min(1.0, (step + 1) / a.warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * prog)))
        for g in opt.param_groups:
            g["lr"] = lr
        d, ids, fidx, lab, kind = train.sample(rng, a.full_p, a.wmin, a.wmax)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(a.bf16)):
            sl, ll, st = seq_loss(model, train.feats[d], ids, fidx, lab, kind, a.speak_w)
        loss = sl + ll
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        cur = np.array([sl.item(), ll.item()])
        ema = cur if ema is None else 0.95 * ema + 0.05 * cur
        if step % 10 == 0:
            log(f"step {step} len {len(ids)} stream {ema[0]:.4f} lm {ema[1]:.4f} sil {st[0]}/{st[1]} spk {st[2]}/{st[3]} "
                f"lr {lr:.2e} prog {prog:.3f} {(time.time() - t0) / 60:.1f} min")
        if step % a.save_every == 0:
            save()
        if step % a.val_every == 0:
            validate(model, val, a)
    save()
    validate(model, val, a)
    log("decoder done")


@torch.no_grad()
def validate(model, val: MatchSet, a):
    model.eval()
    tot = np.zeros(2); stats = np.zeros(4)
    for d in val.dirs:
        ids, fidx, lab, kind = val.b.build(val.draws[d][0], val.feats[d].shape[0] // val.k)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(a.bf16)):
            sl, ll, st = seq_loss(model, val.feats[d], ids, fidx, lab, kind, 1.0)
        tot += [sl.item(), ll.item()]; stats += st
    tot /= len(val.dirs)
    log(f"VAL stream {tot[0]:.4f} lm {tot[1]:.4f} silent-acc {stats[0] / stats[1]:.4f} speak-acc {stats[2] / max(1, stats[3]):.4f}")
    model.train()


# ------------------------------------------------------------------ export
def load_trained(ckpt=DEC_CKPT):
    tok, layout = load_tokenizer()
    cfg = model_config(tok.vocab_size)
    ck = torch.load(ckpt)
    model = Streamer(cfg)
    model.load_state_dict(ck["model"])
    enc = load_encoder(cfg)
    enc.connector.load_state_dict(model.connector.state_dict())
    return tok, layout, cfg, enc.eval(), model.decoder.eval(), ck["step"]


def cmd_export(a):
    tok, layout, cfg, enc, dec, step = load_trained()
    from cocaster_model.export import write_package
    n_enc = sum(p.numel() for p in enc.parameters())
    n_dec = sum(p.numel() for p in dec.parameters())
    write_package(OUT, model_id="cocaster-tiny", name="cocaster tiny (arena)",
                  description=("Tiny streaming video LM trained on the synthetic arena sport: comments on kick-offs, "
                               "goals, saves, misses, replays, half and full time, and answers viewer questions "
                               "about score, possession, time left, last event and kit colours."),
                  encoder=enc, decoder=dec, cfg=cfg, tok=tok, tokens=dict(DEFAULT_TOKENS), layout=DEFAULT_LAYOUT,
                  threshold=a.threshold, max_new_tokens=a.max_new_tokens, max_context=a.max_context, fps=FPS,
                  mean=MEAN, std=STD)
    # Demo video: two held-out validation matches (never trained on), native 256 px render, crf 28.
    demo = os.path.join(OUT, "demo.mp4")
    seeds = [os.path.join(VAL_DIR, str(x), "match.mp4") for x in a.demo_seeds.split(",")]
    subprocess.run(["ffmpeg", "-v", "error", "-y", *sum((["-i", x] for x in seeds), []), "-filter_complex",
                    "".join(f"[{i}:v]" for i in range(len(seeds))) + f"concat=n={len(seeds)}:v=1:a=0[v]",
                    "-map", "[v]", "-c:v", "libx264", "-crf", "28", "-preset", "slow", "-pix_fmt", "yuv420p",
                    "-movflags", "+faststart", demo], check=True)
    from cocaster_model.export import sha256
    with open(os.path.join(OUT, "model.json")) as f:
        manifest = json.load(f)
    manifest["demo"] = {"path": "demo.mp4", "sha256": sha256(demo)}
    with open(os.path.join(OUT, "model.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    log(f"exported step {step}: encoder {n_enc / 1e6:.3f} M, decoder {n_dec / 1e6:.3f} M params -> {OUT}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("data"); p.add_argument("--train", default="0:400"); p.add_argument("--val", default="90000:90020")
    p.add_argument("--jobs", type=int, default=2)
    p = sub.add_parser("extra"); p.add_argument("--draws", type=int, default=3)
    p.add_argument("--dense", type=int, default=2); p.add_argument("--dense_rate", type=float, default=5.0)
    p = sub.add_parser("tokenizer"); p.add_argument("--vocab", type=int, default=1536)
    p = sub.add_parser("encoder"); p.add_argument("--minutes", type=float, default=10); p.add_argument("--steps", type=int, default=600)
    p.add_argument("--bs", type=int, default=48); p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--stride", type=int, default=3); p.add_argument("--resume", action="store_true")
    p.add_argument("--synth", type=int, default=0, help="synthetic random-team frames"); p.add_argument("--seed", type=int, default=0)
    sub.add_parser("cache")
    p = sub.add_parser("decoder"); p.add_argument("--minutes", type=float, default=40); p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--lr", type=float, default=2e-3); p.add_argument("--warmup", type=int, default=60)
    p.add_argument("--speak_w", type=float, default=3.0); p.add_argument("--full_p", type=float, default=0.3)
    p.add_argument("--wmin", type=int, default=100); p.add_argument("--wmax", type=int, default=200)
    p.add_argument("--total_minutes", type=float, default=45, help="length of the cosine schedule (over resumes)")
    p.add_argument("--bf16", type=int, default=1); p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save_every", type=int, default=50); p.add_argument("--val_every", type=int, default=200)
    p.add_argument("--resume", action="store_true")
    p = sub.add_parser("export"); p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--max_new_tokens", type=int, default=32); p.add_argument("--max_context", type=int, default=3072)
    p.add_argument("--demo_seeds", default="90001,90002")
    a = ap.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
