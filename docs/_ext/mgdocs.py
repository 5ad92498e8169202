"""The site's own Sphinx extension: pages whose code runs, pictures made from it.

A page is run like a notebook when it is read: its ```python blocks execute in
order in one namespace, what each prints is shown under it, and each
```{mg-graph} block (one expression, the Number to draw) becomes an SVG of
that Number's graph, drawn by micrograd.viz.to_svg from the state the page's
code left it in.  So every picture and output shows what the code beside it
computes, and a page whose code fails fails the build.  A page that needs an
optional package (torch, ...) that is not installed shows a note in place of
what it would have run (MICROGRAD_DOCS_STRICT=1, as CI sets, makes that an
error).  tests/test_docs.py runs every page the same way, without
Sphinx, through run_page().

The performance page's table and bar charts are made from the recorded
benchmark run, benchmarks/bench.json, by benchmarks/plot.py.
"""
import contextlib
import io
import os
import re
import runpy

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.dirname(HERE)
ROOT = os.path.dirname(DOCS)
GENERATED = os.path.join(DOCS, "_generated")

FENCE = re.compile(r"^```(python|\{mg-graph\})[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


# Packages a page may use that the project's own set-up does not install
# (pip install -e ".[docs]"): without one, its examples show a note instead
# of running, unless MICROGRAD_DOCS_STRICT is set (CI, which installs them all).
OPTIONAL = {"torch", "jax", "jaxlib", "graphviz", "matplotlib", "scipy", "dask",
            "distributed", "casadi", "sklearn", "tqdm"}


def _missing_optional(exc):
    top = (exc.name or "").split(".")[0]
    if top in OPTIONAL and os.environ.get("MICROGRAD_DOCS_STRICT", "") in ("", "0"):
        return top
    return None


def _output_block(printed):
    """What a block printed, shown under it as the notebook cell's output."""
    body = printed.rstrip("\n")
    return f"\n```{{code-block}} text\n:caption: Output\n\n{body}\n```\n" if body else ""


# torch's default wheel is the multi-GB CUDA build; the CPU one is enough here
_INSTALL = {"torch": "pip install torch --index-url https://download.pytorch.org/whl/cpu"}


def _note(package):
    how = _INSTALL.get(package, f"pip install {package}")
    return (f"\n```{{note}}\nThis example needs `{package}`, which is not installed "
            f"where this page was built, so it was not run and its output is not shown "
            f"(`{how}`).\n```\n")


def run_page(text, name, draw=None, outputs=False):
    """Run a page's code; return the text with each mg-graph block replaced by
    what draw(number, index) returns (or left alone without draw), and, with
    outputs, each python block followed by what it printed.  From the first
    block that needs a missing optional package on, the page's code is not
    run and a note says so."""
    namespace = {"__name__": f"docs.{name}"}
    pieces, last, count, missing = [], 0, 0, None
    for match in FENCE.finditer(text):
        kind, code = match.group(1), match.group(2)
        if kind == "python":
            printed = io.StringIO()
            if missing is None:
                try:
                    with contextlib.redirect_stdout(printed):
                        exec(compile(code, f"docs/{name}", "exec"), namespace)
                except ModuleNotFoundError as exc:
                    missing = _missing_optional(exc)
                    if missing is None:
                        raise
                    pieces += [text[last:match.end()], _note(missing)]
                    last = match.end()
                    continue
            if outputs and missing is None:
                pieces += [text[last:match.end()], _output_block(printed.getvalue())]
                last = match.end()
            continue
        if missing is not None:                 # nothing to draw: the code did not run
            pieces += [text[last:match.start()], _note(missing)]
            last = match.end()
            count += 1
            continue
        number = eval(compile(code.strip(), f"docs/{name}", "eval"), namespace)
        if draw is not None:
            pieces += [text[last:match.start()], draw(number, count)]
            last = match.end()
        count += 1
    return "".join(pieces) + text[last:]


def _source_read(app, docname, source):
    if "```" not in source[0]:
        return
    from micrograd.viz import to_svg
    base = docname.replace("/", "_")
    os.makedirs(GENERATED, exist_ok=True)

    def draw(number, i):
        path = os.path.join(GENERATED, f"{base}_graph{i}.svg")
        with open(path, "w", encoding="utf-8") as f:
            f.write(to_svg(number))
        return f"```{{image}} /_generated/{base}_graph{i}.svg\n:alt: the graph\n```"
    source[0] = run_page(source[0], docname, draw, outputs=True)


def _bench_figures(app):
    """The performance page's table and charts, from the recorded run."""
    plot = runpy.run_path(os.path.join(ROOT, "benchmarks", "plot.py"))
    plot["render"](os.path.join(ROOT, "benchmarks", "bench.json"), GENERATED)


def setup(app):
    app.connect("builder-inited", _bench_figures)
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "version": "1"}
