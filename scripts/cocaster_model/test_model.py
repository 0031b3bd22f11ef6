"""Plain-assert checks for the decoder's exported math: python3 -m cocaster_model.test_model"""
from dataclasses import replace

import torch

from .model import Decoder, ModelConfig

TINY = ModelConfig.from_dict({"vocab_size": 64, "hidden_size": 64, "num_layers": 2, "num_heads": 4, "num_kv_heads": 2,
                              "ffn_size": 96, "rope_theta": 10000.0, "rms_eps": 1e-5, "image_size": 32,
                              "encoder_channels": [8, 8, 8, 8], "grid": 2, "frame_tokens": 5,
                              "side_layers": 2, "side_ffn_size": 64, "side_plain": False})


def decoders():
    """The three shapes a package has: a stack only, a plain side branch, the answer branch."""
    torch.manual_seed(0)
    for cfg in (replace(TINY, side_layers=0), replace(TINY, side_plain=True), TINY):
        d = Decoder(cfg).eval()
        for m in d.modules():
            if hasattr(m, "recency"):   # zero at start: give the answer branch's slopes a value
                torch.nn.init.normal_(m.recency.weight, std=0.3)
        yield d


def test_append_equals_forward():
    """The export's forward_append (last layer at the logits' rows, two-part softmax)
    gives forward()'s logits at those rows and its new keys and values, with an empty
    cache and a full one."""
    for d in decoders():
        cfg = d.cfg
        for past_len in (0, 7):
            s = 12
            past = [tuple(torch.randn(1, cfg.num_kv_heads, past_len, cfg.head_dim) for _ in range(2)) for _ in range(cfg.cache_layers)]
            emb = torch.randn(1, s, cfg.hidden_size)
            mask = torch.ones(1, past_len + s, dtype=torch.long)
            pos = torch.arange(past_len, past_len + s).unsqueeze(0)
            rows = torch.tensor([3, 5, 11])
            with torch.no_grad():
                logits, present = d(emb, mask, pos, past, append=True, logits_index=rows)
                ref_logits, ref_present = d(emb, mask, pos, past)
            assert (logits - ref_logits.index_select(1, rows)).abs().max() < 1e-5
            for (k, v), (rk, rv) in zip(present, ref_present):
                assert (k - rk[:, :, past_len:]).abs().max() < 1e-5 and (v - rv[:, :, past_len:]).abs().max() < 1e-5


def test_append_skips_unused_slots():
    """Unused slots of the past buffer (attention_mask 0) change nothing."""
    for d in decoders():
        cfg = d.cfg
        s, used = 6, 5
        past = [tuple(torch.randn(1, cfg.num_kv_heads, used, cfg.head_dim) for _ in range(2)) for _ in range(cfg.cache_layers)]
        padded = [tuple(torch.cat([t, 1e3 * torch.randn(1, cfg.num_kv_heads, 3, cfg.head_dim)], 2) for t in kv) for kv in past]
        emb = torch.randn(1, s, cfg.hidden_size)
        pos = torch.arange(used, used + s).unsqueeze(0)
        rows = torch.tensor([s - 1])
        with torch.no_grad():
            logits, _ = d(emb, torch.ones(1, used + s, dtype=torch.long), pos, past, append=True, logits_index=rows)
            masked, _ = d(emb, torch.tensor([[1] * used + [0] * 3 + [1] * s]), pos, padded, append=True, logits_index=rows)
        assert (logits - masked).abs().max() < 1e-5


if __name__ == "__main__":
    for name, fn in list(globals().items()):
        if name.startswith("test_") and callable(fn):
            fn()
            print("ok", name)
    print("all model tests passed")
