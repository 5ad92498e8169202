"""What a Number, a Chain and an nn model show in a notebook.

Jupyter calls an object's ``_repr_html_`` and ``_repr_svg_``; the Number and
Chain of both backends and ``nn.Module`` delegate here.  What is read is
what both backends share (public attributes, micrograd._steps' record of a
Chain, a model's layer rows), so both give the same HTML.

A hook must never raise (Jupyter would print a traceback where the object
should be): the HTML falls back to the escaped plain repr, the SVG to None.
The picture of a small graph is drawn by viz.to_svg, in Python, so it needs
neither graphviz nor its ``dot`` program.  The HTML carries that picture too,
because Jupyter shows the HTML of an object that has both.
"""
import html

from . import viz
from ._steps import _show_operand, chain_state

__all__ = ["number_html", "number_svg", "chain_html", "module_html", "SVG_MAX_NODES"]

SVG_MAX_NODES = 60          # a bigger graph is no longer readable as a picture
_COUNT_MAX = 10_000         # the HTML stops counting there: a repr must stay quick
_CHAIN_HEAD, _CHAIN_TAIL = 20, 10   # a longer Chain shows its first and last steps

_TABLE = 'style="border-collapse: collapse; font-family: monospace; text-align: left"'
_CELL = 'style="padding: 2px 10px 2px 0; text-align: left"'


def _fallback(x):
    try:
        return f"<pre>{html.escape(repr(x))}</pre>"
    except Exception:
        return None


def _table(caption, header, rows):
    out = [f"<table {_TABLE}><caption style=\"text-align: left\"><b>"
           f"{html.escape(caption)}</b></caption>"]
    if header:
        out.append("<tr>" + "".join(f"<th {_CELL}>{html.escape(h)}</th>" for h in header)
                   + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td {_CELL}>{html.escape(str(c))}</td>" for c in row)
                   + "</tr>")
    return "".join(out) + "</table>"


def _count(root, limit):
    """How many Numbers root's graph holds (leaves too), counting up to limit."""
    seen, todo = {id(root)}, [root]
    while todo:
        for kid in todo.pop().children:
            if id(kid) not in seen:
                if len(seen) == limit:
                    return limit + 1
                seen.add(id(kid))
                todo.append(kid)
    return len(seen)


def number_svg(n):
    """The picture of n's graph (viz.to_svg), or None: for a graph of more
    than SVG_MAX_NODES Numbers, or on any failure."""
    try:
        if _count(n, SVG_MAX_NODES) > SVG_MAX_NODES:
            return None
        return viz.to_svg(n, max_nodes=SVG_MAX_NODES)
    except Exception:
        return None


def number_html(n):
    """A small table of n (value, gradient, op, graph size), with the picture
    of its graph where number_svg() has one."""
    try:
        value, gradient = n.value, n.gradient
    except Exception:           # a traced Number: its value belongs to one example
        return _fallback(n)
    try:
        size = _count(n, _COUNT_MAX)
        graph = ("a leaf" if size == 1 else f"more than {_COUNT_MAX:,} Numbers"
                 if size > _COUNT_MAX else f"{size} Numbers")
        out = _table(type(n).__name__, ("value", "gradient", "op", "graph"),
                     [(repr(value), repr(gradient), n.op or "(leaf)", graph)])
        svg = number_svg(n) if size <= SVG_MAX_NODES else None
        if svg is not None:
            out += '<div style="overflow-x: auto">' + svg + "</div>"
        return out
    except Exception:
        return _fallback(n)


def chain_html(chain):
    """The Chain's steps as a table, then its result."""
    try:
        start = chain_state(chain)[0]
        steps = [(i, f".{s.name}({_show_operand(s)})") for i, s in enumerate(chain.steps, 1)]
        if len(steps) > _CHAIN_HEAD + _CHAIN_TAIL:
            hidden = len(steps) - _CHAIN_HEAD - _CHAIN_TAIL
            steps = steps[:_CHAIN_HEAD] + [("", f"... {hidden} more steps")] + steps[-_CHAIN_TAIL:]
        rows = [(0, f"Chain({start!r})")] + steps + [("", f"-> {chain.result()!r}")]
        return _table(f"{type(chain).__name__} of {len(chain)} steps", ("#", "step"), rows)
    except Exception:
        return _fallback(chain)


def module_html(module):
    """A table of the model's layers and how many parameters each has."""
    try:
        rows = module._layer_rows()
        total = len(module.parameters())
        header = ("layer", "inputs", "outputs", "activation", "parameters") if rows else None
        title = f"{type(module).__name__}: {total} parameter{'' if total == 1 else 's'}"
        return _table(title, header, rows)
    except Exception:
        return _fallback(module)
