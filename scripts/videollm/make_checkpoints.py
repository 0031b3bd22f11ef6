"""Random-init checkpoints in VideoLLM-online's released on-disk layout.

  python3 -m videollm.make_checkpoints OUT            # small, for CI (seconds, ~2 MB)
  python3 -m videollm.make_checkpoints OUT --full-size  # the real 8B shapes (15.0 GiB Llama + 1.2 GiB SigLIP + 1.7 GiB adapter)

Writes OUT/llama (Meta-Llama-3-8B-Instruct: config.json, bf16 shards + index,
tokenizer.json, tokenizer_config.json), OUT/adapter (PEFT adapter_config.json with
the regex target_modules, adapter_model.safetensors with LoRA A/B, the connector
and the frozen lm_head copy, tokenizer with `<v>` = old vocabulary size) and
OUT/siglip (a full SiglipModel in f32 whose config.json omits patch_size,
hidden_act and layer_norm_eps, like google/siglip-large-patch16-384).

The small checkpoint is calibrated like scripts/make_fixture.py's model (a random
model never emits the interval token or EOS): frames get a private hidden
dimension that the interval row of lm_head reads, EOS follows a few text tokens,
and the connector's bias is searched so the model speaks after 15-45 % of frames.
Tensors are written one at a time (generated while writing), so --full-size
needs memory for a few copies of the largest tensor only (the 128k x 4096
embedding: 7.9 GiB peak RSS, 11 min and 17.8 GiB on disk on a 2-core machine).
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np

from . import safetensors as st
from .tokenizer import LLAMA3_SPECIALS, BYTE_CHARS, llama3_tokenizer_config, llama3_tokenizer_json, train_small

SMALL = dict(hidden=64, intermediate=128, layers=2, heads=4, kv_heads=2, base_vocab=None, shards=2,
             v_hidden=32, v_intermediate=64, v_layers=2, v_heads=2, image=192, r=8, alpha=16)
FULL = dict(hidden=4096, intermediate=14336, layers=32, heads=32, kv_heads=8, base_vocab=128000, shards=4,
            v_hidden=1024, v_intermediate=4096, v_layers=24, v_heads=16, image=384, r=128, alpha=256)
TARGET_REGEX = "model.*(q_proj|k_proj|v_proj|o_proj|gate_proj|up_proj|down_proj)|lm_head$"
CORPUS = [
    "A multimodal AI assistant is helping users with some activities. Below is their conversation, "
    "interleaved with the list of video frames received by the assistant.\n\n[",
    "]\nUser: What is happening?\nAssistant:", "]\nAssistant:", "\n[", "]\nUser: Who is winning?\nAssistant:",
    "And what did you just say? The team in red has the ball and they are attacking the goal. It's 2-1.",
]


class Plan:
    """Tensors to write: name -> (shape, dtype, generator). Seeds derive from names, so
    every tensor is reproducible and generated only when it is written."""

    def __init__(self, seed: int):
        self.seed, self.items, self.overrides = seed, {}, {}

    def add(self, name: str, shape, dtype: str, kind: str = "normal", std: float = 0.02):
        self.items[name] = (list(shape), dtype, kind, std)

    def value(self, name: str) -> np.ndarray:
        if name in self.overrides:
            return self.overrides[name]
        shape, dtype, kind, std = self.items[name]
        rng = np.random.default_rng([self.seed, *name.encode()])
        x = (1.0 + 0.1 * rng.standard_normal(shape, dtype=np.float32)) if kind == "norm" else \
            rng.standard_normal(shape, dtype=np.float32) * np.float32(std)
        return st.f32_to_bf16(x) if dtype == "BF16" else x

    def f32(self, name: str) -> np.ndarray:
        v = self.value(name)
        return st.bf16_to_f32(v) if self.items[name][1] == "BF16" else v.copy()

    def set(self, name: str, x: np.ndarray) -> None:
        self.overrides[name] = st.f32_to_bf16(x) if self.items[name][1] == "BF16" else x.astype(np.float32)

    def entries(self, names):
        return [(n, self.items[n][0], self.items[n][1], (lambda n=n: self.value(n))) for n in names]

    def nbytes(self, name: str) -> int:
        return st.nbytes(self.items[name][0], self.items[name][1])


def llama_plan(p: Plan, s: dict, vocab: int) -> None:
    d, f, hd = s["hidden"], s["intermediate"], s["hidden"] // s["heads"]
    p.add("model.embed_tokens.weight", [vocab, d], "BF16")
    for i in range(s["layers"]):
        a, m = f"model.layers.{i}.self_attn.", f"model.layers.{i}.mlp."
        p.add(f"model.layers.{i}.input_layernorm.weight", [d], "BF16", "norm")
        p.add(a + "q_proj.weight", [s["heads"] * hd, d], "BF16")
        p.add(a + "k_proj.weight", [s["kv_heads"] * hd, d], "BF16")
        p.add(a + "v_proj.weight", [s["kv_heads"] * hd, d], "BF16")
        p.add(a + "o_proj.weight", [d, s["heads"] * hd], "BF16")
        p.add(m + "gate_proj.weight", [f, d], "BF16")
        p.add(m + "up_proj.weight", [f, d], "BF16")
        p.add(m + "down_proj.weight", [d, f], "BF16")
        p.add(f"model.layers.{i}.post_attention_layernorm.weight", [d], "BF16", "norm")
    p.add("model.norm.weight", [d], "BF16", "norm")
    p.add("lm_head.weight", [vocab, d], "BF16")


def adapter_plan(p: Plan, base: Plan, s: dict) -> None:
    r = s["r"]
    for name in base.items:
        module = name[:-len(".weight")]
        if module.endswith("_proj") or module == "lm_head":
            out_f, in_f = base.items[name][0]
            p.add(f"base_model.model.{module}.lora_A.weight", [r, in_f], "BF16", std=1 / in_f ** 0.5)
            p.add(f"base_model.model.{module}.lora_B.weight", [out_f, r], "BF16", std=0.01)
    p.add("base_model.model.lm_head.base_layer.weight", base.items["lm_head.weight"][0], "BF16")
    p.overrides["base_model.model.lm_head.base_layer.weight"] = None  # filled from the base lm_head (a frozen copy)
    p.add("base_model.model.connector.0.weight", [s["hidden"], s["v_hidden"]], "BF16", std=1 / s["v_hidden"] ** 0.5)
    p.add("base_model.model.connector.0.bias", [s["hidden"]], "BF16")
    p.add("base_model.model.connector.2.weight", [s["hidden"], s["hidden"]], "BF16", std=1 / s["hidden"] ** 0.5)
    p.add("base_model.model.connector.2.bias", [s["hidden"]], "BF16")


def siglip_plan(p: Plan, s: dict) -> None:
    d, f, ps = s["v_hidden"], s["v_intermediate"], 16
    v = "vision_model."
    p.add(v + "embeddings.patch_embedding.weight", [d, 3, ps, ps], "F32", std=1 / (3 * ps * ps) ** 0.5)
    p.add(v + "embeddings.patch_embedding.bias", [d], "F32")
    p.add(v + "embeddings.position_embedding.weight", [(s["image"] // ps) ** 2, d], "F32", std=0.2)
    for i in range(s["v_layers"]):
        L = f"{v}encoder.layers.{i}."
        for m in ("q_proj", "k_proj", "v_proj", "out_proj"):
            p.add(L + f"self_attn.{m}.weight", [d, d], "F32", std=1 / d ** 0.5)
            p.add(L + f"self_attn.{m}.bias", [d], "F32")
        for n in ("layer_norm1", "layer_norm2"):
            p.add(L + f"{n}.weight", [d], "F32", "norm")
            p.add(L + f"{n}.bias", [d], "F32")
        p.add(L + "mlp.fc1.weight", [f, d], "F32", std=1 / d ** 0.5)
        p.add(L + "mlp.fc1.bias", [f], "F32")
        p.add(L + "mlp.fc2.weight", [d, f], "F32", std=1 / f ** 0.5)
        p.add(L + "mlp.fc2.bias", [d], "F32")
    p.add(v + "post_layernorm.weight", [d], "F32", "norm")
    p.add(v + "post_layernorm.bias", [d], "F32")
    h = v + "head."
    p.add(h + "probe", [1, 1, d], "F32", std=1.0)
    p.add(h + "attention.in_proj_weight", [3 * d, d], "F32", std=1 / d ** 0.5)
    p.add(h + "attention.in_proj_bias", [3 * d], "F32")
    p.add(h + "attention.out_proj.weight", [d, d], "F32", std=1 / d ** 0.5)
    p.add(h + "attention.out_proj.bias", [d], "F32")
    p.add(h + "layernorm.weight", [d], "F32", "norm")
    p.add(h + "layernorm.bias", [d], "F32")
    p.add(h + "mlp.fc1.weight", [f, d], "F32", std=1 / d ** 0.5)
    p.add(h + "mlp.fc1.bias", [f], "F32")
    p.add(h + "mlp.fc2.weight", [d, f], "F32", std=1 / f ** 0.5)
    p.add(h + "mlp.fc2.bias", [d], "F32")
    # A SiglipModel also has its text tower; the exporter must skip it (a token of it suffices here).
    p.add("text_model.embeddings.token_embedding.weight", [256, d], "F32")
    p.add("text_model.final_layer_norm.weight", [d], "F32", "norm")
    p.add("logit_scale", [1], "F32")
    p.add("logit_bias", [1], "F32")


def tokenizer_files(full: bool) -> tuple[dict, dict]:
    vocab, merges = train_small(CORPUS * 3, 1024)
    if full:  # Llama-3's 128,000 BPE entries; the filler can never be produced from text
        filler = BYTE_CHARS[-1][1]
        for i in range(len(vocab), 128000):
            vocab[f"{filler}{filler}{i}"] = i
    data = llama3_tokenizer_json(vocab, merges)
    return data, llama3_tokenizer_config(data["added_tokens"])


def write_json(path: str, obj: dict) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def write_sharded(folder: str, plan: Plan, shards: int) -> None:
    names = list(plan.items)
    total = sum(plan.nbytes(n) for n in names)
    groups, acc, cur = [[]], 0, 0
    for n in names:  # cut into shards of about equal bytes, in name order as transformers does
        if acc >= (cur + 1) * total / shards and cur < shards - 1:
            groups.append([])
            cur += 1
        groups[-1].append(n)
        acc += plan.nbytes(n)
    weight_map = {}
    for k, group in enumerate(groups, 1):
        fname = f"model-{k:05d}-of-{len(groups):05d}.safetensors"
        st.write(f"{folder}/{fname}", plan.entries(group), {"format": "pt"})
        weight_map.update({n: fname for n in group})
    write_json(f"{folder}/model.safetensors.index.json", {"metadata": {"total_size": total}, "weight_map": weight_map})


def calibrate(llama: Plan, adapter: Plan, interval: int, eos: int) -> None:
    """make_fixture.py's calibration, applied to the checkpoint tensors (see the module doc)."""
    emb = llama.f32("model.embed_tokens.weight")
    emb[:, 0] = 0
    llama.set("model.embed_tokens.weight", emb)
    head = llama.f32("lm_head.weight")
    head[interval] = 0
    head[interval, 0] = 12.0
    enders = emb[3::29][:8]
    head[eos] = 0.12 * enders.sum(0) / enders.shape[0] ** 0.5
    llama.set("lm_head.weight", head)
    lora_b = adapter.f32("base_model.model.lm_head.lora_B.weight")
    lora_b[[interval, eos]] = 0  # the adapter leaves the two calibrated rows alone
    adapter.set("base_model.model.lm_head.lora_B.weight", lora_b)
    w2 = adapter.f32("base_model.model.connector.2.weight")
    w2[0] *= 40.0
    adapter.set("base_model.model.connector.2.weight", w2)


