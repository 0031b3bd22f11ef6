"""Export VideoLLM-online (Llama-3 + LoRA adapter + SigLIP) into a cocaster model package.

  python3 -m videollm.export --llama DIR --adapter DIR --siglip DIR --out PKG \
      [--precision fp32|fp16|int4] [--id ID] [--max-new-tokens N] [--check-transformers]

Reads the three Hugging Face folders tensor by tensor (no transformers, safetensors
or peft needed), writes the ONNX graphs with weights as external data (graphs.py),
the Llama-3 tokenizer with `<v>`, model.json, and reference.json: the trace of an
independent torch implementation (reference.py, live_reference.py) that
`cocaster models verify` replays through the engine.

Operators (--ops): "plain" (default) uses standard ONNX operators only; it matches
the reference to ~1e-5 in P(interval) on the cpu and webgpu providers. "contrib"
uses onnxruntime's SimplifiedLayerNormalization, RotaryEmbedding and
GroupQueryAttention: exact on cpu but no faster there at our sizes, and on WebGPU
(software Vulkan) slower and off by ~1.5e-4 in P(interval), so it is not the default.

Memory: graphs are written one tensor at a time (LoRA merged in place, int4 in row
blocks), so writing them needs about twice the largest matrix (the embedding,
~2 GB in float32 at 8B). The reference keeps a small model merged in float32; past
STREAM_ABOVE_GB (an 8B is ~32 GB) it streams the decoder layer by layer from the
checkpoint on every step (reference.StreamingLlamaReference), which is slow (a
full read of the weights per step), so full-size exports shorten the reference
stream with --reference-frames and --reference-max-new-tokens.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import time

from cocaster_model.export import sha256
from cocaster_model.layout import DEFAULT_LAYOUT

from . import graphs
from .checkpoint import VideoLLMCheckpoint
from .live_reference import FPS, MEAN, NUM_FRAMES, RESCALE, STD, ReferenceRunner, videollm_tokens
from .tokenizer import Llama3Tokenizer

THRESHOLD = 0.725  # VideoLLM-online's demo
# What each precision is expected to meet against the float32 reference (README, "Real models").
TOLERANCE = {
    "fp32": {"pInterval": 1e-4, "decisionAgreement": 1.0, "idsExact": True},
    "fp16": {"pInterval": None, "decisionAgreement": 0.95, "idsExact": False},
    "int4": {"pInterval": None, "decisionAgreement": 0.95, "idsExact": False},
}
# Format 2 without decoder.io: the "concat" cache I/O and the last position's logits
# (format 3's logits_index is the cocaster exporter's; this decoder's cache lives on a GPU).
FORMAT_VERSION = 2
STREAM_ABOVE_GB = 6.0  # --reference-streaming auto: merged float32 decoder size above which layers are streamed
GRAPHS = {"visionEncoder": "vision_encoder.onnx", "embedTokens": "embed_tokens.onnx",
          "decoder": "decoder_model_merged.onnx", "kvShift": "kv_shift.onnx"}


def peak_rss_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_tokenizer(ckpt: VideoLLMCheckpoint, out: str) -> dict:
    """tokenizer.json with `<v>` (id = the old vocabulary size, as the adapter's has it) and
    tokenizer_config.json; returns the package's special tokens."""
    src = ckpt.tokenizer_dir()
    tok = Llama3Tokenizer.load(f"{src}/tokenizer.json")
    data = tok.data if "<v>" in tok.specials else tok.with_token("<v>", ckpt.llama_cfg.vocab_size)
    with open(f"{out}/tokenizer.json", "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False)
    with open(f"{src}/tokenizer_config.json", encoding="utf-8") as f:
        config = json.load(f)
    shutil.copyfile(f"{src}/tokenizer_config.json", f"{out}/tokenizer_config.json")
    return videollm_tokens(config)


def write_manifest(ckpt: VideoLLMCheckpoint, out: str, args, tokens: dict) -> None:
    c, v = ckpt.llama_cfg, ckpt.vision_cfg
    files = {**GRAPHS, "tokenizer": "tokenizer.json", "tokenizerConfig": "tokenizer_config.json", "reference": "reference.json"}
    data = sorted(f for f in os.listdir(out) if f.endswith(".onnx.data"))
    manifest = {
        "format": "cocaster-model", "formatVersion": FORMAT_VERSION, "id": args.id, "name": args.name,
        "description": f"VideoLLM-online (Llama-3 + LoRA, SigLIP, {ckpt.tokens_per_frame} tokens a frame), {args.precision}, "
                       "exported by scripts/videollm/export.py",
        "files": {k: {"path": p, "sha256": sha256(f"{out}/{p}")} for k, p in files.items()},
        # Weights live beside the graphs (ONNX external data); listed so their checksums can be checked too.
        "externalData": [{"path": p, "sha256": sha256(f"{out}/{p}")} for p in data],
        "vision": {"fps": FPS, "width": v.image_size, "height": v.image_size, "padToSquare": True, "rescale": RESCALE,
                   "mean": list(MEAN), "std": list(STD), "tokensPerFrame": ckpt.tokens_per_frame},
        "decoder": {"hiddenSize": c.hidden_size, "numLayers": c.num_layers, "numKeyValueHeads": c.num_kv_heads,
                    "headDim": c.head_dim, "vocabSize": c.vocab_size, "maxContext": min(c.max_position, args.max_context)},
        "tokens": tokens,
        "layout": DEFAULT_LAYOUT,
        "generation": {"threshold": THRESHOLD, "maxNewTokens": args.max_new_tokens},
        "precision": args.precision,
    }
    with open(f"{out}/model.json", "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--llama", required=True, help="Meta-Llama-3-8B-Instruct folder")
    ap.add_argument("--adapter", required=True, help="VideoLLM-online adapter folder (PEFT)")
    ap.add_argument("--siglip", required=True, help="google/siglip-large-patch16-384 folder")
    ap.add_argument("--out", required=True, help="package folder to write (models/<id>)")
    ap.add_argument("--precision", choices=("fp32", "fp16", "int4"), default="fp32")
    ap.add_argument("--ops", choices=("plain", "contrib"), default="plain",
                    help="decoder operators: standard ONNX, or onnxruntime's SimplifiedLayerNormalization/RotaryEmbedding/GroupQueryAttention")
    ap.add_argument("--id", default="videollm-online-8b")
    ap.add_argument("--name", default="VideoLLM-online 8B (v1+)")
    ap.add_argument("--max-new-tokens", type=int, default=100, help="answer length cap (their demo: 100)")
    ap.add_argument("--max-context", type=int, default=8192, help="KV cache budget in tokens (Llama-3: 8192)")
    ap.add_argument("--reference-frames", type=int, default=NUM_FRAMES,
                    help=f"frames of the reference stream (default {NUM_FRAMES}; fewer bound a full-size export's time, "
                         "and then reference.json has no compaction run)")
    ap.add_argument("--reference-max-new-tokens", type=int,
                    help="answer cap of the reference runs (default: --max-new-tokens)")
    ap.add_argument("--reference-streaming", choices=("auto", "on", "off"), default="auto",
                    help="read the decoder layers from the checkpoint on every reference step instead of holding "
                         f"the merged float32 model (auto: when that would exceed {STREAM_ABOVE_GB} GB)")
    ap.add_argument("--check-transformers", action="store_true",
                    help="also check the reference against transformers' Llama and SigLIP (needs transformers)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    start = time.time()
    ckpt = VideoLLMCheckpoint(args.llama, args.adapter, args.siglip)
    graphs.write_vision(ckpt, f"{args.out}/{GRAPHS['visionEncoder']}", args.precision)
    graphs.write_embed_tokens(ckpt, f"{args.out}/{GRAPHS['embedTokens']}", args.precision)
    graphs.write_decoder(ckpt, f"{args.out}/{GRAPHS['decoder']}", args.precision, args.ops)
    graphs.write_kv_shift(ckpt, f"{args.out}/{GRAPHS['kvShift']}")
    print(f"graphs written ({args.precision}) in {time.time() - start:.1f} s, peak RSS {peak_rss_mb():.0f} MB")
    tokens = write_tokenizer(ckpt, args.out)

    c = ckpt.llama_cfg
    merged_gb = 4 * (c.num_layers * (c.hidden_size * (2 * c.num_heads + 2 * c.num_kv_heads) * c.head_dim
                                     + 3 * c.hidden_size * c.intermediate_size) + 2 * c.vocab_size * c.hidden_size) / 1e9
    streaming = args.reference_streaming == "on" or (args.reference_streaming == "auto" and merged_gb > STREAM_ABOVE_GB)
    print(f"reference: {args.reference_frames} frames, decoder {'streamed layer by layer' if streaming else 'merged in memory'} "
          f"({merged_gb:.1f} GB merged float32)", flush=True)
    runner = ReferenceRunner(ckpt, f"{args.out}/tokenizer.json", THRESHOLD, tokens, args.reference_frames, streaming)
    if args.check_transformers:
        from .hf_check import check_against_transformers
        check_against_transformers(ckpt, runner)
    reference = runner.reference_json(args.reference_max_new_tokens or args.max_new_tokens, args.precision,
                                      TOLERANCE[args.precision])
    with open(f"{args.out}/reference.json", "w") as f:
        json.dump(reference, f)
    write_manifest(ckpt, args.out, args, tokens)  # last: it lists reference.json with its checksum
    decisions = [e["decision"] for r in reference["runs"][:1] for e in r["trace"] if e["type"] == "frame"]
    print(f"reference: {len(decisions)} frames ({', '.join(f'{d} {decisions.count(d)}' for d in sorted(set(decisions)))}), "
          f"min decision margin {runner.min_margin:.2e}, min token gap {runner.min_token_gap:.2e}")
    print(f"wrote {args.out} in {time.time() - start:.1f} s, peak RSS {peak_rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
