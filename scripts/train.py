"""Train the embedded default model models/cocaster-tiny/ on the arena world (CPU).

    /usr/bin/python3 scripts/train_tiny.py data      [--train 0:380] [--val 90000:90020] [--jobs 2]
    /usr/bin/python3 scripts/train_tiny.py extra     [--draws 3] [--dense 2]   # extra dialogue draws per match
    /usr/bin/python3 scripts/train_tiny.py quiz      [--every 4]   # Q&A of every kind every 2 s
    /usr/bin/python3 scripts/train_tiny.py tokenizer [--vocab 2048]
    cd scripts && /usr/bin/python3 -m tiny.synth --parts 0:8 --out ../data/synth   # re-rendered random teams
    cd scripts && /usr/bin/python3 -m tiny.ood --clips 320 --out ../data/ood   # out-of-domain clips
    /usr/bin/python3 scripts/train_tiny.py encoder   [--minutes 15] [--steps 1200] [--resume]   # the reader
    /usr/bin/python3 scripts/train_tiny.py cache                      # frozen reader features
    /usr/bin/python3 scripts/train_tiny.py decoder   [--minutes 60] [--total_minutes 60] [--resume]
    cd scripts && /usr/bin/python3 -m arena.dataset --seeds 90100:90102 --out ../data/demo
    /usr/bin/python3 scripts/train_tiny.py export    [--threshold T]

A fresh checkout has no runs/: `cd scripts && /usr/bin/python3 -m tiny.from_onnx`
rebuilds runs/reader.pt, runs/letters.pt, runs/decoder.pt and runs/tokenizer/
from the committed package (exactly: exporting them again gives the same bytes).

Everything scratch goes to data/ (matches) and runs/ (tokenizer, checkpoints,
logs); both are git-ignored. Seeds >= 100000 are never used here. Every step is
resumable or skips work already done; run them with nohup in the background.
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import random
import re
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tiny.common import (COLOURS, DATA, DEC_CFG, ENC_CFG, FPS, HEADS, IGNORE, LETTERS, MEAN, lexicon, NAME_OF_ABBR, RUNS, SCRIPTS, STD, TOK_DIR,  # noqa: E402
                         TRAIN_DIR, VAL_DIR, SeqBuilder, dialogue_draws, frame_targets, load_tokenizer,
                         make_extra_dialogues, make_quiz, match_dirs, model_config, QUIZ_KINDS, log, pixels, warmup_cosine)
from cocaster_model.layout import DEFAULT_LAYOUT, DEFAULT_TOKENS, SYSTEM_PROMPT  # noqa: E402
from arena.world import TEAM_NAMES  # noqa: E402
from cocaster_model.model import Decoder, ModelConfig, gate_from_logit  # noqa: E402
from cocaster_model.tokenizer import train_bpe  # noqa: E402

torch.set_num_threads(2)
ENC_CKPT = os.path.join(RUNS, "reader.pt")
DEC_CKPT = os.path.join(RUNS, "decoder.pt")
OUT = os.path.join(os.path.dirname(SCRIPTS), "models", "cocaster-tiny")



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


def cmd_quiz(a):
    for d in match_dirs(TRAIN_DIR):
        make_quiz(d, a.every)
    log("quiz done")


# ------------------------------------------------------------------ tokenizer
def cmd_tokenizer(a):
    texts = [SYSTEM_PROMPT + "\n\n[", "]\nUser:", "\nAssistant:", "]\nAssistant:", "\n[", ","] * 40
    for d in match_dirs(TRAIN_DIR):
        for turns in dialogue_draws(d):
            for t in turns:
                texts.append(" " + t["text"])
    # Every team name and colour is one token, so naming a team is copying one id
    # (the connector feeds the reader's name/colour/digit distributions through
    # the token embedding; see tiny/reader.py).
    from arena.world import PALETTE, TEAM_NAMES
    log(f"tokenizer corpus {len(texts)} texts")
    t = DEFAULT_TOKENS
    tok = train_bpe(texts, a.vocab, [t["framePlaceholder"], t["eos"], t["bos"]],
                    whole_words=[" " + n for n in TEAM_NAMES] + [" " + c for c in PALETTE])
    os.makedirs(TOK_DIR, exist_ok=True)
    tok.save(TOK_DIR, t["bos"], t["eos"])
    tok, layout = load_tokenizer()
    from cocaster_model.tokenizer import chunks
    for x in texts[240:2000]:   # whole-segment encoding (the runtime's) == chunk by chunk
        assert tok.encode(x) == [i for c in chunks(x) for i in tok.encode(c)], x
    lens = [len(tok.encode(x)) for x in texts[240:2000]]
    log(f"vocab {tok.vocab_size}; mean tokens/text {np.mean(lens):.1f}; start {len(layout.start_ids())} tokens; "
        f"speak {layout.self_speak_ids()} interval {layout.interval}")


# ------------------------------------------------------------------ encoder (the reader)
SYNTH_DIR = os.path.join(DATA, "synth")
OOD_DIR = os.path.join(DATA, "ood")
# Heads a synthetic re-rendered frame has labels for (the rest of its state is not tracked).
SYNTH_HEADS = ("arena", "score_h", "score_a", "name_h", "name_a", "colour_h", "colour_a",
               "l0_h", "l1_h", "l2_h", "l0_a", "l1_a", "l2_a")


def head_loss(out, tg, mask):
    """Sum over heads of the mean loss over the frames that have that label."""
    loss = 0.0
    for k, v in HEADS.items():
        m = mask[k]
        if not m.any():
            continue
        if v:
            loss = loss + F.cross_entropy(out[k][m], tg[k][m])
        else:
            loss = loss + 5.0 * F.mse_loss(out[k][m], tg[k][m])
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
    return np.concatenate(xs), {k: np.concatenate(v) for k, v in tgs.items()}


def load_synth():
    """Re-rendered frames with random teams (tiny/synth.py); names from the letters."""
    xs, tgs = [], {k: [] for k in SYNTH_HEADS}
    for p in sorted(glob.glob(os.path.join(SYNTH_DIR, "*.npz"))):
        z = np.load(p)
        xs.append(z["x"])
        n = len(z["x"])
        for k in SYNTH_HEADS:
            if k == "arena":
                tgs[k].append(np.ones(n, dtype=np.int64))
            elif k.startswith("name_"):
                side = k[-1]
                abbr = ["".join(LETTERS[z[f"l{j}_{side}"][i]] for j in range(3)) for i in range(n)]
                tgs[k].append(np.array([NAME_OF_ABBR.get(a, -1) for a in abbr], dtype=np.int64))  # -1: no such team
            else:
                tgs[k].append(z[k].astype(np.int64))
    return np.concatenate(xs), {k: np.concatenate(v) for k, v in tgs.items()}


def load_ood():
    z = np.load(os.path.join(OOD_DIR, "ood.npz"))
    return z["x"], z["lengths"]


def full_targets(n, part: dict, keys):
    """Targets for all heads with a mask of the ones this frame set has."""
    tg, mask = {}, {}
    for k, v in HEADS.items():
        if k in keys:
            tg[k] = torch.from_numpy(part[k])
            mask[k] = tg[k] >= 0 if v else torch.ones(n, dtype=torch.bool)
            tg[k] = tg[k].clamp(min=0) if v else tg[k]
        else:
            tg[k] = torch.zeros((n, 2), dtype=torch.float32) if not v else torch.zeros(n, dtype=torch.long)
            mask[k] = torch.zeros(n, dtype=torch.bool)
    return tg, mask


@torch.no_grad()
def encoder_eval(model, x, tg, mask, bs=256):
    model.eval()
    outs = {k: [] for k in list(HEADS) + ["lex_h", "lex_a"]}
    for i in range(0, len(x), bs):
        o = model(pixels(x[i:i + bs]))
        o["lex_h"], o["lex_a"] = model.name_logits(o, "h"), model.name_logits(o, "a")
        for k in outs:
            outs[k].append(o[k])
    res = {}
    for side in "ha":
        m = mask[f"name_{side}"]
        if m.any():
            res[f"lex_{side}"] = float((torch.cat(outs[f"lex_{side}"])[m].argmax(-1) == tg[f"name_{side}"][m]).float().mean())
    for k, v in HEADS.items():
        m = mask[k]
        if not m.any():
            continue
        o = torch.cat(outs[k])[m]
        res[k] = float((o.argmax(-1) == tg[k][m]).float().mean()) if v else float((o - tg[k][m]).abs().mean())
    model.train()
    return res


def cmd_encoder(a):
    from tiny.reader import Reader
    rng = random.Random(a.seed)
    torch.manual_seed(a.seed)
    np.random.seed(a.seed)
    # Validation: the 10 newest training matches (rendered by the current renderer), held out here.
    tdirs = match_dirs(TRAIN_DIR)
    tdirs, vdirs = tdirs[:-10], tdirs[-10:]
    x, tg = load_frame_set(tdirs, a.stride, rng)
    vx, vtg = load_frame_set(vdirs, 4, random.Random(1))
    sx, stg = load_synth()
    ox, olen = load_ood()
    n_val_ood = int(olen[-len(olen) // 10:].sum())        # last tenth of the clips: validation
    ovx, ox = ox[-n_val_ood:], ox[:-n_val_ood]
    sets = [(x, *full_targets(len(x), tg, HEADS)), (sx, *full_targets(len(sx), stg, SYNTH_HEADS)),
            (ox, *full_targets(len(ox), {"arena": np.zeros(len(ox), dtype=np.int64)}, ("arena",)))]
    share = (a.bs // 2, a.bs * 5 // 16, a.bs - a.bs // 2 - a.bs * 5 // 16)
    log(f"reader: frames real {len(x)} synth {len(sx)} ood {len(ox)}; val real {len(vx)} ood {len(ovx)}")
    model = Reader(HEADS, lexicon())
    log(f"reader params {sum(p.numel() for p in model.parameters()) / 1e6:.2f} M")
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.01)
    step = 0
    if a.resume and os.path.exists(ENC_CKPT):
        ck = torch.load(ENC_CKPT)
        model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"]); step = ck["step"]
        log(f"resumed reader at step {step}")
    t0 = time.time()

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step}, ENC_CKPT)

    while step < a.steps and time.time() - t0 < a.minutes * 60:
        lr = warmup_cosine(a.lr, step + 1, 50, step / a.steps, 0.03)
        for g in opt.param_groups:
            g["lr"] = lr
        xb, tb, mb = [], {k: [] for k in HEADS}, {k: [] for k in HEADS}
        for (sx_, stg_, smask), nb in zip(sets, share):
            idx = np.sort(np.random.randint(0, len(sx_), nb))
            xb.append(sx_[idx])
            for k in HEADS:
                tb[k].append(stg_[k][idx]); mb[k].append(smask[k][idx])
        out = model(pixels(np.concatenate(xb)))
        loss = head_loss(out, {k: torch.cat(v) for k, v in tb.items()}, {k: torch.cat(v) for k, v in mb.items()})
        opt.zero_grad(); loss.backward(); opt.step()
        step += 1
        if step % 25 == 0:
            log(f"enc step {step} loss {loss.item():.3f} lr {lr:.2e} {(time.time() - t0) / 60:.1f} min")
        if step % 200 == 0:
            save()
    save()
    res = encoder_eval(model, vx, *full_targets(len(vx), vtg, HEADS))
    ores = encoder_eval(model, ovx, *full_targets(len(ovx), {"arena": np.zeros(len(ovx), dtype=np.int64)}, ("arena",)))
    res["arena_on_ood"] = ores["arena"]
    log("reader val: " + " ".join(f"{k}={v:.3f}" for k, v in res.items()))
    with open(os.path.join(RUNS, "encoder_val.json"), "w") as f:
        json.dump({"step": step, "val_frames": len(vx), "val_ood_frames": len(ovx), "metrics": res}, f, indent=1)


def load_reader():
    """The frozen reader, with the full-resolution letter path (tiny.letters) when
    it has been trained: it replaces the trunk's letter heads, nothing else."""
    from tiny.letters import LETTERS_CKPT
    from tiny.reader import LetterReader, Reader
    model = Reader(HEADS, lexicon())
    model.load_state_dict(torch.load(ENC_CKPT)["model"])
    if os.path.exists(LETTERS_CKPT):
        ck = torch.load(LETTERS_CKPT)
        letters = LetterReader(**ck["arch"])
        letters.load_state_dict(ck["model"])
        model.attach_letters(letters)
        log(f"reader letters from {LETTERS_CKPT} (step {ck['step']})")
    else:
        log(f"no {LETTERS_CKPT}: names are spelled by the trunk's letter heads (python3 -m tiny.letters trains the letter path)")
    return model.eval()


