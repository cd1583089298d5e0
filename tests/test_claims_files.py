"""`cnncost check --claims FILE`: a claims file is data — typed fields, bounded reads, no code run."""

import os
import sys

import pytest
from typer.testing import CliRunner

from cnncost.cli import app, main

runner = CliRunner()
GOOD = '[[claim]]\nname = "total"\nclaim = "159114"\nquantity = "params"\n' \
       'options = { m = 64, k = 3, n = 128, hw = 100 }\n'


def _one_error_line(args, capsys) -> str:
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("error: ") and "Traceback" not in err
    return err


@pytest.mark.parametrize("body, fragments", [
    ('[[claim]]\nname = 1\nclaim = "m"\nquantity = "params"\n', ["claim 1", "name must be a string", "integer 1"]),
    ('[[claim]]\nname = "t"\nclaim = "m"\nquantity = "params"\ntolerance = "abc"\n',
     ["claim 1 (t)", "tolerance must be a number from 0 to 1", "'abc'"]),
    ('[[claim]]\nname = "t"\nclaim = "m"\nquantity = "params"\ntolerance = nan\n', ["tolerance", "nan"]),
    ('[[claim]]\nname = "t"\nclaim = "m"\nquantity = "params"\ntolerance = inf\n', ["tolerance", "inf"]),
    ('[[claim]]\nname = "t"\nclaim = "m"\nquantity = "params"\ntolerance = -0.1\n', ["tolerance", "-0.1"]),
    ('[[claim]]\nname = "t"\nclaim = "m"\nquantity = "params"\narch = 1\n', ["claim 1 (t)", "arch must be a string"]),
    ('[[claim]]\nname = "t"\nclaim = "m"\nquantity = "params"\noptions = "x"\n',
     ["claim 1 (t)", "options must be a table", "'x'"]),
    ('[[claim]]\nname = "t"\nclaim = "m"\nquantity = "params"\noptions = { hw = [1, 2] }\n', ["options.hw"]),
    ('[[claim]]\nname = "t"\nclaim = "m"\nquantity = 3\n', ["quantity must be a string"]),
    ('[[claim]]\nname = "t"\nclaim = 1.5\nquantity = "params"\n', ["claim must be a string", "1.5"]),
    ('[[claim]]\nname = "t"\nclaim = "m"\nquantity = "params"\nlayer = true\n', ["layer must be a string"]),
    ('claim = [1, 2]\n', ["claim 1", "must be a [[claim]] table", "integer 1"]),
    ('claim = "m"\n', ["no [[claim]] tables"]),
    ('intro = 3\n' + GOOD, ["intro must be a string"]),
    ('title = ["a"]\n' + GOOD, ["title must be a string"]),
    ('bogus = 1\n' + GOOD, ["unknown top-level key 'bogus'"]),
])
def test_mistyped_claims_files_are_one_line_naming_file_claim_and_field(tmp_path, capsys, body, fragments):
    path = tmp_path / "claims.toml"
    path.write_text(body, encoding="utf-8")
    for extra in ([], ["--markdown"], ["--json"]):
        err = _one_error_line(["check", "--claims", str(path), *extra], capsys)
        assert str(path) in err and all(f in err for f in fragments), err


def test_non_utf8_bytes(tmp_path, capsys):
    path = tmp_path / "claims.toml"
    path.write_bytes(GOOD.encode() + b'note = "\xff\xfe"\n')
    err = _one_error_line(["check", "--claims", str(path)], capsys)
    assert str(path) in err and "not UTF-8" in err


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_dev_zero_is_refused_without_reading(capsys):
    err = _one_error_line(["check", "--claims", "/dev/zero"], capsys)
    assert "/dev/zero" in err and "not a regular file" in err


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_without_blocking(tmp_path, capsys):
    fifo = tmp_path / "claims.toml"
    os.mkfifo(fifo)
    err = _one_error_line(["check", "--claims", str(fifo)], capsys)  # would block forever if opened for reading
    assert "a FIFO" in err


def test_a_missing_file_and_a_directory(tmp_path, capsys):
    assert "cannot read the claims file" in _one_error_line(["check", "--claims", str(tmp_path / "no.toml")], capsys)
    assert "a directory" in _one_error_line(["check", "--claims", str(tmp_path)], capsys)


# --- module: in a claims file imports code: only with the same --module on the command line --

PAYLOAD = '''
import pathlib
pathlib.Path({marker!r}).write_text("imported")

def make():
    import torch
    return torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1))
'''


def _module_claims(tmp_path):
    marker = tmp_path / "imported.txt"
    payload = tmp_path / "payload.py"
    payload.write_text(PAYLOAD.format(marker=str(marker)))
    spec = f"{payload}:make"
    claims = tmp_path / "claims.toml"
    claims.write_text(f'[[claim]]\nname = "linear"\narch = "module:{spec}"\nclaim = "8"\nquantity = "params"\n'
                      f'options = {{ hw = 4 }}\n')
    return claims, spec, marker


def test_module_arch_in_a_claims_file_is_refused_and_never_imported(tmp_path, capsys):
    claims, spec, marker = _module_claims(tmp_path)
    err = _one_error_line(["check", "--claims", str(claims)], capsys)
    assert "claim 1" in err and "import" in err and f"--module {spec}" in err
    other = _one_error_line(["check", "--claims", str(claims), "--module", "elsewhere.py:make"], capsys)
    assert f"--module {spec}" in other
    assert not marker.exists()


@pytest.mark.skipif("torch" not in sys.modules and __import__("importlib").util.find_spec("torch") is None,
                    reason="needs torch")
def test_the_same_module_on_the_command_line_allows_it(tmp_path):
    claims, spec, marker = _module_claims(tmp_path)
    result = runner.invoke(app, ["check", "--claims", str(claims), "--module", spec])
    assert marker.exists(), result.output  # the user named it: it ran
    assert result.exit_code == 0 and "EQUAL" in result.output  # a 1×1 conv 3 → 2: 3·2 + 2 = 8 parameters
