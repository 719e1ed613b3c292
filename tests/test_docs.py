"""The documentation is part of the product: it builds strictly, its examples run, its
tutorials run top to bottom, and its generated pages match the code they describe."""

from __future__ import annotations

import doctest
import importlib
import importlib.util
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

import xmaco

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SCRIPTS = DOCS / "scripts"
TUTORIALS = sorted((DOCS / "tutorials").glob("*.ipynb"))
COLAB = "https://colab.research.google.com/github/xmaco/xmaco/blob/main/docs/tutorials/{}"
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
# Every notebook must run at this scale, fast, in CI (no network, 2 cores).
TUTORIAL_SCALE = "0.05"


def _modules() -> list[str]:
    names = ["xmaco"]
    for info in pkgutil.walk_packages(xmaco.__path__, prefix="xmaco."):
        if not info.name.endswith(".__main__"):  # importing it would run the command
            names.append(info.name)
    return sorted(names)


MODULES = _modules()


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"docs_scripts_{name}", SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ---------------------------------------------------------------------------- the site
@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """``mkdocs build --strict`` into a temporary directory, once for the tests below."""
    directory = tmp_path_factory.mktemp("site")
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(directory)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    return completed, directory


def test_the_site_builds_strictly(site):
    """No warning at all: broken links and anchors, missing pages, unresolved API
    references, a stale CLI page or an omitted file all fail the build."""
    completed, directory = site
    assert completed.returncode == 0, completed.stdout + completed.stderr
    for page in ("index.html", "api/index.html", "cli/index.html"):
        assert (directory / page).is_file(), page
    for notebook in TUTORIALS:
        assert (directory / "tutorials" / notebook.stem / "index.html").is_file()


def test_the_site_has_no_external_assets(site):
    """Fonts, scripts, stylesheets and pictures all come from the site itself, so it reads
    offline and loads nothing from a CDN."""
    completed, directory = site
    assert completed.returncode == 0, completed.stdout + completed.stderr
    external = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*?(?:src|href)=["'](?:https?:)?//""")
    offenders = []
    for page in directory.rglob("*.html"):
        found = external.findall(page.read_text(encoding="utf-8"))
        offenders += [f"{page.relative_to(directory)}: {match}" for match in found]
    assert not offenders, "\n".join(offenders[:10])


def test_the_cli_page_is_generated_from_the_parser():
    reference = _load_script("cli_reference")
    committed = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert committed == reference.render(), (
        "docs/cli.md is stale; regenerate it: python docs/scripts/cli_reference.py"
    )


def test_the_cli_page_lists_every_subcommand_and_option():
    from xmaco.cli import build_parser

    page = (DOCS / "cli.md").read_text(encoding="utf-8")
    parser = build_parser()
    reference = _load_script("cli_reference")
    subcommands = reference._subcommands(parser)
    assert subcommands
    for name, (subparser, _) in {"": (parser, ""), **subcommands}.items():
        assert f"## `{f'{parser.prog} {name}'.strip()}`" in page
        for action in subparser._actions:
            for flag in action.option_strings:
                if flag not in ("-h", "--help"):
                    assert f"`{flag}" in page, f"{flag} of '{name}' is missing"


def test_pictures_are_committed_and_small():
    pictures = sorted((DOCS / "images").glob("*.png"))
    assert pictures, "run python docs/scripts/make_figures.py"
    for picture in pictures:
        assert picture.stat().st_size < 200_000, f"{picture.name} is over 200 KB"


# ---------------------------------------------------------------------------- docstrings
@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    outcome = doctest.testmod(module, optionflags=FLAGS, verbose=False, report=True)
    assert outcome.failed == 0, f"{outcome.failed} failing example(s) in {name}"


def test_there_are_docstring_examples():
    attempted = 0
    for name in MODULES:
        finder = doctest.DocTestFinder()
        attempted += sum(len(t.examples) for t in finder.find(importlib.import_module(name)))
    assert attempted >= 100, attempted


def test_every_public_callable_has_an_example():
    """Every function and class a public module exports (``__all__``) shows how it is used."""
    missing = []
    for name in MODULES:
        if any(part.startswith("_") for part in name.split(".")):
            continue
        module = importlib.import_module(name)
        for attribute in getattr(module, "__all__", []):
            obj = getattr(module, attribute, None)
            if not (inspect.isfunction(obj) or inspect.isclass(obj)):
                continue
            home = getattr(obj, "__module__", None) or ""
            if home != name and not any(part.startswith("_") for part in home.split(".")):
                continue  # re-exported from a public module: checked there
            if ">>>" not in (inspect.getdoc(obj) or ""):
                missing.append(f"{name}.{attribute}")
    assert not missing, "public callables without an example: " + ", ".join(missing)


@pytest.mark.parametrize("script", ["cli_reference", "griffe_docstrings"])
def test_docs_script_examples_run(script):
    outcome = doctest.testmod(_load_script(script), optionflags=FLAGS)
    assert outcome.failed == 0 and outcome.attempted > 0


# ---------------------------------------------------------------------------- tutorials
def test_there_are_tutorials():
    names = {path.stem for path in TUTORIALS}
    assert {
        "getting_started",
        "units_and_composition",
        "transparency",
        "own_model_and_spectrum",
        "inversion",
        "concepts",
    } <= names


@pytest.mark.parametrize("notebook", TUTORIALS, ids=lambda path: path.stem)
def test_tutorial_opens_in_colab_and_installs_itself(notebook):
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    first_markdown = "".join(cells[0]["source"])
    assert COLAB.format(notebook.name) in first_markdown
    code = [cell for cell in cells if cell["cell_type"] == "code"]
    install = "".join(code[0]["source"])
    assert "import xmaco" in install and "except ImportError" in install
    assert "%pip install" in install
    for cell in code:
        assert not cell.get("outputs"), "commit the notebooks with their outputs cleared"
        assert cell.get("execution_count") is None


@pytest.mark.parametrize("notebook", TUTORIALS, ids=lambda path: path.stem)
def test_tutorial_runs_top_to_bottom(notebook, tmp_path, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("XMACO_TUTORIAL_SCALE", TUTORIAL_SCALE)
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    book = nbformat.read(notebook, as_version=4)
    client = NotebookClient(
        book,
        timeout=300,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    print(f"{notebook.name}: {seconds:.1f} s at scale {TUTORIAL_SCALE}")
    errors = [
        output
        for cell in book.cells
        if cell.cell_type == "code"
        for output in cell.get("outputs", [])
        if output.get("output_type") == "error"
    ]
    assert not errors
