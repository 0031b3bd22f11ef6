"""An independent PyTorch implementation of VideoLLM-online v1+, from the checkpoint.

It shares nothing with the ONNX graphs the exporter writes: LoRA is merged here in
torch, attention repeats the KV heads (the graphs group the queries), RoPE, RMSNorm,
SigLIP and its attention-pooling head are written as transformers writes them.
It fits cocaster_model/live.py's LiveReference: `decoder(embeds, mask, pos, past)`,
`decoder.embed(ids)`, `decoder.empty_past()`, `decoder.cfg.{rope_theta,head_dim}`.
"""
from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F

from .checkpoint import FRAME_GRID, VideoLLMCheckpoint, layer_linears


def _t(a) -> torch.Tensor:
    return torch.from_numpy(a.copy())


def merged_linear(ckpt: VideoLLMCheckpoint, module: str, scale: float) -> torch.Tensor:
    w = _t(ckpt.base(f"{module}.weight"))
    pair = ckpt.lora(module)
    if pair is not None:
        a, b = _t(pair[0]), _t(pair[1])
        w = w + scale * (b @ a)
    return w


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


class LlamaReference:
    def __init__(self, ckpt: VideoLLMCheckpoint):
        c = ckpt.llama_cfg
        self.c = c
        self.cfg = SimpleNamespace(rope_theta=c.rope_theta, head_dim=c.head_dim)
        s = ckpt.lora_scale
        self.embed_weight = _t(ckpt.base("model.embed_tokens.weight"))
        self.layers = []
        for i in range(c.num_layers):
            q, k, v, o, gate, up, down = (merged_linear(ckpt, m, s) for m in layer_linears(i))
            self.layers.append(dict(q=q, k=k, v=v, o=o, gate=gate, up=up, down=down,
                                    ln1=_t(ckpt.base(f"model.layers.{i}.input_layernorm.weight")),
                                    ln2=_t(ckpt.base(f"model.layers.{i}.post_attention_layernorm.weight"))))
        self.norm = _t(ckpt.base("model.norm.weight"))
        self.lm_head = merged_linear(ckpt, "lm_head", s)
        self.inv_freq = 1.0 / (c.rope_theta ** (torch.arange(0, c.head_dim, 2).float() / c.head_dim))

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        # `<v>` has no embedding row: VideoLLM-online clamps ids to the last row.
        return F.embedding(ids.clamp(max=self.embed_weight.shape[0] - 1), self.embed_weight)

    def empty_past(self):
        z = lambda: torch.zeros(1, self.c.num_kv_heads, 0, self.c.head_dim)  # noqa: E731
        return [(z(), z()) for _ in range(self.c.num_layers)]

    def rms(self, x, w):
        var = x.pow(2).mean(-1, keepdim=True)
        return w * (x * torch.rsqrt(var + self.c.rms_eps))

    def attention(self, L, x, cos, sin, mask, past):
        b, s, _ = x.shape
        c = self.c
        q = (x @ L["q"].T).view(b, s, c.num_heads, c.head_dim).transpose(1, 2)
        k = (x @ L["k"].T).view(b, s, c.num_kv_heads, c.head_dim).transpose(1, 2)
        v = (x @ L["v"].T).view(b, s, c.num_kv_heads, c.head_dim).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        rep = c.num_heads // c.num_kv_heads
        kr, vr = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        scores = q @ kr.transpose(2, 3) / (c.head_dim ** 0.5) + mask
        out = torch.softmax(scores.float(), dim=-1) @ vr
        return out.transpose(1, 2).reshape(b, s, -1) @ L["o"].T, (k, v)

    @torch.no_grad()
    def __call__(self, embeds, attention_mask, position_ids, past):
        s = embeds.shape[1]
        total = attention_mask.shape[1]
        freqs = position_ids.float()[..., None] * self.inv_freq
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        allowed = torch.arange(total)[None, :] <= (torch.arange(s) + total - s)[:, None]
        allowed = allowed & attention_mask.bool()[:, None, None, :]
        mask = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)
        x, present = embeds, []
        for L, p in zip(self.layers, past):
            a, kv = self.attention(L, self.rms(x, L["ln1"]), cos, sin, mask, p)
            x = x + a
            h = self.rms(x, L["ln2"])
            x = x + (F.silu(h @ L["gate"].T) * (h @ L["up"].T)) @ L["down"].T
            present.append(kv)
        return self.rms(x, self.norm) @ self.lm_head.T, present


