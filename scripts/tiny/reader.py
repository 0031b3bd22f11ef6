"""cocaster-tiny's vision side: a CNN that *reads* an arena frame, and the connector.

Why a reader and not a pooled feature map: everything a commentator needs is on
screen (names, score, clock, banners), but it is small text in fixed places.
Average pooling smeared the letters (session 1: team names read right 18-32 % of
the time). The reader keeps positions: the scoreboard band is flattened at
stride 8, the whole frame at stride 16, and linear heads read attributes.

Like VideoLLM-online's frozen CLIP + trained projector, the reader is trained
first (supervised on the world's frame labels) and frozen; the decoder is then
trained on its cached outputs through the connector, which turns the reader's
attribute distributions (plus a free feature vector) into K=5 decoder tokens:
home team, away team, acting team, match state, and "what kind of picture is
this" (see Connector for how facts become copyable token embeddings).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

# Heads of the reader: name -> classes (0 = 2-D regression).
def reader_heads(n_names: int, n_colours: int) -> dict[str, int]:
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


LETTER_HEADS = tuple(f"l{j}_{side}" for side in "ha" for j in range(3))


class LetterReader(nn.Module):
    """The scoreboard's six letters, read at full resolution (session 9).

    The trunk's board path starts after the stride-4 stem, where a 5-px letter is
    about one cell: on 20 held-out matches it spelled the home name right on 0.83
    of frames, the away name on 0.91 (C/G/O, U/L, F/P, W/N mixed up), and every
    goal the shipped model missed on seed 424242 x 20 named a misread team. This
    path reads the top band's pixels itself; the trunk and its z are untouched,
    so only the name distributions the connector gets change."""

    def __init__(self, widths: tuple[int, ...] = (16, 32, 48, 48), fc: int = 128, image_size: int = 128, band: int = 32):
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
        board_in = 96 * (self.board_rows // 2) * (q // 2)
        deep_in = 64 * (image_size // 16) ** 2
        self.board_fc = nn.Linear(board_in, 320)
        self.deep_fc = nn.Linear(deep_in, 192)
        self.mix = nn.Sequential(nn.LayerNorm(512), nn.Linear(512, Z_DIM), nn.GELU())
        self.heads = nn.ModuleDict({k: nn.Linear(Z_DIM, v or 2) for k, v in heads.items()})
        self.letters: LetterReader | None = None   # attach_letters() replaces the trunk's letter heads

    def trunk(self, pixel_values: torch.Tensor) -> torch.Tensor:
        s = self.stem(pixel_values)
        b = self.board(s[:, :, : self.board_rows])
        d = self.deep(s)
        return self.mix(torch.cat([F.gelu(self.board_fc(b.flatten(1))), F.gelu(self.deep_fc(d.flatten(1)))], 1))

    def attach_letters(self, letters: LetterReader) -> None:
        self.letters = letters

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


# Where the minutes-left ones digit goes. "acting" (sessions 5-9): beside the acting
# team's name; teacher-forced, answers copied it 2 times in 10 while the tens digit,
# alone in the state token, was copied 10 in 10 (tiny/time_probe.py). "scene"
# (session 10): alone as the only word of the scene token.
ONES_SLOTS = ("acting", "scene")


class Connector(nn.Module):
    """Reader features [N, F] -> K=5 decoder tokens [N, 5, D]:
    home team, away team, acting team, match state, scene.

    What a line must say (a team name, a score digit, a kit colour, minutes
    left) goes in as the expected *token embedding* of that word under the
    reader's distribution, e.g. sum_n p(name_h = n) * E[" " + name n]. With the
    output head tied to E, saying the name is copying a vector, one skill for
    all 174 names; a learnt map from a 174-way distribution to tokens (session
    2) produced blends like "Centaides". Names, digits and colours are distinct
    token classes, so one token can carry one of each: the text before the slot
    says which class comes next. The acting team is whoever a line is about
    right now: the scorer while the goal banner shows, else the side in
    possession.
    """

    def __init__(self, heads: dict[str, int], hidden: int, embed: nn.Embedding,
                 name_ids: list[int], digit_ids: list[int], colour_ids: list[int], ones_slot: str = "acting"):
        super().__init__()
        assert ones_slot in ONES_SLOTS, ones_slot
        self.ones_slot = ones_slot
        self.sl = feature_slices(heads)
        self.embed = embed  # the decoder's (tied) token embedding, shared
        self.register_buffer("name_ids", torch.tensor(name_ids), persistent=False)
        self.register_buffer("digit_ids", torch.tensor(digit_ids), persistent=False)
        self.register_buffer("colour_ids", torch.tensor(colour_ids), persistent=False)
        width = lambda names: sum(self.sl[n].stop - self.sl[n].start for n in names)  # noqa: E731
        # Team tokens are only words + a small role vector. Session 3: with a
        # learnt map of the distributions beside the word (norm ~3) or a role
        # vector of norm 8, names stayed at chance; on a toy copy task this
        # decoder copies a name in 150 steps when the word dominates the token
        # (role norm 0.16) and does not in 300 when it is drowned.
        self.side = nn.Parameter(torch.randn(3, hidden) * 0.01)  # small: a big role vector drowns the word
        self.state = nn.Linear(width(TOKEN_GROUPS["state"]), hidden)
        self.scene = nn.Linear(width(TOKEN_GROUPS["scene"]), hidden)
        self.free = nn.Sequential(nn.Linear(Z_DIM, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.gain = nn.Parameter(torch.full((4,), 3.0))  # learnt word scale (trained to ~1.9 on rows of norm 2.5)
        if ones_slot == "scene":
            self.ones_gain = nn.Parameter(torch.tensor(2.0))
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
        if self.ones_slot == "acting":
            acting = acting + self._word(p("left_o"), self.digit_ids)
        act = g[2] * acting + self.side[2]
        state = g[3] * self._word(p("left_t"), self.digit_ids) + self.state(self._cat(f, TOKEN_GROUPS["state"]))
        scene = self.scene(self._cat(f, TOKEN_GROUPS["scene"])) + self.free(f[:, self.sl["z"]])
        if self.ones_slot == "scene":
            scene = scene + self.ones_gain * self._word(p("left_o"), self.digit_ids)
        return torch.stack([home, away, act, state, scene], 1)


class VisionTower(nn.Module):
    """The exported vision_encoder.onnx: pixels -> reader -> connector -> tokens."""

    def __init__(self, reader: Reader, connector: Connector):
        super().__init__()
        self.reader, self.connector = reader, connector

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.connector(self.reader.features(pixel_values))