def reader_stamp() -> float:
    from tiny.letters import LETTERS_CKPT
    return max(os.path.getmtime(p) for p in (ENC_CKPT, LETTERS_CKPT) if os.path.exists(p))


@torch.no_grad()
def cmd_cache(a):
    """Reader features (head distributions + z) of every frame, fp16: reader.npy."""
    reader = load_reader()
    stamp = reader_stamp()
    dirs = match_dirs(VAL_DIR) + match_dirs(TRAIN_DIR)
    n = 0
    for d in dirs:
        fp = os.path.join(d, "reader.npy")
        if os.path.exists(fp) and os.path.getmtime(fp) > stamp:
            continue
        fr = np.load(os.path.join(d, "frames.npy"), mmap_mode="r")
        feats = torch.cat([reader.features(pixels(fr[i:i + 120])) for i in range(0, len(fr), 120)])
        np.save(fp, feats.numpy().astype(np.float16))
        n += 1
        if n % 40 == 0:
            log(f"cached {n}")
    ox, olen = load_ood()
    feats = torch.cat([reader.features(pixels(ox[i:i + 120])) for i in range(0, len(ox), 120)])
    np.savez(os.path.join(OOD_DIR, "reader.npz"), f=feats.numpy().astype(np.float16), lengths=olen)
    log(f"cached {n} matches and {len(ox)} ood frames")


