"""Arena world: procedural 2-D team sport, its renderer, streaming dialogue
and dataset builder for training the co-caster's tiny video-language model.
See README.md in this folder."""