# The answer cap test/videollmExport.test.ts exports with; the margins are checked for its reference.
TEST_MAX_NEW_TOKENS = 8


def search_frame_offset(out: str, adapter: Plan) -> None:
    """Picks connector.2.bias[0] so the model speaks after 15-45 % of the reference frames
    (a larger offset raises P(interval): bisect on it), then steps it by quarters until
    the reference trace has clear margins (decisions 1e-4 from flipping, the greedy
    choice 2e-4 ahead), as make_fixture.py requires of a golden trace."""
    from .checkpoint import VideoLLMCheckpoint
    from .live_reference import ReferenceRunner
    ckpt = VideoLLMCheckpoint(f"{out}/llama", f"{out}/adapter", f"{out}/siglip")
    runner = ReferenceRunner(ckpt, f"{out}/adapter/tokenizer.json", threshold=0.725)

    def speaks(offset: float) -> float:
        runner.connector.w["2.bias"][0] = offset
        trace = runner.trace(questions=[], max_new_tokens=6)
        return sum(1 for e in trace if e.get("decision") == "speak") / runner.num_frames

    lo, hi, found = -20.0, 20.0, None
    for _ in range(10):
        offset = round((lo + hi) / 2 * 4) / 4  # quarters are exact in bf16
        speak = speaks(offset)
        if 0.15 <= speak <= 0.45:
            found = offset
            break
        lo, hi = (offset, hi) if speak > 0.45 else (lo, offset)
    if found is None:
        sys.exit("calibration failed: no frame offset gives 15-45 % speech")
    for step in (0, 1, -1, 2, -2, 3, -3, 4, -4):
        offset = found + step / 4
        speak = speaks(offset)
        runner.min_margin = runner.min_token_gap = float("inf")
        runner.reference_json(TEST_MAX_NEW_TOKENS, "fp32", {})
        if 0.15 <= speak <= 0.45 and runner.min_margin >= 1e-4 and runner.min_token_gap >= 2e-4:
            bias = adapter.f32("base_model.model.connector.2.bias")
            bias[0] = offset
            adapter.set("base_model.model.connector.2.bias", bias)
            print(f"calibrated frame signal offset {offset}: speaks after {speak:.0%} of frames, "
                  f"min decision margin {runner.min_margin:.1e}, min token gap {runner.min_token_gap:.1e}")
            return
    sys.exit("calibration failed: margins too small for a reference trace; try another --seed")