class StreamingLlamaReference(LlamaReference):
    """The same model with its decoder layers streamed from the checkpoint on every
    call, for models whose merged float32 weights do not fit in memory (8B: ~32 GB).

    Each call reads one layer's projections at a time (float32 copies of the bf16
    tensors, from the page cache once the files are warm), runs every new position
    through it and drops it, so memory holds one matrix, the embedding and lm_head
    (kept as bf16) and the KV cache. The LoRA pairs are applied unmerged,
    x W^T + s (x A^T) B^T: the same function as the merged weights (merging per call
    would cost 2 r FLOPs per weight), equal to ~1e-6 relative in float32. Only the last
    position's logits are computed (the streaming loop reads no others).
    """

    LM_HEAD_ROWS = 16384  # lm_head rows widened to float32 at a time

    def __init__(self, ckpt: VideoLLMCheckpoint):
        c = ckpt.llama_cfg
        self.c, self.ckpt = c, ckpt
        self.cfg = SimpleNamespace(rope_theta=c.rope_theta, head_dim=c.head_dim)
        self.scale = ckpt.lora_scale
        self.embed_bf16 = self._bf16_or_f32("model.embed_tokens.weight")
        self.head_bf16 = self._bf16_or_f32("lm_head.weight")
        pair = ckpt.lora("lm_head")
        self.head_lora = None if pair is None else (_t(pair[0]), _t(pair[1]))
        self.norm = _t(ckpt.base("model.norm.weight"))
        self.inv_freq = 1.0 / (c.rope_theta ** (torch.arange(0, c.head_dim, 2).float() / c.head_dim))
        self.layer_passes = 0
        self.started = None

    def _bf16_or_f32(self, name: str) -> torch.Tensor:
        """A big matrix kept as read: bf16 (as int16 bits) or float32."""
        from .checkpoint import PEFT_PREFIX
        if name == "lm_head.weight":
            frozen = f"{PEFT_PREFIX}lm_head.base_layer.weight"
            src, key = (self.ckpt.adapter, frozen) if frozen in self.ckpt.adapter.entries else \
                (self.ckpt.llama, "model.embed_tokens.weight" if self.c.tie_embeddings else name)
        else:
            src, key = self.ckpt.llama, name
        raw = src.raw(key)
        return torch.from_numpy(raw.view(np.int16) if raw.dtype == np.uint16 else raw.copy())

    @staticmethod
    def _widen(rows: torch.Tensor) -> torch.Tensor:
        if rows.dtype == torch.int16:  # bf16 bits
            return rows.view(torch.bfloat16).float()
        return rows

    def _weight(self, name: str) -> torch.Tensor:
        """A fresh float32 copy of a Llama matrix (bf16 widened exactly, by torch: faster than numpy)."""
        raw = self.ckpt.llama.raw(name)
        if raw.dtype == np.uint16:
            return torch.from_numpy(raw.view(np.int16)).view(torch.bfloat16).float()
        return torch.from_numpy(raw if raw.dtype == np.float32 else raw.astype(np.float32))

    def embed(self, ids: torch.Tensor) -> torch.Tensor:
        ids = ids.clamp(max=self.embed_bf16.shape[0] - 1)
        return self._widen(self.embed_bf16[ids.flatten()]).view(*ids.shape, -1)

    def _linear(self, x: torch.Tensor, module: str) -> torch.Tensor:
        y = x @ self._weight(f"{module}.weight").T
        pair = self.ckpt.lora(module)
        if pair is not None:
            y = y + self.scale * ((x @ _t(pair[0]).T) @ _t(pair[1]).T)
        return y

    def _layer(self, i: int) -> dict:
        """A layer whose projections are read as they are used (see __getitem__)."""
        return _LazyLayer(self, i)

    def _lm_head_last(self, h: torch.Tensor) -> torch.Tensor:
        out = []
        for r in range(0, self.head_bf16.shape[0], self.LM_HEAD_ROWS):
            out.append(h @ self._widen(self.head_bf16[r:r + self.LM_HEAD_ROWS]).T)
        y = torch.cat(out, -1)
        if self.head_lora is not None:
            y = y + self.scale * ((h @ self.head_lora[0].T) @ self.head_lora[1].T)
        return y

    @torch.no_grad()
    def __call__(self, embeds, attention_mask, position_ids, past):
        self.started = self.started or time.time()
        s = embeds.shape[1]
        total = attention_mask.shape[1]
        freqs = position_ids.float()[..., None] * self.inv_freq
        emb = torch.cat([freqs, freqs], -1)
        cos, sin = emb.cos()[:, None], emb.sin()[:, None]
        allowed = torch.arange(total)[None, :] <= (torch.arange(s) + total - s)[:, None]
        allowed = allowed & attention_mask.bool()[:, None, None, :]
        mask = torch.zeros(allowed.shape).masked_fill(~allowed, torch.finfo(torch.float32).min)
        x, present = embeds, []
        for i, p in enumerate(past):
            L = self._layer(i)
            a, kv = self.attention(L, self.rms(x, L["ln1"]), cos, sin, mask, p)
            x = x + a
            h = self.rms(x, L["ln2"])
            x = x + self._linear(F.silu(L.mm(h, "gate")) * L.mm(h, "up"), L.name("down"))
            present.append(kv)
        self.layer_passes += 1
        if self.layer_passes % 10 == 0:
            import resource
            print(f"  reference: {self.layer_passes} decoder passes, {time.time() - self.started:.0f} s, "
                  f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB", flush=True)
        return self._lm_head_last(self.rms(x[:, -1:], self.norm)), present

    def attention(self, L, x, cos, sin, mask, past):
        b, s, _ = x.shape
        c = self.c
        q = L.mm(x, "q").view(b, s, c.num_heads, c.head_dim).transpose(1, 2)
        k = L.mm(x, "k").view(b, s, c.num_kv_heads, c.head_dim).transpose(1, 2)
        v = L.mm(x, "v").view(b, s, c.num_kv_heads, c.head_dim).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = torch.cat([past[0], k], 2), torch.cat([past[1], v], 2)
        rep = c.num_heads // c.num_kv_heads
        kr, vr = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        scores = q @ kr.transpose(2, 3) / (c.head_dim ** 0.5) + mask
        out = torch.softmax(scores.float(), dim=-1) @ vr
        return L.mm(out.transpose(1, 2).reshape(b, s, -1), "o"), (k, v)


class _LazyLayer:
    def __init__(self, ref: StreamingLlamaReference, i: int):
        self.ref, self.i = ref, i
        self.modules = dict(zip("q k v o gate up down".split(), layer_linears(i)))

    def name(self, key: str) -> str:
        return self.modules[key]

    def mm(self, x: torch.Tensor, key: str) -> torch.Tensor:
        return self.ref._linear(x, self.modules[key])

    def __getitem__(self, key: str) -> torch.Tensor:
        norm = {"ln1": "input_layernorm", "ln2": "post_attention_layernorm"}[key]
        return _t(self.ref.ckpt.base(f"model.layers.{self.i}.{norm}.weight"))


class SiglipFrameReference:
    """SigLIP's vision tower, its attention-pooling head and VideoLLM-online's
    frame tokens: [pooler_output, 3x3 adaptive-average-pooled last_hidden_state]."""

    def __init__(self, ckpt: VideoLLMCheckpoint):
        self.c = ckpt.vision_cfg
        g = lambda n: _t(ckpt.vision(n))  # noqa: E731
        self.patch_w, self.patch_b = g("embeddings.patch_embedding.weight"), g("embeddings.patch_embedding.bias")
        self.pos = g("embeddings.position_embedding.weight")
        self.layers = []
        for i in range(self.c.num_layers):
            p = f"encoder.layers.{i}."
            self.layers.append({k: g(p + k) for k in [f"{m}.{wb}" for m in (
                "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.out_proj",
                "layer_norm1", "layer_norm2", "mlp.fc1", "mlp.fc2") for wb in ("weight", "bias")]})
        self.post = (g("post_layernorm.weight"), g("post_layernorm.bias"))
        self.head = {k: g("head." + k) for k in (
            "probe", "attention.in_proj_weight", "attention.in_proj_bias", "attention.out_proj.weight",
            "attention.out_proj.bias", "layernorm.weight", "layernorm.bias", "mlp.fc1.weight", "mlp.fc1.bias",
            "mlp.fc2.weight", "mlp.fc2.bias")}

    def ln(self, x, w, b):
        return F.layer_norm(x, (x.shape[-1],), w, b, self.c.layer_norm_eps)

    @staticmethod
    def mlp(x, fc1w, fc1b, fc2w, fc2b):
        return F.linear(F.gelu(F.linear(x, fc1w, fc1b), approximate="tanh"), fc2w, fc2b)

    def mha(self, q, k, v, heads):
        b, sq, d = q.shape
        dh = d // heads
        split = lambda x: x.view(b, x.shape[1], heads, dh).transpose(1, 2)  # noqa: E731
        att = torch.softmax(split(q) @ split(k).transpose(2, 3) / dh ** 0.5, dim=-1)
        return (att @ split(v)).transpose(1, 2).reshape(b, sq, d)

    @torch.no_grad()
    def __call__(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """[N,3,H,W] -> [N, 1 + 3*3, vision width]."""
        x = F.conv2d(pixel_values, self.patch_w, self.patch_b, stride=self.c.patch_size)
        x = x.flatten(2).transpose(1, 2) + self.pos
        for L in self.layers:
            h = self.ln(x, L["layer_norm1.weight"], L["layer_norm1.bias"])
            a = self.mha(F.linear(h, L["self_attn.q_proj.weight"], L["self_attn.q_proj.bias"]),
                         F.linear(h, L["self_attn.k_proj.weight"], L["self_attn.k_proj.bias"]),
                         F.linear(h, L["self_attn.v_proj.weight"], L["self_attn.v_proj.bias"]), self.c.num_heads)
            x = x + F.linear(a, L["self_attn.out_proj.weight"], L["self_attn.out_proj.bias"])
            h = self.ln(x, L["layer_norm2.weight"], L["layer_norm2.bias"])
            x = x + self.mlp(h, L["mlp.fc1.weight"], L["mlp.fc1.bias"], L["mlp.fc2.weight"], L["mlp.fc2.bias"])
        last = self.ln(x, *self.post)
        H = self.head
        wq, wk, wv = H["attention.in_proj_weight"].chunk(3)
        bq, bk, bv = H["attention.in_proj_bias"].chunk(3)
        probe = H["probe"].expand(last.shape[0], -1, -1)
        a = self.mha(F.linear(probe, wq, bq), F.linear(last, wk, bk), F.linear(last, wv, bv), self.c.num_heads)
        a = F.linear(a, H["attention.out_proj.weight"], H["attention.out_proj.bias"])
        pooled = a + self.mlp(self.ln(a, H["layernorm.weight"], H["layernorm.bias"]),
                              H["mlp.fc1.weight"], H["mlp.fc1.bias"], H["mlp.fc2.weight"], H["mlp.fc2.bias"])
        n, g = last.shape[0], self.c.grid
        grid = F.adaptive_avg_pool2d(last.reshape(n, g, g, -1).permute(0, 3, 1, 2), FRAME_GRID).flatten(2).transpose(1, 2)
        return torch.cat([pooled[:, :1], grid], dim=1)


class Connector:
    """Linear -> GELU (exact) -> Linear, VideoLLM-online's modules_to_save."""

    def __init__(self, ckpt: VideoLLMCheckpoint):
        self.w = {n: _t(ckpt.connector(n)) for n in ("0.weight", "0.bias", "2.weight", "2.bias")}

    @torch.no_grad()
    def __call__(self, feats: torch.Tensor) -> torch.Tensor:
        return F.linear(F.gelu(F.linear(feats, self.w["0.weight"], self.w["0.bias"])), self.w["2.weight"], self.w["2.bias"])
