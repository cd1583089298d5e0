"""``cnncost tune CONFIG --out DIR`` and ``cnncost tune report DIR``: thin wrappers over ``zoo.tune``
(which imports optuna and torch)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from cnncost.cli.app import app, fail, friendly


class _RunByDefault(TyperGroup):
    """``cnncost tune CONFIG ...`` means ``cnncost tune run CONFIG ...``; ``report`` is the other command."""

    def resolve_command(self, ctx, args):
        """A first argument that names no subcommand is the CONFIG of ``run``."""
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


tune_app = typer.Typer(cls=_RunByDefault, no_args_is_help=True,
                       help="Hyperparameter search on Optuna whose trials are cnncost train runs, each counted "
                            "exactly before it trains: cnncost tune CONFIG --out DIR, then cnncost tune report DIR.")
app.add_typer(tune_app, name="tune")

Storage = Annotated[Optional[str], typer.Option(
    "--storage", metavar="URL", help="an Optuna RDB URL (postgresql://user:pass@host/db, sqlite:///file.db) that "
                                     "any number of tune processes share; default: DIR/study.db")]
StudyName = Annotated[Optional[str], typer.Option("--study", metavar="NAME",
                                                  help="the study's name (default: the config's name:, else its "
                                                       "file name)")]


def _needs_optuna() -> None:
    try:
        import optuna  # noqa: F401
    except ImportError:
        fail("cnncost tune needs Optuna: pip install 'cnncost[tune]'")


@tune_app.command("run")
@friendly
def run(config: Annotated[str, typer.Argument(help="the sweep: a YAML or TOML file in wandb's sweep schema plus "
                                                   "network, strategy, data, epochs, train and budgets")],
        out: Annotated[str, typer.Option("--out", help="the study folder: study.db, trials/NNNN run folders, logs")],
        storage: Storage = None, study: StudyName = None,
        workers: Annotated[int, typer.Option("--workers", help="worker processes on this machine (one GPU each "
                                                               "when there are GPUs)")] = 1,
        quiet: Annotated[bool, typer.Option("--quiet", help="print nothing but errors")] = False,
        quiet_worker: Annotated[bool, typer.Option("--quiet-worker", hidden=True)] = False):
    """Run or continue a study: every trial is counted (params, MACs, train-flops, train-bytes), pruned when it
    is invalid or over a budget, else trained as an ordinary cnncost train run folder."""
    _needs_optuna()
    from zoo.tune.launch import tune

    try:
        tune(config, out, storage=storage, study_name=study, workers=workers, quiet=quiet or quiet_worker,
             say=typer.echo)
    except KeyboardInterrupt:
        typer.echo(f"interrupted: finished trials are kept and the running ones queued again; run the same "
                   f"command to continue ({out})", err=True)
        raise typer.Exit(130) from None


@tune_app.command("report")
@friendly
def report(out: Annotated[Optional[str], typer.Argument(help="the study folder (its study.db or tune.json)")] = None,
           storage: Storage = None, study: StudyName = None,
           top: Annotated[Optional[int], typer.Option("--top", help="rows of the leaderboard shown")] = None,
           csv: Annotated[Optional[str], typer.Option("--csv", metavar="FILE", help="write the leaderboard as CSV")]
           = None,
           json_out: Annotated[bool, typer.Option("--json", help="print the study as JSON instead of tables")] = False,
           plots: Annotated[Optional[str], typer.Option("--plots", metavar="FOLDER",
                                                        help="where the PNGs go (default DIR/report; 'none': "
                                                             "no plots)")] = None):
    """The study's leaderboard, the best configuration as a cnncost train command, and its plots: metric
    against trial, parallel coordinates, parameter importance, correlations and Pareto fronts."""
    _needs_optuna()
    from zoo.tune.show import show_report

    for line in show_report(out, storage=storage, study_name=study, top=top, csv_path=csv, json_out=json_out,
                            plots=plots):
        typer.echo(line)
