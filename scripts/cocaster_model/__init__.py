"""cocaster's model family in PyTorch: a VideoLLM-online-style streaming video LM.

Used for the golden reference (tests), training (the default tiny model) and export
to the ONNX package format that the TypeScript runtime loads.
"""
