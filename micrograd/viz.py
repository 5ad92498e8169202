"""Drawing a graph: DOT text with no dependency, or a graphviz.Digraph.

Each Number is a record (value | gradient); each op is a small ellipse that
feeds it, as in micrograd 0.1.0's notebook.  A graph of more than `max_nodes`
Numbers is summarized: the nodes nearest the root are drawn and one note says
how many were left out and which ops they hold.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["to_dot", "draw_dot"]


def _nearest(root, limit):
    """Up to `limit` Numbers breadth-first from root, and the count of all."""
    seen, order, i = {id(root): 0}, [root], 0
    while i < len(order):
        for kid in order[i].children:
            if id(kid) not in seen:
                seen[id(kid)] = len(order)
                order.append(kid)
        i += 1
    return order[:limit], order


def _escape(text):
    """Text for a quoted DOT string (record fields are written by us)."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _edges(nodes):
    index = {id(n): i for i, n in enumerate(nodes)}
    lines = []
    for i, n in enumerate(nodes):
        label = f"{{ value {n.value:.4g} | grad {n.gradient:.4g} }}"
        lines.append(f'  n{i} [shape=record, label="{label}"];')
        if n.op:
            lines.append(f'  n{i}op [shape=ellipse, label="{_escape(n.op)}"];')
            lines.append(f"  n{i}op -> n{i};")
            for kid in n.children:
                if id(kid) in index:
                    lines.append(f"  n{index[id(kid)]} -> n{i}op;")
    return lines


def to_dot(root: Any, rankdir: str = "LR", max_nodes: int = 500) -> str:
    """The graph of root as DOT text (value, gradient and op per node)."""
    shown, everything = _nearest(root, max_nodes)
    lines = ["digraph micrograd {", f"  rankdir={rankdir};"] + _edges(shown)
    hidden = len(everything) - len(shown)
    if hidden > 0:
        ops = Counter(n.op or "leaf" for n in everything[len(shown):])
        mix = ", ".join(f"{op} x{count}" for op, count in ops.most_common(6))
        note = (f"graph of {len(everything)} nodes, too many to draw readably: "
                f"the {len(shown)} nearest the root are shown, {hidden} more are not ({mix})")
        lines.append(f'  summary [shape=note, label="{_escape(note)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw_dot(root: Any, format: str = "svg", rankdir: str = "LR", max_nodes: int = 500) -> Any:
    """The graph of root as a graphviz.Digraph (pip install 'micrograd-core[viz]')."""
    try:
        import graphviz
    except ImportError:
        raise ImportError("draw_dot needs the graphviz package: "
                          "pip install 'micrograd-core[viz]' (to_dot needs nothing)") from None
    body = to_dot(root, rankdir=rankdir, max_nodes=max_nodes).splitlines()[2:-1]
    return graphviz.Digraph(name="micrograd", format=format,
                            graph_attr={"rankdir": rankdir}, body=[b + "\n" for b in body])
