"""Which of torchvision's classification CNNs cnncost's ``--module`` importer converts exactly.

``python -m tests.torchvision_status [--json] [NAME ...]``

For every factory in ``tests/data/torchvision_nets`` (the 68 torchvision models, then the
idiom variants), built on the meta device (conversion needs shapes only, and it gives the
same result as a CPU build; 600M-parameter RegNets cost no memory), this runs
``zoo.fx_import.convert_module(module, name, (3, crop, crop))`` and prints one line:

* ``exact``     converted, and ``cnncost.engine.analyze`` of ``converted.network(crop, crop)``
                gives ``params`` = sum of the module's parameter numel and ``macs`` =
                FlopCounterMode's total of an eval forward / 2 (both measured here by torch);
* ``eval-only`` converted with the MACs exact and ``params`` = the numel of the parameters
                whose modules run in the eval forward, which is less than the module's
                numel: training-only heads (googlenet's aux1/aux2, inception_v3's
                AuxLogits) left out. Not counted as exact; torchvision publishes googlenet
                without its aux heads and inception_v3 with its AuxLogits;
* ``WRONG``     converted, but either total differs from torch's (the numbers follow);
* ``refused``   the CnncostError line the user would see;
* ``CRASH``     any other exception (a bug in the converter, not a missing rule).

It ends with "N of 68 convert exactly" and the refusals grouped by construct (the
converter's to-do list), every construct of every network, not only the ones that fit
in a refusal line. ``--json`` prints the same as one JSON document.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from contextlib import contextmanager

import torch
from torch.utils.flop_counter import FlopCounterMode

from cnncost import conventions, engine
from cnncost.errors import CnncostError
from tests.data import torchvision_nets
from zoo import fx_import


def references(module: torch.nn.Module, crop: int) -> tuple:
    """torch's own counts: (sum of parameter numel, the numel of those whose module runs in an eval
    forward, FlopCounterMode FLOPs / 2 of that forward)."""
    params = sum(p.numel() for p in module.parameters())
    ran = set()
    hooks = [m.register_forward_pre_hook(lambda m, args: ran.add(id(m))) for m in module.modules()]
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            module.eval()(torch.empty(1, 3, crop, crop, device="meta"))
    finally:
        for hook in hooks:
            hook.remove()
    owners = dict(module.named_modules())
    used = sum(p.numel() for key, p in module.named_parameters() if id(owners[key.rpartition(".")[0]]) in ran)
    return params, used, counter.get_total_flops() // 2


@contextmanager
def recorded_listings(found: list):
    """While converting, note every item the converter lists in a refusal (it shortens long lists to
    "and N more"); the refusal message itself is unchanged."""
    from zoo import fx_units

    original = getattr(fx_units, "listing", None)
    if original is None:  # the converter changed shape: group by the messages alone
        yield
        return

    def listing(lead, items, *args, **kwargs):
        found.extend((lead, item) for item in items)
        return original(lead, items, *args, **kwargs)

    fx_units.listing = listing
    try:
        yield
    finally:
        fx_units.listing = original


def construct(lead: str, item: str) -> str:
    """The construct of one listed problem, without where it occurs ("Tensor.mean", "Hardswish")."""
    what = item.rpartition(" at ")[0] if " at " in item else item
    what = re.sub(r" to \(.*", "", what)  # view/reshape targets differ per network; the construct does not
    what = re.sub(r"^[\w.]*torchvision_nets\.\w+\.", "", what)  # our package path -> the function's own name
    return f"{lead.strip().rstrip(':')}: {what}" if not lead.startswith("no counting rule") else what


def reason(message: str, name: str) -> str:
    """A refusal not made of listed items, as a construct: its first clause, the network's name removed."""
    text = message.split(f"{name}(): ", 1)[-1]
    return re.split(r": |; ", text, maxsplit=1)[0]


