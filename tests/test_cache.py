"""The formula cache prints the true formula whatever sits in its directory.

Reference: the same request run with ``--no-cache`` (a fresh derivation). Each hostile entry
is planted where the real entry lives; the next cached run must print the reference, and the
entry must afterwards verify again (rewritten), except where the name is held by a directory,
which the cache never deletes.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncost import cache
from cnncost.cli import app

runner = CliRunner()
REQUEST = ["formula", "scratch5", "--quantity", "params"]


def run(*extra):
    result = runner.invoke(app, [*REQUEST, *extra])
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.fixture
def planted(tmp_path, monkeypatch):
    """(cache directory, the entry's path, the true text): the entry written once by a cached run."""
    directory = tmp_path / "cache"
    monkeypatch.setenv("CNNCOST_CACHE_DIR", str(directory))
    truth = run("--no-cache")
    assert run() == truth
    entries = sorted(directory.glob("*.txt"))
    assert len(entries) == 1
    return directory, entries[0], truth


def verifies(path: Path, truth: str) -> bool:
    entry = path.name.removesuffix(".txt")
    stored = path.is_file() and not path.is_symlink() and cache.decode(entry, path.read_bytes())
    return stored == truth.removesuffix("\n")


def test_a_hit_is_the_stored_text(planted):
    directory, path, truth = planted
    assert verifies(path, truth)
    # A valid entry really is used: one re-signed with other text is printed (so the
    # checks below prove verification, not that the cache is never read).
    entry = path.name.removesuffix(".txt")
    path.write_bytes(cache.encode(entry, "signed text"))
    assert run() == "signed text\n"


@pytest.mark.parametrize("spoil", ["truncated", "empty", "edited", "other entry copied", "not utf-8",
                                   "old format"])
def test_a_spoiled_entry_is_a_miss_and_is_rewritten(planted, spoil):
    directory, path, truth = planted
    data = path.read_bytes()
    if spoil == "truncated":
        path.write_bytes(data[:len(data) - 40])
    elif spoil == "empty":
        path.write_bytes(b"")
    elif spoil == "edited":  # a valid-looking formula, off by one
        assert b"5m + 11n + 10" in data
        path.write_bytes(data.replace(b"5m + 11n + 10", b"5m + 11n + 11"))
    elif spoil == "other entry copied":  # a complete, valid entry, but for another request
        other = runner.invoke(app, ["formula", "scratch5", "--quantity", "macs"])
        assert other.exit_code == 0
        (source,) = [p for p in directory.glob("*.txt") if p != path]
        path.write_bytes(source.read_bytes())
    elif spoil == "not utf-8":
        path.write_bytes(b"\xff\xfe" + data)
    elif spoil == "old format":  # what the first cache stored: the bare text
        path.write_text(truth.removesuffix("\n"), encoding="utf-8")
    assert run() == truth
    assert verifies(path, truth)


def test_a_link_to_another_entry_is_not_followed(planted):
    directory, path, truth = planted
    other = runner.invoke(app, ["formula", "scratch5", "--quantity", "macs"])
    (target,) = [p for p in directory.glob("*.txt") if p != path]
    before = target.read_bytes()
    path.unlink()
    path.symlink_to(target)
    assert run() == truth and other.stdout != truth
    assert verifies(path, truth) and target.read_bytes() == before  # the link replaced, its target untouched


def test_a_link_to_dev_zero_is_a_miss(planted):
    directory, path, truth = planted
    path.unlink()
    path.symlink_to("/dev/zero")
    assert run() == truth and verifies(path, truth)


def test_a_huge_entry_is_not_read(planted):
    directory, path, truth = planted
    with open(path, "ab") as out:  # sparse: costs no disk, but far over the limit
        out.truncate(cache.LIMIT + 1)
    assert run() == truth and verifies(path, truth)


def test_a_directory_in_the_entrys_place_is_a_miss(planted):
    directory, path, truth = planted
    path.unlink()
    path.mkdir()
    (path / "inside").write_text("kept")
    assert run() == truth
    assert (path / "inside").read_text() == "kept"  # the cache deletes nothing of the user's


def test_a_fifo_in_the_entrys_place_does_not_hang(planted):
    """In a subprocess with a timeout: a regression would block on open() forever."""
    directory, path, truth = planted
    path.unlink()
    os.mkfifo(path)
    code = f"from cnncost.cli import main; main({REQUEST!r})"
    env = {**os.environ, "CNNCOST_CACHE_DIR": str(directory)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0 and done.stdout == truth
    assert verifies(path, truth)


# --- where the cache lives ------------------------------------------------------------------

def _environment(monkeypatch, **values):
    for name in ("CNNCOST_CACHE_DIR", "XDG_CACHE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_the_cache_directory_follows_the_environment(tmp_path, monkeypatch):
    _environment(monkeypatch, CNNCOST_CACHE_DIR=str(tmp_path / "own"), XDG_CACHE_HOME=str(tmp_path / "x"))
    assert cache.cache_dir() == tmp_path / "own"
    _environment(monkeypatch, XDG_CACHE_HOME=str(tmp_path / "x"), HOME=str(tmp_path))
    assert cache.cache_dir() == tmp_path / "x" / "cnncost"
    # The XDG spec: a relative path is invalid and is ignored.
    _environment(monkeypatch, XDG_CACHE_HOME="relative/cache", HOME=str(tmp_path))
    assert cache.cache_dir() == tmp_path / ".cache" / "cnncost"


@pytest.mark.parametrize("home", [None, "", "relative", "/", "missing"])
def test_no_usable_place_means_uncached_and_nothing_created(tmp_path, monkeypatch, home):
    monkeypatch.chdir(tmp_path)
    if home == "missing":
        home = str(tmp_path / "no-such-home")
    _environment(monkeypatch, **({} if home is None else {"HOME": home}))
    assert cache.cache_dir() is None
    truth = run("--no-cache")
    assert run() == truth and run() == truth
    assert sorted(tmp_path.iterdir()) == []  # no home, no .cache, nothing in the working directory


def test_an_entry_too_large_to_read_back_is_not_stored(tmp_path, monkeypatch):
    _environment(monkeypatch, CNNCOST_CACHE_DIR=str(tmp_path / "c"))
    cache.put("e", "x" * (cache.LIMIT + 1))
    assert cache.get("e") is None and not (tmp_path / "c" / "e.txt").exists()
    cache.put("e", "formula")
    assert cache.get("e") == "formula"


@pytest.mark.parametrize("package, module", [("cnncost", "symbolic.py"), ("zoo", "fx_units.py")])
def test_a_change_to_the_code_that_shapes_formulas_changes_every_key(package, module):
    """zoo converts --module networks into the description their formulas come from, so a
    change there must invalidate cached formulas as a change to cnncost does."""
    path = Path(cache.__file__).parent.parent / package / module
    stat = path.stat()
    before = cache.code_fingerprint()
    try:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
        assert cache.code_fingerprint() != before
    finally:
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert cache.code_fingerprint() == before
