"""ParameterError: how a library error names parameters, from Python and on the command line."""

import re

from hypothesis import given
from hypothesis import strategies as st

from cnncost.arch import ParameterError, flag, spelled_as

PLACEHOLDERS = re.compile(r"\{(listed|option|param:[a-z_][a-z0-9_]*)\}")


def test_python_callers_read_keywords_and_the_command_line_reads_flags():
    error = ParameterError("val_fraction", "continue with {param:resume_from}, or drop {listed} ({option})",
                           ("in_channels", "m"))
    assert str(error) == "val_fraction: continue with resume_from, or drop in_channels, m (a parameter)"
    with spelled_as(flag, "an option"):
        assert str(error) == "--val-fraction: continue with --resume-from, or drop --in-channels, --m (an option)"
    assert str(error).startswith("val_fraction: ")  # the spelling is restored after the block


def test_several_parameters_are_named_together():
    with spelled_as(flag, "an option"):
        assert str(ParameterError(("then_epochs", "then_lr"), "give both")) == "--then-epochs/--then-lr: give both"


@given(st.text())
def test_user_text_in_a_complaint_is_printed_as_it_is(text):
    """A path such as runs/{a} or a value such as '{0}' is data: before, str.format read it as a field and raised."""
    if PLACEHOLDERS.search(text):
        return
    assert str(ParameterError("out", text)) == "out: " + text
    with spelled_as(flag, "an option"):
        assert str(ParameterError("out", f"{text} and {{param:resume}}")) == f"--out: {text} and --resume"
