"""Training memory: torchinfo's estimate against one measured training step (issue 15).

``python -m benchmarks.memory_tools`` (torch and torchinfo importable; no GPU needed). For resnet50,
vgg19 and mobilenet_v2 at 224×224 and scratch5 at its default 100×100, batch 1 and 32, fp32, full
training (strategy scratch), it prints, in exact bytes and MiB:

  torchinfo   ``torchinfo.summary(model, input_size=(B, 3, H, W), verbose=0)``: the returned
              ModelStatistics' ``total_output_bytes`` ("Forward/backward pass size"), ``total_param_bytes``
              ("Params size") and their sum with ``total_input`` ("Estimated Total Size"); torchinfo
              prints them in MB of 10⁶ bytes (``ModelStatistics.to_megabytes``).
  measured    one real step (forward, cross-entropy, backward) on the meta device under
              ``zoo.saved_tensors.measure_step``: the distinct storages autograd saves; then an optimizer
              step (sgd, adam) and the bytes of every tensor in ``optimizer.state``; parameters, buffers
              and ``.grad`` read off the module. train-bytes = params + buffers + grads + optimizer + saved.
  cnncost     ``analyze_step(table, parse_step("scratch", B, opt, "fp32", "cpu"))``: saved_bytes and
              train_bytes, which must equal the measured figures (the script stops if they do not).

fp32 on the meta device is exact (shapes and dtypes are all that storages' sizes depend on) and fast;
torchinfo is run on the meta device as well (``device="meta"``), which gives the same sizes as a CPU
run (its input size is ``sys.getsizeof`` of the input's storage: its bytes plus the Python object).
"""

from __future__ import annotations

import argparse
from typing import NamedTuple

import torch

NETWORKS = ("resnet50", "vgg19", "mobilenet_v2", "scratch5")
BATCHES = (1, 32)
OPTIMIZERS = ("sgd", "adam")
MIB = 2 ** 20


class Estimate(NamedTuple):
    """torchinfo's three memory figures, in bytes."""

    forward_backward: int  # "Forward/backward pass size"
    params: int  # "Params size"
    total: int  # "Estimated Total Size": input + forward/backward + params


class Truth(NamedTuple):
    """One measured step's memory, in bytes, and cnncost's prediction of it."""

    saved: int
    train: dict  # optimizer -> params + buffers + grads + optimizer state + saved
    predicted_saved: int
    predicted_train: dict


def network_parts(name: str) -> tuple:
    """(cnncost network, its engine table, the resolved hyperparameters) at the default size."""
    from cnncost import archs, engine

    spec = archs.get(name)
    config = archs.resolve(spec, {})
    network = spec.build(**config)
    return network, engine.analyze(network), config


def meta_model(name: str, config: dict, network, table) -> torch.nn.Module:
    """The zoo model on the meta device, full training applied as ``cnncost train`` applies it."""
    import zoo
    from cnncost import finetune
    from zoo.training import freeze

    with torch.device("meta"):
        model = zoo.build(name, **config)
    plan = freeze.apply_strategy(model, network, table, finetune.parse_strategy("scratch"))
    freeze.set_training_mode(model, plan)
    return model


def torchinfo_estimate(model: torch.nn.Module, batch: int, shape: tuple) -> Estimate:
    """torchinfo's figures for one batch, read off the returned ModelStatistics (not its text)."""
    import torchinfo

    stats = torchinfo.summary(model, input_size=(batch, *shape), verbose=0, device="meta")
    total = stats.total_input + stats.total_output_bytes + stats.total_param_bytes  # as its __repr__ sums it
    return Estimate(stats.total_output_bytes, stats.total_param_bytes, total)


def optimizer_state_bytes(model: torch.nn.Module, optimizer: str) -> int:
    """Bytes of every tensor a fresh optimizer holds after one step on the model's current gradients."""
    parameters = [p for p in model.parameters() if p.requires_grad]
    make = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer]
    step = make(parameters, lr=0.01)
    step.step()
    return sum(value.untyped_storage().nbytes() for state in step.state.values()
               for value in state.values() if isinstance(value, torch.Tensor))


