"""VideoLLM-online (Llama-3 + SigLIP + connector, PEFT LoRA) into cocaster's package format.

  python3 -m videollm.make_checkpoints OUT [--full-size]   random checkpoints in the released on-disk layout
  python3 -m videollm.export --llama DIR --adapter DIR --siglip DIR --out PKG [--precision fp32|fp16|int4]

Both run from scripts/ with Debian's /usr/bin/python3 (torch 1.13, onnx 1.12, numpy);
no transformers, safetensors or peft are needed.
"""