# ------------------------------------------------------------------ decoder
FACT_NORM = 2.5   # about the norm the other token rows learn (2.4)


def copy_ids(tok) -> dict[str, list[int]]:
    """Token ids the connector writes: every team name, digit and kit colour."""
    def one(word):
        ids = tok.encode(word)
        assert len(ids) == 1, f"{word!r} is not one token"
        return ids[0]
    return dict(name_ids=[one(" " + n) for n in TEAM_NAMES], digit_ids=[one(str(d)) for d in range(10)],
                colour_ids=[one(" " + c) for c in COLOURS])


class Streamer(nn.Module):
    """Decoder + connector trained on cached (frozen) reader features. The output
    head is tied to the token embedding, which the connector also reads (copying)."""

    def __init__(self, cfg: ModelConfig, tok, ones_slot: str = "acting"):
        super().__init__()
        from tiny.reader import Connector
        self.cfg, self.ones_slot = cfg, ones_slot
        self.decoder = Decoder(cfg)
        self.decoder.lm_head.weight = self.decoder.embed.weight
        ids = copy_ids(tok)
        self.connector = Connector(HEADS, cfg.hidden_size, self.decoder.embed, **ids, ones_slot=ones_slot)
        self.register_buffer("fact_ids", torch.tensor(sum(ids.values(), [])), persistent=False)
        # Fact words keep fixed, mutually orthogonal embeddings: learnt ones collapsed
        # (mean cosine 0.47 between names, 0.80 between colours after 2,200 steps: a
        # rare word's row mostly learns "a name goes here"), so a copied name came out
        # as a blend of names. Orthogonal rows make the copy exact to read out.
        q, _ = torch.linalg.qr(torch.randn(cfg.hidden_size, len(self.fact_ids), generator=torch.Generator().manual_seed(7)))
        self.register_buffer("fact_embed", q.t().contiguous() * FACT_NORM, persistent=False)

    @torch.no_grad()
    def pin_facts(self):
        """Put the fixed fact rows back (after init, loading, every optimiser step)."""
        self.decoder.embed.weight[self.fact_ids] = self.fact_embed.to(self.decoder.embed.weight.dtype)

    def forward(self, ids, fidx, feats):
        s = ids.shape[0]
        tok = self.decoder.embed(ids.clamp(min=0).long())
        is_frame = fidx >= 0
        frame_tok = self.connector(feats.float()).reshape(-1, self.cfg.hidden_size)
        x = tok.clone()
        x[is_frame] = frame_tok[fidx[is_frame].long()].to(x.dtype)
        x = x.unsqueeze(0)
        mask = torch.ones(1, s, dtype=torch.long)
        pos = torch.arange(s).unsqueeze(0)
        logits, _ = self.decoder(x, mask, pos, self.decoder.empty_past())
        return logits[0]


def init_weights(m: Streamer):
    for name, p in m.decoder.named_parameters():
        if p.dim() == 2:
            nn.init.normal_(p, std=0.02)
    # residual output projections smaller
    for b in m.decoder.blocks:
        nn.init.normal_(b.attn.o.weight, std=0.02 / math.sqrt(2 * m.cfg.num_layers))
        nn.init.normal_(b.mlp.down.weight, std=0.02 / math.sqrt(2 * m.cfg.num_layers))
    # The side branch and the recency slopes start as no-ops, so a trained stack grown them answers as before.
    for b in m.decoder.blocks:
        if m.cfg.recency:
            nn.init.zeros_(b.attn.recency.weight)
    for b in m.decoder.side_blocks:
        if m.cfg.side_recency:
            nn.init.zeros_(b.attn.recency.weight)
        nn.init.zeros_(b.attn.o.weight)
        nn.init.zeros_(b.mlp.down.weight)


