"""The package's ONNX graphs, written from checkpoint tensors (see onnx_builder).

decoder_model_merged.onnx: Llama with KV cache, Optimum's input/output names, one
tensor at a time with LoRA merged (W + alpha/r * B A) just before it is written.
vision_encoder.onnx: SigLIP's vision tower, its attention-pooling head, the 3x3
patch grid and the connector. embed_tokens.onnx: the embedding rows (`<v>`, which
has none, is clamped to the last row as VideoLLM-online does). kv_shift.onnx: the
signature of scripts/cocaster_model/export.py's (gather kept positions, rotate keys
back by delta).

Precision: fp32 keeps everything float32. fp16 stores every matrix as float16 and
casts it to float32 in the graph (half the disk; compute stays float32, which the
CPU provider runs fastest). int4 stores the decoder's projections and lm_head as
MatMulNBits (4 bits, symmetric round-to-nearest per block of INT4_BLOCK input
values, scale = max|w| / 7, implicit zero point 8) and everything else as fp16.
"""
from __future__ import annotations

import numpy as np
import torch

from .checkpoint import FRAME_GRID, VideoLLMCheckpoint, layer_linears
from onnx import TensorProto

from .onnx_builder import FLOAT, INT64, MS, GraphBuilder

INT4_BLOCK = 32


def merged(ckpt: VideoLLMCheckpoint, module: str) -> np.ndarray:
    """[out, in] float32 with the adapter's LoRA merged in (numpy; the reference merges in torch)."""
    w = ckpt.base(f"{module}.weight")
    pair = ckpt.lora(module)
    if pair is not None:
        a, b = pair
        delta = b @ a
        delta *= np.float32(ckpt.lora_scale)
        w += delta  # in place: two copies of the largest matrix at most
    return w


