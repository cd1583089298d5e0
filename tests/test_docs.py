"""The documentation is executable and never drifts from the code.

* Every ``>>>`` example in docs/python-api.md (```pycon blocks) runs under doctest.
* Every ``$ cnncost ...`` line in docs/getting-started.md's ```console blocks runs
  through ``cnncost.cli.main`` and prints what the page shows (``...`` elides).
* The generated pages (families, CLI reference, index) equal a fresh generation.
* Every relative link in README.md and docs/ reaches an existing file and heading.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import re
import shlex
from pathlib import Path

import pytest

from cnncost import archs
from cnncost.cli import main
from cnncost.docs import build, cli_reference, index
from cnncost.docs.families import FAMILIES
from cnncost.docs.published import REPORTS, TORCHVISION

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.DOTALL | re.MULTILINE)
REGENERATE = "out of date: run `python docs/generate.py` and commit the result"


def code_blocks(path: Path, language: str) -> list:
    """(line number, body) of every fenced block in ``language``."""
    text = path.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 2, m.group(2)) for m in FENCE.finditer(text)
            if m.group(1) == language]


# ---------------------------------------------------------------- python examples

def test_python_api_examples_run_and_print_what_the_page_shows():
    """All ```pycon blocks of a page share one namespace, like one interpreter session."""
    page = DOCS / "python-api.md"
    blocks = code_blocks(page, "pycon")
    assert blocks, "docs/python-api.md has no ```pycon examples"
    parser = doctest.DocTestParser()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    namespace: dict = {}
    for line, body in blocks:
        test = parser.get_doctest(body, namespace, page.name, str(page), line)
        runner.run(test, clear_globs=False)
        namespace = test.globs  # DocTest copies its globals: carry them to the next block
    result = runner.summarize(verbose=False)
    assert result.attempted > 10
    assert result.failed == 0, "an example in docs/python-api.md printed something else (see above)"


# ---------------------------------------------------------------- shell examples

def console_examples(path: Path) -> list:
    """(line, command, expected output) for every ``$ cnncost`` line of the ```console blocks."""
    examples = []
    for first, body in code_blocks(path, "console"):
        current = None
        for offset, text in enumerate(body.splitlines()):
            if text.startswith("$ "):
                current = [first + offset, text[2:], []]
                examples.append(current)
            elif current is not None:
                current[2].append(text)
    return [(line, command, "\n".join(out)) for line, command, out in examples]


GETTING_STARTED = console_examples(DOCS / "getting-started.md")
NEEDS = {"verify": ("torch", "fvcore", "ptflops"), "plot": ("matplotlib",)}


def normalised(text: str) -> str:
    """Trailing spaces (table padding) dropped, so only visible text is compared."""
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines()) + "\n"


@pytest.mark.parametrize("line, command, expected", GETTING_STARTED,
                         ids=[f"getting-started.md:{line}" for line, _, _ in GETTING_STARTED])
def test_getting_started_commands_print_what_the_page_shows(line, command, expected, capsys, tmp_path,
                                                           monkeypatch):
    argv = shlex.split(command, comments=True)
    assert argv[0] == "cnncost", f"line {line}: only cnncost commands are run"
    for module in NEEDS.get(argv[1], ()):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{argv[1]} needs {module}")
    monkeypatch.chdir(tmp_path)  # files a command writes (plot --out) land here
    main(argv[1:])
    captured = capsys.readouterr()
    got = normalised(captured.out + captured.err)
    checker = doctest.OutputChecker()
    assert checker.check_output(normalised(expected), got, doctest.ELLIPSIS), (
        f"docs/getting-started.md line {line}: `{command}` now prints:\n{got}")


def test_getting_started_runs_the_core_commands():
    commands = {shlex.split(command)[1] for _, command, _ in GETTING_STARTED}
    assert {"count", "formula", "check"} <= commands


# ---------------------------------------------------------------- generated pages

