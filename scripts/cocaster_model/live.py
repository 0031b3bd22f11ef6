"""Reference streaming loop (VideoLLM-online's LiveInfer) in PyTorch.

The TypeScript engine (src/engine/liveSession.ts) must make the same decisions and
generate the same token ids; the golden trace written by make_fixture.py holds it
to that.
"""
from __future__ import annotations

import numpy as np
import torch

from .layout import Layout
from .model import Decoder, FrameEncoder, KvShift

MAX_QUESTION_TOKENS = 256  # as src/engine/liveSession.ts: what a frame reserves for a question
VISION_SHARE = 4  # as src/engine/kvCache.ts: frames may hold 1/4 of the budget (the vision window)
RECENT_TURNS = 4  # as src/engine/kvCache.ts: the text of the 4 latest turns stays when frames around it go


class CachePolicy:
    """What each cached position holds, and which to evict (mirrors CachePolicy in
    src/engine/kvCache.ts). Groups in cache order: the start prompt ("sink", never
    evicted), one frame (its interval token and embeddings), or text (consecutive
    turns). Frames may hold budget // VISION_SHARE tokens; when they would hold
    more, or the next step would exceed the budget, the oldest groups go, frames
    and the text between them, until frames hold half the window and the step fits
    (then at least half the window goes); the text of the RECENT_TURNS latest
    turns goes last."""

    def __init__(self, budget: int):
        self.budget = budget
        self.groups: list[list] = []   # [kind, length]

    @property
    def length(self) -> int:
        return sum(n for _, n in self.groups)

    def tokens(self, kind: str) -> int:
        return sum(n for k, n in self.groups if k == kind)

    @property
    def vision_window(self) -> int:
        return self.budget // VISION_SHARE

    def record(self, kind: str, n: int) -> None:
        if n == 0:
            return
        if kind == "text" and self.groups and self.groups[-1][0] == "text":
            self.groups[-1][1] += n
        else:
            self.groups.append([kind, n])

    def plan(self, needed: int):
        """None (fits), "reset" (cannot fit), or (keep, delta, evicted frame tokens, evicted text tokens)."""
        length = self.length
        overflow = length + needed - self.budget
        if overflow <= 0 and self.tokens("frame") <= self.vision_window:
            return None
        overflow = max(0, overflow)
        half = self.vision_window // 2
        frame_target = self.tokens("frame") - half
        target = max(overflow, half) if overflow > 0 else 0
        texts = [i for i, (k, _) in enumerate(self.groups) if k == "text"]
        recent = set(texts[max(0, len(texts) - RECENT_TURNS):])
        gone = [False] * len(self.groups)
        evicted = {"frame": 0, "text": 0}
        done = lambda: evicted["frame"] >= frame_target and evicted["frame"] + evicted["text"] >= target  # noqa: E731
        for last in (False, True):  # oldest first, frames and the text between them; then the recent turns' text
            for i, (kind, n) in enumerate(self.groups):
                if done() or gone[i] or kind == "sink" or (not last and i in recent):
                    continue
                gone[i] = True
                evicted[kind] += n
        if evicted["frame"] + evicted["text"] < overflow:
            return "reset"
        return self.evict(gone)

    def drop_frames(self):
        """A new scene (SceneCut): every frame goes, the text stays. None when there is no frame."""
        if self.tokens("frame") == 0:
            return None
        return self.evict([kind == "frame" for kind, _ in self.groups])

    def evict(self, gone: list[bool]):
        """(keep, delta, evicted frame tokens, evicted text tokens) for dropping the groups marked gone."""
        evicted = {"frame": 0, "text": 0, "sink": 0}
        keep, delta, at, shift = [], [], 0, 0
        for (kind, n), g in zip(self.groups, gone):
            if g:
                shift += n
                evicted[kind] += n
            else:
                keep += range(at, at + n)
                delta += [shift] * n
            at += n
        self.groups = [grp for grp, g in zip(self.groups, gone) if not g]
        return keep, delta, evicted["frame"], evicted["text"]


