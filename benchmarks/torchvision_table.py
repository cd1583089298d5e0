"""The Markdown table of torchvision's 68 classification CNNs through ``--module`` (docs/zoo.md).

``python -m benchmarks.torchvision_table [--json STATUS.json]``

Each row: the network, its crop, torch's parameter count (sum of numel) and MACs
(FlopCounterMode / 2 of an eval forward, both from ``tests.torchvision_status``), what
torchvision publishes with the weights (``tests/data/torchvision_published.json``:
``num_params``, ``GFLOPS``, which torchvision computes as multiply-adds) and whether
cnncost's conversion gives exactly torch's totals. ``--json`` reads a saved
``python -m tests.torchvision_status --json`` output instead of converting again.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PUBLISHED = ROOT / "tests" / "data" / "torchvision_published.json"
STATUS = {"exact": "exact", "eval-only": "eval-only", "wrong": "**wrong**", "refused": "refused", "crash": "crash"}


def statuses() -> list:
    """``tests.torchvision_status`` entries of the 68 canonical networks (converted here, on meta)."""
    sys.path.insert(0, str(ROOT))
    from tests import torchvision_status
    from tests.data import torchvision_nets

    return [torchvision_status.status(name, factory, name) for name, factory in torchvision_nets.factories().items()]


def published_note(entry: dict, published: dict) -> str:
    """Why torch's count and the published one differ, where they do."""
    if published.get("num_params_published") in (None, entry["torch_params"]):
        return ""
    eval_params = entry.get("torch_params_eval")
    if eval_params == published["num_params_published"]:
        return "published without the training-only aux heads"
    return f"differs by {entry['torch_params'] - published['num_params_published']:+,}"


def table(entries: list, published: dict) -> str:
    """The Markdown table and a last line counting the exact conversions."""
    lines = ["| network | crop | params (torch numel) | MACs (FlopCounterMode / 2) | published params | "
             "published GFLOPS | cnncost `--module` | note |", "|---|---|---|---|---|---|---|---|"]
    for entry in entries:
        ref = published.get(entry["name"], {})
        params = ref.get("num_params_published")
        gflops = ref.get("gflops_published")
        lines.append(f"| {entry['name']} | {entry['crop']} | {entry['torch_params']:,} | {entry['torch_macs']:,} | "
                     f"{f'{params:,}' if params is not None else '—'} | "
                     f"{f'{gflops:g}' if gflops is not None else '—'} | {STATUS[entry['status']]} | "
                     f"{published_note(entry, ref)} |")
    exact = sum(e["status"] == "exact" for e in entries)
    lines.append(f"\n{exact} of {len(entries)} convert exactly.")
    return "\n".join(lines)


def main(argv: list | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.torchvision_table", description=__doc__.split("\n")[0])
    parser.add_argument("--json", type=Path, help="a saved `python -m tests.torchvision_status --json` output")
    args = parser.parse_args(argv)
    if args.json:
        entries = [e for e in json.loads(args.json.read_text())["networks"] if e["name"] == e["model"]]
    else:
        entries = statuses()
    published = json.loads(PUBLISHED.read_text())["models"]
    print(table(entries, published))
    return 0


if __name__ == "__main__":
    sys.exit(main())