def init_from(model: Streamer, path: str) -> int:
    """Weights of a trained checkpoint (one without a side branch is fine: the
    branch keeps its no-op init). Returns the checkpoint's step."""
    ck = torch.load(path, map_location="cpu")
    missing, unexpected = model.load_state_dict(ck["model"], strict=False)
    assert not unexpected and all(k.startswith("decoder.side_") or k.endswith(".attn.recency.weight")
                                  or k == "connector.ones_gain" for k in missing), (missing, unexpected)
    if "connector.ones_gain" in missing:   # the ones digit moves to the scene token at the scale it had
        with torch.no_grad():
            model.connector.ones_gain.copy_(model.connector.gain[2])
    model.pin_facts()
    log(f"initialised from {path} (step {ck['step']}); fresh: {', '.join(missing) or 'nothing'}")
    return ck["step"]


def window_turns(turns, first, last, offset):
    """Turns of frames [first, last), moved so that frame `first` becomes `offset`."""
    dt = (offset - first) / FPS
    return [dict(t, frame=t["frame"] - first + offset, t=t["t"] + dt) for t in turns if first <= t["frame"] < last]


class MatchSet:
    """Training streams: arena windows (team names permuted), out-of-domain video
    (silence), and the two spliced (a streamer switching scenes)."""

    def __init__(self, dirs, builder: SeqBuilder, ood: bool = True):
        from tiny.reader import feature_slices
        self.dirs, self.b = dirs, builder
        self.feats, self.draws, self.teams, self.quiz = {}, {}, {}, {}
        for d in dirs:
            self.feats[d] = torch.from_numpy(np.load(os.path.join(d, "reader.npy")))
            self.draws[d] = dialogue_draws(d)
            with open(os.path.join(d, "dialogue.json")) as f:
                self.teams[d] = json.load(f)["teams"]
            qp = os.path.join(d, "quiz.json")
            if os.path.exists(qp):
                with open(qp) as f:
                    by_frame = self.quiz[d] = {}     # frame -> kind -> entry
                    for e in json.load(f):
                        by_frame.setdefault(e["frame"], {})[e["kind"]] = e
        self.name_cols = [feature_slices(HEADS)[k] for k in ("name_h", "name_a")]
        self.kind_weights = dict(QUIZ_KIND_WEIGHTS)
        self.ood = None
        if ood:
            z = np.load(os.path.join(OOD_DIR, "reader.npz"))
            n_train = len(z["lengths"]) - len(z["lengths"]) // 10   # the last tenth is the reader's validation
            ends = np.cumsum(z["lengths"])[:n_train]
            self.ood = torch.from_numpy(z["f"][: ends[-1]])
            self.ood_clips = list(zip(np.concatenate([[0], ends[:-1]]), ends))

    def ood_frames(self, rng, w):
        parts, n = [], 0
        while n < w:
            a, b = rng.choice(self.ood_clips)
            parts.append(self.ood[a:b]); n += b - a
        return torch.cat(parts)[:w]

    def arena(self, rng, d, w, permute, bursts=0):
        """Window of w frames of match d (None = whole match), turns shifted to 0,
        with `bursts` quiz bursts spliced in."""
        draws = self.draws[d]
        # Half the streams from the dense draws (5 questions a minute): answers need the most practice.
        turns = rng.choice(draws[-2:] if len(draws) > 3 and rng.random() < 0.5 else draws)
        f = self.feats[d]
        n = f.shape[0]
        first = 0 if w is None or w >= n else rng.randrange(0, n - w + 1)
        last = n if w is None else min(n, first + w)
        if bursts and d in self.quiz:
            turns = self.with_bursts(rng, d, turns, first, last, bursts)
        f = f[first:last]
        sigma = np.random.default_rng(rng.randrange(1 << 30)).permutation(len(TEAM_NAMES)) if permute \
            else np.arange(len(TEAM_NAMES))
        rename = {}
        for tm in self.teams[d]:
            rename[tm["name"]] = TEAM_NAMES[sigma[NAME_OF_ABBR[tm["abbr"].upper()]]]
        if permute:
            f = f.clone()
            for sl in self.name_cols:
                block = f[:, sl]
                new = torch.empty_like(block)
                new[:, torch.from_numpy(sigma)] = block
                f[:, sl] = new
        return f, [dict(t, text=rename_text(t["text"], rename)) for t in window_turns(turns, first, last, 0)]

    def with_bursts(self, rng, d, turns, first, last, bursts):
        """Turns plus a few back-to-back questions (2-4, the weak kinds more often)
        at frames in [first, last) that are clear of other lines."""
        busy = {t["frame"] + k for t in turns for k in range(-3, 4)}
        free = [i for i in self.quiz[d] if first <= i < last and i not in busy]
        added = []
        for i in rng.sample(free, min(bursts, len(free))):
            kinds = dict(self.kind_weights)
            for _ in range(rng.randint(2, 4)):
                kind = rng.choices(list(kinds), list(kinds.values()))[0]
                del kinds[kind]
                e = self.quiz[d][i][kind]
                for role, text in (("user", e["q"]), ("assistant", e["a"])):
                    added.append({"t": e["t"], "frame": i, "role": role, "text": text, "trigger": "question",
                                  "kind": kind, "fact": e["fact"]})
        return sorted(turns + added, key=lambda x: x["t"])

    def sample(self, rng: random.Random, a):
        d = rng.choice(self.dirs)
        r = rng.random()
        w = rng.randint(a.wmin, a.wmax)
        permute = rng.random() < a.permute_p
        if self.ood is not None and r < a.ood_p:
            feats, turns = self.ood_frames(rng, w), []
        elif self.ood is not None and r < a.ood_p + a.mix_p:
            w1 = rng.randint(20, w)
            af, at = self.arena(rng, d, w1, permute)
            of = self.ood_frames(rng, rng.randint(20, a.wmax))
            if rng.random() < 0.5:
                feats, turns = torch.cat([af, of]), at
            else:
                feats, turns = torch.cat([of, af]), window_turns(at, 0, len(af), len(of))
        else:
            bursts = rng.randint(1, a.bursts) if rng.random() < a.quiz_p else 0
            feats, turns = self.arena(rng, d, None if rng.random() < a.full_p else w, permute, bursts)
        ids, fidx, lab, kind = self.b.build(turns, feats.shape[0])
        return feats, ids, fidx, lab, kind