def write_adapter(folder: str, plan: Plan) -> None:
    st.write(f"{folder}/adapter_model.safetensors", plan.entries(list(plan.items)), {"format": "pt"})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--full-size", action="store_true", help="the real 8B shapes (random weights, ~20 GB); not calibrated")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    s = FULL if args.full_size else SMALL
    dirs = {k: f"{args.out}/{k}" for k in ("llama", "adapter", "siglip")}
    for d in dirs.values():
        os.makedirs(d, exist_ok=True)

    tok, tok_cfg = tokenizer_files(args.full_size)
    base_vocab = len(tok["model"]["vocab"])
    vocab = base_vocab + len(LLAMA3_SPECIALS)
    bos, eos = base_vocab, base_vocab + LLAMA3_SPECIALS.index("<|eot_id|>")
    llama, adapter, siglip = Plan(args.seed), Plan(args.seed + 1), Plan(args.seed + 2)
    llama_plan(llama, s, vocab)
    adapter_plan(adapter, llama, s)
    siglip_plan(siglip, s)
    interval = tok["model"]["vocab"][","]
    if not args.full_size:
        calibrate(llama, adapter, interval, eos)
    adapter.overrides["base_model.model.lm_head.base_layer.weight"] = llama.value("lm_head.weight")

    write_json(f"{dirs['llama']}/config.json", {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": bos, "eos_token_id": eos, "hidden_act": "silu", "hidden_size": s["hidden"],
        "initializer_range": 0.02, "intermediate_size": s["intermediate"], "max_position_embeddings": 8192,
        "model_type": "llama", "num_attention_heads": s["heads"], "num_hidden_layers": s["layers"],
        "num_key_value_heads": s["kv_heads"], "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None,
        "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.40.0.dev0", "use_cache": True, "vocab_size": vocab})
    write_json(f"{dirs['llama']}/generation_config.json", {"bos_token_id": bos, "eos_token_id": [base_vocab + 1, eos],
                                                           "do_sample": True, "temperature": 0.6, "top_p": 0.9})
    write_json(f"{dirs['llama']}/tokenizer.json", tok)
    write_json(f"{dirs['llama']}/tokenizer_config.json", tok_cfg)
    write_json(f"{dirs['llama']}/special_tokens_map.json", {"bos_token": "<|begin_of_text|>", "eos_token": "<|end_of_text|>"})
    write_sharded(dirs["llama"], llama, s["shards"])

    write_json(f"{dirs['siglip']}/config.json", {
        "architectures": ["SiglipModel"], "initializer_factor": 1.0, "model_type": "siglip",
        "text_config": {"hidden_size": s["v_hidden"], "intermediate_size": s["v_intermediate"], "model_type": "siglip_text_model",
                        "num_attention_heads": s["v_heads"], "num_hidden_layers": s["v_layers"], "vocab_size": 256},
        "torch_dtype": "float32", "transformers_version": "4.37.0.dev0",
        "vision_config": {"hidden_size": s["v_hidden"], "image_size": s["image"], "intermediate_size": s["v_intermediate"],
                          "model_type": "siglip_vision_model", "num_attention_heads": s["v_heads"],
                          "num_hidden_layers": s["v_layers"]}})
    st.write(f"{dirs['siglip']}/model.safetensors", siglip.entries(list(siglip.items)), {"format": "pt"})

    write_json(f"{dirs['adapter']}/adapter_config.json", {
        "alpha_pattern": {}, "auto_mapping": None, "base_model_name_or_path": "meta-llama/Meta-Llama-3-8B-Instruct",
        "bias": "none", "fan_in_fan_out": False, "inference_mode": True, "init_lora_weights": True,
        "layers_pattern": None, "layers_to_transform": None, "loftq_config": {}, "lora_alpha": s["alpha"],
        "lora_dropout": 0.05, "megatron_config": None, "megatron_core": "megatron.core",
        "modules_to_save": ["connector"], "peft_type": "LORA", "r": s["r"], "rank_pattern": {}, "revision": None,
        "target_modules": TARGET_REGEX, "task_type": "CAUSAL_LM", "use_dora": False, "use_rslora": False})
    v_tok = dict(tok, added_tokens=tok["added_tokens"] + [{"id": vocab, "content": "<v>", "single_word": False, "lstrip": False,
                                                           "rstrip": False, "normalized": False, "special": True}])
    write_json(f"{dirs['adapter']}/tokenizer.json", v_tok)
    write_json(f"{dirs['adapter']}/tokenizer_config.json", llama3_tokenizer_config(v_tok["added_tokens"]))
    write_adapter(dirs["adapter"], adapter)
    if not args.full_size:
        search_frame_offset(args.out, adapter)
        write_adapter(dirs["adapter"], adapter)
    print(f"wrote {args.out}: llama vocab {vocab} (<v> = {vocab}, no embedding row), interval ',' = {interval}, eos = {eos}")


if __name__ == "__main__":
    main()