def quantize_int4(w: np.ndarray, block: int = INT4_BLOCK, rows: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """w [N, K] -> (packed uint8 [N, K/block, block/2], scales float32 [N * K/block]), a few rows at a time."""
    parts = [_quantize_rows(w[i:i + rows], block) for i in range(0, w.shape[0], rows)]
    return np.concatenate([p for p, _ in parts]), np.concatenate([s for _, s in parts])


def _quantize_rows(w: np.ndarray, block: int) -> tuple[np.ndarray, np.ndarray]:
    n, k = w.shape
    pad = -k % block
    wb = np.pad(w, ((0, 0), (0, pad))).reshape(n, -1, block)
    scale = np.abs(wb).max(-1, keepdims=True) / 7.0
    scale[scale == 0] = 1.0
    q = (np.clip(np.rint(wb / scale), -8, 7) + 8).astype(np.uint8)
    packed = q[..., 0::2] | (q[..., 1::2] << 4)
    return packed, scale.reshape(-1).astype(np.float32)


class Weights:
    """How a matrix is stored and multiplied at a precision."""

    def __init__(self, g: GraphBuilder, precision: str):
        self.g, self.precision = g, precision

    def tensor(self, name: str, array: np.ndarray) -> str:
        """A float32 value in the graph; matrices are stored as fp16 below fp32.
        `array` may be a transposed view: it is copied once, in the stored type."""
        if self.precision == "fp32" or array.ndim < 2:
            return self.g.weight(name, array.astype(np.float32, order="C", copy=False))
        return self.g.op("Cast", [self.g.weight(name, array.astype(np.float16, order="C"))], to=FLOAT)

    def linear(self, x: str, name: str, w: np.ndarray, bias: np.ndarray | None = None, quantize: bool = False) -> str:
        """x @ w.T (+ bias); w is [out, in] as checkpoints store it."""
        if quantize and self.precision == "int4":
            packed, scales = quantize_int4(w)
            y = self.g.op("MatMulNBits", [x, self.g.weight(name + ".qweight", packed), self.g.weight(name + ".scales", scales)],
                          domain=MS, K=w.shape[1], N=w.shape[0], bits=4, block_size=INT4_BLOCK)
        else:
            y = self.g.op("MatMul", [x, self.tensor(name, w.T)])
        return self.g.op("Add", [y, self.g.weight(name + ".bias", bias.astype(np.float32))]) if bias is not None else y


def inv_freq(theta: float, head_dim: int) -> np.ndarray:
    # torch computes it as transformers does, so the constant is bit-equal to the reference's.
    return (1.0 / (theta ** (torch.arange(0, head_dim, 2).float() / head_dim))).numpy()


def rotate_half(g: GraphBuilder, x: str, half: int) -> str:
    x1, x2 = g.op("Split", [x, g.const([half, half])], 2, axis=-1)
    return g.op("Concat", [g.op("Neg", [x2]), x1], axis=-1)


def rope(g: GraphBuilder, x: str, cos: str, sin: str, half: int) -> str:
    return g.op("Add", [g.op("Mul", [x, cos]), g.op("Mul", [rotate_half(g, x, half), sin])])


def rms_norm(g: GraphBuilder, x: str, w: str, eps: float) -> str:
    var = g.op("ReduceMean", [g.op("Mul", [x, x])], axes=[-1], keepdims=1)
    inv = g.op("Reciprocal", [g.op("Sqrt", [g.op("Add", [var, g.const(eps, np.float32)])])])
    return g.op("Mul", [w, g.op("Mul", [x, inv])])


def rms_norm_contrib(g: GraphBuilder, x: str, w: str, eps: float) -> str:
    return g.op("SimplifiedLayerNormalization", [x, w], axis=-1, epsilon=eps, stash_type=1)


def contrib_attention(g: GraphBuilder, c, i: int, q: str, k: str, v: str, past, pos: str, caches, seqlens: str, total: str) -> str:
    """RotaryEmbedding on q and k, then GroupQueryAttention (KV heads shared, cache
    concatenated: past [B,Hkv,P,Dh] in, present [B,Hkv,P+S,Dh] out)."""
    cos_cache, sin_cache = caches
    q = g.op("RotaryEmbedding", [q, pos, cos_cache, sin_cache], domain=MS, interleaved=0, num_heads=c.num_heads)
    k = g.op("RotaryEmbedding", [k, pos, cos_cache, sin_cache], domain=MS, interleaved=0, num_heads=c.num_kv_heads)
    return g.op("GroupQueryAttention", [q, k, v, past[0], past[1], seqlens, total],
                [g.name("gqa"), f"present.{i}.key", f"present.{i}.value"], domain=MS,
                num_heads=c.num_heads, kv_num_heads=c.num_kv_heads, scale=float(1 / np.sqrt(c.head_dim)))[0]


def plain_attention(g: GraphBuilder, c, i: int, q: str, k: str, v: str, past, cos: str, sin: str, bias: str, scale: str) -> str:
    """Standard operators: RoPE, the cache concatenated, queries grouped as [B, Hkv, G, S, Dh]
    so K/V are never repeated."""
    hd, half, groups = c.head_dim, c.head_dim // 2, c.num_heads // c.num_kv_heads
    heads = lambda t, n: g.op("Transpose", [g.op("Reshape", [t, g.const([0, 0, n, hd])])], perm=[0, 2, 1, 3])  # noqa: E731
    q, k, v = heads(q, c.num_heads), heads(k, c.num_kv_heads), heads(v, c.num_kv_heads)
    q, k = rope(g, q, cos, sin, half), rope(g, k, cos, sin, half)
    k_all = g.op("Concat", [past[0], k], [f"present.{i}.key"], axis=2)
    v_all = g.op("Concat", [past[1], v], [f"present.{i}.value"], axis=2)
    qg = g.op("Reshape", [q, g.const([0, c.num_kv_heads, groups, -1, hd])])
    kt = g.op("Unsqueeze", [g.op("Transpose", [k_all], perm=[0, 1, 3, 2]), g.const([2])])
    scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [qg, kt]), scale]), bias])
    ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), g.op("Unsqueeze", [v_all, g.const([2])])])
    return g.op("Reshape", [g.op("Transpose", [g.op("Reshape", [ctx, g.const([0, c.num_heads, -1, hd])])], perm=[0, 2, 1, 3]),
                            g.const([0, 0, c.num_heads * hd])])


