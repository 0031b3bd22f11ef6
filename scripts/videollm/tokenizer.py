"""Llama-3's tokenizer.json: encoding in Python, and a small one for test checkpoints.

Llama-3 is byte-level BPE with a regex pre-tokenizer and `ignore_merges` (a piece
that is itself in the vocabulary is one token). The exporter encodes the layout
strings here for the reference trace; the engine encodes them with
@huggingface/tokenizers, and the test compares both (startIds, queryIds).
Python's `re` has no \\p{L}/\\p{N}: letters are [^\\W\\d_] and numbers \\d, which
agree with Unicode's classes on the layout's text and ordinary questions.
"""
from __future__ import annotations

import json
import re

from cocaster_model.tokenizer import bpe_merge

# Llama-3's pre-tokenizer pattern, as its tokenizer.json spells it.
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

def _python_pattern() -> re.Pattern:
    # [^\r\n\p{L}\p{N}]?\p{L}+ : an optional non-letter/number/newline, then letters.
    p = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|(?:[^\r\n\w]|_)?[^\W\d_]+|\d{1,3}| ?(?:[^\s\w]|_)+[\r\n]*"
         r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    return re.compile(p)


PRETOKEN = _python_pattern()


def bytes_to_unicode() -> list[tuple[int, str]]:
    """GPT-2's byte -> printable character map, in its order (printable bytes
    first), which is also the order of Llama-3's first 256 ids: ',' is id 11."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    order, chars, extra = printable[:], printable[:], 0
    for b in range(256):
        if b not in printable:
            order.append(b)
            chars.append(256 + extra)
            extra += 1
    return [(b, chr(c)) for b, c in zip(order, chars)]


BYTE_CHARS = bytes_to_unicode()
BYTE_TO_CHAR = dict(BYTE_CHARS)
CHAR_TO_BYTE = {c: b for b, c in BYTE_CHARS}

# Llama-3's 256 special tokens, in id order after the BPE vocabulary.
LLAMA3_SPECIALS = (["<|begin_of_text|>", "<|end_of_text|>"] + [f"<|reserved_special_token_{i}|>" for i in range(4)]
                   + ["<|start_header_id|>", "<|end_header_id|>", "<|reserved_special_token_4|>", "<|eot_id|>"]
                   + [f"<|reserved_special_token_{i}|>" for i in range(5, 251)])
assert len(LLAMA3_SPECIALS) == 256


class Llama3Tokenizer:
    """Encodes literal text (never special tokens) as tokenizer.json's BPE does."""

    def __init__(self, data: dict):
        model = data["model"]
        assert model["type"] == "BPE", "expected a BPE tokenizer.json"
        self.vocab: dict[str, int] = model["vocab"]
        merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.ignore_merges = bool(model.get("ignore_merges"))
        self.specials = {t["content"]: t["id"] for t in data.get("added_tokens", [])}
        self.data = data

    @classmethod
    def load(cls, path: str) -> "Llama3Tokenizer":
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def special(self, token: str) -> int:
        return self.specials[token]

    def _bpe(self, piece: str) -> list[str]:
        if self.ignore_merges and piece in self.vocab:
            return [piece]
        return bpe_merge(list(piece), self.ranks)

    def encode(self, text: str) -> list[int]:
        ids = []
        for piece in PRETOKEN.findall(text):
            mapped = "".join(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))
            ids += [self.vocab[t] for t in self._bpe(mapped)]
        return ids

    def with_token(self, token: str, token_id: int) -> dict:
        """tokenizer.json data with one more special token (VideoLLM-online's `<v>`)."""
        data = json.loads(json.dumps(self.data))
        data["added_tokens"].append({"id": token_id, "content": token, "single_word": False, "lstrip": False,
                                     "rstrip": False, "normalized": False, "special": True})
        return data


def train_small(corpus: list[str], vocab_size: int) -> tuple[dict, list[tuple[str, str]]]:
    """A small byte-level BPE over Llama-3's pre-tokens: vocab and merges."""
    from collections import Counter
    vocab = {c: i for i, (_, c) in enumerate(BYTE_CHARS)}
    words = Counter()
    for text in corpus:
        for piece in PRETOKEN.findall(text):
            words[tuple(BYTE_TO_CHAR[b] for b in piece.encode("utf-8"))] += 1
    merges = []
    while len(vocab) < vocab_size:
        pairs = Counter()
        for w, c in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        merges.append((a, b))
        vocab[a + b] = len(vocab)
        merged = Counter()
        for w, c in words.items():
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and (w[i], w[i + 1]) == (a, b):
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] += c
        words = merged
    return vocab, merges


def llama3_tokenizer_json(vocab: dict, merges: list[tuple[str, str]]) -> dict:
    """tokenizer.json in Llama-3's structure (pre-tokenizer, post-processor,
    decoder, ignore_merges, the 256 special tokens after the vocabulary)."""
    base = len(vocab)
    added = [{"id": base + i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for i, t in enumerate(LLAMA3_SPECIALS)]
    bos = base
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]},
        "post_processor": {"type": "Sequence", "processors": [
            {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
            {"type": "TemplateProcessing",
             "single": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
             "pair": [{"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                      {"SpecialToken": {"id": "<|begin_of_text|>", "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
             "special_tokens": {"<|begin_of_text|>": {"id": "<|begin_of_text|>", "ids": [bos], "tokens": ["<|begin_of_text|>"]}}}]},
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                  "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def llama3_tokenizer_config(added: list[dict]) -> dict:
    """tokenizer_config.json as Meta's Llama-3-8B-Instruct has it (eos = <|eot_id|>)."""
    return {
        "added_tokens_decoder": {str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip", "single_word", "special")} for t in added},
        "bos_token": "<|begin_of_text|>", "clean_up_tokenization_spaces": True, "eos_token": "<|eot_id|>",
        "model_input_names": ["input_ids", "attention_mask"], "model_max_length": 1000000000000000019884624838656,
        "tokenizer_class": "PreTrainedTokenizerFast",
    }
