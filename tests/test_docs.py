"""The documentation is executable and never drifts from the code.

* Every ``>>>`` example in docs/python-api.md (```pycon blocks) runs under doctest.
* Every ``$`` command of README.md and docs/*.md runs and prints what the page shows, except
  blocks marked ``<!-- not run: REASON -->`` (rules and update mode: tests/docs_commands.py).
* The generated pages (families, CLI reference, index) equal a fresh generation.
* Every relative link in README.md and docs/ reaches an existing file and heading.
"""

from __future__ import annotations

import doctest
import importlib.util
import json
import re
from pathlib import Path

import pytest

from cnncost import archs
from docs.generator import build, cli_reference, index
from docs.generator.families import FAMILIES
from docs.generator.published import REPORTS, TORCHVISION
from tests import docs_commands

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

# What each command needs beyond cnncost itself; a command whose extra is missing is skipped.
NEEDS = {"verify": ("torch", "fvcore", "ptflops"), "plot": ("matplotlib",), "--module": ("torch",), "module:": ("torch",), "train": ("torch", "PIL", "matplotlib"),
         "evaluate": ("torch", "PIL", "matplotlib"), "show": ("torch", "PIL", "matplotlib"),
         "python -c": ("numpy", "PIL")}
RUN_PAGES = [page for page in docs_commands.pages() if docs_commands.examples(page)]
UPDATE = "if the new output is right, run `python -m tests.docs_commands --update` and review the diff"


def missing_extras(page: Path) -> list:
    """Modules some runnable command of ``page`` needs that are not installed."""
    needed = {module for example in docs_commands.examples(page) if example.reason is None
              for words, modules in NEEDS.items() if f" {words}" in f" {example.command}" for module in modules}
    return sorted(module for module in needed if importlib.util.find_spec(module) is None)


@pytest.mark.parametrize("page", RUN_PAGES, ids=[str(p.relative_to(ROOT)) for p in RUN_PAGES])
def test_every_shown_command_prints_what_the_page_shows(page, tmp_path):
    """Each page's ``$`` commands run in order in one fresh directory (see tests/docs_commands.py)."""
    missing = missing_extras(page)
    if missing:
        pytest.skip(f"{page.name} needs {', '.join(missing)}")
    problems = [docs_commands.problem(example, result)
                for example, result in docs_commands.run_page(page, tmp_path / "work")]
    problems = [text for text in problems if text]
    assert not problems, "\n\n".join(problems) + f"\n\n{UPDATE}"


@pytest.mark.parametrize("page", docs_commands.pages(), ids=[str(p.relative_to(ROOT)) for p in docs_commands.pages()])
def test_every_command_that_is_not_run_says_why(page):
    unexplained = [f"line {e.line}" for e in docs_commands.examples(page) if e.reason == ""]
    assert not unexplained, f"{page.name}: `<!-- not run: REASON -->` without a reason at {unexplained}"
    assert not docs_commands.unplaced_markers(page), (
        f"{page.name}: a not-run marker at lines {docs_commands.unplaced_markers(page)} precedes no commands")
    for example in docs_commands.examples(page):
        assert example.command.split()[0] in ("cnncost", "python"), f"{page.name}:{example.line}: not runnable"


def test_the_runnable_examples_cover_every_core_command_and_page():
    ran = {example.command.split()[1] for page in docs_commands.pages()
           for example in docs_commands.examples(page) if example.reason is None and example.command.startswith("cnncost")}
    assert {"count", "formula", "check", "sweep", "verify", "plot", "zoo", "summary", "train", "evaluate",
            "show"} <= ran


def test_only_what_needs_a_download_or_a_placeholder_is_left_unrun():
    """Unrun blocks are few, and each one names a dataset, weights, GPU or a stand-in path."""
    unrun = [(page.name, e.line, e.reason) for page in docs_commands.pages()
             for e in docs_commands.examples(page) if e.reason is not None]
    words = ("iNaturalist", "weight", "GPU", "stand for")
    assert all(any(word in reason for word in words) for _, _, reason in unrun), unrun
    # 18: the dataset and weight downloads, the GPU and multi-machine runs (training, tune), stand-in paths.
    assert len(unrun) <= 18, unrun


def test_readme_and_getting_started_install_the_same_pinned_cpu_torch():
    """The same pinned version, and the same way to get the CPU build without a local wheel."""
    import re

    torch = pytest.importorskip("torch")

    def installs(page):
        return sorted(set(re.findall(r"pip install torch==[0-9.]+(?: --index-url [^\s`]+)?",
                                     page.read_text(encoding="utf-8"))))

    readme, guide = installs(ROOT / "README.md"), installs(DOCS / "getting-started.md")
    version = torch.__version__.split("+")[0]  # the pinned version is the one the tests run
    assert readme == guide == [f"pip install torch=={version}",
                               f"pip install torch=={version} --index-url https://download.pytorch.org/whl/cpu"]


def test_the_comparison_rules():
    """The elision and timing rules of tests/docs_commands.py, on small cases."""
    matches = docs_commands.matches
    assert matches(["a", "...", "z"], ["a", "b", "c", "z"]) and matches(["a", "...", "z"], ["a", "z"])
    assert not matches(["a", "...", "z"], ["a", "b"])
    assert matches(["total ..."], ["total 12 (3 more)"]) and not matches(["total ..."], ["total", "x"])
    assert matches(["a ... z"], ["a b z"]) and not matches(["a ... z"], ["a b", "z"])
    assert not matches(["x … y"], ["x 1 y"])  # the one-character ellipsis is literal
    assert matches(["in 13 ms (+ 0.54 s)"], ["in 7 ms (+ 1.25 s)"]) and not matches(["13 MACs"], ["7 MACs"])
    assert matches(["row   ", "", ""], ["", "row"])


def test_update_keeps_the_elisions_where_they_are():
    shown = ["head 1", "...", "total 5", "...", "last 9"]
    got = ["head 2", "a", "b", "total 6", "c", "last 8"]
    assert docs_commands.rewritten(shown, got) == ["head 2", "...", "total 6", "...", "last 8"]
    assert docs_commands.rewritten(["in 13 ms", "x ..."], ["in 9 ms", "x y"]) == ["in 13 ms", "x ..."]
    assert docs_commands.rewritten(["a", "...", "b", "c"], ["new"]) == ["new"]  # too short: shown whole
    # new lines at the end are shown (the last group grows), new lines in an elided part are not
    assert docs_commands.rewritten(["a 1", "...", "z 1"], ["a 2", "b", "z 2", "legend"]) == [
        "a 2", "...", "z 2", "legend"]
    assert docs_commands.rewritten(["...", "z 1"], ["a", "z 2", "b"]) == ["...", "z 2", "b"]


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
    documented |= {variant.arch for family in FAMILIES for variant in family.variants}  # its closed forms shown
    missing = sorted(set(archs.names()) - documented)
    assert not missing, f"{missing}: add them to a Family in docs/generator/families.py, then regenerate"


def test_family_pages_agree_with_every_figure_they_quote():
    for path in (DOCS / "families").glob("*.md"):
        assert "✗" not in path.read_text(encoding="utf-8"), f"{path.name}: a quoted figure disagrees"


def test_quoted_figures_are_the_tests_figures():
    """The pages quote torchvision and the reports; the quotes equal the tests' references."""
    manifest = json.loads((ROOT / "tests" / "data" / "torchvision_cnn_manifest.json").read_text())
    assert TORCHVISION == {name: (entry["num_params_published"], entry["gflops_published"])
                           for name, entry in manifest.items()}
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
