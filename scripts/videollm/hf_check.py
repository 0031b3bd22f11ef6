"""--check-transformers: the torch reference against Hugging Face's own Llama and SigLIP.

Only where `transformers` is importable (a user's machine; Debian 12 has none, so
this module is not exercised in CI). Loads the base Llama in float32, merges the
LoRA pairs into its linear layers, and compares the logits after the start prompt
and the first reference frame; loads SigLIP's vision tower and compares the 10
frame tokens (pooler_output + 3x3-pooled last_hidden_state) for that frame.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .checkpoint import FRAME_GRID, VideoLLMCheckpoint
from .live_reference import MEAN, RESCALE, STD
from .reference import merged_linear

TOLERANCE = 1e-3  # max |difference| of logits / frame features, float32 against float32


def check_against_transformers(ckpt: VideoLLMCheckpoint, runner) -> None:
    import transformers  # noqa: F401  (fails with a clear ImportError where it is missing)
    from transformers import LlamaForCausalLM, SiglipVisionModel

    from cocaster_model.live import preprocess
    from make_fixture import synthetic_frame

    size = ckpt.vision_cfg.image_size
    pixels = preprocess(synthetic_frame(0, size, size), RESCALE, MEAN, STD).unsqueeze(0)
    with torch.no_grad():
        vision = SiglipVisionModel.from_pretrained(ckpt.siglip_dir, torch_dtype=torch.float32).eval()
        out = vision(pixel_values=pixels)
        n, g = out.last_hidden_state.shape[0], ckpt.vision_cfg.grid
        grid = F.adaptive_avg_pool2d(out.last_hidden_state.reshape(n, g, g, -1).permute(0, 3, 1, 2), FRAME_GRID)
        hf_feats = torch.cat([out.pooler_output[:, None], grid.flatten(2).transpose(1, 2)], dim=1)[0]
        del vision
        vision_diff = float((hf_feats - runner.features[0]).abs().max())
        print(f"transformers SigLIP vs reference frame tokens: max |diff| {vision_diff:.2e}")

        llama = LlamaForCausalLM.from_pretrained(ckpt.llama_dir, torch_dtype=torch.float32).eval()
        for name, module in llama.named_modules():
            if isinstance(module, torch.nn.Linear) and ckpt.lora(name) is not None:
                module.weight.copy_(merged_linear(ckpt, name, ckpt.lora_scale))
        ids = torch.tensor([runner.layout.start_ids()])
        embeds = torch.cat([runner.decoder.embed(ids), runner.connector(runner.features[0][None])], dim=1)
        hf_logits = llama(inputs_embeds=embeds).logits[0, -1]
        s = embeds.shape[1]
        ref_logits, _ = runner.decoder(embeds, torch.ones(1, s, dtype=torch.long), torch.arange(s)[None], runner.decoder.empty_past())
        llama_diff = float((hf_logits - ref_logits[0, -1]).abs().max())
        print(f"transformers Llama (LoRA merged) vs reference logits: max |diff| {llama_diff:.2e}")
    if max(vision_diff, llama_diff) > TOLERANCE:
        raise SystemExit(f"the reference disagrees with transformers by more than {TOLERANCE}")
