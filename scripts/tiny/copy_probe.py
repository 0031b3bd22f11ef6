"""Can cocaster-tiny's decoder learn to copy a word out of a frame token, or look one up by content?

`--task copy`: frames of two tokens [gain * E[name] + role0, role1]; at every
role1 position the target is the frame's name. This is the skill the connector
relies on (tiny/reader.py: Connector) with nothing else in the way, so it
separates "the decoder cannot copy" from "the pipeline hides the name".

`--task lookup`: frames of three tokens, home [gain * (E[name] + E[colour]) +
role0], away (the same), acting [gain * E[home or away name] + role2]; at every
acting position the target is the acting team's colour: find the team token
with that name, copy its colour (copy_drill's acting-colour slot, and "What
colour are Hawks?"). Fact rows are pinned as in training. `--init CKPT` starts
from a trained decoder instead of from scratch.

    cd scripts && /usr/bin/python3 -m tiny.copy_probe --role 0.01 --gain 5 --steps 150
    cd scripts && /usr/bin/python3 -m tiny.copy_probe --task lookup --gain 2 --frames 30 --steps 300

Session 3 (copy, 2 CPU threads, batch 8 x 40 frames, lr 2e-3, bf16):
role std 0.5 (norm 8), gain 3: loss 3.85 after 300 steps (chance 5.16);
role std 0.05, gain 3: loss 0.66, accuracy 1.0 after 300 steps;
role std 0.01, gain 5: loss 0.97, accuracy 0.875 after 150 steps.
Session 6 (lookup, 1 thread, batch 8 x 30 frames, gain 2): from scratch (lr
2e-3) accuracy 0.50 at step 50, 0.99 at 125, 1.0 at 175; from session 6's
step-15,100 decoder (lr 6e-4) 0.15 at 50, 0.25 at 200 (loss 1.8, worse than
guessing between the two colours). The lookup is easy for a fresh decoder and
hard for the trained one, which had never needed it.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from tiny.common import load_tokenizer, model_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", choices=("copy", "lookup"), default="copy")
    ap.add_argument("--init", default="", help="decoder checkpoint to start from (default: scratch)")
    ap.add_argument("--role", type=float, default=0.01, help="std of the role vectors")
    ap.add_argument("--gain", type=float, default=5.0, help="initial scale of the word embedding")
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--frames", type=int, default=40)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()

    import train_tiny as T   # noqa: E402 (scripts/ is on the path via tiny.common)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    tok, _ = load_tokenizer()
    cfg = model_config(tok.vocab_size)
    model = T.Streamer(cfg, tok)
    T.init_weights(model)
    if a.init:
        model.load_state_dict(torch.load(a.init, map_location="cpu")["model"])
    pinned = a.task == "lookup"
    if pinned:
        model.pin_facts()
    dec, names, colours = model.decoder, model.connector.name_ids, model.connector.colour_ids
    per_frame = 2 if a.task == "copy" else 3
    role = torch.nn.Parameter(torch.randn(per_frame, cfg.hidden_size) * a.role)
    gain = torch.nn.Parameter(torch.tensor(a.gain))
    opt = torch.optim.AdamW(list(dec.parameters()) + [role, gain], lr=a.lr, weight_decay=0.05)
    s = per_frame * a.frames
    pos, mask = torch.arange(s).unsqueeze(0), torch.ones(1, s, dtype=torch.long)
    t0 = time.time()
    emb = lambda ids: dec.embed.weight[ids].detach() if pinned else dec.embed.weight[ids]  # noqa: E731

    def copy_stream():
        name = names[torch.randint(0, len(names), (1,))][0]
        frame = torch.stack([gain * emb(name) + role[0], role[1]])
        lab = torch.full((s,), -100)
        lab[1::2] = name
        return frame.repeat(a.frames, 1), lab

    def lookup_stream():
        n, c = names[torch.randperm(len(names))[:2]], colours[torch.randperm(len(colours))[:2]]
        teams = [gain * (emb(n[i]) + emb(c[i])) + role[i] for i in (0, 1)]
        side = torch.randint(0, 2, (a.frames,))
        acting = gain * emb(n[side]) + role[2]
        x = torch.stack([teams[0].expand(a.frames, -1), teams[1].expand(a.frames, -1), acting], 1).reshape(s, -1)
        lab = torch.full((s,), -100)
        lab[2::3] = c[side]
        return x, lab

    def batch():
        xs, labs = zip(*[(copy_stream if a.task == "copy" else lookup_stream)() for _ in range(a.batch)])
        return torch.stack(xs), torch.stack(labs)

    def logits(x):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return torch.cat([dec(x[i:i + 1], mask, pos, dec.empty_past())[0] for i in range(len(x))]).float()

    for step in range(a.steps + 1):
        x, lab = batch()
        lg = logits(x)
        loss = F.cross_entropy(lg.reshape(-1, cfg.vocab_size), lab.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if pinned:
            model.pin_facts()
        if step % 25 == 0:
            sel = lab != -100
            acc = (lg.argmax(-1)[sel] == lab[sel]).float().mean().item()
            print(f"step {step} loss {loss.item():.3f} accuracy {acc:.3f} {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
