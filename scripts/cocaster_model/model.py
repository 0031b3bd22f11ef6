"""Every module of cocaster's model family, and of the shipped cocaster-tiny.

Shapes follow the ONNX package contract (see export.py):
  vision:  pixel_values [N,3,H,W] -> frame embeddings [N,K,D]
  embed:   input_ids [B,S] -> inputs_embeds [B,S,D]
  decoder: inputs_embeds [B,S,D], attention_mask [B,C+S], position_ids [B,S],
           past (key, value) per layer [B,Hkv,C,Dh] (a buffer: slots the mask hides are
           unused) -> logits [B,1,V] (the last position), present [B,Hkv,S,Dh] (the new
           positions only): Decoder.forward_append, the "append" cache I/O

cocaster-tiny = VisionTower (Reader with its LetterReader, then Connector) and a
Decoder (Llama-style stack plus the gated answer branch); Streamer is the same
connector + decoder on cached reader features, as training sees them.
FrameEncoder is the plain pooled CNN of the random test fixtures.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

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
    grid: int = 3  # FrameEncoder: grid x grid pooled tokens + 1 global token per frame
    frame_tokens: int = 0  # set for the Reader (5 tokens a frame)
    # The answer branch (see Decoder): blocks beside the stack, their KV cache after the stack's.
    side_layers: int = 0
    side_ffn_size: int = 0  # 0 = ffn_size
    # Only the side-branch test fixture (tiny-random-side) sets this: its branch is the
    # first, plain form (no gate, no stack input, no recency, added before the final
    # norm); its golden ONNX bytes were made with it.
    side_plain: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_heads

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
        # Packages exported before the branch options were folded into one form name
        # them one by one: the shipped branch has all four on, the fixture's none.
        old = [d.pop(k) for k in ("side_gate", "side_reads_stack", "side_recency", "side_after_norm") if k in d]
        assert not d.pop("recency", False), "no package has a recency penalty in the stack"
        assert all(old) or not any(old), f"a branch form that no package uses: {old}"
        if old and d.get("side_layers"):
            d["side_plain"] = not all(old)
        d["encoder_channels"] = tuple(d["encoder_channels"])
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


# ------------------------------------------------------------------ decoder
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


@dataclass
class AppendMask:
    """The exported decoder's masks (Decoder.forward_append): additive [B,1,1,C] over
    the past buffer's slots, [1,1,S,S] causal over the new positions; and the recency
    distances [S,C] and [S,S] (None without the answer branch)."""
    past: torch.Tensor
    new: torch.Tensor
    dist_past: torch.Tensor | None
    dist_new: torch.Tensor | None

    def rows(self, idx: torch.Tensor) -> "AppendMask":
        """The masks of the query rows idx only (the past mask is the same for every row)."""
        pick = (lambda d: None if d is None else d.index_select(0, idx))
        return AppendMask(self.past, self.new.index_select(2, idx), pick(self.dist_past), pick(self.dist_new))


def row_max(t):
    """Max over the last axis, keeping it; over an empty axis (an empty cache) an empty
    axis, as onnxruntime's ReduceMax gives: joined to the other part's maximum (and
    sums likewise), it drops out."""
    return t.amax(-1, keepdim=True) if t.shape[-1] else t[..., :0]


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Attention(nn.Module):
    """Grouped-query attention with RoPE. With `recency`, a learnt penalty of slope x
    (tokens back), the slope per head computed by each query from its hidden state
    (zero at start): answers can read the latest frame while other positions keep
    the long view (the answer branch's heads have it)."""

    def __init__(self, cfg: ModelConfig, recency: bool = False):
        super().__init__()
        self.h, self.hkv, self.dh = cfg.num_heads, cfg.num_kv_heads, cfg.head_dim
        self.q = nn.Linear(cfg.hidden_size, self.h * self.dh, bias=False)
        self.k = nn.Linear(cfg.hidden_size, self.hkv * self.dh, bias=False)
        self.v = nn.Linear(cfg.hidden_size, self.hkv * self.dh, bias=False)
        self.o = nn.Linear(self.h * self.dh, cfg.hidden_size, bias=False)
        if recency:
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

    def forward(self, x, cos, sin, mask, past_k, past_v, dist=None, rows=None):
        """mask: additive float [B,1,S,T] (export, live loop), or for training on a
        whole sequence without past a boolean [S,S], True where a key is hidden."""
        if isinstance(mask, AppendMask):
            return self.forward_append(x, cos, sin, mask, past_k, past_v, rows)
        if mask.dtype == torch.bool:
            return self.forward_train(x, cos, sin, mask, dist)
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

    def forward_append(self, x, cos, sin, mask: AppendMask, past_k, past_v, rows=None):
        """The same math for the exported graph: the past is read where it lies (a
        buffer the engine appends to) and never concatenated; scores over it and over
        the new positions meet only in the softmax, which is taken in two parts (one
        maximum, one sum) so that nothing of size O(cache) is copied or sliced, and
        divided after the values are summed. Returns the new positions' keys and
        values, and the output of the query rows `rows` only when given (the last
        layer: its output is read at the logits' positions alone)."""
        b, s, _ = x.shape
        q, k, v = self.project(x, cos, sin)
        if rows is not None:
            q, x, mask = q.index_select(2, rows), x.index_select(1, rows), mask.rows(rows)
        g, n = self.h // self.hkv, q.shape[2]
        qg = q.reshape(b, self.hkv, g * n, self.dh)
        # Shapes as -1, never as the past's length: a 0 in an ONNX Reshape means "keep
        # that dimension", and an empty cache has length 0.
        scores_past = (torch.matmul(qg, past_k.transpose(2, 3)) / math.sqrt(self.dh)).view(b, self.hkv, g, n, -1) + mask.past.unsqueeze(1)
        scores_new = (torch.matmul(qg, k.transpose(2, 3)) / math.sqrt(self.dh)).view(b, self.hkv, g, n, -1) + mask.new.unsqueeze(1)
        if mask.dist_past is not None and hasattr(self, "recency"):   # the answer branch's heads only
            scores_past = scores_past + self.recency_bias(x, mask.dist_past).view(b, self.hkv, g, n, -1)
            scores_new = scores_new + self.recency_bias(x, mask.dist_new).view(b, self.hkv, g, n, -1)
        top = torch.cat([row_max(scores_past), row_max(scores_new)], -1).amax(-1, keepdim=True)
        e_past, e_new = torch.exp(scores_past - top), torch.exp(scores_new - top)
        total = torch.cat([e_past.sum(-1, keepdim=True), e_new.sum(-1, keepdim=True)], -1).sum(-1, keepdim=True).view(b, self.hkv, g * n, 1)
        out = (torch.matmul(e_past.view(b, self.hkv, g * n, -1), past_v) + torch.matmul(e_new.view(b, self.hkv, g * n, -1), v)) / total
        out = out.view(b, self.h, n, self.dh).transpose(1, 2).reshape(b, n, self.h * self.dh)
        return self.o(out), k, v

    def forward_train(self, x, cos, sin, hidden, dist=None):
        """The same math for training: a boolean mask instead of an additive [S, T]
        float one cuts the S x S memory traffic under bf16 autocast."""
        b, s, _ = x.shape
        q, k, v = self.project(x, cos, sin)
        g = self.h // self.hkv
        kr, vr = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)
        scores = torch.matmul(q * (1.0 / math.sqrt(self.dh)), kr.transpose(2, 3))
        if dist is not None:
            scores = scores + self.recency_bias(x, dist)
        probs = torch.softmax(scores.masked_fill(hidden, float("-inf")), dim=-1).to(vr.dtype)
        out = torch.matmul(probs, vr).transpose(1, 2).reshape(b, s, self.h * self.dh)
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
    def __init__(self, cfg: ModelConfig, recency: bool = False):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
        self.attn = Attention(cfg, recency)
        self.mlp_norm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
        self.mlp = MLP(cfg)

    def forward(self, x, cos, sin, mask, past_k, past_v, dist=None, rows=None):
        """With rows (the export's last layer), the output of those positions only."""
        a, k, v = self.attn(self.attn_norm(x), cos, sin, mask, past_k, past_v, dist, rows)
        x = (x if rows is None else x.index_select(1, rows)) + a
        return x + self.mlp(self.mlp_norm(x)), k, v


