"""``cnncost train`` and ``cnncost evaluate``: thin wrappers over ``zoo.training`` (which imports torch)."""

from __future__ import annotations

from typing import Optional, cast

import click
import typer
from typer.core import TyperCommand

from cnncost.cli import options as o
from cnncost.cli.app import app, fail, friendly

# Options that may be given without their value, and what they mean then: bare --augment is the default recipe.
OPTIONAL_VALUES = {"augment": "default"}
AUGMENT_HELP = ("training augmentation, on the batch's device: a comma-separated list of hflip, vflip (each p = 0.5), "
                "rotate=F (up to ±F of a full turn, Keras RandomRotation's factor), crop=A (random resized crop "
                "keeping ≥ A of the area), pad-crop=P (pad P pixels, crop back), jitter=S (brightness, contrast and "
                "saturation; or brightness=S, contrast=S, saturation=S), mixup=ALPHA, cutmix=ALPHA; alone: "
                "crop=0.35,hflip,brightness=0.2,contrast=0.2")


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
    from zoo.training.config import TrainConfig

    return TrainConfig(**values)


def default_out(arch: str, strategy: str) -> str:
    """runs/vgg19-last-layer-20261122-101500: a new folder per run, named by what it trains."""
    import time
    from pathlib import Path

    name = Path(arch).stem if arch.endswith(".toml") else arch.removeprefix("zoo.").split(":")[-1]
    return f"runs/{name}-{strategy.replace(':', '')}-{time.strftime('%Y%m%d-%H%M%S')}"