# Quiz bursts ask the kinds the model answered worst (session 4: colours 0.06,
# time left 0.0, score 0.63) more often.
QUIZ_KIND_WEIGHTS = {"colours": 0.35, "time_left": 0.25, "score": 0.2, "possession": 0.12, "last_event": 0.08}
assert set(QUIZ_KIND_WEIGHTS) == set(QUIZ_KINDS), "every quiz kind needs a weight"


# What the copy drill asks at frame slots 0-3 (home, away, acting, state token).
# "s5" (session 5, the shipped model): away name, minutes-left tens, acting
# colour, minutes-left ones. Its one name target sits on the home token, whose own
# name is the strongest wrong answer, so from scratch it teaches *not* to say the
# names on screen: in two fresh runs (session 7) the right name ranked ~140th of
# 174 in answers at steps 1,850-5,900. "s7" asks the acting team's name at the
# state token (which holds no name) and moves the ones digit to the home slot.
DRILL_LAYOUTS = {
    "s5": ("away_name", "left_tens", "acting_colour", "left_ones"),
    "s7": ("left_ones", "left_tens", "acting_colour", "acting_name"),
    # s5 for a connector with the ones digit in the scene token (slot 4): the state
    # slot cannot see its own frame's scene token, so it copies the previous frame's.
    "s10": ("away_name", "left_tens", "acting_colour", "prev_left_ones"),
    # Session 12, for colour answers that name both kits in order (a copy by role,
    # like the score's; the templates are commit b75ef66, reverted): the acting
    # token copies the home kit and the state token the away kit (each 2 tokens
    # back). From the shipped decoder the home-kit slot
    # learnt it in ~250 steps (0.98-1.0), the away-kit slot never (0.0-0.04), and
    # answers did not follow (model card, session 12).
    "s12": ("away_name", "left_tens", "home_colour", "away_colour"),
}
DEFAULT_DRILL = "s7"


