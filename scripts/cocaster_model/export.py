"""Export a model to cocaster's package format (models/<id>/).

Writes vision_encoder.onnx, embed_tokens.onnx, decoder_model_merged.onnx (opset 17,
Optimum/transformers.js input and output names, the "append" cache I/O of format 2:
the past is a buffer the engine appends to, present holds the new positions only;
format 3's logits_index: logits of the positions it names only; see
Decoder.forward_append), kv_append.onnx (past +
new positions -> the next past, every layer in one run: for caches that live on a
GPU), kv_shift.onnx (one cache layer compacted: kept positions gathered, keys
re-rotated), tokenizer.json, tokenizer_config.json and model.json with sha256 for
every file. The TypeScript loader (src/engine/manifest.ts) validates all of it.
"""
from __future__ import annotations

import hashlib
import json
import os

import torch
import torch.nn as nn

from .model import Decoder, KvShift, ModelConfig
from .tokenizer import BPETokenizer

# 2: the decoder's "append" cache I/O (model.json decoder.io) and kv_append.onnx. A
# format-2 manifest without decoder.io has format 1's "concat" I/O (videollm's exporter).
# 3: the decoder's logits_index input: logits of the positions it names (the last
# frame position of each of several frames fed in one run), not the last only.
FORMAT_VERSION = 3
OPSET = 17