@app.command(cls=OptionalValueCommand)
@friendly
def train(arch: str = typer.Argument(..., help="zoo network (zoo.vgg19, scratch5, ...) or architecture file"),
          strategy: str = typer.Option("scratch", help="scratch | last-layer | head (the classifier top) | "
                                                         "partial:K | full"),
          data: str = typer.Option("synthetic", help="image folder (train/<class>/*, optional val/ or test/) "
                                                     "or 'synthetic'"),
          epochs: int = typer.Option(10, help="training epochs"),
          batch_size: int = typer.Option(32, "--batch-size", help="images per step"),
          lr: float = typer.Option(1e-3, help="peak learning rate"),
          img_size: Optional[int] = typer.Option(None, "--img-size", "--hw",
                                                 help="input side S (H = W = S, as formulas write it); "
                                                      "default: the network's"),
          weights: str = typer.Option("none", help="checkpoint PATH, 'imagenet' (torch hub cache) or 'none'"),
          out: Optional[str] = typer.Option(None, help="run folder (checkpoints, metrics.json, plots); "
                                                       "default runs/NAME-STRATEGY-TIME"),
          device: str = typer.Option("auto", help="auto | cpu | cuda"),
          resume: bool = typer.Option(False, "--resume", help="continue the run saved in --out"),
          seed: int = typer.Option(0, help="seed for init, split, order and augmentation"),
          m: o.M = None, k: o.K = None, n: o.N = None, org: o.Org = None, bn: o.BN = None,
          activation: o.ActivationOpt = None, padding: o.PaddingOpt = None,
          include_top: o.IncludeTop = None, head: o.Head = None, set_: o.Set = None,
          dropout: Optional[float] = typer.Option(None, help="dropout rate (the network's dropout layers)"),
          dropout_at: Optional[str] = typer.Option(None, "--dropout-at", metavar="LAYERS",
                                                   help="add a Dropout(--dropout) before these layers "
                                                        "(comma-separated engine names, e.g. conv1,fc)"),
          optimizer: str = typer.Option("adam", help="adam | adamw | sgd"),
          momentum: float = typer.Option(0.9, help="sgd momentum"),
          nesterov: bool = typer.Option(False, "--nesterov", help="sgd with Nesterov momentum"),
          weight_decay: float = typer.Option(0.0, "--weight-decay", help="L2 penalty (decoupled for adamw)"),
          schedule: str = typer.Option("constant", help="constant | cosine | onecycle | step"),
          warmup_epochs: float = typer.Option(0.0, "--warmup-epochs", help="linear warmup length in epochs"),
          step_size: int = typer.Option(10, "--step-size", help="step schedule: epochs per decay"),
          gamma: float = typer.Option(0.1, help="step schedule: decay factor"),
          clip_grad: Optional[float] = typer.Option(None, "--clip-grad", help="max gradient norm"),
          clip_value: Optional[float] = typer.Option(None, "--clip-value",
                                                     help="clamp every gradient element to ±VALUE (after "
                                                          "--clip-grad)"),
          label_smoothing: float = typer.Option(0.0, "--label-smoothing", help="label smoothing in [0, 1)"),
          ema: Optional[float] = typer.Option(None, "--ema", metavar="DECAY",
                                              help="keep an exponential moving average of the weights and "
                                                   "BatchNorm statistics (0 < DECAY < 1, e.g. 0.999), updated "
                                                   "after every optimizer step; validation, early stopping, "
                                                   "best.pt and the final evaluation use the average"),
          binary: bool = typer.Option(False, "--binary",
                                      help="a 2-class dataset with one output unit, sigmoid + binary "
                                           "cross-entropy (class 1, the second class name in sorted order, is "
                                           "the positive one)"),
          augment: Optional[str] = typer.Option(None, "--augment", metavar="[SPEC]", help=AUGMENT_HELP),
          resize: str = typer.Option("crop", "--resize", metavar="crop|plain",
                                     help="every split: crop (shorter side to S·256/224, centre crop S×S) or plain "
                                          "(straight to S×S, aspect not kept, as Keras)"),
          cache: bool = typer.Option(True, "--cache/--no-cache",
                                     help="keep decoded images (last-layer: backbone features) in memory "
                                          "across epochs"),
          patience: Optional[int] = typer.Option(None, help="early stopping after this many epochs without "
                                                            "a better --monitor value"),
          monitor: str = typer.Option("val_acc", help="the epoch metric that picks best.pt and drives --patience: "
                                                      "val_acc | val_topk | val_loss | train_acc | train_loss | "
                                                      "val_precision | val_recall | val_f1 (macro)"),
          val_fraction: float = typer.Option(0.2, "--val-fraction", help="stratified validation share of train/"),
          workers: Optional[int] = typer.Option(None, help="data-loading processes (default: 8 on CUDA, 0 on CPU)"),
          amp: Optional[bool] = typer.Option(None, "--amp/--no-amp", help="bf16 autocast (default: on for CUDA)"),
          channels_last: Optional[bool] = typer.Option(None, "--channels-last/--no-channels-last",
                                                       help="NHWC memory format (default: on for CUDA)"),
          compile_model: bool = typer.Option(False, "--compile", help="torch.compile the model"),
          topk: int = typer.Option(5, help="k of the top-k accuracy"),
          synthetic_size: int = typer.Option(2000, "--synthetic-size", help="images in --data synthetic"),
          quiet: bool = typer.Option(False, "--quiet", help="no progress output"),
          then: Optional[str] = typer.Option(None, "--then", metavar="STRATEGY",
                                             help="a second stage after --epochs (e.g. --strategy head --then full)"),
          then_epochs: int = typer.Option(0, "--then-epochs", help="epochs of the --then stage"),
          then_lr: Optional[float] = typer.Option(None, "--then-lr", help="peak learning rate of the --then stage "
                                                                          "(default: --lr / 10)"),
          plots: bool = typer.Option(True, "--plots/--no-plots",
                                     help="write the PNGs: the class distribution at the start; curves, class "
                                          "scores, confusion, predictions and filters at the end"),
          log: str = typer.Option("console", "--log", metavar="SINKS",
                                  help="where the run's records go, comma-separated: console (the lines and the "
                                       "epoch table), jsonl (RUN/events.jsonl), csv (RUN/epochs.csv), tensorboard "
                                       "(RUN/tensorboard/; pip install tensorboard); e.g. console,jsonl"),
          nproc_per_node: int = typer.Option(1, "--nproc-per-node",
                                             help="training processes on this machine (one per GPU with "
                                                  "--device cuda), started through torchrun's engine; "
                                                  "--batch-size stays the global batch of one step"),
          nnodes: int = typer.Option(1, "--nnodes", help="machines taking part (each runs the same command)"),
          node_rank: int = typer.Option(0, "--node-rank", help="this machine's rank, 0 .. --nnodes - 1"),
          rdzv_endpoint: Optional[str] = typer.Option(None, "--rdzv-endpoint", metavar="HOST:PORT",
                                                      help="machine 0's address, the same on every machine"),
          rdzv_timeout: int = typer.Option(120, "--rdzv-timeout", help="seconds to wait for every machine"),
          sync_bn: bool = typer.Option(False, "--sync-bn", help="BatchNorm statistics over the global batch"),
          accumulate: int = typer.Option(1, "--accumulate", metavar="K",
                                         help="micro-batches per process and step (gradient accumulation)")):
    """Train a network from scratch or fine-tune it (last-layer, head, partial:K, full) on an image folder."""
    hyper = o.hyperparameters(m=m, k=k, n=n, org=org, bn=bn, activation=activation, padding=padding,
                              include_top=include_top, head=head)
    if set_:  # any other parameter the network declares (cnncost tune's command lines use it)
        from cnncost.archs import get

        hyper = o.with_settings(get(arch), hyper, set_)
    if out is None:
        if resume:
            fail("--resume: give the --out folder of the run to continue")
        out = default_out(arch, strategy)
    config = _config(arch=arch, strategy=strategy, data=data, epochs=epochs, batch_size=batch_size, lr=lr,
                     img_size=img_size, weights=weights, out=out, device=device, resume=resume, seed=seed,
                     hyperparameters=hyper, optimizer=optimizer, momentum=momentum, nesterov=nesterov,
                     weight_decay=weight_decay, schedule=schedule, warmup_epochs=warmup_epochs,
                     step_size=step_size, gamma=gamma, clip_grad=clip_grad, clip_value=clip_value,
                     monitor=monitor, label_smoothing=label_smoothing, ema=ema, binary=binary,
                     dropout=dropout, dropout_at=dropout_at, augment=augment, resize=resize, cache=cache,
                     patience=patience, val_fraction=val_fraction,
                     workers=workers, amp=amp, channels_last=channels_last, compile=compile_model, topk=topk,
                     synthetic_size=synthetic_size, quiet=quiet, plots=plots, log=log, then=then,
                     then_epochs=then_epochs,
                     then_lr=then_lr, nproc_per_node=nproc_per_node, nnodes=nnodes, node_rank=node_rank,
                     rdzv_endpoint=rdzv_endpoint, rdzv_timeout=rdzv_timeout, sync_bn=sync_bn, accumulate=accumulate)
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
    from pathlib import Path

    from zoo.training.runfolder import has_checkpoint

    try:
        saved = has_checkpoint(Path(out).expanduser())
    except OSError:
        saved = False
    if saved:
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