def measured_step(model: torch.nn.Module, batch: int, shape: tuple) -> tuple:
    """(saved bytes, {optimizer: train bytes}) of one real step of ``model`` on the meta device."""
    from zoo.saved_tensors import measure_step

    images = torch.zeros(batch, *shape, device="meta")
    labels = torch.zeros(batch, dtype=torch.long, device="meta")
    step = measure_step(model, images, labels, None, count_flops=False)
    params = sum(p.untyped_storage().nbytes() for p in model.parameters())
    buffers = sum(b.untyped_storage().nbytes() for b in model.buffers())
    state = params + buffers + step.grad_bytes + step.saved_bytes
    return step.saved_bytes, {opt: state + optimizer_state_bytes(model, opt) for opt in OPTIMIZERS}


def truth(name: str, batch: int) -> tuple:
    """(Truth, torchinfo's Estimate) for ``name`` at ``batch``; stops if cnncost disagrees with the step."""
    from cnncost.trainstep import analyze_step, parse_step

    network, table, config = network_parts(name)
    shape = tuple(network.input_shape)
    # Separate modules: torchinfo's hooks and mode switches must not touch the measured one.
    estimate = torchinfo_estimate(meta_model(name, config, network, table), batch, shape)
    saved, train = measured_step(meta_model(name, config, network, table), batch, shape)
    steps = {opt: analyze_step(table, parse_step("scratch", batch, opt, "fp32", "cpu")) for opt in OPTIMIZERS}
    found = Truth(saved, train, steps["sgd"].saved_bytes, {opt: s.train_bytes for opt, s in steps.items()})
    if (found.predicted_saved, found.predicted_train) != (found.saved, found.train):
        raise SystemExit(f"{name} batch {batch}: cnncost predicts saved {found.predicted_saved} and train "
                         f"{found.predicted_train}, the measured step gives {found.saved} and {found.train}")
    return found, estimate


def bytes_and_mib(value: int) -> str:
    """``123,456,789 B (117.7 MiB)``."""
    return f"{value:,} ({value / MIB:,.1f} MiB)"


def table_rows(names: tuple, batches: tuple) -> list:
    """One Markdown row per network and batch."""
    rows = []
    for name in names:
        for batch in batches:
            found, estimate = truth(name, batch)
            rows.append(f"| {name} | {batch} | {bytes_and_mib(estimate.forward_backward)} | "
                        f"{bytes_and_mib(found.saved)} | {estimate.forward_backward / found.saved:.2f} | "
                        f"{bytes_and_mib(estimate.total)} | {bytes_and_mib(found.train['sgd'])} | "
                        f"{estimate.total / found.train['sgd']:.2f} | {bytes_and_mib(found.train['adam'])} | "
                        f"{estimate.total / found.train['adam']:.2f} |")
            print(rows[-1], flush=True)
    return rows


HEADER = ("| network | batch | torchinfo fwd/bwd pass, B | measured saved, B | ratio | torchinfo total, B | "
          "true train-bytes sgd, B | ratio | true train-bytes adam, B | ratio |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def main() -> None:
    """Print the table (every row checked against cnncost's prediction)."""
    import torchinfo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", default=",".join(NETWORKS), help="comma-separated zoo names")
    parser.add_argument("--batches", default=",".join(map(str, BATCHES)), help="comma-separated batch sizes")
    args = parser.parse_args()
    print(f"torch {torch.__version__} · torchinfo {torchinfo.__version__} · fp32, strategy scratch, meta device\n")
    print(HEADER)
    table_rows(tuple(args.networks.split(",")), tuple(int(b) for b in args.batches.split(",")))
    print("\nratio: torchinfo's figure / the measured one; every measured figure equals cnncost's prediction.")


if __name__ == "__main__":
    main()
