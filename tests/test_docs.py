"""The documentation cannot rot: every page's code runs, every public name has
a docstring and a place in the API reference, and the README stays short.

Each page runs as the site's build runs it (docs/_ext/mgdocs.py): its python
blocks in order in one namespace, its graph blocks evaluated.  `make docs`
builds the site itself with warnings as errors.
"""
import importlib
import importlib.util
import inspect
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
HAVE_DOCS = os.path.isfile(os.path.join(DOCS, "conf.py"))
needs_docs = pytest.mark.skipif(not HAVE_DOCS, reason="docs/ is not here (an installed copy "
                                                      "of the tests)")


def pages():
    if not HAVE_DOCS:
        return []
    return sorted(f for f in os.listdir(DOCS) if f.endswith(".md"))


def mgdocs():
    spec = importlib.util.spec_from_file_location("mgdocs", os.path.join(DOCS, "_ext",
                                                                       "mgdocs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_docs
@pytest.mark.parametrize("page", pages())
def test_page_code_runs(page, tmp_path, monkeypatch):
    with open(os.path.join(DOCS, page), encoding="utf-8") as f:
        text = f.read()
    if "torch" in re.findall(r"^(?:import|from) (\w+)", text, re.M):
        pytest.importorskip("torch", reason="this page's code uses PyTorch")
    monkeypatch.chdir(tmp_path)              # a page may write files
    drawn = []
    mgdocs().run_page(text, page, lambda number, i: drawn.append(number) or "")
    assert all(hasattr(type(n), "_mg_backend") for n in drawn)


@needs_docs
def test_graph_blocks_become_pictures():
    text = "```python\nfrom micrograd import Number\nx = Number(2.0)\ny = x * x\n```\n" \
           "before\n```{mg-graph}\ny\n```\nafter\n"
    out = mgdocs().run_page(text, "t", lambda number, i: f"<picture {i} of {number.op}>")
    assert "<picture 0 of mul>" in out and "mg-graph" not in out and "before" in out
    with pytest.raises(NameError):
        mgdocs().run_page("```{mg-graph}\nundefined_name\n```\n", "t", None)


PUBLIC = ["micrograd", "micrograd.nn", "micrograd.optim", "micrograd.losses",
          "micrograd.activations", "micrograd.transforms", "micrograd.tape",
          "micrograd.datasets", "micrograd.viz", "micrograd.engine", "micrograd.optimize"]
# public modules that need an optional package to import (an extra of pyproject.toml)
NEEDS = {"micrograd.optimize": "scipy"}


def public_objects():
    for name in PUBLIC:
        if name in NEEDS and importlib.util.find_spec(NEEDS[name]) is None:
            continue
        module = importlib.import_module(name)
        for attr in module.__all__:
            obj = getattr(module, attr)
            if isinstance(obj, (str, int, float)):
                continue
            yield f"{name}.{attr}", obj
            if inspect.isclass(obj):
                for key, value in vars(obj).items():
                    if not key.startswith("_"):
                        yield f"{name}.{attr}.{key}", value


def _said(obj):
    """A docstring's text without the signature line Cython embeds
    (``Number.add(self, other)``), which says nothing a reader needs."""
    doc = inspect.getdoc(obj) or ""
    lines = doc.splitlines()
    if lines and re.fullmatch(r"[\w.]+\(.*\)( -> .*)?", lines[0].strip()):
        lines = lines[1:]
    return "\n".join(lines).strip()


def test_every_public_name_has_a_docstring():
    missing = sorted({name for name, obj in public_objects() if not _said(obj)})
    assert missing == []


def conf():
    spec = importlib.util.spec_from_file_location("conf", os.path.join(DOCS, "conf.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_docs
def test_the_api_page_shows_no_private_parameter_or_alias():
    core = pytest.importorskip("micrograd._core")   # the stubs describe the compiled classes
    c = conf()
    shown = [c._signature(None, what, f"micrograd.{name}", obj, {}, None, None)
             for what, name, obj in (("class", "Number", core.Number),
                                     ("function", "sum", core.sum),
                                     ("class", "Chain", core.Chain))]
    assert shown[0] == ("(value: float)", "None")
    for sig, ret in shown:
        assert not re.search(r"\b_\w", sig + (ret or "")), sig
    assert c.readable("(a: Dict[str, _Real], _b: int = ..., c: _Operand = 1.0)") == \
        "(a: Dict[str, float], c: Number | float = 1.0)"


@needs_docs
def test_the_landing_page_installs_shows_an_example_and_where_next():
    with open(os.path.join(DOCS, "index.md"), encoding="utf-8") as f:
        text = f.read()
    assert re.search(r"```console\n\$ pip install", text)
    assert re.search(r"```python\n(.*\n)*?print\(", text)
    where = text.split("## Where next", 1)[1].split("```{toctree}", 1)[0]
    assert len(re.findall(r"\]\([\w-]+\.md\)", where)) >= 5
    # the contents are the sidebar's, not a long list on the page
    assert text.count("```{toctree}") == text.count(":hidden:") > 0


@needs_docs
def test_the_api_page_covers_every_public_module():
    with open(os.path.join(DOCS, "api.md"), encoding="utf-8") as f:
        text = f.read()
    assert set(re.findall(r"automodule:: ([\w.]+)", text)) == set(PUBLIC)


def test_readme_is_short_and_links_into_the_site():
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        text = f.read()
    assert len(text.splitlines()) < 120
    if HAVE_DOCS:
        for page in re.findall(r"\(docs/([\w-]+)\.md", text):
            assert os.path.isfile(os.path.join(DOCS, page + ".md")), page


@needs_docs
def test_a_page_shows_what_its_code_prints():
    text = "```python\nprint(6 * 7)\nx = 1\n```\ntext\n```python\nx += 1\n```\n"
    out = mgdocs().run_page(text, "t", None, outputs=True)
    assert ":caption: Output\n\n42\n```" in out and out.count("Output") == 1
    assert out.index("42") < out.index("\ntext\n")       # right under its block


@needs_docs
def test_a_missing_optional_package_is_a_note_unless_strict(monkeypatch):
    """make docs on a fresh clone, without torch: the page's code stops at the
    import and says so (it failed the build with No module named 'torch')."""
    text = ("```python\nimport not_installed_here.sub\n```\n```python\nprint(1)\n```\n"
            "```{mg-graph}\nx\n```\n")
    module = mgdocs()
    module.OPTIONAL = {"not_installed_here"}
    monkeypatch.delenv("MICROGRAD_DOCS_STRICT", raising=False)
    out = module.run_page(text, "t", lambda n, i: "<picture>", outputs=True)
    # one note where the code stopped, one in place of the picture
    assert out.count("needs `not_installed_here`") == 2 and "<picture>" not in out
    assert "print(1)" in out and "Output" not in out
    monkeypatch.setenv("MICROGRAD_DOCS_STRICT", "1")
    with pytest.raises(ModuleNotFoundError):
        module.run_page(text, "t", None, outputs=True)
    module.OPTIONAL = {"torch"}
    with pytest.raises(ModuleNotFoundError):         # a package that is not optional
        module.run_page(text, "t", None, outputs=True)


@needs_docs
def test_the_performance_page_has_real_tables_and_honest_charts(tmp_path):
    """The page showed the bench's text table as one wide preformatted block
    (headers cut off, a path of the recording machine), one chart mixed ns/op
    with ms/step, and a log axis made 64 against 193 bytes look tenfold."""
    pytest.importorskip("matplotlib")
    import runpy
    plot = runpy.run_path(os.path.join(ROOT, "benchmarks", "plot.py"))
    written = plot["render"](os.path.join(ROOT, "benchmarks", "bench.json"), str(tmp_path))
    with open(tmp_path / "bench_table.md", encoding="utf-8") as f:
        table = f.read()
    assert "```" not in table and "|---|" in table and "/work/" not in table
    assert not plot["log_scale"]([("core", [64.2]), ("reference", [193.0])])
    assert plot["log_scale"]([("core", [15.6]), ("torch", [7371.0])])
    assert "original" in written and (tmp_path / "bench_original_step.svg").exists()
