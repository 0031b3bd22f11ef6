"""Byte-level BPE tokenizer that writes Hugging Face `tokenizer.json`.

The TypeScript runtime reads the file with @huggingface/tokenizers, so this module
must encode exactly as that library does: ByteLevel pre-tokenizer without regex
splitting (one "word" per encoded segment), BPE that repeatedly merges the
lowest-ranked adjacent pair (leftmost on ties). Special tokens live only in
`added_tokens`, never in the BPE vocabulary, so text can never produce them.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return {b: chr(c) for b, c in zip(printable, chars)}


BYTE_TO_CHAR = bytes_to_unicode()
CHAR_TO_BYTE = {c: b for b, c in BYTE_TO_CHAR.items()}


def to_symbols(text: str) -> list[str]:
    return [BYTE_TO_CHAR[b] for b in text.encode("utf-8")]


def bpe_merge(symbols: list[str], ranks: dict) -> list[str]:
    """Byte-pair merging as Hugging Face's BPE model does it: the lowest-ranked adjacent
    pair first, until no pair has a rank."""
    word = list(symbols)
    while len(word) > 1:
        best, best_rank = -1, None
        for i in range(len(word) - 1):
            r = ranks.get((word[i], word[i + 1]))
            if r is not None and (best_rank is None or r < best_rank):
                best, best_rank = i, r
        if best < 0:
            break
        word[best:best + 2] = [word[best] + word[best + 1]]
    return word


@dataclass
class BPETokenizer:
    vocab: dict[str, int]
    merges: list[tuple[str, str]]
    special_tokens: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.ranks = {pair: i for i, pair in enumerate(self.merges)}
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        base = len(self.vocab)
        self.special_ids = {tok: base + i for i, tok in enumerate(self.special_tokens)}
        for tok, i in self.special_ids.items():
            self.id_to_token[i] = tok

    @property
    def vocab_size(self) -> int:
        return len(self.vocab) + len(self.special_tokens)

    def bpe(self, symbols: list[str]) -> list[str]:
        return bpe_merge(symbols, self.ranks)

    def encode(self, text: str) -> list[int]:
        """Literal text -> ids. Never yields a special token."""
        if not text:
            return []
        return [self.vocab[t] for t in self.bpe(to_symbols(text))]

    def special(self, token: str) -> int:
        return self.special_ids[token]

    def decode(self, ids: list[int]) -> str:
        chars = "".join(self.id_to_token[i] for i in ids if i not in self.special_ids.values())
        return bytes(CHAR_TO_BYTE[c] for c in chars).decode("utf-8", errors="replace")

    def to_json(self) -> dict:
        added = [
            {"id": i, "content": tok, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
            for tok, i in self.special_ids.items()
        ]
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": added,
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
            "model": {
                "type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                "vocab": self.vocab, "merges": [list(m) for m in self.merges],
            },
        }

    def config_json(self, bos: str | None, eos: str) -> dict:
        return {"bos_token": bos, "eos_token": eos, "model_max_length": 1 << 20,
                "clean_up_tokenization_spaces": False, "tokenizer_class": "PreTrainedTokenizerFast"}

    def save(self, directory: str, bos: str | None, eos: str) -> None:
        with open(f"{directory}/tokenizer.json", "w") as f:
            json.dump(self.to_json(), f, ensure_ascii=False)
        with open(f"{directory}/tokenizer_config.json", "w") as f:
            json.dump(self.config_json(bos, eos), f, indent=1)

    @classmethod
    def load(cls, path: str) -> "BPETokenizer":
        with open(path) as f:
            data = json.load(f)
        model = data["model"]
        merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model["merges"]]
        specials = [t["content"] for t in sorted(data["added_tokens"], key=lambda t: t["id"])]
        return cls(model["vocab"], merges, specials)


# Where a merge may not cross: words with their leading space, English
# contractions, runs of punctuation, and every digit on its own (so "2-1" is
# "2" "-" "1" and a model can copy a digit it sees). Learnt tokens never span
# two chunks, so encoding the whole segment (no regex at run time) gives the
# same tokens as encoding chunk by chunk.
CHUNK = re.compile(r"'(?:s|t|re|ve|m|ll|d)\b| ?[A-Za-z]+| ?[^\sA-Za-z0-9]+|[0-9]|\s+")


def chunks(text: str) -> list[str]:
    out = CHUNK.findall(text)
    assert "".join(out) == text, f"unchunkable text: {text!r}"
    return out


def train_bpe(texts: list[str], vocab_size: int, special_tokens: list[str],
              whole_words: list[str] = ()) -> BPETokenizer:
    """BPE over chunks (see CHUNK), then extra merges that make each of
    `whole_words` (e.g. " Falcons") one token, so a name is one id to copy."""
    words = Counter()
    for text in texts:
        for piece in chunks(text):
            words[tuple(to_symbols(piece))] += 1
    vocab = {BYTE_TO_CHAR[b]: b for b in range(256)}
    merges: list[tuple[str, str]] = []
    target = vocab_size - len(special_tokens) - 2 * len(whole_words)  # room for the extra merges
    corpus = {w: c for w, c in words.items() if w}
    while len(vocab) < target:
        pairs = Counter()
        for w, c in corpus.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += c
        if not pairs:
            break
        (a, b), count = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))
        if count < 2:
            break
        merges.append((a, b))
        vocab[a + b] = len(vocab)
        merged = {}
        for w, c in corpus.items():
            out, i = [], 0
            while i < len(w):
                if i < len(w) - 1 and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] = merged.get(tuple(out), 0) + c
        corpus = merged
    tok = BPETokenizer(vocab, merges, [])
    for word in whole_words:
        assert len(chunks(word)) == 1, f"not one chunk: {word!r}"
        parts = tok.bpe(to_symbols(word))
        while len(parts) > 1:   # left to right: later merges only ever join this word
            a, b = parts[0], parts[1]
            if (a, b) not in tok.ranks:
                merges.append((a, b))
            if a + b not in vocab:
                vocab[a + b] = len(vocab)
            parts = [a + b] + parts[2:]
        tok = BPETokenizer(vocab, merges, [])
    tok = BPETokenizer(vocab, merges, special_tokens)
    bad = [w for w in whole_words if len(tok.encode(w)) != 1]
    assert not bad, f"not single tokens: {bad[:5]}"
    return tok