def copy_drill(model, feats: torch.Tensor, fidx: np.ndarray, layout: str) -> torch.Tensor:
    """Extra targets at the frame slots the runtime never decodes from (slots 0-3),
    as the reader reads the frame (DRILL_LAYOUTS says which fact at which slot).
    Each asks a head to find one role's token and copy its word; the acting colour
    is a lookup by content (find the team token with the acting team's name), as
    in "What colour are Hawks?". Drilled at every frame instead of a few times per
    stream. Session 4's drill (home score, home name, acting name at slots 1-3)
    taught the name and score copies; colours and time left stayed near 0."""
    from tiny.reader import feature_slices
    sl = feature_slices(HEADS)
    am = lambda h: feats[:, sl[h]].float().argmax(1)  # noqa: E731
    c = model.connector
    banner = am("goal_banner") == 1
    side = torch.where(banner, am("goal_team"), am("possession")) - 1      # -1 = nobody
    nobody = torch.full_like(side, IGNORE)
    by_side = lambda h, a: torch.where(side == 0, h, torch.where(side == 1, a, nobody))  # noqa: E731
    facts = {
        "away_name": lambda: c.name_ids[am("name_a")],
        "left_tens": lambda: c.digit_ids[am("left_t")],
        "left_ones": lambda: c.digit_ids[am("left_o")],
        "prev_left_ones": lambda: torch.cat([torch.full((1,), IGNORE), c.digit_ids[am("left_o")][:-1]]),
        "acting_colour": lambda: by_side(c.colour_ids[am("colour_h")], c.colour_ids[am("colour_a")]),
        "acting_name": lambda: by_side(c.name_ids[am("name_h")], c.name_ids[am("name_a")]),
        "home_colour": lambda: c.colour_ids[am("colour_h")],
        "away_colour": lambda: c.colour_ids[am("colour_a")],
    }
    targets = torch.stack([facts[f]() for f in DRILL_LAYOUTS[layout]], 1)   # [frames, 4]
    targets[am("arena") == 0] = IGNORE                                     # nothing to read off-arena
    out = torch.full((len(fidx),), IGNORE, dtype=torch.long)
    f = torch.from_numpy(fidx).long()
    at = (f >= 0) & (f % model.cfg.tokens_per_frame < 4)
    out[at] = targets[f[at] // model.cfg.tokens_per_frame, f[at] % model.cfg.tokens_per_frame]
    return out


def rename_text(text: str, rename: dict[str, str]) -> str:
    """Swap team names in a line, keeping possessives grammatical."""
    if all(k == v for k, v in rename.items()):
        return text

    def sub(m):
        new = rename[m.group(1)]
        if m.group(2):
            return new + ("'" if new.endswith("s") else "'s")
        return new
    return re.sub(r"\b(" + "|".join(map(re.escape, rename)) + r")\b('s|'(?!\w))?", sub, text)


def stack_drift(model, logits, sel, keep) -> torch.Tensor:
    """KL(stack || stack + side branch) where the side branch must not change the
    trained stack: speak-or-stay-silent decisions and self-line text (session 8:
    trained on the streaming loss instead, it added 13 lines and 12 false alarms in
    20 matches within 1,200 steps; anchored at decisions only, goal lines still lost
    2 of 66 goals)."""
    dec = model.decoder
    at = torch.nonzero(sel).squeeze(1)[keep]
    own = dec.lm_head(dec.norm(dec.stack_hidden[0, at])).float()
    return F.kl_div(F.log_softmax(logits[at], -1), F.log_softmax(own, -1), log_target=True, reduction="batchmean")


def gate_loss(model, kind_t) -> tuple[torch.Tensor, tuple[int, int, int, int]]:
    """The gated side branch applies at answer positions (kind 3: the prompt's last
    token and each answer token) and nowhere else. Balanced BCE, as answers are ~2 %
    of a stream; the stats count gates left open off answers and not fully open on them."""
    logit = model.decoder.gate_logit[0].float()
    on = kind_t == 3
    bce = F.binary_cross_entropy_with_logits(logit, on.float(), reduction="none")
    loss = bce[on].mean() + bce[~on].mean() if on.any() else bce.mean()
    with torch.no_grad():
        g = gate_from_logit(logit)
        stats = (int((g[~on] > 0).sum()), int((~on).sum()), int((g[on] < 1).sum()), int(on.sum()))
    return loss, stats


def seq_loss(model, feats, ids, fidx, lab, kind, speak_w, fact_w=1.0, drill_w=0.0, drill_layout=DEFAULT_DRILL,
             side_anchor=0.0, gate_w=1.0, colour_w=0.0):
    ids_t, fidx_t = torch.from_numpy(ids), torch.from_numpy(fidx)
    logits = model(ids_t, fidx_t, feats).float()
    drill = copy_drill(model, feats, fidx, drill_layout) if drill_w > 0 else None
    lab_t = torch.from_numpy(lab).long()
    kind_t = torch.from_numpy(kind).long()
    sel = lab_t != IGNORE
    ce = F.cross_entropy(logits[sel], lab_t[sel], reduction="none")
    k = kind_t[sel]
    w = torch.where(k == 2, torch.full_like(ce, speak_w), torch.ones_like(ce))
    frame = (k == 1) | (k == 2)
    stream_loss = (ce[frame] * w[frame]).sum() / max(1, int(frame.sum()))
    text = k >= 3
    if side_anchor:   # the side branch learns answers only; decisions and self lines stay the stack's
        stream_loss = side_anchor * stack_drift(model, logits, sel, frame | (k == 4))
        text = k == 3
    if model.cfg.side_gate:   # the same, enforced: shut, the gate leaves the stack's logits exactly
        stream_loss, model.gate_stats = gate_loss(model, kind_t)
        stream_loss = gate_w * stream_loss
        text = k == 3
    # Facts (names, digits, colours) are a few tokens of each line but all of its
    # point, so they weigh more (session 3: on its own this did not start the copy;
    # small role vectors and the copy drill did).
    target = lab_t[sel]
    fw = torch.where(torch.isin(target, model.fact_ids), fact_w, 1.0)
    if colour_w:   # session 12: a kit word is one token of an answer, and the copy the answer has to learn
        fw = torch.where(torch.isin(target, model.connector.colour_ids), colour_w, fw)
    fw = fw[text]
    lm_loss = (ce[text] * fw).sum() / fw.sum() if text.any() else ce.sum() * 0
    if drill is not None and bool((drill != IGNORE).any()):
        drill_logits = logits
        if model.cfg.side_gate:   # shut at frame slots, so the drill exercises the lookup on the ungated branch
            dec = model.decoder
            hidden = dec.ungated_hidden if dec.cfg.side_after_norm else dec.norm(dec.ungated_hidden)
            drill_logits = dec.lm_head(hidden)[0].float()
        model.last_drill = F.cross_entropy(drill_logits, drill, ignore_index=IGNORE)
        lm_loss = lm_loss + drill_w * model.last_drill
    # decision accuracy diagnostics
    with torch.no_grad():
        lg = logits[sel][frame]
        pred_sil = lg.argmax(-1) == int(model.interval)
        is_sil = k[frame] == 1
        stats = (int((pred_sil & is_sil).sum()), int(is_sil.sum()), int((~pred_sil & ~is_sil).sum()), int((~is_sil).sum()))
    return stream_loss, lm_loss, stats


def cmd_decoder(a):
    tok, layout = load_tokenizer()
    ck = torch.load(a.ckpt) if a.resume and os.path.exists(a.ckpt) else {}
    cfg = ModelConfig.from_dict(ck["cfg"]) if ck else \
        model_config(tok.vocab_size, side_layers=a.side_layers, side_ffn_size=a.side_ffn, side_gate=a.side_gate,
                     recency=a.recency, side_reads_stack=a.side_reads_stack, side_recency=a.side_recency,
                     side_after_norm=a.side_after_norm)
    k = cfg.tokens_per_frame
    builder = SeqBuilder(layout, k)
    tdirs = [d for d in match_dirs(TRAIN_DIR) if os.path.exists(os.path.join(d, "reader.npy"))]
    vdirs = [d for d in match_dirs(VAL_DIR) if os.path.exists(os.path.join(d, "reader.npy"))][:6]
    log(f"decoder: {len(tdirs)} train matches, {len(vdirs)} val")
    train, val = MatchSet(tdirs, builder), MatchSet(vdirs, builder, ood=False)
    if a.quiz_weights:
        train.kind_weights = {k: float(v) for k, v in (kv.split("=") for kv in a.quiz_weights.split(","))}
        assert set(train.kind_weights) == set(QUIZ_KINDS), f"--quiz_weights needs exactly {sorted(QUIZ_KINDS)}"
    torch.manual_seed(0)
    model = Streamer(cfg, tok, ck.get("ones_slot", a.ones_slot))
    init_weights(model)
    model.pin_facts()
    model.interval = layout.interval
    step, rng = 0, random.Random(a.seed)
    if a.init and not ck:
        step = init_from(model, a.init)
        rng = random.Random(a.seed + step)
    if a.ones_gain and not ck:
        assert model.ones_slot == "scene", "--ones_gain is the scene token's ones-digit scale"
        with torch.no_grad():
            model.connector.ones_gain.fill_(a.ones_gain)
    if a.freeze_stack:   # only the side branch learns: the trained stack's answers stay as they were
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("decoder.side_"))
    n_dec = sum(p.numel() for p in model.decoder.parameters())
    n_side = sum(p.numel() for p in model.decoder.side_blocks.parameters())
    n_con = sum(p.numel() for p in model.connector.parameters())
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log(f"decoder params {n_dec / 1e6:.2f} M (side branch {n_side / 1e6:.2f} M), connector {n_con / 1e6:.3f} M, "
        f"trained {n_train / 1e6:.2f} M")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=a.lr, betas=(0.9, 0.98),
                            weight_decay=0.05)
    if ck:
        model.load_state_dict(ck["model"]); opt.load_state_dict(ck["opt"]); step = ck["step"]
        model.pin_facts()
        rng = random.Random(a.seed + step)
        log(f"resumed at step {step}")
    from tiny import fastattn
    fastattn.enable()
    t0 = time.time()
    budget = a.minutes * 60
    ema = None

    def save():
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "cfg": cfg.to_dict(),
                    "elapsed": elapsed + time.time() - t0, "drill": a.drill, "init": a.init,
                    "freeze_stack": a.freeze_stack, "ones_slot": model.ones_slot}, a.ckpt)

    elapsed = ck.get("elapsed", 0.0) if ck and not a.restart_lr else 0.0
    step0 = step if a.restart_lr or (a.init and not ck) else 0   # a restarted or new schedule warms up again
    total = a.total_minutes * 60
    while time.time() - t0 < budget:
        prog = min(1.0, (elapsed + time.time() - t0) / total)
        lr = warmup_cosine(a.lr, step - step0 + 1, a.warmup, prog, 0.05)
        for g in opt.param_groups:
            g["lr"] = lr
        feats, ids, fidx, lab, kind = train.sample(rng, a)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(a.bf16)):
            sl, ll, st = seq_loss(model, feats, ids, fidx, lab, kind, a.speak_w, a.fact_w, a.drill_w, a.drill,
                                  a.side_anchor, a.gate_w, a.colour_w)
        loss = sl + ll
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.pin_facts()
        if a.side_max > 0:
            with torch.no_grad():   # role vectors that grow drown the words a lookup matches on
                side = model.connector.side
                side.mul_((a.side_max / side.norm(dim=1, keepdim=True).clamp(min=1e-6)).clamp(max=1.0))
        step += 1
        cur = np.array([sl.item(), ll.item()])
        ema = cur if ema is None else 0.95 * ema + 0.05 * cur
        if step % 10 == 0:
            gate = "gate open-off {}/{} shut-on {}/{} ".format(*model.gate_stats) if cfg.side_gate else ""
            rec_blocks = [b for b in model.decoder.blocks if cfg.recency] + [b for b in model.decoder.side_blocks if cfg.side_recency]
            if rec_blocks:
                gate += "recency |w| " + " ".join(f"{float(b.attn.recency.weight.norm()):.3f}" for b in rec_blocks) + " "
            log(f"step {step} len {len(ids)} stream {ema[0]:.4f} lm {ema[1]:.4f} drill {float(getattr(model, 'last_drill', 0)):.3f} sil {st[0]}/{st[1]} spk {st[2]}/{st[3]} "
                f"{gate}lr {lr:.2e} prog {prog:.3f} {(time.time() - t0) / 60:.1f} min")
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
        feats, turns = val.arena(random.Random(0), d, None, False)
        ids, fidx, lab, kind = val.b.build(turns, feats.shape[0])
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bool(a.bf16)):
            sl, ll, st = seq_loss(model, feats, ids, fidx, lab, kind, 1.0)
        tot += [sl.item(), ll.item()]; stats += st
    tot /= len(val.dirs)
    log(f"VAL stream {tot[0]:.4f} lm {tot[1]:.4f} silent-acc {stats[0] / stats[1]:.4f} speak-acc {stats[2] / max(1, stats[3]):.4f}")
    model.train()