def status(name: str, factory, canonical: str) -> dict:
    """Convert one network and compare cnncost's totals with torch's."""
    crop = factory.input_size[1]
    with torch.device("meta"):
        module = factory()
    params, used, macs = references(module, crop)
    entry = {"name": name, "model": canonical, "crop": crop, "torch_params": params, "torch_macs": macs}
    if used != params:  # training-only heads (googlenet's aux1/aux2, inception_v3's AuxLogits)
        entry["torch_params_eval"] = used
    listed: list = []
    try:
        with recorded_listings(listed):
            converted = fx_import.convert_module(module, name, (3, crop, crop))
        totals = conventions.totals(engine.analyze(converted.network(crop, crop)))
    except CnncostError as error:
        constructs = sorted({construct(lead, item) for lead, item in listed}) or [reason(str(error), name)]
        return {**entry, "status": "refused", "message": str(error), "constructs": constructs}
    except Exception as error:  # noqa: BLE001 - a crash is a converter bug worth its own line
        message = f"{type(error).__name__}: {error}"
        return {**entry, "status": "crash", "message": message, "constructs": [f"crash: {type(error).__name__}"]}
    exact = totals["params"] == params and totals["macs"] == macs
    eval_only = totals["params"] == entry.get("torch_params_eval") and totals["macs"] == macs
    return {**entry, "status": "exact" if exact else "eval-only" if eval_only else "wrong",
            "cnncost_params": totals["params"], "cnncost_macs": totals["macs"]}


def line(entry: dict) -> str:
    """One network's line of the report."""
    head = f"{entry['name']:<28}"
    if entry["status"] == "exact":
        return f"{head} exact    params {entry['torch_params']:,}  MACs {entry['torch_macs']:,}"
    if entry["status"] == "eval-only":
        return (f"{head} eval-only params {entry['cnncost_params']:,} = those the eval forward uses (all: "
                f"{entry['torch_params']:,})  MACs {entry['torch_macs']:,}")
    if entry["status"] == "wrong":
        return (f"{head} WRONG    params {entry['cnncost_params']:,} (torch {entry['torch_params']:,})  "
                f"MACs {entry['cnncost_macs']:,} (torch {entry['torch_macs']:,})")
    return f"{head} {'refused' if entry['status'] == 'refused' else 'CRASH  '}  {entry['message']}"


def report(entries: list) -> dict:
    """Counts and the refusals grouped by construct (construct -> the networks it blocks)."""
    canonical = [e for e in entries if e["name"] == e["model"]]
    variants = [e for e in entries if e["name"] != e["model"]]
    blocked = defaultdict(list)
    for entry in entries:
        for what in entry.get("constructs", ()):
            blocked[what].append(entry["name"])
    return {"exact": sum(e["status"] == "exact" for e in canonical), "models": len(canonical),
            "eval_only": sorted(e["name"] for e in entries if e["status"] == "eval-only"),
            "variants_exact": sum(e["status"] == "exact" for e in variants), "variants": len(variants),
            "by_construct": dict(sorted(blocked.items(), key=lambda kv: (-len(kv[1]), kv[0])))}


def main(argv: list) -> int:
    """Print the status of every network (or of the names given); 0 whatever it finds, 2 on unknown names."""
    as_json = "--json" in argv
    names = [a for a in argv if a != "--json"]
    networks = [(name, f, name) for name, f in torchvision_nets.factories().items()]
    networks += [(name, f, model) for name, (f, model) in torchvision_nets.variants().items()]
    unknown = sorted(set(names) - {n for n, _, _ in networks})
    if unknown:
        print(f"unknown network(s): {', '.join(unknown)}", file=sys.stderr)
        return 2
    entries = [status(*network) for network in networks if not names or network[0] in names]
    summary = report(entries)
    if as_json:
        print(json.dumps({"networks": entries, "summary": summary}, indent=1))
        return 0
    for entry in entries:
        print(line(entry))
    print(f"\n{summary['exact']} of {summary['models']} convert exactly"
          + (f"; variants: {summary['variants_exact']} of {summary['variants']}" if summary["variants"] else ""))
    if summary["eval_only"]:
        print("counted without their training-only heads (not exact: the module has more parameters): "
              + ", ".join(summary["eval_only"]))
    if summary["by_construct"]:
        print("\nRefusals by construct (networks blocked):")
        for what, blocked in summary["by_construct"].items():
            print(f"  {len(blocked):>3}  {what}: {', '.join(blocked)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