def test_family_pages_are_what_the_engine_derives_today():
    """Regenerating every family page (a few seconds of sympy) gives the committed files."""
    stale = build.stale(build.family_pages(ROOT))
    assert not stale, f"{[str(p.relative_to(ROOT)) for p in stale]}: {REGENERATE}"


def test_cli_reference_lists_every_command_and_option_of_the_app():
    path = DOCS / "cli.md"
    committed = path.read_text(encoding="utf-8")
    assert cli_reference.page(committed) == committed, f"docs/cli.md: {REGENERATE}"


def test_cli_reference_keeps_the_hand_written_notes():
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    notes = cli_reference.read_notes(committed)
    assert {"intro", "count", "formula", "check"} <= set(notes)
    regenerated = cli_reference.page(committed)
    assert all(text in regenerated for text in notes.values())
    assert cli_reference.read_notes(cli_reference.page("")) == {}


def test_docs_index_is_current_and_links_every_page():
    committed = (DOCS / "README.md").read_text(encoding="utf-8")
    assert index.page(ROOT) == committed, f"docs/README.md: {REGENERATE}"
    linked = {target.split("#")[0] for target in links(committed)}
    pages = {p.name for p in DOCS.glob("*.md")} - {"README.md"}
    pages |= {f"families/{p.name}" for p in (DOCS / "families").glob("*.md")}
    assert pages <= linked, f"not in docs/README.md: {sorted(pages - linked)}"


def test_every_zoo_network_has_a_family_page():
    documented = {name for family in FAMILIES for name in family.members}
    missing = sorted(set(archs.names()) - documented)
    assert not missing, f"{missing}: add them to a Family in cnncost/docs/families.py, then regenerate"


def test_family_pages_agree_with_every_figure_they_quote():
    for path in (DOCS / "families").glob("*.md"):
        assert "✗" not in path.read_text(encoding="utf-8"), f"{path.name}: a quoted figure disagrees"


def test_quoted_figures_are_the_tests_figures():
    """The pages quote torchvision and the reports; the quotes equal the tests' references."""
    from tests.test_published_figures import PUBLISHED_GFLOPS

    manifest = json.loads((ROOT / "tests" / "data" / "torchvision_state_dicts.json").read_text())
    assert {name: gflops for name, (_, gflops) in TORCHVISION.items()} == PUBLISHED_GFLOPS
    assert {name: params for name, (params, _) in TORCHVISION.items()} == {
        name: manifest[name]["num_params"] for name in TORCHVISION}
    assert {r.arch for r in REPORTS} <= set(archs.names())


# ---------------------------------------------------------------- links

LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
INLINE_CODE = re.compile(r"`[^`\n]*`")


def links(markdown: str) -> list:
    """Link targets outside code blocks and code spans."""
    prose = INLINE_CODE.sub("", FENCE.sub("", markdown))
    return LINK.findall(prose)


def anchors(path: Path) -> set:
    """GitHub's heading ids of a page: lower case, punctuation dropped, spaces as hyphens."""
    seen: dict = {}
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"#{1,6} (.*)", line)
        if match:
            text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", match.group(1)).replace("`", "")
            slug = re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")
            seen[slug] = seen.get(slug, -1) + 1
    return {slug if n == 0 else f"{slug}-{i}" for slug, n in seen.items() for i in range(n + 1)} | set(seen)


PAGES = [ROOT / "README.md", *sorted(DOCS.glob("*.md")), *sorted((DOCS / "families").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_relative_links_reach_a_file_and_a_heading(page):
    broken = []
    for target in links(page.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):
            continue  # http:, https:, mailto:
        file, _, fragment = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        if not path.exists():
            broken.append(target)
        elif fragment and path.suffix == ".md" and fragment not in anchors(path):
            broken.append(f"{target} (no such heading)")
    assert not broken, f"{page.relative_to(ROOT)}: broken links {broken}"
