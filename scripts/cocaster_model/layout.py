"""The conversation layout of VideoLLM-online, as token ids.

Shared by the golden reference loop and the training data builder, and mirrored by
the TypeScript engine (src/engine/layout.ts): text segments are encoded separately
and question text only ever as literal, single-line text.
"""
from __future__ import annotations

from dataclasses import dataclass

from .tokenizer import BPETokenizer

SYSTEM_PROMPT = ("A multimodal AI assistant is helping users with some activities. Below is their "
                 "conversation, interleaved with the list of video frames received by the assistant.")

DEFAULT_LAYOUT = {
    "system": SYSTEM_PROMPT,
    "start": "{system}\n\n[",
    "query": "]\nUser: {question}\nAssistant:",
    "selfSpeak": "]\nAssistant:",
    "afterEos": "\n[",
}

DEFAULT_TOKENS = {"framePlaceholder": "<v>", "interval": ",", "eos": "<|eot|>", "bos": "<|bos|>"}


def clean_question(text: str) -> str:
    """Single line, no control characters: the layout's newline-anchored markers
    can then never be spelled by a question."""
    out = []
    for ch in text:
        o = ord(ch)
        out.append(" " if (o < 32 or o == 127 or 0x80 <= o < 0xA0 or ch in "\u2028\u2029") else ch)
    return " ".join("".join(out).split())


@dataclass
class Layout:
    tok: BPETokenizer
    layout: dict
    tokens: dict

    def __post_init__(self):
        self.eos = self.tok.special(self.tokens["eos"])
        self.bos = self.tok.special(self.tokens["bos"]) if self.tokens.get("bos") else None
        ids = self.tok.encode(self.tokens["interval"])
        assert len(ids) == 1, "interval token must be one token"
        self.interval = ids[0]

    def start_ids(self) -> list[int]:
        head = [self.bos] if self.bos is not None else []
        return head + self.tok.encode(self.layout["start"].replace("{system}", self.layout["system"]))

    def after_eos_ids(self) -> list[int]:
        return self.tok.encode(self.layout["afterEos"])

    def self_speak_ids(self) -> list[int]:
        return self.tok.encode(self.layout["selfSpeak"])

    def turn_overhead(self) -> int:
        """The most fixed tokens a turn adds after a frame (as Layout.turnOverhead in TypeScript)."""
        before, after = self.layout["query"].split("{question}")
        query = len(self.tok.encode(before[:-1] if before.endswith(" ") else before)) + len(self.tok.encode(after))
        return max(len(self.self_speak_ids()), query)

    def query_ids(self, question: str) -> list[int]:
        before, after = self.layout["query"].split("{question}")
        text = clean_question(question)
        # A space that ends the prefix belongs to the question's first word.
        if before.endswith(" "):
            before, text = before[:-1], " " + text
        return self.tok.encode(before) + self.tok.encode(text) + self.tok.encode(after)
