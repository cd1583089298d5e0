"""``cnncost train`` and ``cnncost evaluate``: thin wrappers over ``zoo.training`` (which imports torch)."""

from __future__ import annotations

from typing import Optional, cast

import click
import typer
from typer.core import TyperCommand

from cnncost.cli import options as o
from cnncost.cli.app import app, fail, friendly

from .train_options import train_options

# Options that may be given without their value, and what they mean then: bare --augment is the default recipe.
OPTIONAL_VALUES = {"augment": "default"}


class OptionalValueCommand(TyperCommand):
    """typer's command, with click's optional-value options for the names in OPTIONAL_VALUES: given alone
    (at the end, or before another option) such an option takes its value from the table."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if param.name in OPTIONAL_VALUES:
                # What click.Option(is_flag=False, flag_value=...) sets up; typer passes no flag_value through.
                option = cast(click.Option, param)  # typer declares options: what click's Option sets up
                option.flag_value = OPTIONAL_VALUES[param.name]
                option._flag_needs_value = True


def _config(**values):
    from zoo.runtime.config import TrainConfig

    return TrainConfig(**values)


def default_out(arch: str, strategy: str) -> str:
    """runs/vgg19-last-layer-20261122-101500: a new folder per run, named by what it trains."""
    import time
    from pathlib import Path

    name = Path(arch).stem if arch.endswith(".toml") else arch.removeprefix("zoo.").split(":")[-1]
    return f"runs/{name}-{strategy.replace(':', '')}-{time.strftime('%Y%m%d-%H%M%S')}"


# Network parameters train sets itself, so they are not options of train (and --set refuses them): what each is.
SET_BY_TRAIN = {"h": "the input size is --img-size S (H = W = S)", "w": "the input size is --img-size S (H = W = S)",
                "classes": "the classes come from --data", "aux_logits": "training uses the main logits only "
                                                                         "(auxiliary heads are left out)"}


@app.command(cls=OptionalValueCommand)
@friendly
@o.network_options(exclude=("hw", *SET_BY_TRAIN, "dropout"))  # --dropout is train's: every dropout layer's rate
@train_options
def train(arch: str = typer.Argument(..., help="zoo network (zoo.vgg19, scratch5, ...) or architecture file"),
          settings: dict = o.FILLED, given: o.Given = o.FILLED):
    """Train a network from scratch or fine-tune it (last-layer, head, partial:K, full) on an image folder."""
    hyper = dict(given)
    if given.settings:  # any other parameter the network declares (cnncost tune's command lines use it)
        from cnncost.archs import get

        hyper = given.for_arch(get(arch))
    for name, why in SET_BY_TRAIN.items():
        if name in hyper:
            fail(f"--set {name}: train sets it itself ({why})")
    out = settings.pop("out")
    if out is None:
        if settings["resume"]:
            fail("--resume: give the --out folder of the run to continue")
        out = default_out(arch, settings["strategy"])
    config = _config(arch=arch, hyperparameters=hyper, out=out, **settings)
    from zoo.training.freeze import EngineMismatch
    from zoo.training.launch import RankStopped
    from zoo.training.run import train as run_training

    try:
        run_training(config)
    except RankStopped as stopped:  # a process died: the run stopped, not the user's options
        typer.echo(str(stopped), err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo(_interrupted(out), err=True)
        raise typer.Exit(130) from None
    except EngineMismatch as bug:  # never the user's fault: loud, and not exit 2
        typer.echo(f"internal error (please report): {bug}", err=True)
        raise typer.Exit(1) from None


def _interrupted(out: str) -> str:
    """What Ctrl-C leaves: the last finished epoch when one was saved, else the truth that nothing was."""
    from zoo.training.runfolder import saved_an_epoch

    if saved_an_epoch(out):
        return f"interrupted: the last finished epoch is saved in {out}; continue with --resume"
    return "interrupted before the first epoch finished: nothing was saved; run the command again to start over"


@app.command()
@friendly
def evaluate(run_file: str = typer.Argument(..., help="a run folder (its best.pt), or a run's checkpoint.pt "
                                                      "or best.pt"),
             data: str = typer.Option(..., help="image folder whose test/ (or val/) split is evaluated"),
             batch_size: int = typer.Option(64, "--batch-size", help="images per batch"),
             device: str = typer.Option("auto", help="auto | cpu | cuda"),
             module: Optional[str] = typer.Option(None, "--module", metavar="SPEC",
                                                  help="a run of a user's module: name its module again "
                                                       "(package.module:factory or path/to/file.py:factory; "
                                                       "its code runs). A run file never imports code itself"),
             json_out: o.Json = False):
    """Accuracy of a saved run on a dataset's test split (top-1, top-k, per class)."""
    from zoo.training.evaluate import evaluate_run

    result = evaluate_run(run_file, data, batch_size=batch_size, device=device, module=module)
    result.pop("kept")
    if json_out:
        typer.echo(evaluation_json(result))
        return
    typer.echo(f"{result['arch']} · {result['split']} split of {data} · {result['count']:,} images")
    typer.echo(f"top-1 accuracy {result['top1']:.4f} · top-{result['k']} {result['topk']:.4f} · "
               f"loss {result['loss']:.4f}")


def evaluation_json(result: dict) -> str:
    """``evaluate --json``: strict JSON (a 0/0 ratio, such as the precision of a class never
    predicted, is null rather than the NaN that ``json.dumps`` would write)."""
    import json

    from zoo.runtime.files import jsonable

    return json.dumps(jsonable(result), indent=2, allow_nan=False)
