"""``cnncost tune report``: find the study (a folder, or a storage URL and a name) and say what it found."""

from __future__ import annotations

import json
from pathlib import Path

import optuna

from cnncost.arch import ParameterError
from cnncost.errors import CnncostError

from . import report, study as studies
from .launch import INFO


def open_study(out: str | None, storage: str | None, study_name: str | None) -> optuna.Study:
    """The study of folder ``out`` (its study.db, or the storage its tune.json names with ``--storage``), or the
    study ``study_name`` in ``storage``; it must be a cnncost study."""
    if out is None and storage is None:
        raise CnncostError("DIR: give the study folder, or --storage URL (and --study NAME)")
    info = _info(Path(out).expanduser()) if out is not None else {}
    if storage is None:
        assert out is not None  # DIR or --storage: checked at the top
        if info.get("storage"):
            raise ParameterError("storage", f"the study in {out} lives in {info['storage']}; give that URL "
                                            "with its password as {param:storage}")
        database = Path(out).expanduser() / studies.STUDY_FILE
        if not database.is_file():
            raise CnncostError(f"DIR: {out} holds no {studies.STUDY_FILE}; is it the --out of a cnncost tune run?")
        storage = studies.storage_url(Path(out).expanduser(), None)
    name = study_name or info.get("study") or _only_study(storage)
    rdb = studies.open_storage(storage, heartbeat=60)
    try:
        study = optuna.load_study(study_name=name, storage=rdb)
    except KeyError:
        raise ParameterError("study", f"no study {name!r} in {studies.shown_url(storage)}") from None
    if studies.SPEC_ATTR not in study.user_attrs:
        raise ParameterError("study", f"{name!r} was not made by cnncost tune (it has no cnncost spec)")
    return study


def _info(folder: Path) -> dict:
    path = folder / INFO
    if not path.is_file():
        return {}
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise CnncostError(f"DIR: {path} is unreadable ({error}); give --study NAME") from None
    return info if isinstance(info, dict) else {}


def _only_study(storage: str) -> str:
    names = optuna.get_all_study_names(studies.open_storage(storage, heartbeat=60))
    if len(names) != 1:
        listing = f" ({', '.join(sorted(names)[:10])})" if names else ""
        raise ParameterError("study", f"{studies.shown_url(storage)} holds {len(names)} studies; name one with "
                                      f"{{param:study}}{listing}")
    return names[0]


def show_report(out: str | None, storage: str | None = None, study_name: str | None = None, top: int | None = None,
                csv_path: str | None = None, json_out: bool = False, plots: str | None = None) -> list:
    """The report's lines (or its JSON as one line); writes the CSV and the PNGs on the way."""
    if top is not None and (not isinstance(top, int) or top < 1):
        raise ParameterError("top", f"{top!r} is out of range (need an integer ≥ 1)")
    study = open_study(out, storage, study_name)
    spec = study.user_attrs[studies.SPEC_ATTR]
    rows = report.leaderboard(study)
    if csv_path is not None:
        report.write_csv(rows, csv_path)
    written = _plots(study, out, plots)
    if json_out:
        return [report.to_json(study)]
    lines = [report.render_table(rows, spec, top=top), "", report.correlation_table(study), ""]
    best = report.best_trial(study)
    if best is not None and "command" in best.user_attrs:
        lines.append(f"best: trial {best.number}: {best.user_attrs['command']}")
    else:
        lines.append(f"best: none yet ({report.best_trial_reason(study)})")
    if csv_path is not None:
        lines.append(f"wrote {csv_path}")
    lines += [f"wrote {path}" for path in written]
    lines += [f"skipped {name}: {why}" for name, why in getattr(written, "skipped", {}).items()]
    return lines


def _plots(study, out: str | None, plots: str | None) -> list:
    if plots == "none":
        return []
    if plots is None:
        if out is None:
            return []  # a study named only by its storage: plots where asked (--plots FOLDER)
        plots = str(Path(out).expanduser() / "report")
    from .plots import write_plots

    return write_plots(study, plots)
