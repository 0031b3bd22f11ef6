"""Reference streaming loop (VideoLLM-online's LiveInfer) in PyTorch.

The TypeScript engine (src/engine/liveSession.ts) must make the same decisions and
generate the same token ids; the golden trace written by make_fixture.py holds it
to that.
"""
from __future__ import annotations

import numpy as np
import torch

from .layout import Layout
from .model import Decoder, FrameEncoder


def preprocess(rgb: np.ndarray, rescale: float, mean, std) -> torch.Tensor:
    """uint8 [H,W,3] -> float32 [3,H,W], in float32 like the runtime."""
    x = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)
    x = x * torch.tensor(rescale, dtype=torch.float32)
    m = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (x - m) / s


class LiveReference:
    def __init__(self, encoder: FrameEncoder, decoder: Decoder, layout: Layout, threshold: float,
                 max_new_tokens: int):
        self.encoder, self.decoder, self.layout = encoder, decoder, layout
        self.threshold, self.max_new_tokens = threshold, max_new_tokens
        self.past = decoder.empty_past()
        self.kv_len = 0
        self.last_ids: list[int] = []
        self.trace: list[dict] = []
        self.min_token_gap = float("inf")  # closest greedy call; golden traces need a clear margin

    @torch.no_grad()
    def forward(self, embeds: torch.Tensor) -> torch.Tensor:
        s = embeds.shape[1]
        mask = torch.ones(1, self.kv_len + s, dtype=torch.long)
        pos = torch.arange(self.kv_len, self.kv_len + s).unsqueeze(0)
        logits, self.past = self.decoder(embeds, mask, pos, self.past)
        self.kv_len += s
        return logits[0, -1]

    def embed(self, ids: list[int]) -> torch.Tensor:
        return self.decoder.embed(torch.tensor([ids], dtype=torch.long))

    def pending_prefix(self, for_frame: bool) -> list[int]:
        if self.kv_len == 0:
            return self.layout.start_ids()
        if self.last_ids and self.last_ids[-1] == self.layout.eos:
            return self.last_ids + self.layout.after_eos_ids()
        return self.last_ids if for_frame else []

    @torch.no_grad()
    def generate(self, prompt: list[int], t: float, trigger: str, question: str | None):
        logits = self.forward(self.embed(prompt))
        out: list[int] = []
        while True:
            top2 = torch.topk(logits, 2).values
            self.min_token_gap = min(self.min_token_gap, float(top2[0] - top2[1]))
            nxt = int(torch.argmax(logits))
            out.append(nxt)
            if nxt == self.layout.eos or len(out) >= self.max_new_tokens:
                break
            logits = self.forward(self.embed([nxt]))
        self.last_ids = [self.layout.eos] if out[-1] == self.layout.eos else [out[-1], self.layout.eos]
        self.trace.append({"type": "say", "t": t, "trigger": trigger, "question": question, "ids": out})

    def answer(self, t: float, question: str):
        prompt = self.pending_prefix(for_frame=False) + self.layout.query_ids(question)
        self.generate(prompt, t, "question", question)

    @torch.no_grad()
    def run(self, frames, questions: list[tuple[float, str]], pixel_fn):
        """frames: list of (t, rgb); questions: (t, text) sorted by t."""
        pending = list(questions)
        for t, rgb in frames:
            while pending and pending[0][0] < t:
                qt, q = pending.pop(0)
                self.answer(qt, q)
            frame_embeds = self.encoder(pixel_fn(rgb).unsqueeze(0))
            prefix = self.pending_prefix(for_frame=True)
            embeds = torch.cat([self.embed(prefix), frame_embeds], dim=1) if prefix else frame_embeds
            logits = self.forward(embeds)
            probs = torch.softmax(logits, dim=-1)
            p_interval = float(probs[self.layout.interval])
            if pending and pending[0][0] <= t:
                self.trace.append({"type": "frame", "t": t, "pInterval": p_interval, "decision": "answer"})
                while pending and pending[0][0] <= t:
                    qt, q = pending.pop(0)
                    self.answer(t, q)
                continue
            if p_interval < self.threshold:
                probs[self.layout.interval] = 0
            top2 = torch.topk(probs, 2).values
            decision_id = int(torch.argmax(probs))
            speak = decision_id != self.layout.interval
            self.trace.append({"type": "frame", "t": t, "pInterval": p_interval,
                               "decision": "speak" if speak else "silent",
                               "margin": min(float(top2[0] - top2[1]), abs(p_interval - self.threshold))})
            if speak:
                self.generate(self.layout.self_speak_ids(), t, "self", None)
            else:
                self.last_ids = [decision_id]
        return self.trace
