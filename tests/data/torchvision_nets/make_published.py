"""Regenerate tests/data/torchvision_published.json from torchvision's model manifest.

Usage: ``python tests/data/torchvision_nets/make_published.py MANIFEST.json [OUT.json]``

MANIFEST holds, per torchvision model name, the figures torchvision publishes with its
weights (``num_params_published``, ``gflops_published``, ``crop_size``) and the
state_dict keys and shapes of ``<name>(weights=None)``. The output keeps those figures
and replaces the state_dict by its digest and key count, in the canonical form
:func:`state_dict_digest` defines (the one tests/test_torchvision_nets.py documents), and by
the digests of its parts (:func:`part_of`), which tell where a mismatching network differs.
"""

import hashlib
import json
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "torchvision_published.json"


def state_dict_digest(shapes: dict) -> str:
    """SHA-256 hex of ``json.dumps(sorted([key, list(shape)] ...), separators=(",", ":"))`` in UTF-8."""
    pairs = sorted([key, [int(d) for d in shape]] for key, shape in shapes.items())
    return hashlib.sha256(json.dumps(pairs, separators=(",", ":")).encode("utf-8")).hexdigest()


def part_of(key: str) -> str:
    """The part a key belongs to: the first two components of its module path ("layer1.0", "fc")."""
    return ".".join(key.split(".")[:-1][:2])


def state_dict_parts(shapes: dict) -> dict:
    """Per part: [number of keys, first 16 hex digits of the part's digest]; a mismatch is located by part."""
    parts: dict = {}
    for key, shape in shapes.items():
        parts.setdefault(part_of(key), {})[key] = shape
    return {part: [len(entries), state_dict_digest(entries)[:16]] for part, entries in sorted(parts.items())}


def published(manifest: dict) -> dict:
    """The figures tests need, per model name, sorted by name."""
    return {name: {"num_params_published": entry["num_params_published"],
                   "gflops_published": entry["gflops_published"],
                   "crop_size": entry["crop_size"],
                   "weights_file": entry["weights_file"],
                   "state_dict_keys": len(entry["state_dict"]),
                   "state_dict_sha256": state_dict_digest(entry["state_dict"]),
                   "state_dict_parts": state_dict_parts(entry["state_dict"])}
            for name, entry in sorted(manifest.items())}


def main(argv: list) -> int:
    """Read the manifest named in argv[1], write the published figures to argv[2] (default: tests/data)."""
    if len(argv) not in (2, 3):
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    manifest = json.loads(Path(argv[1]).read_text())
    out = Path(argv[2]) if len(argv) == 3 else OUT
    document = {"source": "torchvision model manifest (num_params/GFLOPS as torchvision publishes them with "
                          "each model's weights; state_dict keys and shapes of <name>(weights=None))",
                "models": published(manifest)}
    # One line per part ([keys, digest]) instead of four.
    text = re.sub(r"\[\s+(\d+),\s+(\"[0-9a-f]+\")\s+\]", r"[\1, \2]", json.dumps(document, indent=1))
    out.write_text(text + "\n")
    print(f"{out}: {len(document['models'])} models")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
