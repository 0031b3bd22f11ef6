"""Training-only attention: same math as cocaster_model.model.Attention.forward (empty
past, causal mask), computed in bf16 with a boolean mask to cut the S x S traffic.
Export and LiveReference use the original forward."""
import math

import torch

from cocaster_model.model import Attention, Decoder, token_distance

_orig_attn = Attention.forward
_orig_dec = Decoder.forward


def _attn(self, x, cos, sin, mask, past_k, past_v, dist=None):
    if past_k.shape[2] != 0 or not isinstance(mask, tuple):
        return _orig_attn(self, x, cos, sin, mask, past_k, past_v, dist)
    causal = mask[1]
    b, s, _ = x.shape
    q, k, v = self.project(x, cos, sin)
    g = self.h // self.hkv
    kr = k.repeat_interleave(g, dim=1)
    vr = v.repeat_interleave(g, dim=1)
    scores = torch.matmul(q * (1.0 / math.sqrt(self.dh)), kr.transpose(2, 3))
    if dist is not None:
        scores = scores + self.recency_bias(x, dist)
    scores = scores.masked_fill(causal, float("-inf"))
    probs = torch.softmax(scores, dim=-1).to(vr.dtype)
    out = torch.matmul(probs, vr)
    out = out.transpose(1, 2).reshape(b, s, self.h * self.dh)
    return self.o(out), k, v


def _dec(self, inputs_embeds, attention_mask, position_ids, past):
    if past[0][0].shape[2] != 0 or not torch.is_grad_enabled():
        return _orig_dec(self, inputs_embeds, attention_mask, position_ids, past)
    s = inputs_embeds.shape[1]
    cos, sin = self.rope(position_ids)
    causal = torch.ones(s, s, dtype=torch.bool).triu(1)
    pos = torch.arange(s)
    dist = token_distance(pos.unsqueeze(1), pos.unsqueeze(0)) if self.cfg.needs_distance else None
    return self.run(inputs_embeds, cos, sin, ("fast", causal), past, dist)


def enable():
    Attention.forward = _attn
    Decoder.forward = _dec
