"""The three folders a VideoLLM-online user has on disk, read tensor by tensor.

Llama-3 base (config.json, sharded safetensors + index, tokenizer.json), the
VideoLLM-online PEFT adapter (adapter_config.json, adapter_model.safetensors with
LoRA A/B and the connector, tokenizer files with `<v>`), and SigLIP (a full
SiglipModel; only the vision tower is used). Names and quirks:
../shared/reference/videollm-online.md, "The released checkpoints on disk".
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

import numpy as np

from .safetensors import SafetensorsFile, ShardedCheckpoint

# VideoLLM-online v1+: the pooled (CLS-like) token plus a 3x3 average-pooled patch grid per frame.
FRAME_GRID = 3
PEFT_PREFIX = "base_model.model."

# SiglipVisionConfig's class defaults: the released config.json omits some of them.
SIGLIP_VISION_DEFAULTS = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12,
                          "num_attention_heads": 12, "num_channels": 3, "image_size": 224, "patch_size": 16,
                          "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6}


@dataclass
class LlamaConfig:
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    vocab_size: int
    rms_eps: float
    rope_theta: float
    max_position: int
    tie_embeddings: bool

    @classmethod
    def from_json(cls, c: dict) -> "LlamaConfig":
        if c.get("rope_scaling"):
            raise SystemExit(f"rope_scaling {c['rope_scaling']} is not supported (Llama-3-8B-Instruct has none)")
        if c.get("hidden_act", "silu") != "silu" or c.get("attention_bias") or c.get("mlp_bias"):
            raise SystemExit("expected a Llama with SiLU MLP and no attention/MLP biases")
        heads = c["num_attention_heads"]
        return cls(c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], heads,
                   c.get("num_key_value_heads") or heads, c.get("head_dim") or c["hidden_size"] // heads,
                   c["vocab_size"], c.get("rms_norm_eps", 1e-6), c.get("rope_theta", 10000.0),
                   c.get("max_position_embeddings", 8192), bool(c.get("tie_word_embeddings", False)))


@dataclass
class VisionConfig:
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    image_size: int
    patch_size: int
    layer_norm_eps: float

    @classmethod
    def from_json(cls, c: dict) -> "VisionConfig":
        v = c.get("vision_config", c) if c.get("model_type") != "siglip_vision_model" else c
        v = {**SIGLIP_VISION_DEFAULTS, **v}
        if v["hidden_act"] != "gelu_pytorch_tanh":
            raise SystemExit(f"SigLIP hidden_act {v['hidden_act']} is not supported (expected gelu_pytorch_tanh)")
        return cls(v["hidden_size"], v["intermediate_size"], v["num_hidden_layers"], v["num_attention_heads"],
                   v["image_size"], v["patch_size"], v["layer_norm_eps"])

    @property
    def grid(self) -> int:
        return self.image_size // self.patch_size


def _read_json(path: str) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class VideoLLMCheckpoint:
    """Base tensors as float32 copies, one at a time, and the LoRA pairs that apply to them."""

    def __init__(self, llama_dir: str, adapter_dir: str, siglip_dir: str):
        self.llama_dir, self.adapter_dir, self.siglip_dir = llama_dir, adapter_dir, siglip_dir
        self.llama_cfg = LlamaConfig.from_json(_read_json(f"{llama_dir}/config.json"))
        self.vision_cfg = VisionConfig.from_json(_read_json(f"{siglip_dir}/config.json"))
        self.llama = ShardedCheckpoint(llama_dir)
        self.siglip = ShardedCheckpoint(siglip_dir)
        self.adapter_cfg = _read_json(f"{adapter_dir}/adapter_config.json")
        self.adapter = SafetensorsFile(f"{adapter_dir}/adapter_model.safetensors")
        if self.adapter_cfg.get("peft_type", "LORA") != "LORA" or self.adapter_cfg.get("use_dora"):
            raise SystemExit("expected a plain LoRA adapter (peft_type LORA, no DoRA)")
        if self.adapter_cfg.get("rank_pattern") or self.adapter_cfg.get("alpha_pattern"):
            raise SystemExit("per-module rank/alpha patterns are not supported")
        r, alpha = self.adapter_cfg["r"], self.adapter_cfg["lora_alpha"]
        self.lora_scale = alpha / (r ** 0.5 if self.adapter_cfg.get("use_rslora") else r)
        self.vision_width = self.adapter.shape(f"{PEFT_PREFIX}connector.0.weight")[1]
        if self.vision_width != self.vision_cfg.hidden_size:
            raise SystemExit(f"connector takes width {self.vision_width}, SigLIP gives {self.vision_cfg.hidden_size}")
        if self.vision_cfg.grid % FRAME_GRID:
            raise SystemExit(f"a {self.vision_cfg.grid}x{self.vision_cfg.grid} patch grid does not pool evenly to {FRAME_GRID}x{FRAME_GRID}")

    @property
    def tokens_per_frame(self) -> int:
        return 1 + FRAME_GRID * FRAME_GRID

    def tokenizer_dir(self) -> str:
        """The adapter's tokenizer has `<v>`; the base one is used (and `<v>` added) otherwise."""
        return self.adapter_dir if os.path.exists(f"{self.adapter_dir}/tokenizer.json") else self.llama_dir

    def targeted(self, module: str) -> bool:
        """PEFT's rule: a string is a regex the whole module name must match; a list
        matches by name or dotted suffix."""
        t = self.adapter_cfg["target_modules"]
        if isinstance(t, str):
            return re.fullmatch(t, module) is not None
        return any(module == k or module.endswith("." + k) for k in t)

    def lora(self, module: str) -> tuple[np.ndarray, np.ndarray] | None:
        """(A [r,in], B [out,r]) as float32 for a targeted module, else None."""
        key = f"{PEFT_PREFIX}{module}.lora_A.weight"
        if not self.targeted(module):
            return None
        if key not in self.adapter.entries:
            raise SystemExit(f"adapter targets {module} but has no {key}")
        return self.adapter.f32(key), self.adapter.f32(f"{PEFT_PREFIX}{module}.lora_B.weight")

    def base(self, name: str) -> np.ndarray:
        """A Llama tensor. lm_head: the adapter's own frozen copy when it has one."""
        if name == "lm_head.weight":
            frozen = f"{PEFT_PREFIX}lm_head.base_layer.weight"
            if frozen in self.adapter.entries:
                return self.adapter.f32(frozen)
            if self.llama_cfg.tie_embeddings:
                return self.llama.f32("model.embed_tokens.weight")
        return self.llama.f32(name)

    def vision(self, name: str) -> np.ndarray:
        return self.siglip.f32(f"vision_model.{name}")

    def connector(self, name: str) -> np.ndarray:
        return self.adapter.f32(f"{PEFT_PREFIX}connector.{name}")

    def embedding_rows(self) -> int:
        return self.llama.shape("model.embed_tokens.weight")[0]


def layer_linears(i: int) -> list[str]:
    """Module names of one decoder layer's linear projections."""
    return [f"model.layers.{i}.self_attn.{p}_proj" for p in "qkvo"] + [f"model.layers.{i}.mlp.{p}_proj" for p in ("gate", "up", "down")]
