"""A cocaster-tiny package: exported from the training checkpoints, or turned back
into them.

runs/ is git-ignored, so a fresh checkout has the shipped weights only as ONNX.
`checkpoints_from_package` writes the reader, letter path, tokenizer and the last
decoder phase's checkpoint from a package, so training (or a re-export) can start
from what ships. torch 1.13's exporter keeps most parameter names; the rest
(transposed Linear weights, GroupNorm affines, the connector's gains and role
vectors) are found by the name of the node that reads them. The check is the
strongest there is: exporting the rebuilt model again gives the same ONNX bytes.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import onnx
import torch
from onnx import numpy_helper

from cocaster_model.export import sha256, write_package
from cocaster_model.layout import DEFAULT_LAYOUT, DEFAULT_TOKENS
from cocaster_model.model import Decoder, FrameEncoder, LetterReader, ModelConfig, Reader, Streamer, VisionTower

from .data import FPS, HEADS, MEAN, STD, Work, copy_ids, lexicon, load_tokenizer, log
from .reader import load_reader

DESCRIPTION = ("Tiny streaming video LM trained on the synthetic arena sport: comments on kick-offs, goals, saves, "
               "misses, replays, half and full time, and answers viewer questions about score, possession, time "
               "left, last event and kit colours.")


def export(work: Work, decoder_ckpt: str, out: str, c: dict) -> None:
    """The package (ONNX, tokenizer, model.json) and runs/demo.mp4 as its demo."""
    tok, _ = load_tokenizer(work.runs("tokenizer"))
    model, step = Streamer.load(decoder_ckpt, HEADS, copy_ids(tok))
    vision = VisionTower(load_reader(work), model.connector).eval()
    write_package(out, model_id="cocaster-tiny", name="cocaster tiny (arena)", description=DESCRIPTION,
                  encoder=vision, decoder=model.decoder, cfg=model.cfg, tok=tok, tokens=dict(DEFAULT_TOKENS),
                  layout=DEFAULT_LAYOUT, threshold=c["threshold"], max_new_tokens=c["max_new_tokens"],
                  max_context=c["max_context"], fps=FPS, mean=MEAN, std=STD, scene_cut=c.get("scene_cut"))
    demo = os.path.join(out, "demo.mp4")
    shutil.copy(demo_video(work), demo)
    with open(os.path.join(out, "model.json")) as f:
        manifest = json.load(f)
    manifest["demo"] = {"path": "demo.mp4", "sha256": sha256(demo)}
    with open(os.path.join(out, "model.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    log(f"exported {decoder_ckpt} (step {step}) -> {out}")


def demo_video(work: Work) -> str:
    """runs/demo.mp4: the held-out demo matches (data/demo, never trained on) at
    their native 256 px render, concatenated, H.264 crf 28."""
    out = work.runs("demo.mp4")
    if not os.path.exists(out):
        seeds = sorted(os.listdir(work.data("demo")), key=int)
        inputs = sum((["-i", work.data("demo", s, "match.mp4")] for s in seeds), [])
        subprocess.run(["ffmpeg", "-v", "error", "-y", *inputs, "-filter_complex",
                        "".join(f"[{i}:v]" for i in range(len(seeds))) + f"concat=n={len(seeds)}:v=1:a=0[v]",
                        "-map", "[v]", "-c:v", "libx264", "-crf", "28", "-preset", "slow", "-pix_fmt", "yuv420p",
                        "-movflags", "+faststart", out], check=True)
    return out


# connector node -> parameter (the forward's order: home, away, acting, state)
CONNECTOR_NODES = {"/connector/Mul": ("gain", 0), "/connector/Mul_1": ("gain", 1), "/connector/Mul_8": ("gain", 2),
                   "/connector/Mul_9": ("gain", 3), "/connector/Add_2": ("side", 0),
                   "/connector/Add_5": ("side", 1), "/connector/Add_10": ("side", 2)}


def graph_tensors(path: str, linear_scopes: tuple[str, ...] = ("decoder.",)) -> dict[str, torch.Tensor]:
    """Parameter name -> tensor, for every initializer the exporter renamed too.
    A MatMul under one of linear_scopes reads a Linear's weight (stored transposed);
    the test fixtures' FrameEncoder needs ("connector.",) for its connector MLP."""
    m = onnx.load(path)
    inits = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in m.graph.initializer}
    out = {k: v for k, v in inits.items() if not k.startswith("onnx::")}
    for n in m.graph.node:
        if n.op_type == "Identity" and n.input[0] in inits and not n.output[0].startswith("onnx::"):
            out[n.output[0]] = inits[n.input[0]]   # equal initializers shared (a fresh model's norm weights)
            continue
        for x in n.input:
            if x not in inits or not x.startswith("onnx::"):
                continue
            t = inits[x]
            scope = _module_path(n.name)
            if n.op_type == "MatMul" and scope.startswith(linear_scopes):   # Linear: weight stored transposed
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