class SceneCut:
    """Mirrors src/engine/sceneCut.ts: the frame tokens a package declares to identify
    the scene (model.json vision.sceneCut); a frame whose tokens' cosine to the previous
    frame's is below min_cosine starts a new scene, if the scene before held still for
    STABLE_FRAMES frames."""

    STABLE_FRAMES = 4

    def __init__(self, tokens: list[int], min_cosine: float):
        self.tokens, self.min_cosine, self.previous, self.stable_frames = tokens, min_cosine, None, 0

    def next(self, frame_embeds: torch.Tensor) -> bool:
        now = frame_embeds[0, self.tokens].reshape(-1).double()
        before, self.previous = self.previous, now
        if before is None:
            return False
        zero = float(before.norm()) == 0 or float(now.norm()) == 0
        same = zero or float(before @ now / (before.norm() * now.norm())) >= self.min_cosine
        cut = not same and self.stable_frames >= self.STABLE_FRAMES
        self.stable_frames = self.stable_frames + 1 if same else 0
        return cut


def preprocess(rgb: np.ndarray, rescale: float, mean, std) -> torch.Tensor:
    """uint8 [H,W,3] -> float32 [3,H,W], in float32 like the runtime."""
    x = torch.from_numpy(rgb.astype(np.float32)).permute(2, 0, 1)
    x = x * torch.tensor(rescale, dtype=torch.float32)
    m = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
    s = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
    return (x - m) / s