def write_decoder(ckpt: VideoLLMCheckpoint, path: str, precision: str, ops: str = "plain") -> None:
    """ops: "plain" (standard ONNX operators, every provider) or "contrib" (onnxruntime's
    SimplifiedLayerNormalization, RotaryEmbedding, GroupQueryAttention)."""
    c = ckpt.llama_cfg
    g = GraphBuilder(path)
    W = Weights(g, precision)
    hd = c.head_dim
    x = g.input("inputs_embeds", FLOAT, ["batch", "seq", c.hidden_size])
    mask_in = g.input("attention_mask", INT64, ["batch", "total"])
    pos = g.input("position_ids", INT64, ["batch", "seq"])
    pasts = [(g.input(f"past_key_values.{i}.key", FLOAT, ["batch", c.num_kv_heads, "past", hd]),
              g.input(f"past_key_values.{i}.value", FLOAT, ["batch", c.num_kv_heads, "past", hd])) for i in range(c.num_layers)]

    total = g.op("Gather", [g.op("Shape", [mask_in]), g.const(1)], axis=0)
    if ops == "contrib":
        norm = rms_norm_contrib
        table = np.arange(c.max_position, dtype=np.float32)[:, None] * inv_freq(c.rope_theta, hd)[None]
        caches = (g.weight("cos_cache", np.cos(table)), g.weight("sin_cache", np.sin(table)))
        # GroupQueryAttention takes lengths, not a mask: total kept positions - 1 per row, and the longest.
        seqlens = g.op("Cast", [g.op("Sub", [g.op("ReduceSum", [mask_in, g.const([1])], keepdims=0), g.const(1)])], to=TensorProto.INT32)
        total32 = g.op("Cast", [total], to=TensorProto.INT32)
        attend = lambda i, q, k, v, past: contrib_attention(g, c, i, q, k, v, past, pos, caches, seqlens, total32)  # noqa: E731
    else:
        norm = rms_norm
        # RoPE tables for the new positions: [B, 1, S, Dh].
        freqs = g.op("Mul", [g.op("Unsqueeze", [g.op("Cast", [pos], to=FLOAT), g.const([-1])]), g.const(inv_freq(c.rope_theta, hd), np.float32)])
        emb = g.op("Concat", [freqs, freqs], axis=-1)
        cos = g.op("Unsqueeze", [g.op("Cos", [emb]), g.const([1])])
        sin = g.op("Unsqueeze", [g.op("Sin", [emb]), g.const([1])])
        # Additive mask [B, 1, 1, S, T] from shapes: query i sits at T - S + i and sees keys <= it that the mask keeps.
        seq = g.op("Gather", [g.op("Shape", [x]), g.const(1)], axis=0)
        qpos = g.op("Unsqueeze", [g.op("Range", [g.op("Sub", [total, seq]), total, g.const(1)]), g.const([1])])
        causal = g.op("LessOrEqual", [g.op("Range", [g.const(0), total, g.const(1)]), qpos])
        keep = g.op("Cast", [g.op("Unsqueeze", [mask_in, g.const([1, 2, 3])])], to=TensorProto.BOOL)
        bias = g.op("Where", [g.op("And", [causal, keep]), g.const(0.0, np.float32), g.const(np.finfo(np.float32).min, np.float32)])
        scale = g.const(1.0 / np.sqrt(hd), np.float32)
        attend = lambda i, q, k, v, past: plain_attention(g, c, i, q, k, v, past, cos, sin, bias, scale)  # noqa: E731

    h = x
    for i, (pk, pv) in enumerate(pasts):
        p = f"model.layers.{i}."
        names = layer_linears(i)
        a_in = norm(g, h, W.tensor(p + "input_layernorm.weight", ckpt.base(p + "input_layernorm.weight")), c.rms_eps)
        qkv = [W.linear(a_in, n, merged(ckpt, n), quantize=True) for n in names[:3]]
        ctx = attend(i, *qkv, (pk, pv))
        h = g.op("Add", [h, W.linear(ctx, names[3], merged(ckpt, names[3]), quantize=True)])
        m_in = norm(g, h, W.tensor(p + "post_attention_layernorm.weight", ckpt.base(p + "post_attention_layernorm.weight")), c.rms_eps)
        gate = W.linear(m_in, names[4], merged(ckpt, names[4]), quantize=True)
        up = W.linear(m_in, names[5], merged(ckpt, names[5]), quantize=True)
        act = g.op("Mul", [g.op("Mul", [gate, g.op("Sigmoid", [gate])]), up])
        h = g.op("Add", [h, W.linear(act, names[6], merged(ckpt, names[6]), quantize=True)])
    out = norm(g, h, W.tensor("model.norm.weight", ckpt.base("model.norm.weight")), c.rms_eps)
    # The last position's logits only: the streaming loop reads no others, and on a GPU
    # every position's would be S x 128k floats to copy back per step.
    last = g.op("Slice", [out, g.const([-1]), g.const([np.iinfo(np.int64).max]), g.const([1])])
    W.linear(last, "lm_head", merged(ckpt, "lm_head"), quantize=True)
    g.nodes[-1].output[0] = "logits"
    g.output("logits", FLOAT, ["batch", 1, c.vocab_size])
    for i in range(c.num_layers):
        for kv in ("key", "value"):
            g.output(f"present.{i}.{kv}", FLOAT, ["batch", c.num_kv_heads, "total", hd])
    g.save("decoder")


