"""Rebuild the training checkpoints from a committed cocaster-tiny package.

    cd scripts && /usr/bin/python3 -m tiny.from_onnx [--package ../models/cocaster-tiny]

runs/ is git-ignored, so a fresh checkout has the shipped weights only as ONNX.
This writes runs/reader.pt, runs/letters.pt, runs/decoder.pt and
runs/tokenizer/ from the package, so fine-tuning can start from what ships.
torch 1.13's exporter keeps most parameter names; the rest (transposed Linear
weights, GroupNorm affines, the connector's gains and role vectors) are found by
the name of the node that reads them. The check is the strongest there is:
exporting the rebuilt model again must give the same ONNX bytes.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys

import onnx
import torch
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tiny.common import RUNS, TOK_DIR, log  # noqa: E402

# connector node -> parameter (the forward's order: home, away, acting, state)
CONNECTOR_NODES = {"/connector/Mul": ("gain", 0), "/connector/Mul_1": ("gain", 1), "/connector/Mul_8": ("gain", 2),
                   "/connector/Mul_9": ("gain", 3), "/connector/Add_2": ("side", 0),
                   "/connector/Add_5": ("side", 1), "/connector/Add_10": ("side", 2)}


def graph_tensors(path: str) -> dict[str, torch.Tensor]:
    """Parameter name -> tensor, for every initializer the exporter renamed too."""
    m = onnx.load(path)
    inits = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    out = {k: v for k, v in inits.items() if not k.startswith("onnx::")}
    for n in m.graph.node:
        for x in n.input:
            if x not in inits or not x.startswith("onnx::"):
                continue
            t = inits[x]
            scope = _module_path(n.name)
            if n.op_type == "MatMul" and scope.startswith("decoder."):   # Linear: weight stored transposed
                out[scope + ".weight"] = t.t().contiguous()
            elif t.dim() == 3 and n.op_type in ("Mul", "Add"):             # GroupNorm affine [C, 1, 1]
                out[scope + (".weight" if n.op_type == "Mul" else ".bias")] = t.flatten()
            elif n.name in CONNECTOR_NODES:
                out.setdefault("_" + CONNECTOR_NODES[n.name][0], {})[CONNECTOR_NODES[n.name][1]] = t
    return out


def _module_path(node_name: str) -> str:
    """'/reader/stem/stem.1/Mul' -> 'reader.stem.1': a Sequential's child scope repeats its parent's name."""
    segs = node_name.strip("/").split("/")[:-1]
    path: list[str] = []
    for seg in segs:
        if path and seg.startswith(path[-1] + "."):
            path[-1] = seg
        else:
            path.append(seg)
    return ".".join(path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--package", default=os.path.join(os.path.dirname(RUNS), "models", "cocaster-tiny"))
    ap.add_argument("--step", type=int, default=18459, help="the package's decoder training step (its model card)")
    a = ap.parse_args()
    with open(os.path.join(a.package, "model.json")) as f:
        manifest = json.load(f)
    os.makedirs(TOK_DIR, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(a.package, name), os.path.join(TOK_DIR, name))

    import train_tiny as tt
    from cocaster_model.model import ModelConfig
    from tiny.reader import LetterReader, Reader

    vis = graph_tensors(os.path.join(a.package, "vision_encoder.onnx"))
    dec = graph_tensors(os.path.join(a.package, "decoder_model_merged.onnx"))
    emb = graph_tensors(os.path.join(a.package, "embed_tokens.onnx"))

    reader = Reader(tt.HEADS, tt.lexicon())
    missing, unexpected = reader.load_state_dict({k[len("reader."):]: v for k, v in vis.items()
                                                  if k.startswith("reader.") and not k.startswith("reader.letters.")}, strict=False)
    # The letter path replaces the trunk's letter and name heads, so the export has none of them.
    unused = {f"heads.{h}.{p}" for h in ("name_h", "name_a", "l0_h", "l1_h", "l2_h", "l0_a", "l1_a", "l2_a") for p in ("weight", "bias")}
    if set(missing) - unused or unexpected:
        sys.exit(f"from_onnx: the reader does not match the package: missing {sorted(set(missing) - unused)}, unexpected {unexpected}")
    convs = [v for k, v in vis.items() if k.startswith("reader.letters.convs.") and v.dim() == 4]
    arch = {"widths": tuple(w.shape[0] for w in convs), "fc": vis["reader.letters.fc.0.weight"].shape[0]}
    letters = LetterReader(**arch)
    letters.load_state_dict({k[len("reader.letters."):]: v for k, v in vis.items() if k.startswith("reader.letters.")}, strict=True)
    os.makedirs(RUNS, exist_ok=True)
    torch.save({"model": reader.state_dict(), "step": -1, "from_onnx": a.package}, tt.ENC_CKPT)
    from tiny.letters import LETTERS_CKPT
    torch.save({"model": letters.state_dict(), "arch": arch, "step": -1, "from_onnx": a.package}, LETTERS_CKPT)

    cfg = ModelConfig.from_dict(manifest["architecture"])
    tok, _ = tt.load_tokenizer()
    model = tt.Streamer(cfg, tok)
    state = {k: v for k, v in dec.items() if k.startswith("decoder.") and not k.startswith("decoder.lm_head")}
    for k in ("decoder.embed.weight", "decoder.lm_head.weight", "connector.embed.weight"):
        state[k] = emb["embed.weight"]   # one tied table
    for k in ("state", "scene", "free.0", "free.2"):
        for p in ("weight", "bias"):
            state[f"connector.{k}.{p}"] = vis[f"connector.{k}.{p}"]
    state["connector.gain"] = torch.stack([vis["_gain"][i].reshape(()) for i in range(4)])
    state["connector.side"] = torch.stack([vis["_side"][i] for i in range(3)])
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        sys.exit(f"from_onnx: the package does not match the model: missing {missing}, unexpected {unexpected}")
    torch.save({"model": model.state_dict(), "cfg": cfg.to_dict(), "step": a.step,
                "from_onnx": a.package}, tt.DEC_CKPT)
    log(f"rebuilt {tt.ENC_CKPT}, {LETTERS_CKPT} (letters {arch}), {tt.DEC_CKPT} from {a.package}")


if __name__ == "__main__":
    main()