class LiveReference:
    def __init__(self, encoder: FrameEncoder, decoder: Decoder, layout: Layout, threshold: float,
                 max_new_tokens: int, budget: int | None = None, scene_cut: SceneCut | None = None):
        """budget: the cache policy's token budget; None keeps every token (no checks).
        scene_cut: drops the frames before a new scene (with a budget only)."""
        self.encoder, self.decoder, self.layout = encoder, decoder, layout
        self.threshold, self.max_new_tokens = threshold, max_new_tokens
        self.policy = CachePolicy(budget) if budget else None
        self.scene_cut = scene_cut
        self.shift = KvShift(decoder.cfg)
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

    def feed(self, spans: list[tuple[str, int]], embeds: torch.Tensor) -> torch.Tensor:
        """forward() and the policy's record of what the new positions hold (one frame
        with the interval token before it is one span)."""
        if self.policy:
            merged: list[list] = []
            for kind, n in spans:
                if merged and merged[-1][0] == kind:
                    merged[-1][1] += n
                else:
                    merged.append([kind, n])
            for kind, n in merged:
                self.policy.record(kind, n)
        return self.forward(embeds)

    @torch.no_grad()
    def make_room(self, t: float, needed: int) -> None:
        plan = self.policy.plan(needed) if self.policy else None
        if plan == "reset":
            self.trace.append({"type": "contextReset", "t": t, "droppedTokens": self.kv_len})
            self.past, self.kv_len, self.last_ids, self.policy.groups = self.decoder.empty_past(), 0, [], []
        elif plan:
            self.compact(t, plan)

    @torch.no_grad()
    def compact(self, t: float, plan) -> None:
        keep, delta, frames, text = plan
        kt, dt = torch.tensor(keep), torch.tensor(delta)
        self.past = [self.shift(k, v, kt, dt) for k, v in self.past]
        self.kv_len = len(keep)
        self.trace.append({"type": "compaction", "t": t, "evictedFrameTokens": frames,
                           "evictedTextTokens": text, "keptTokens": len(keep)})

    def embed(self, ids: list[int]) -> torch.Tensor:
        return self.decoder.embed(torch.tensor([ids], dtype=torch.long))

    def pending_prefix(self, for_frame: bool) -> list[int]:
        if self.kv_len == 0:
            return self.layout.start_ids()
        if self.last_ids and self.last_ids[-1] == self.layout.eos:
            return self.last_ids + self.layout.after_eos_ids()
        return self.last_ids if for_frame else []

    def prefix_spans(self, prefix: list[int]) -> list[tuple[str, int]]:
        """The start prompt is the sink; a lone interval token belongs to the frame; else text (EOS, re-opening)."""
        if self.kv_len == 0:
            return [("sink", len(prefix))]
        return [("frame" if prefix == [self.layout.interval] else "text", len(prefix))]

    @torch.no_grad()
    def generate(self, prompt: list[int], t: float, trigger: str, question: str | None, spans=None):
        logits = self.feed(spans or [("text", len(prompt))], self.embed(prompt))
        out: list[int] = []
        while True:
            top2 = torch.topk(logits, 2).values
            self.min_token_gap = min(self.min_token_gap, float(top2[0] - top2[1]))
            nxt = int(torch.argmax(logits))
            out.append(nxt)
            if nxt == self.layout.eos or len(out) >= self.max_new_tokens:
                break
            logits = self.feed([("text", 1)], self.embed([nxt]))
        self.last_ids = [self.layout.eos] if out[-1] == self.layout.eos else [out[-1], self.layout.eos]
        self.trace.append({"type": "say", "t": t, "trigger": trigger, "question": question, "ids": out})

    def answer(self, t: float, question: str):
        query = self.layout.query_ids(question)
        self.make_room(t, len(self.pending_prefix(for_frame=False)) + len(query) + self.max_new_tokens)
        prefix = self.pending_prefix(for_frame=False)
        spans = self.prefix_spans(prefix) + [("text", len(query))]
        self.generate(prefix + query, t, "question", question, spans)

    @torch.no_grad()
    def run(self, frames, questions: list[tuple[float, str]], pixel_fn):
        """frames: list of (t, rgb); questions: (t, text) sorted by t."""
        pending = list(questions)
        turn_room = MAX_QUESTION_TOKENS + self.layout.turn_overhead() + self.max_new_tokens
        for t, rgb in frames:
            while pending and pending[0][0] < t:
                qt, q = pending.pop(0)
                self.answer(qt, q)
            frame_embeds = self.encoder(pixel_fn(rgb).unsqueeze(0))
            if self.scene_cut and self.scene_cut.next(frame_embeds) and self.policy:
                plan = self.policy.drop_frames()
                if plan:
                    self.compact(t, plan)
            self.make_room(t, len(self.pending_prefix(for_frame=True)) + frame_embeds.shape[1] + turn_room)
            prefix = self.pending_prefix(for_frame=True)
            embeds = torch.cat([self.embed(prefix), frame_embeds], dim=1) if prefix else frame_embeds
            logits = self.feed(self.prefix_spans(prefix) + [("frame", frame_embeds.shape[1])], embeds)
            self.last_ids = []  # fed (as LiveSession.step clears lastIds): an answer at this frame must not feed them again
            probs = torch.softmax(logits, dim=-1)
            p_interval = float(probs[self.layout.interval])
            if pending and pending[0][0] <= t:
                self.trace.append({"type": "frame", "t": t, "pInterval": p_interval, "decision": "answer"})
                while pending and pending[0][0] <= t:
                    qt, q = pending.pop(0)
                    self.answer(t, q)
                continue
            # How far the decision is from flipping: P(interval) against the threshold and,
            # above it, against the likeliest other token (which other token leads does not matter).
            other = float(torch.cat([probs[:self.layout.interval], probs[self.layout.interval + 1:]]).max())
            margin = abs(p_interval - self.threshold) if p_interval < self.threshold else \
                min(p_interval - self.threshold, abs(p_interval - other))
            if p_interval < self.threshold:
                probs[self.layout.interval] = 0
            decision_id = int(torch.argmax(probs))
            speak = decision_id != self.layout.interval
            self.trace.append({"type": "frame", "t": t, "pInterval": p_interval,
                               "decision": "speak" if speak else "silent", "margin": margin})
            if speak:
                self.generate(self.layout.self_speak_ids(), t, "self", None)
            else:
                self.last_ids = [decision_id]
        return self.trace