def write_embed_tokens(ckpt: VideoLLMCheckpoint, path: str, precision: str) -> None:
    g = GraphBuilder(path)
    rows = ckpt.embedding_rows()
    ids = g.input("input_ids", INT64, ["batch", "seq"])
    table = ckpt.base("model.embed_tokens.weight")
    store = table if precision == "fp32" else table.astype(np.float16)
    gathered = g.op("Gather", [g.weight("model.embed_tokens.weight", store), g.op("Min", [ids, g.const(rows - 1)])], axis=0)
    g.op("Identity" if precision == "fp32" else "Cast", [gathered], ["inputs_embeds"], **({} if precision == "fp32" else {"to": FLOAT}))
    g.output("inputs_embeds", FLOAT, ["batch", "seq", table.shape[1]])
    g.save("embed_tokens")


def layer_norm(g: GraphBuilder, x: str, w: np.ndarray, b: np.ndarray, name: str, eps: float) -> str:
    return g.op("LayerNormalization", [x, g.weight(name + ".weight", w), g.weight(name + ".bias", b)], axis=-1, epsilon=eps)


def gelu_tanh(g: GraphBuilder, x: str) -> str:
    cube = g.op("Mul", [g.op("Mul", [x, x]), x])
    inner = g.op("Mul", [g.op("Add", [x, g.op("Mul", [cube, g.const(0.044715, np.float32)])]), g.const(np.sqrt(2 / np.pi), np.float32)])
    return g.op("Mul", [g.op("Mul", [x, g.const(0.5, np.float32)]), g.op("Add", [g.op("Tanh", [inner]), g.const(1.0, np.float32)])])


def gelu_erf(g: GraphBuilder, x: str) -> str:
    e = g.op("Erf", [g.op("Div", [x, g.const(np.sqrt(2.0), np.float32)])])
    return g.op("Mul", [g.op("Mul", [x, g.const(0.5, np.float32)]), g.op("Add", [e, g.const(1.0, np.float32)])])


def attention(g: GraphBuilder, q: str, k: str, v: str, heads: int, dh: int, width: int) -> str:
    """Multi-head attention on [B, L, width] projections (no mask)."""
    split = lambda t, perm: g.op("Transpose", [g.op("Reshape", [t, g.const([0, -1, heads, dh])])], perm=perm)  # noqa: E731
    scores = g.op("Mul", [g.op("MatMul", [split(q, [0, 2, 1, 3]), split(k, [0, 2, 3, 1])]), g.const(1 / np.sqrt(dh), np.float32)])
    ctx = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), split(v, [0, 2, 1, 3])])
    return g.op("Reshape", [g.op("Transpose", [ctx], perm=[0, 2, 1, 3]), g.const([0, -1, width])])