def gate_from_logit(logit):
    """sigmoid stretched so that below 1/6 it is exactly 0 and above 5/6 exactly 1:
    a gate that is merely small would still nudge decisions near the threshold."""
    return (1.5 * torch.sigmoid(logit) - 0.25).clamp(0.0, 1.0)


@dataclass
class BranchOut:
    """What training reads of the answer branch besides the logits."""
    gate_logit: torch.Tensor      # [B, S]: the gate's loss is trained on it
    ungated_logits: torch.Tensor  # [B, S, V]: the copy drill reads the branch where the gate is shut


class Decoder(nn.Module):
    """A Llama-style stack and, with side_layers, the answer branch: blocks that
    read the raw input embeddings (the frame tokens' fact words) plus a linear map
    of the stack's normed output, whose heads learn recency slopes, and whose
    update is added after the final norm (the stack's residual stream has a norm
    of ~1,000-1,800 at answers, its normed output ~12), scaled by a gate they
    compute: trained open at answer tokens and exactly shut elsewhere, so speak
    decisions and self lines are the stack's alone."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        branch = replace(cfg, ffn_size=cfg.side_ffn_size or cfg.ffn_size)
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.num_layers))
        self.side_blocks = nn.ModuleList(Block(branch, not cfg.side_plain) for _ in range(cfg.side_layers))
        if cfg.side_layers and not cfg.side_plain:
            self.side_in = nn.Linear(cfg.hidden_size, cfg.hidden_size, bias=False)
            self.side_gate_norm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
            self.side_gate = nn.Linear(cfg.hidden_size, 1)
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_eps)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    @property
    def answer_branch(self) -> bool:
        return self.cfg.side_layers > 0 and not self.cfg.side_plain

    def rope(self, position_ids):
        freqs = position_ids.unsqueeze(-1).float() * self.inv_freq
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos().unsqueeze(1), emb.sin().unsqueeze(1)

    def run(self, inputs_embeds, cos, sin, mask, past, dist=None, logits_at=None):
        """Stack and branch over one mask: (logits, present (key, value) per cache
        layer, BranchOut or None). With logits_at [N] (the export: forward_append),
        logits of those positions only, and the last layer computes the output of
        those positions alone (the keys and values of all): nothing else reads it."""
        x, present = inputs_embeds, []
        last = self.side_blocks[-1] if self.cfg.side_layers else self.blocks[-1]
        frozen = not self.blocks[0].attn.o.weight.requires_grad   # a frozen stack needs no graph
        with torch.set_grad_enabled(torch.is_grad_enabled() and not frozen):
            for block, (pk, pv) in zip(self.blocks, past):
                x, k, v = block(x, cos, sin, mask, pk, pv, rows=logits_at if block is last else None)
                present.append((k, v))
        normed = self.norm(x)
        if not self.cfg.side_layers:
            return self.lm_head(normed), present, None
        y = y0 = inputs_embeds + self.side_in(normed) if self.answer_branch else inputs_embeds
        for block, (pk, pv) in zip(self.side_blocks, past[len(self.blocks):]):
            y, k, v = block(y, cos, sin, mask, pk, pv, dist if self.answer_branch else None, logits_at if block is last else None)
            present.append((k, v))
        if logits_at is not None:
            y0, x, normed = (t.index_select(1, logits_at) for t in (y0, x, normed))
        update = y - y0
        if not self.answer_branch:
            return self.lm_head(self.norm(x + update)), present, None
        gate_logit = self.side_gate(self.side_gate_norm(y)).squeeze(-1)
        gated = update * gate_from_logit(gate_logit).unsqueeze(-1)
        ungated = BranchOut(gate_logit, self.lm_head(normed + update)) if torch.is_grad_enabled() else None
        return self.lm_head(normed + gated), present, ungated

    def forward(self, inputs_embeds, attention_mask, position_ids, past, append: bool = False, logits_index=None):
        """past: list of (key, value) per cache layer. Returns logits and the new list
        (with append, forward_append's: what the exported graph computes)."""
        if append:
            return self.forward_append(inputs_embeds, attention_mask, position_ids, past, logits_index)
        s = inputs_embeds.shape[1]
        p = past[0][0].shape[2]
        cos, sin = self.rope(position_ids)
        # Causal + padding mask built from shapes, so it exports with dynamic axes.
        q_pos = torch.arange(s).unsqueeze(1) + p
        k_pos = torch.arange(attention_mask.shape[1]).unsqueeze(0)
        allowed = (k_pos <= q_pos).unsqueeze(0) & (attention_mask.unsqueeze(1) > 0)
        mask = torch.zeros(allowed.shape, dtype=inputs_embeds.dtype).masked_fill(~allowed, torch.finfo(inputs_embeds.dtype).min)
        # Cache positions, as the engine's position_ids are: distance back in tokens.
        dist = token_distance(q_pos, k_pos, inputs_embeds.dtype) if self.answer_branch else None
        logits, present, _ = self.run(inputs_embeds, cos, sin, mask.unsqueeze(1), past, dist)   # mask [B,1,S,T]
        return logits, present

    def forward_append(self, inputs_embeds, attention_mask, position_ids, past, logits_index=None):
        """The exported decoder (the "append" cache I/O): past per cache layer is a
        buffer [B,Hkv,C,Dh] whose first slots hold positions 0.. (attention_mask 1) and
        whose other slots are unused (0); the new positions sit at position_ids.
        Returns the logits [B,N,V] of the positions in logits_index [N] (the last one
        by default) and the new keys and values only.
        Equal to forward() on the same cache: the past slots are positions, so the
        causal mask over them is the attention mask and distances come from positions."""
        s, c = inputs_embeds.shape[1], past[0][0].shape[2]
        cos, sin = self.rope(position_ids)
        neg = torch.tensor(torch.finfo(inputs_embeds.dtype).min, dtype=inputs_embeds.dtype)
        zeros = torch.zeros((), dtype=inputs_embeds.dtype)
        mask_past = torch.where(attention_mask[:, :c] > 0, zeros, neg)[:, None, None, :]
        q_pos = position_ids[0].unsqueeze(1)
        new_ok = (torch.arange(s).unsqueeze(0) <= torch.arange(s).unsqueeze(1)) & (attention_mask[:, c:] > 0).unsqueeze(1)
        mask_new = torch.where(new_ok, zeros, neg).unsqueeze(1)
        dist_past = dist_new = None
        if self.answer_branch:
            dist_past = token_distance(q_pos, torch.arange(c).unsqueeze(0), inputs_embeds.dtype)
            dist_new = token_distance(q_pos, position_ids[0].unsqueeze(0), inputs_embeds.dtype)
        masks = AppendMask(mask_past, mask_new, dist_past, dist_new)
        if logits_index is None:
            logits_index = torch.tensor([s - 1])
        logits, present, _ = self.run(inputs_embeds, cos, sin, masks, past, logits_at=logits_index)
        return logits, present

    def forward_train(self, inputs_embeds) -> tuple[torch.Tensor, BranchOut | None]:
        """One whole sequence from position 0, no cache: the fast attention path."""
        s = inputs_embeds.shape[1]
        pos = torch.arange(s)
        cos, sin = self.rope(pos.unsqueeze(0))
        hidden = torch.ones(s, s, dtype=torch.bool).triu(1)
        dist = token_distance(pos.unsqueeze(1), pos.unsqueeze(0)) if self.answer_branch else None
        logits, _, branch = self.run(inputs_embeds, cos, sin, hidden, self.empty_past(), dist)
        return logits, branch

    def empty_past(self, batch: int = 1):
        z = torch.zeros(batch, self.cfg.num_kv_heads, 0, self.cfg.head_dim)
        return [(z, z) for _ in range(self.cfg.cache_layers)]


class KvShift(nn.Module):
    """The exported kv_shift.onnx: one cache layer compacted. Keeps the positions
    `keep` of its keys and values and moves each kept key back by `delta` positions
    (the evicted positions before it), so positions stay contiguous. RoPE is already
    in the cached keys: moving a key by -delta is one more rotation by -delta
    (rotations compose), done on the provider that holds the cache."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, cfg.head_dim, 2).float() / cfg.head_dim))
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, key, value, keep, delta):
        """key, value [B,Hkv,T,Dh]; keep [K] int64 positions; delta [K] int64 -> [B,Hkv,K,Dh] each."""
        k = key.index_select(2, keep)
        freqs = -delta.float().unsqueeze(-1) * self.inv_freq
        emb = torch.cat([freqs, freqs], dim=-1)
        return k * emb.cos() + rotate_half(k) * emb.sin(), value.index_select(2, keep)


# ------------------------------------------------------------------ test fixtures' frame encoder
class FrameEncoder(nn.Module):
    """Small CNN; one global (CLS-like) token plus a grid of average-pooled tokens,
    then the MLP connector into the decoder's width (make_fixture.py's models)."""

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
        self.connector = nn.Sequential(nn.Linear(c_in, cfg.hidden_size), nn.GELU(), nn.Linear(cfg.hidden_size, cfg.hidden_size))

    def forward(self, pixel_values):
        f = self.features(pixel_values)
        global_token = f.mean(dim=(2, 3)).unsqueeze(1)
        grid = self.grid_pool(f).flatten(2).transpose(1, 2)
        return self.connector(torch.cat([global_token, grid], dim=1))


# ------------------------------------------------------------------ cocaster-tiny's vision side
# Why a reader and not a pooled feature map: everything a commentator needs is on
# screen (names, score, clock, banners), but it is small text in fixed places.
# Average pooling smeared the letters (team names read right 18-32 % of the time).
# Like VideoLLM-online's frozen CLIP + trained projector, the reader is trained
# first on the world's frame labels and frozen; the connector is trained with the
# decoder on its cached outputs.

def reader_heads(n_names: int, n_colours: int) -> dict[str, int]:
    """Heads of the reader: name -> classes (0 = 2-D regression)."""
    return {
        "arena": 2, "name_h": n_names, "name_a": n_names, "score_h": 10, "score_a": 10,
        "colour_h": n_colours, "colour_a": n_colours, "possession": 3, "phase": 5,
        "goal_banner": 2, "goal_team": 3, "ht_card": 2, "ft_card": 2, "replay": 2, "kickoff": 2,
        "clock": 92, "min_t": 10, "min_o": 10, "left_t": 10, "left_o": 10,
        "l0_h": 26, "l1_h": 26, "l2_h": 26, "l0_a": 26, "l1_a": 26, "l2_a": 26, "ball": 0,
    }


# Which reader outputs feed which decoder token (the letters only train the reader).
TOKEN_GROUPS = {
    "team_h": ("name_h", "score_h", "colour_h"),
    "team_a": ("name_a", "score_a", "colour_a"),
    "state": ("clock", "min_t", "min_o", "left_t", "left_o", "phase", "possession", "goal_banner",
              "goal_team", "ht_card", "ft_card", "replay", "kickoff", "ball"),
    "scene": ("arena",),
}
FEATURE_HEADS = tuple(h for g in TOKEN_GROUPS.values() for h in g)
LETTER_HEADS = tuple(f"l{j}_{side}" for side in "ha" for j in range(3))
Z_DIM = 384


def feature_slices(heads: dict[str, int]) -> dict[str, slice]:
    """Column range of each head in the cached feature vector (then z at the end)."""
    out, at = {}, 0
    for h in FEATURE_HEADS:
        n = heads[h] or 2
        out[h] = slice(at, at + n)
        at += n
    out["z"] = slice(at, at + Z_DIM)
    return out


def _conv(c_in: int, c_out: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1), nn.GroupNorm(1, c_out), nn.GELU()]


class LetterReader(nn.Module):
    """The scoreboard's six letters, read at full resolution.

    The trunk's board path starts after the stride-4 stem, where a 5-px letter is
    about one cell: it spelled the home name right on 0.83 of frames, the away name
    on 0.91 (C/G/O, U/L, F/P, W/N mixed up), and every goal the model then missed
    named a misread team. This path reads the top band's pixels itself; the trunk
    and its z are untouched, so only the name distributions the connector gets change."""

    def __init__(self, widths: tuple[int, ...], fc: int, image_size: int = 128, band: int = 32):
        super().__init__()
        self.band = band * image_size // 128
        layers, c_in = [], 3
        for i, c in enumerate(widths):   # full resolution first, then stride 2: a letter ends up ~one cell
            layers += _conv(c_in, c, 1 if i == 0 else 2)
            c_in = c
        self.convs = nn.Sequential(*layers)
        down = 2 ** (len(widths) - 1)
        self.fc = nn.Sequential(nn.Linear(c_in * (self.band // down) * (image_size // down), fc), nn.GELU())
        self.heads = nn.ModuleDict({h: nn.Linear(fc, 26) for h in LETTER_HEADS})

    def forward(self, pixel_values: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.fc(self.convs(pixel_values[:, :, : self.band]).flatten(1))
        return {k: head(h) for k, head in self.heads.items()}


class Reader(nn.Module):
    """A CNN that reads an arena frame: the scoreboard band flattened at stride 8,
    the whole frame at stride 16 (positions kept), linear heads for every on-screen
    attribute. Once a LetterReader is attached it replaces the trunk's letter heads."""

    def __init__(self, heads: dict[str, int], lexicon: torch.Tensor, image_size: int = 128):
        """lexicon: [names, 3] letter indices of each team's on-screen abbreviation."""
        super().__init__()
        self.head_sizes = dict(heads)
        self.register_buffer("lexicon", lexicon.long(), persistent=False)
        self.stem = nn.Sequential(*_conv(3, 24, 2), *_conv(24, 48, 2))          # 1/4
        # Letters are ~6 px wide at 128 px: one stride-8 cell each, 96 channels to tell them apart.
        self.board = nn.Sequential(*_conv(48, 64, 1), *_conv(64, 96, 2))      # scoreboard band
        self.board_rows = image_size // 16                                     # top 1/4 of the frame
        self.deep = nn.Sequential(*_conv(48, 64, 2), *_conv(64, 64, 2))        # 1/16
        q = image_size // 4
        self.board_fc = nn.Linear(96 * (self.board_rows // 2) * (q // 2), 320)
        self.deep_fc = nn.Linear(64 * (image_size // 16) ** 2, 192)
        self.mix = nn.Sequential(nn.LayerNorm(512), nn.Linear(512, Z_DIM), nn.GELU())
        self.heads = nn.ModuleDict({k: nn.Linear(Z_DIM, v or 2) for k, v in heads.items()})
        self.letters: LetterReader | None = None

    def trunk(self, pixel_values: torch.Tensor) -> torch.Tensor:
        s = self.stem(pixel_values)
        b = self.board(s[:, :, : self.board_rows])
        d = self.deep(s)
        return self.mix(torch.cat([F.gelu(self.board_fc(b.flatten(1))), F.gelu(self.deep_fc(d.flatten(1)))], 1))

    def forward(self, pixel_values: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.trunk(pixel_values)
        out = {k: h(z) for k, h in self.heads.items()}
        out["z"] = z
        if self.letters is not None:
            out.update(self.letters(pixel_values))
        return out

    def name_logits(self, out: dict[str, torch.Tensor], side: str) -> torch.Tensor:
        """A team name read as its three letters, spelled against the list of names:
        log p(name) = sum of the letters' log-probabilities. Letters generalise to
        every name; a 174-way name head learnt from ~10 teams per name did not."""
        logp = torch.stack([torch.log_softmax(out[f"l{j}_{side}"], -1) for j in range(3)], 1)  # [N,3,26]
        idx = self.lexicon.t().unsqueeze(0).expand(logp.shape[0], -1, -1)                     # [N,3,names]
        return torch.gather(logp, 2, idx).sum(1)

    def features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """What the decoder side sees of a frame: head distributions + z."""
        out = self(pixel_values)
        out["name_h"], out["name_a"] = self.name_logits(out, "h"), self.name_logits(out, "a")
        parts = [out[h] if self.head_sizes[h] == 0 else torch.softmax(out[h], -1) for h in FEATURE_HEADS]
        return torch.cat(parts + [out["z"]], 1)


class Connector(nn.Module):
    """Reader features [N, F] -> K=5 decoder tokens [N, 5, D]:
    home team, away team, acting team, match state, scene.

    What a line must say (a team name, a score digit, a kit colour, minutes left)
    goes in as the expected *token embedding* of that word under the reader's
    distribution, e.g. sum_n p(name_h = n) * E[" " + name n]. With the output head
    tied to E, saying the name is copying a vector, one skill for all 174 names; a
    learnt map from a 174-way distribution to tokens produced blends like
    "Centaides". Names, digits and colours are distinct token classes, so one
    token can carry one of each: the text before the slot says which class comes
    next. The acting team is whoever a line is about right now: the scorer while
    the goal banner shows, else the side in possession.
    """

    def __init__(self, heads: dict[str, int], hidden: int, embed: nn.Embedding,
                 name_ids: list[int], digit_ids: list[int], colour_ids: list[int]):
        super().__init__()
        self.sl = feature_slices(heads)
        self.embed = embed  # the decoder's (tied) token embedding, shared
        self.register_buffer("name_ids", torch.tensor(name_ids), persistent=False)
        self.register_buffer("digit_ids", torch.tensor(digit_ids), persistent=False)
        self.register_buffer("colour_ids", torch.tensor(colour_ids), persistent=False)
        width = lambda names: sum(self.sl[n].stop - self.sl[n].start for n in names)  # noqa: E731
        # Team tokens are only words + a small role vector: with a learnt map of the
        # distributions beside the word, or a role vector of norm 8, names stayed at
        # chance; a toy decoder copies a name in 150 steps when the word dominates.
        self.side = nn.Parameter(torch.randn(3, hidden) * 0.01)
        self.state = nn.Linear(width(TOKEN_GROUPS["state"]), hidden)
        self.scene = nn.Linear(width(TOKEN_GROUPS["scene"]), hidden)
        self.free = nn.Sequential(nn.Linear(Z_DIM, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.gain = nn.Parameter(torch.full((4,), 3.0))  # learnt word scale (trained to ~1.9 on rows of norm 2.5)
        with torch.no_grad():
            for lin in (self.state, self.scene):
                lin.weight.mul_(0.3)

    def _cat(self, f: torch.Tensor, names) -> torch.Tensor:
        return torch.cat([f[:, self.sl[n]] for n in names], 1)

    def _word(self, p: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        return p @ self.embed.weight[ids]

    def _team(self, f: torch.Tensor, side: int, name: torch.Tensor) -> torch.Tensor:
        """Name + score digit + kit colour of one side, as words."""
        h = "ha"[side]
        words = name + self._word(f[:, self.sl[f"score_{h}"]], self.digit_ids) \
            + self._word(f[:, self.sl[f"colour_{h}"]], self.colour_ids)
        return self.gain[side] * words + self.side[side]

    def forward(self, f: torch.Tensor) -> torch.Tensor:
        g = self.gain
        p = lambda h: f[:, self.sl[h]]  # noqa: E731
        name_h, name_a = self._word(p("name_h"), self.name_ids), self._word(p("name_a"), self.name_ids)
        home, away = self._team(f, 0, name_h), self._team(f, 1, name_a)
        banner, goal_team, poss = p("goal_banner")[:, 1:2], p("goal_team"), p("possession")
        w_home = banner * goal_team[:, 1:2] + (1 - banner) * poss[:, 1:2]   # class 0 = nobody
        w_away = banner * goal_team[:, 2:3] + (1 - banner) * poss[:, 2:3]
        acting = w_home * name_h + w_away * name_a
        acting = acting + self._word(p("left_o"), self.digit_ids)   # minutes-left ones digit
        act = g[2] * acting + self.side[2]
        state = g[3] * self._word(p("left_t"), self.digit_ids) + self.state(self._cat(f, TOKEN_GROUPS["state"]))
        scene = self.scene(self._cat(f, TOKEN_GROUPS["scene"])) + self.free(f[:, self.sl["z"]])
        return torch.stack([home, away, act, state, scene], 1)


class VisionTower(nn.Module):
    """The exported vision_encoder.onnx: pixels -> reader -> connector -> tokens."""

    def __init__(self, reader: Reader, connector: Connector):
        super().__init__()
        self.reader, self.connector = reader, connector

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.connector(self.reader.features(pixel_values))


FACT_NORM = 2.5   # about the norm the other token rows learn (2.4)


class Streamer(nn.Module):
    """Connector + decoder on cached (frozen) reader features, as training sees them.
    The LM head is tied to the token embedding, which the connector also reads.

    The rows of the fact words (team names, digits, kit colours) are fixed, mutually
    orthogonal: learnt ones collapsed (mean cosine 0.47 between names, 0.80 between
    colours after 2,200 steps), so a copied name came out as a blend of names. They
    are a persistent buffer, computed once at initialisation: a QR decomposition
    differs in the last bits between BLAS builds, and the package must re-export
    byte-identically anywhere."""

    def __init__(self, cfg: ModelConfig, heads: dict[str, int], fact_ids: dict[str, list[int]]):
        super().__init__()
        self.cfg = cfg
        self.decoder = Decoder(cfg)
        self.decoder.lm_head.weight = self.decoder.embed.weight
        self.connector = Connector(heads, cfg.hidden_size, self.decoder.embed, **fact_ids)
        self.register_buffer("fact_ids", torch.tensor(sum(fact_ids.values(), [])), persistent=False)
        q, _ = torch.linalg.qr(torch.randn(cfg.hidden_size, len(self.fact_ids), generator=torch.Generator().manual_seed(7)))
        self.register_buffer("fact_embed", q.t().contiguous() * FACT_NORM)

    @classmethod
    def load(cls, path: str, heads: dict[str, int], fact_ids: dict[str, list[int]]) -> tuple["Streamer", int]:
        """A training checkpoint in eval mode, built from its own config; and its step."""
        ck = torch.load(path, map_location="cpu")
        model = cls(ModelConfig.from_dict(ck["cfg"]), heads, fact_ids)
        model.load_state_dict(ck["model"])
        model.pin_facts()
        return model.eval(), ck["step"]

    @torch.no_grad()
    def pin_facts(self):
        """Put the fixed fact rows back (after init, loading, every optimiser step)."""
        self.decoder.embed.weight[self.fact_ids] = self.fact_embed.to(self.decoder.embed.weight.dtype)

    def forward(self, ids, fidx, feats) -> tuple[torch.Tensor, BranchOut | None]:
        """ids: token id or -1 at frame slots; fidx: frame*K + slot at frame slots, else -1."""
        x = self.decoder.embed(ids.clamp(min=0).long()).clone()
        is_frame = fidx >= 0
        frame_tok = self.connector(feats.float()).reshape(-1, self.cfg.hidden_size)
        x[is_frame] = frame_tok[fidx[is_frame].long()].to(x.dtype)
        logits, branch = self.decoder.forward_train(x.unsqueeze(0))
        return logits[0], branch
