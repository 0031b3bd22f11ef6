"""The model: frame encoder + connector, and a Llama-style decoder with a KV cache.

Shapes follow the ONNX package contract (see export.py):
  vision:  pixel_values [N,3,H,W] -> frame embeddings [N,K,D]
  embed:   input_ids [B,S] -> inputs_embeds [B,S,D]
  decoder: inputs_embeds [B,S,D], attention_mask [B,P+S], position_ids [B,S],
           past (key, value) per layer [B,Hkv,P,Dh] -> logits [B,S,V], present [B,Hkv,P+S,Dh]
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class ModelConfig:
    vocab_size: int = 512
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    num_kv_heads: int = 2
    ffn_size: int = 256
    rope_theta: float = 10000.0
    rms_eps: float = 1e-5
    # frame encoder
    image_size: int = 96
    encoder_channels: tuple[int, ...] = (16, 32, 64)
    grid: int = 3  # grid x grid pooled tokens + 1 global token per frame
    frame_tokens: int = 0  # set by encoders that are not the pooled FrameEncoder
    # A parallel branch of blocks on the raw input embeddings, added to the main
    # stack's output (see Decoder). Its KV cache follows the main layers'.
    side_layers: int = 0
    side_ffn_size: int = 0  # 0 = ffn_size
    # The branch's update is scaled by a gate it computes itself, with a dead zone,
    # so where the gate reads "not an answer" the logits are exactly the stack's.
    side_gate: bool = False
    # A learnt penalty on how far back a key is (ALiBi-like), with a slope per head
    # that each query computes from its own hidden state: an answer can look at the
    # latest frame while frame decisions keep their long view. Zero at start, so a
    # trained decoder grown one is unchanged. Session 10: answers spread their
    # attention over many frames, so a fact that changes every few frames (minutes
    # left, the latest event) came out as a blend of old ones. Session 11: a fixed
    # slope per head stayed near 0.01 in 650 steps; most positions want the long view.
    recency: bool = False
    # Session 13: the branch also reads the (normed) stack output at every position,
    # so it knows what is being asked and which word comes next, and needs only
    # learn the copy itself; and its own heads may learn a recency slope (above).
    side_reads_stack: bool = False
    side_recency: bool = False
    # Add the branch's update after the final norm instead of before: the stack's
    # residual norm is ~1,000-1,800 at answers, so an update added before the norm
    # (~40 after 1,150 steps) could not move the logits (session 13).
    side_after_norm: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def needs_distance(self) -> bool:
        """Some attention (stack or branch) takes a recency penalty."""
        return self.recency or self.side_recency

    @property
    def cache_layers(self) -> int:
        """Layers with a KV cache: the package's decoder.numLayers."""
        return self.num_layers + self.side_layers

    @property
    def tokens_per_frame(self) -> int:
        return self.frame_tokens or 1 + self.grid * self.grid

    def to_dict(self) -> dict:
        d = asdict(self)
        d["encoder_channels"] = list(self.encoder_channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        d = dict(d)
        d["encoder_channels"] = tuple(d["encoder_channels"])
        return cls(**d)


def side_config(cfg: ModelConfig) -> ModelConfig:
    return replace(cfg, ffn_size=cfg.side_ffn_size or cfg.ffn_size, recency=cfg.side_recency)


RECENCY_SCALE = 0.1   # slope per unit of w.x: Adam moves w ~lr a step, x has norm ~16


def token_distance(q_pos, k_pos, dtype=torch.float32):
    """[S, T] how many positions each key lies behind each query (0 for later keys, which the mask hides)."""
    return (q_pos - k_pos).clamp(min=0).to(dtype)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.h, self.hkv, self.dh = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.q = nn.Linear(cfg.hidden_size, self.h * self.dh, bias=False)
        self.k = nn.Linear(cfg.hidden_size, self.hkv * self.dh, bias=False)
        self.v = nn.Linear(cfg.hidden_size, self.hkv * self.dh, bias=False)
        self.o = nn.Linear(self.h * self.dh, cfg.hidden_size, bias=False)
        if cfg.recency:
            self.recency = nn.Linear(cfg.hidden_size, self.h, bias=False)
            nn.init.zeros_(self.recency.weight)

    def project(self, x, cos, sin):
        """Queries and keys with RoPE applied, and values: [B, heads, S, Dh]."""
        b, s, _ = x.shape
        q = self.q(x).view(b, s, self.h, self.dh).transpose(1, 2)
        k = self.k(x).view(b, s, self.hkv, self.dh).transpose(1, 2)
        v = self.v(x).view(b, s, self.hkv, self.dh).transpose(1, 2)
        return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin, v

    def recency_bias(self, x, dist):
        """[B, heads, S, T] logits to add: minus each query's slope per position back."""
        slope = (RECENCY_SCALE * self.recency(x)).transpose(1, 2).unsqueeze(-1)   # [B, H, S, 1]
        return -slope * dist

    def forward(self, x, cos, sin, mask, past_k, past_v, dist=None):
        b, s, _ = x.shape
        q, k, v = self.project(x, cos, sin)
        k = torch.cat([past_k, k], dim=2)
        v = torch.cat([past_v, v], dim=2)
        # Grouped-query attention by folding each KV head's query group into the
        # sequence axis: exact, and cheaper than repeating K/V in the exported graph.
        g = self.h // self.hkv
        qg = q.reshape(b, self.hkv, g * s, self.dh)
        scores = torch.matmul(qg, k.transpose(2, 3)) / math.sqrt(self.dh)
        scores = scores.view(b, self.hkv, g, s, -1) + mask.unsqueeze(1)
        if dist is not None:
            scores = scores + self.recency_bias(x, dist).view(b, self.hkv, g, s, -1)
        probs = torch.softmax(scores, dim=-1).view(b, self.hkv, g * s, -1)
        out = torch.matmul(probs, v).view(b, self.h, s, self.dh)
        out = out.transpose(1, 2).reshape(b, s, self.h * self.dh)
        return self.o(out), k, v


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.gate = nn.Linear(cfg.hidden_size, cfg.ffn_size, bias=False)
        self.up = nn.Linear(cfg.hidden_size, cfg.ffn_size, bias=False)
        self.down = nn.Linear(cfg.ffn_size, cfg.hidden_size, bias=False)

    def forward(self, x):
        return self.down(F.silu(self.gate(x)) * self.up(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, mask, past_k, past_v, dist=None):
        a, k, v = self.attn(self.attn_norm(x), cos, sin, mask, past_k, past_v, dist)
        x = x + a
        return x + self.mlp(self.mlp_norm(x)), k, v


def gate_from_logit(logit):
    """sigmoid stretched so that below 1/6 it is exactly 0 and above 5/6 exactly 1:
    a gate that is merely small would still nudge decisions near the threshold."""
    return (1.5 * torch.sigmoid(logit) - 0.25).clamp(0.0, 1.0)


class Decoder(nn.Module):
    """A Llama-style stack, and optionally a side branch: `side_layers` fresh blocks
    that read the raw input embeddings (and with `side_reads_stack` the stack's
    normed output) and whose residual update is added to the stack's output,
    before the final norm or with `side_after_norm` after it. train_tiny.py grows
    one on a trained, frozen stack to learn the copies the stack could not (a kit
    colour found by team name, the latest frame's minutes left). With `side_gate`
    the branch also says where it applies (answers only), and elsewhere adds
    exactly nothing. The shipped cocaster-tiny has one since session 13."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.num_layers))
        self.side_blocks = nn.ModuleList(Block(side_config(cfg)) for _ in range(cfg.side_layers))
        if cfg.side_reads_stack:
            self.side_in = nn.Linear(cfg.hidden_size, cfg.hidden_size, bias=False)
        if cfg.side_gate:
            self.side_gate_norm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
            self.side_gate = nn.Linear(cfg.hidden_size, 1)
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def rope(self, position_ids):
        freqs = position_ids.unsqueeze(-1).float() * self.inv_freq
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)

    def run(self, inputs_embeds, cos, sin, mask, past, dist=None):
        """Both stacks over one mask; returns logits and the present (key, value) per cache layer."""
        x, present = inputs_embeds, []
        frozen = not self.blocks[0].attn.o.weight.requires_grad   # a frozen stack needs no graph
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            for block, (pk, pv) in zip(self.blocks, past):
                x, k, v = block(x, cos, sin, mask, pk, pv, dist if self.cfg.recency else None)
                present.append((k, v))
        normed = self.norm(x)
        y = y0 = inputs_embeds + self.side_in(normed) if self.cfg.side_reads_stack else inputs_embeds
        for block, (pk, pv) in zip(self.side_blocks, past[len(self.blocks):]):
            y, k, v = block(y, cos, sin, mask, pk, pv, dist if self.cfg.side_recency else None)
            present.append((k, v))
        if self.side_blocks:
            self.stack_hidden = x   # training reads the stack's own answer here (train_tiny --side_anchor)
            update = y - y0
            base = normed if self.cfg.side_after_norm else x
            self.ungated_hidden = base + update   # training's copy drill reads the branch ungated at frame slots
            if self.cfg.side_gate:
                self.gate_logit = self.side_gate(self.side_gate_norm(y)).squeeze(-1)
                update = update * gate_from_logit(self.gate_logit).unsqueeze(-1)
            if self.cfg.side_after_norm:
                return self.lm_head(base + update), present
            x = x + update
            return self.lm_head(self.norm(x)), present
        return self.lm_head(normed), present

    def forward(self, inputs_embeds, attention_mask, position_ids, past):
        """past: list of (key, value) per cache layer. Returns logits and the new list."""
        s = inputs_embeds.shape[1]
        p = past[0][0].shape[2]
        cos, sin = self.rope(position_ids)
        # Causal + padding mask built from shapes, so it exports with dynamic axes.
        q_pos = torch.arange(s).unsqueeze(1) + p
        k_pos = torch.arange(attention_mask.shape[1]).unsqueeze(0)
        allowed = (k_pos <= q_pos).unsqueeze(0) & (attention_mask.unsqueeze(1) > 0)
        mask = torch.zeros(allowed.shape, dtype=inputs_embeds.dtype).masked_fill(~allowed, torch.finfo(inputs_embeds.dtype).min)
        # Cache positions, as the engine's position_ids are: distance back in tokens.
        dist = token_distance(q_pos, k_pos, inputs_embeds.dtype) if self.cfg.needs_distance else None
        return self.run(inputs_embeds, cos, sin, mask.unsqueeze(1), past, dist)   # mask [B,1,S,T]

    def empty_past(self, batch: int = 1):
        z = torch.zeros(batch, self.cfg.num_kv_heads, 0, self.cfg.head_dim)
        return [(z, z) for _ in range(self.cfg.cache_layers)]


class FrameEncoder(nn.Module):
    """Small CNN; one global (CLS-like) token plus a grid of average-pooled tokens,
    then the MLP connector into the decoder's width."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        layers, c_in = [], 3
        for c in cfg.encoder_channels:
            layers += [nn.Conv2d(c_in, c, 3, stride=2, padding=1), nn.GroupNorm(1, c), nn.GELU()]
            c_in = c
        self.features = nn.Sequential(*layers)
        fm = cfg.image_size
        for _ in cfg.encoder_channels:
            fm = (fm + 1) // 2
        self.grid_pool = nn.AvgPool2d(fm // cfg.grid, stride=fm // cfg.grid)
        self.feature_size = fm
        self.width = c_in
        self.connector = nn.Sequential(nn.Linear(c_in, cfg.hidden_size), nn.GELU(), nn.Linear(cfg.hidden_size, cfg.hidden_size))

    def tokens(self, pixel_values):
        """Frame tokens before the connector: [N, K, C]."""
        f = self.features(pixel_values)
        global_token = f.mean(dim=(2, 3)).unsqueeze(1)
        grid = self.grid_pool(f).flatten(2).transpose(1, 2)
        return torch.cat([global_token, grid], dim=1)

    def forward(self, pixel_values):
        return self.connector(self.tokens(pixel_values))