class _DecoderForExport(nn.Module):
    def __init__(self, decoder: Decoder):
        super().__init__()
        self.decoder = decoder

    def forward(self, inputs_embeds, attention_mask, position_ids, logits_index, *flat_past):
        past = [(flat_past[2 * i], flat_past[2 * i + 1]) for i in range(len(flat_past) // 2)]
        logits, present = self.decoder(inputs_embeds, attention_mask, position_ids, past, append=True, logits_index=logits_index)
        return (logits, *[t for kv in present for t in kv])


class _KvAppend(nn.Module):
    def forward(self, *flat):
        half = len(flat) // 2
        return tuple(torch.cat([past, new], dim=2) for past, new in zip(flat[:half], flat[half:]))


class _EmbedForExport(nn.Module):
    def __init__(self, decoder: Decoder):
        super().__init__()
        self.embed = decoder.embed

    def forward(self, input_ids):
        return self.embed(input_ids)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def export_onnx(encoder: nn.Module, decoder: Decoder, cfg: ModelConfig, out: str) -> None:
    encoder.eval(); decoder.eval()
    with torch.no_grad():
        pix = torch.zeros(2, 3, cfg.image_size, cfg.image_size)
        torch.onnx.export(encoder, (pix,), f"{out}/vision_encoder.onnx", opset_version=OPSET,
                          input_names=["pixel_values"], output_names=["frame_embeds"],
                          dynamic_axes={"pixel_values": {0: "num_frames"}, "frame_embeds": {0: "num_frames"}})
        ids = torch.zeros(1, 4, dtype=torch.long)
        torch.onnx.export(_EmbedForExport(decoder), (ids,), f"{out}/embed_tokens.onnx", opset_version=OPSET,
                          input_names=["input_ids"], output_names=["inputs_embeds"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "seq"}, "inputs_embeds": {0: "batch", 1: "seq"}})
    export_decoder(decoder, cfg, out)
    encoder.eval(); decoder.eval()  # torch.onnx.export may leave modules in train mode
    export_kv_shift(cfg, out)


def export_decoder(decoder: Decoder, cfg: ModelConfig, out: str) -> None:
    """decoder_model_merged.onnx (the "append" cache I/O) and kv_append.onnx."""
    decoder.eval()
    n = cfg.cache_layers
    with torch.no_grad():
        # Trace with a non-empty past, unused slots, and S != P so no shape is frozen.
        p, s = 4, 5
        emb = torch.randn(1, s, cfg.hidden_size)
        mask = torch.tensor([[1, 1, 1, 0] + [1] * s])
        pos = torch.arange(3, 3 + s).unsqueeze(0)
        rows = torch.tensor([1, s - 1])
        past = [torch.randn(1, cfg.num_kv_heads, p, cfg.head_dim) for _ in range(2 * n)]
        past_names = [f"past_key_values.{i}.{kv}" for i in range(n) for kv in ("key", "value")]
        present_names = [f"present.{i}.{kv}" for i in range(n) for kv in ("key", "value")]
        axes = {"inputs_embeds": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total"},
                "position_ids": {0: "batch", 1: "seq"}, "logits_index": {0: "rows"}, "logits": {0: "batch", 1: "rows"}}
        axes.update({name: {0: "batch", 2: "past"} for name in past_names})
        axes.update({name: {0: "batch", 2: "seq"} for name in present_names})
        torch.onnx.export(_DecoderForExport(decoder), (emb, mask, pos, rows, *past), f"{out}/decoder_model_merged.onnx",
                          opset_version=OPSET, input_names=["inputs_embeds", "attention_mask", "position_ids", "logits_index", *past_names],
                          output_names=["logits", *present_names], dynamic_axes=axes)
        new = [torch.randn(1, cfg.num_kv_heads, s, cfg.head_dim) for _ in range(2 * n)]
        next_names = [f"next.{i}.{kv}" for i in range(n) for kv in ("key", "value")]
        torch.onnx.export(_KvAppend(), (*past, *new), f"{out}/kv_append.onnx", opset_version=OPSET,
                          input_names=[*past_names, *present_names], output_names=next_names,
                          dynamic_axes={**{k: {0: "batch", 2: "past"} for k in past_names},
                                        **{k: {0: "batch", 2: "seq"} for k in present_names},
                                        **{k: {0: "batch", 2: "total"} for k in next_names}})
    decoder.eval()


def export_kv_shift(cfg: ModelConfig, out: str) -> None:
    """kv_shift.onnx: key, value [B,Hkv,T,Dh], keep [K], delta [K] -> key_out, value_out [B,Hkv,K,Dh]."""
    t, kept = 7, 4
    kv = [torch.randn(1, cfg.num_kv_heads, t, cfg.head_dim) for _ in range(2)]
    keep, delta = torch.tensor([0, 1, 4, 6]), torch.tensor([0, 0, 2, 3])
    assert keep.numel() == kept
    with torch.no_grad():
        torch.onnx.export(KvShift(cfg).eval(), (*kv, keep, delta), f"{out}/kv_shift.onnx", opset_version=OPSET,
                          input_names=["key", "value", "keep", "delta"], output_names=["key_out", "value_out"],
                          dynamic_axes={"key": {0: "batch", 2: "past"}, "value": {0: "batch", 2: "past"},
                                        "keep": {0: "kept"}, "delta": {0: "kept"},
                                        "key_out": {0: "batch", 2: "kept"}, "value_out": {0: "batch", 2: "kept"}})


def write_package(out: str, *, model_id: str, name: str, description: str, encoder: nn.Module,
                  decoder: Decoder, cfg: ModelConfig, tok: BPETokenizer, tokens: dict, layout: dict,
                  threshold: float, max_new_tokens: int, max_context: int, fps: float,
                  mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), pad_to_square: bool = True,
                  scene_cut: dict | None = None) -> dict:
    """scene_cut: {"tokens": [...], "min_cosine": x}, the frame tokens that identify a
    scene (model.json vision.sceneCut, src/engine/sceneCut.ts)."""
    os.makedirs(out, exist_ok=True)
    export_onnx(encoder, decoder, cfg, out)
    tok.save(out, tokens.get("bos"), tokens["eos"])
    files = {
        "visionEncoder": "vision_encoder.onnx",
        "embedTokens": "embed_tokens.onnx",
        "decoder": "decoder_model_merged.onnx",
        "kvShift": "kv_shift.onnx",
        "kvAppend": "kv_append.onnx",
        "tokenizer": "tokenizer.json",
        "tokenizerConfig": "tokenizer_config.json",
    }
    manifest = {
        "format": "cocaster-model",
        "formatVersion": FORMAT_VERSION,
        "id": model_id,
        "name": name,
        "description": description,
        "files": {k: {"path": p, "sha256": sha256(f"{out}/{p}")} for k, p in files.items()},
        "vision": {"fps": fps, "width": cfg.image_size, "height": cfg.image_size, "padToSquare": pad_to_square,
                   "rescale": 1 / 255, "mean": list(mean), "std": list(std), "tokensPerFrame": cfg.tokens_per_frame,
                   **({"sceneCut": {"tokens": list(scene_cut["tokens"]), "minCosine": scene_cut["min_cosine"]}} if scene_cut else {})},
        "decoder": {"hiddenSize": cfg.hidden_size, "numLayers": cfg.cache_layers, "numKeyValueHeads": cfg.num_kv_heads,
                    "headDim": cfg.head_dim, "vocabSize": cfg.vocab_size, "maxContext": max_context, "io": "append"},
        "tokens": tokens,
        "layout": layout,
        "generation": {"threshold": threshold, "maxNewTokens": max_new_tokens},
        "architecture": cfg.to_dict(),
    }
    with open(f"{out}/model.json", "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    return manifest