def write_vision(ckpt: VideoLLMCheckpoint, path: str, precision: str) -> None:
    c = ckpt.vision_cfg
    g = GraphBuilder(path)
    W = Weights(g, precision)
    d, dh, eps = c.hidden_size, c.hidden_size // c.num_heads, c.layer_norm_eps
    vis = ckpt.vision
    px = g.input("pixel_values", FLOAT, ["num_frames", 3, c.image_size, c.image_size])
    patches = g.op("Conv", [px, W.tensor("patch_embedding.weight", vis("embeddings.patch_embedding.weight")),
                            g.weight("patch_embedding.bias", vis("embeddings.patch_embedding.bias"))],
                   kernel_shape=[c.patch_size] * 2, strides=[c.patch_size] * 2)
    x = g.op("Transpose", [g.op("Reshape", [patches, g.const([0, d, -1])])], perm=[0, 2, 1])
    x = g.op("Add", [x, W.tensor("position_embedding", vis("embeddings.position_embedding.weight"))])
    lin = lambda t, n: W.linear(t, n, vis(n + ".weight"), vis(n + ".bias"))  # noqa: E731
    mlp = lambda t, p: lin(gelu_tanh(g, lin(t, p + "fc1")), p + "fc2")  # noqa: E731
    for i in range(c.num_layers):
        p = f"encoder.layers.{i}."
        h = layer_norm(g, x, vis(p + "layer_norm1.weight"), vis(p + "layer_norm1.bias"), p + "layer_norm1", eps)
        a = attention(g, lin(h, p + "self_attn.q_proj"), lin(h, p + "self_attn.k_proj"), lin(h, p + "self_attn.v_proj"), c.num_heads, dh, d)
        x = g.op("Add", [x, lin(a, p + "self_attn.out_proj")])
        h = layer_norm(g, x, vis(p + "layer_norm2.weight"), vis(p + "layer_norm2.bias"), p + "layer_norm2", eps)
        x = g.op("Add", [x, mlp(h, p + "mlp.")])
    last = layer_norm(g, x, vis("post_layernorm.weight"), vis("post_layernorm.bias"), "post_layernorm", eps)

    # The head: one learned probe attends over the patches (nn.MultiheadAttention's packed in_proj).
    w_in, b_in = vis("head.attention.in_proj_weight"), vis("head.attention.in_proj_bias")
    wq, wk, wv = np.split(w_in, 3)
    bq, bk, bv = np.split(b_in, 3)
    q = W.linear(W.tensor("head.probe", vis("head.probe")), "head.q", wq, bq)
    a = attention(g, q, W.linear(last, "head.k", wk, bk), W.linear(last, "head.v", wv, bv), c.num_heads, dh, d)
    a = lin(a, "head.attention.out_proj")
    pooled = g.op("Add", [a, mlp(layer_norm(g, a, vis("head.layernorm.weight"), vis("head.layernorm.bias"), "head.layernorm", eps), "head.mlp.")])

    # VideoLLM-online's 3x3 grid: adaptive average pooling of the patch grid (an even split, so a plain AveragePool).
    side, cell = c.grid, c.grid // FRAME_GRID
    grid = g.op("Reshape", [g.op("Transpose", [last], perm=[0, 2, 1]), g.const([0, d, side, side])])
    grid = g.op("AveragePool", [grid], kernel_shape=[cell, cell], strides=[cell, cell])
    grid = g.op("Transpose", [g.op("Reshape", [grid, g.const([0, d, -1])])], perm=[0, 2, 1])
    feats = g.op("Concat", [pooled, grid], axis=1)
    con = lambda t, n: W.linear(t, "connector." + n, ckpt.connector(n + ".weight"), ckpt.connector(n + ".bias"))  # noqa: E731
    con(gelu_erf(g, con(feats, "0")), "2")
    g.nodes[-1].output[0] = "frame_embeds"
    g.output("frame_embeds", FLOAT, ["num_frames", ckpt.tokens_per_frame, ckpt.llama_cfg.hidden_size])
    g.save("vision_encoder")


def write_kv_shift(ckpt: VideoLLMCheckpoint, path: str) -> None:
    """key, value [B,Hkv,T,Dh], keep [K], delta [K] -> key_out, value_out [B,Hkv,K,Dh]:
    the kept positions, keys rotated back by delta (RoPE rotations compose)."""
    c = ckpt.llama_cfg
    g = GraphBuilder(path)
    hd = c.head_dim
    key = g.input("key", FLOAT, ["batch", c.num_kv_heads, "past", hd])
    value = g.input("value", FLOAT, ["batch", c.num_kv_heads, "past", hd])
    keep = g.input("keep", INT64, ["kept"])
    delta = g.input("delta", INT64, ["kept"])
    k = g.op("Gather", [key, keep], axis=2)
    freqs = g.op("Mul", [g.op("Neg", [g.op("Unsqueeze", [g.op("Cast", [delta], to=FLOAT), g.const([-1])])]),
                         g.const(inv_freq(c.rope_theta, hd), np.float32)])
    emb = g.op("Concat", [freqs, freqs], axis=-1)
    g.op("Add", [g.op("Mul", [k, g.op("Cos", [emb])]), g.op("Mul", [rotate_half(g, k, hd // 2), g.op("Sin", [emb])])], ["key_out"])
    g.op("Gather", [value, keep], ["value_out"], axis=2)
    g.output("key_out", FLOAT, ["batch", c.num_kv_heads, "kept", hd])
    g.output("value_out", FLOAT, ["batch", c.num_kv_heads, "kept", hd])
    g.save("kv_shift")
