"""The site's own Sphinx extension: pages whose code runs, pictures made from it.

A page is run like a notebook when it is read: its ```python blocks execute in
order in one namespace, and each ```{mg-graph} block (one expression, the
Number to draw) becomes an SVG of that Number's graph, drawn by
micrograd.viz.to_svg from the state the page's code left it in.  So every
picture shows what the code beside it computes, and a page whose code fails
fails the build.  tests/test_docs.py runs every page the same way, without
Sphinx, through run_page().

The performance page's table and bar charts are made from the recorded
benchmark run, benchmarks/bench.json, by benchmarks/plot.py.
"""
import os
import re
import runpy

HERE = os.path.dirname(os.path.abspath(__file__))
DOCS = os.path.dirname(HERE)
ROOT = os.path.dirname(DOCS)
GENERATED = os.path.join(DOCS, "_generated")

FENCE = re.compile(r"^```(python|\{mg-graph\})[^\n]*\n(.*?)^```[ \t]*$", re.M | re.S)


def run_page(text, name, draw=None):
    """Run a page's code; return the text with each mg-graph block replaced by
    what draw(number, index) returns (or left alone without draw)."""
    namespace = {"__name__": f"docs.{name}"}
    pieces, last, count = [], 0, 0
    for match in FENCE.finditer(text):
        kind, code = match.group(1), match.group(2)
        if kind == "python":
            exec(compile(code, f"docs/{name}", "exec"), namespace)
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
    source[0] = run_page(source[0], docname, draw)


def _bench_figures(app):
    """The performance page's table and charts, from the recorded run."""
    plot = runpy.run_path(os.path.join(ROOT, "benchmarks", "plot.py"))
    plot["render"](os.path.join(ROOT, "benchmarks", "bench.json"), GENERATED)


def setup(app):
    app.connect("builder-inited", _bench_figures)
    app.connect("source-read", _source_read)
    return {"parallel_read_safe": True, "version": "1"}