def modules_from_package(package: str) -> tuple[Streamer, Reader, dict]:
    """The training modules of a cocaster-tiny package, in memory and in eval mode:
    the Streamer (connector + decoder, LM head tied to the embedding), the Reader
    with its letter path attached (VisionTower(reader, model.connector) is the
    package's vision_encoder.onnx) and the manifest."""
    with open(os.path.join(package, "model.json")) as f:
        manifest = json.load(f)
    vis = graph_tensors(os.path.join(package, "vision_encoder.onnx"))
    dec = graph_tensors(os.path.join(package, "decoder_model_merged.onnx"))
    emb = graph_tensors(os.path.join(package, "embed_tokens.onnx"))
    reader = reader_modules(vis)
    cfg = ModelConfig.from_dict(manifest["architecture"])
    tok, _ = load_tokenizer(package)
    model = Streamer(cfg, HEADS, copy_ids(tok))
    state = {k: v for k, v in dec.items() if k.startswith("decoder.") and not k.startswith("decoder.lm_head")}
    for k in ("decoder.embed.weight", "decoder.lm_head.weight", "connector.embed.weight"):
        state[k] = emb["embed.weight"]   # one tied table
    state["fact_embed"] = emb["embed.weight"][model.fact_ids]   # the fixed rows, as they ship
    for k in ("state", "scene", "free.0", "free.2"):
        for p in ("weight", "bias"):
            state[f"connector.{k}.{p}"] = vis[f"connector.{k}.{p}"]
    state["connector.gain"] = torch.stack([vis["_gain"][i].reshape(()) for i in range(4)])
    state["connector.side"] = torch.stack([vis["_side"][i] for i in range(3)])
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        sys.exit(f"the package does not match the model: missing {missing}, unexpected {unexpected}")
    return model.eval(), reader.eval(), manifest


def checkpoints_from_package(package: str, work: Work, c: dict) -> None:
    """runs/reader.pt, letters.pt, tokenizer/, <last decoder phase>.pt and demo.mp4 from a package."""
    os.makedirs(work.runs("tokenizer"), exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(package, name), work.runs("tokenizer", name))
    if os.path.exists(os.path.join(package, "demo.mp4")):
        shutil.copy(os.path.join(package, "demo.mp4"), work.runs("demo.mp4"))
    model, reader, _ = modules_from_package(package)
    write_reader(reader, work, c["reader"]["steps"])
    last = c["decoder"]["phases"][-1]
    torch.save({"model": model.state_dict(), "cfg": model.cfg.to_dict(), "step": last["steps"], "phase": last,
                "from_package": package}, work.runs(last["name"] + ".pt"))
    log(f"rebuilt the checkpoints in {work.runs()} from {package}")


def reader_modules(vis: dict) -> Reader:
    """The Reader with its LetterReader attached (reader.letters), from the vision graph's tensors."""
    reader = Reader(HEADS, lexicon())
    missing, unexpected = reader.load_state_dict({k[len("reader."):]: v for k, v in vis.items()
                                                  if k.startswith("reader.") and not k.startswith("reader.letters.")}, strict=False)
    # The letter path replaces the trunk's letter and name heads, so the export has none of them.
    unused = {f"heads.{h}.{p}" for h in ("name_h", "name_a", "l0_h", "l1_h", "l2_h", "l0_a", "l1_a", "l2_a") for p in ("weight", "bias")}
    if set(missing) - unused or unexpected:
        sys.exit(f"the reader does not match the package: missing {sorted(set(missing) - unused)}, unexpected {unexpected}")
    convs = [v for k, v in vis.items() if k.startswith("reader.letters.convs.") and v.dim() == 4]
    arch = {"widths": tuple(w.shape[0] for w in convs), "fc": vis["reader.letters.fc.0.weight"].shape[0]}
    letters = LetterReader(**arch)
    letters.load_state_dict({k[len("reader.letters."):]: v for k, v in vis.items() if k.startswith("reader.letters.")}, strict=True)
    letters.arch = arch
    reader.letters = letters
    return reader


def write_reader(reader: Reader, work: Work, steps: int) -> None:
    """runs/reader.pt (the trunk, without its letter path) and runs/letters.pt."""
    os.makedirs(work.runs(), exist_ok=True)
    trunk = {k: v for k, v in reader.state_dict().items() if not k.startswith("letters.")}
    torch.save({"model": trunk, "step": steps}, work.runs("reader.pt"))
    torch.save({"model": reader.letters.state_dict(), "arch": reader.letters.arch, "step": -1}, work.runs("letters.pt"))


def fixture_modules(package: str, manifest: dict) -> tuple[torch.nn.Module, Decoder]:
    """A make_fixture.py package: FrameEncoder and an untied Decoder, from its ONNX files."""
    vis = graph_tensors(os.path.join(package, "vision_encoder.onnx"), linear_scopes=("connector.",))
    dec = graph_tensors(os.path.join(package, "decoder_model_merged.onnx"))
    emb = graph_tensors(os.path.join(package, "embed_tokens.onnx"))
    cfg = ModelConfig.from_dict(manifest["architecture"])
    if cfg.side_layers and not any(k.startswith("decoder.side_in.") for k in dec):
        # tiny-random-side's model.json predates the side_plain field; its graph has the plain branch.
        cfg = replace(cfg, side_plain=True)
    encoder, decoder = FrameEncoder(cfg), Decoder(cfg)
    state = {k[len("decoder."):]: v for k, v in dec.items() if k.startswith("decoder.")}
    state["embed.weight"] = emb["embed.weight"]
    for module, tensors, what in ((encoder, vis, "vision encoder"), (decoder, state, "decoder")):
        missing, unexpected = module.load_state_dict({k: v for k, v in tensors.items() if not k.startswith("_")}, strict=False)
        if missing or unexpected:
            sys.exit(f"the package's {what} does not match the architecture: missing {missing}, unexpected {unexpected}")
    return encoder.eval(), decoder.eval()


def package_modules(package: str, manifest: dict) -> tuple[torch.nn.Module, Decoder]:
    """(vision encoder, decoder) as the package's ONNX files hold them."""
    from onnx import load
    names = {i.name for i in load(os.path.join(package, "vision_encoder.onnx")).graph.initializer}
    if any(n.startswith("reader.") for n in names):   # cocaster-tiny: the reader and its connector
        model, reader, _ = modules_from_package(package)
        return VisionTower(reader, model.connector).eval(), model.decoder
    return fixture_modules(package, manifest)