# ------------------------------------------------------------------ export
def load_streamer(ckpt: str, tok) -> tuple[Streamer, dict]:
    """A trained decoder checkpoint in eval mode, built from its own config; and the checkpoint."""
    ck = torch.load(ckpt, map_location="cpu")
    model = Streamer(ModelConfig.from_dict(ck["cfg"]), tok, ck.get("ones_slot", "acting"))
    model.load_state_dict(ck["model"])
    model.pin_facts()
    return model.eval(), ck


def load_trained(ckpt=DEC_CKPT):
    tok, layout = load_tokenizer()
    model, ck = load_streamer(ckpt, tok)
    cfg = model.cfg
    from tiny.reader import VisionTower
    vision = VisionTower(load_reader(), model.connector)
    return tok, layout, cfg, vision.eval(), model.decoder.eval(), ck["step"]


def cmd_export(a):
    tok, layout, cfg, enc, dec, step = load_trained(a.ckpt)
    from cocaster_model.export import write_package
    OUT = a.out
    n_enc = sum(p.numel() for p in enc.parameters())
    n_dec = sum(p.numel() for p in dec.parameters())
    write_package(OUT, model_id="cocaster-tiny", name="cocaster tiny (arena)",
                  description=("Tiny streaming video LM trained on the synthetic arena sport: comments on kick-offs, "
                               "goals, saves, misses, replays, half and full time, and answers viewer questions "
                               "about score, possession, time left, last event and kit colours."),
                  encoder=enc, decoder=dec, cfg=cfg, tok=tok, tokens=dict(DEFAULT_TOKENS), layout=DEFAULT_LAYOUT,
                  threshold=a.threshold, max_new_tokens=a.max_new_tokens, max_context=a.max_context, fps=FPS,
                  mean=MEAN, std=STD)
    # Demo video: two held-out matches (never trained on), native 256 px render, crf 28.
    demo = os.path.join(OUT, "demo.mp4")
    seeds = [os.path.join(DATA, "demo", str(x), "match.mp4") for x in a.demo_seeds.split(",")]
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
    from tiny.reader import ONES_SLOTS
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("data"); p.add_argument("--train", default="0:400"); p.add_argument("--val", default="90000:90020")
    p.add_argument("--jobs", type=int, default=2)
    p = sub.add_parser("extra"); p.add_argument("--draws", type=int, default=3)
    p.add_argument("--dense", type=int, default=2); p.add_argument("--dense_rate", type=float, default=5.0)
    p = sub.add_parser("quiz"); p.add_argument("--every", type=int, default=4)
    p = sub.add_parser("tokenizer"); p.add_argument("--vocab", type=int, default=2048)
    p = sub.add_parser("encoder"); p.add_argument("--minutes", type=float, default=10); p.add_argument("--steps", type=int, default=600)
    p.add_argument("--bs", type=int, default=64); p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--stride", type=int, default=3); p.add_argument("--resume", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    sub.add_parser("cache")
    p = sub.add_parser("decoder"); p.add_argument("--minutes", type=float, default=40); p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--lr", type=float, default=2e-3); p.add_argument("--warmup", type=int, default=60)
    p.add_argument("--speak_w", type=float, default=3.0); p.add_argument("--fact_w", type=float, default=5.0); p.add_argument("--colour_w", type=float, default=0.0, help="weight of kit-colour answer tokens (0 = --fact_w)"); p.add_argument("--drill_w", type=float, default=0.5); p.add_argument("--drill", choices=sorted(DRILL_LAYOUTS), default=DEFAULT_DRILL, help="what the copy drill asks at each frame slot"); p.add_argument("--full_p", type=float, default=0.3)
    p.add_argument("--wmin", type=int, default=60); p.add_argument("--wmax", type=int, default=240)
    p.add_argument("--ood_p", type=float, default=0.1, help="share of out-of-domain (silent) streams")
    p.add_argument("--mix_p", type=float, default=0.1, help="share of arena + out-of-domain splices")
    p.add_argument("--quiz_p", type=float, default=0.0, help="share of arena streams with quiz bursts (train_tiny.py quiz)")
    p.add_argument("--bursts", type=int, default=3, help="most quiz bursts in one stream")
    p.add_argument("--side_max", type=float, default=0.0, help="cap on the norm of the connector's role vectors (0 = none)")
    p.add_argument("--quiz_weights", default="", help="kind=weight,... for quiz bursts (default QUIZ_KIND_WEIGHTS)")
    p.add_argument("--restart_lr", action="store_true", help="on --resume, start a new warmup + cosine schedule")
    p.add_argument("--permute_p", type=float, default=0.85, help="share of streams with team names permuted")
    p.add_argument("--total_minutes", type=float, default=45, help="length of the cosine schedule (over resumes)")
    p.add_argument("--bf16", type=int, default=1); p.add_argument("--seed", type=int, default=0)
    p.add_argument("--save_every", type=int, default=50); p.add_argument("--val_every", type=int, default=200)
    p.add_argument("--resume", action="store_true"); p.add_argument("--ckpt", default=DEC_CKPT, help="checkpoint to write (and resume)")
    p.add_argument("--init", default="", help="start from this trained checkpoint's weights (new optimiser and schedule)")
    p.add_argument("--side_layers", type=int, default=0, help="blocks in the side branch on the raw embeddings (Decoder)")
    p.add_argument("--side_ffn", type=int, default=0, help="the side blocks' FFN width (0 = the stack's)")
    p.add_argument("--freeze_stack", action="store_true", help="train only the side branch")
    p.add_argument("--recency", action="store_true",
                   help="grow a recency penalty in attention, its slope per head computed by each query (zero at start; ModelConfig.recency)")
    p.add_argument("--side_gate", action="store_true",
                   help="the side branch gates itself: exactly no change off answers (BCE-trained gate, replaces the streaming loss)")
    p.add_argument("--side_reads_stack", action="store_true", help="the side branch also reads the stack's normed output")
    p.add_argument("--side_after_norm", action="store_true", help="add the side branch's update after the final norm")
    p.add_argument("--side_recency", action="store_true", help="the side branch's heads learn a per-query recency slope")
    p.add_argument("--gate_w", type=float, default=1.0, help="weight of the side gate's loss")
    p.add_argument("--ones_slot", choices=ONES_SLOTS, default="acting",
                   help="frame token that carries the minutes-left ones digit")
    p.add_argument("--ones_gain", type=float, default=0.0,
                   help="start the scene token's ones-digit scale here (its other part has norm ~200)")
    p.add_argument("--side_anchor", type=float, default=0.0,
                   help="replace the streaming loss by this weight x KL(stack || stack + side) at frame decisions and self lines")
    p = sub.add_parser("export"); p.add_argument("--threshold", type=float, default=0.5)
    p.add_argument("--max_new_tokens", type=int, default=32); p.add_argument("--max_context", type=int, default=3072)
    p.add_argument("--out", default=OUT); p.add_argument("--ckpt", default=DEC_CKPT, help="decoder checkpoint")
    p.add_argument("--demo_seeds", default="90100,90101", help="matches in data/demo (arena.dataset --seeds 90100:90102)")
    a = ap.parse_args()
    globals()["cmd_" + a.cmd](a)


if __name__ == "__main__":
    main()
