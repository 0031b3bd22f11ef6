"""Re-export a package's decoder in the current package format, from its own weights.

    /usr/bin/python3 scripts/upgrade_package.py DIR

Format 2 (cocaster_model/export.py) gave the decoder the "append" cache I/O and
added kv_append.onnx; format 3 its logits_index input. The vision encoder,
embedding, kv_shift and tokenizer files do not change. The torch modules are rebuilt from the package's ONNX files
(training/package.py: cocaster-tiny or a make_fixture.py package), the decoder is
exported again and model.json gets the new files and sha256s. The weights are the
package's, so its golden.json / reference.json still hold.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cocaster_model.export import FORMAT_VERSION, export_decoder, sha256  # noqa: E402
from training.package import package_modules  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package")
    a = ap.parse_args()
    path = os.path.join(a.package, "model.json")
    with open(path) as f:
        manifest = json.load(f)
    if "architecture" not in manifest:
        sys.exit(f"{path}: no architecture block, so there are no torch modules to rebuild")
    with contextlib.redirect_stdout(sys.stderr):
        _, decoder = package_modules(a.package, manifest)
    export_decoder(decoder, decoder.cfg, a.package)
    manifest["formatVersion"] = FORMAT_VERSION
    manifest["decoder"]["io"] = "append"
    files = manifest["files"]
    files["decoder"]["sha256"] = sha256(os.path.join(a.package, files["decoder"]["path"]))
    files["kvAppend"] = {"path": "kv_append.onnx", "sha256": sha256(os.path.join(a.package, "kv_append.onnx"))}
    with open(path, "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")
    print(f"{a.package}: decoder re-exported (format {FORMAT_VERSION}, append cache I/O)")


if __name__ == "__main__":
    main()
