"""Drawing a graph: DOT text or an SVG picture with no dependency, or a
graphviz.Digraph.

Each Number is a record (value | gradient); each op is a small ellipse that
feeds it, as in micrograd 0.1.0's notebook.  A graph of more than `max_nodes`
Numbers is summarized: the nodes nearest the root are drawn and one note says
how many were left out and which ops they hold.  `to_svg` lays the graph out
itself (columns by distance from the leaves), so a picture needs neither the
graphviz package nor its `dot` program: the documentation and notebooks use it.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["to_dot", "draw_dot", "to_svg"]


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


_BOX_W, _BOX_H, _OP_W, _GAP_X, _GAP_Y = 150, 40, 54, 34, 18


def _columns(nodes):
    """Each node's column: 0 for a leaf, else two past its deepest shown operand
    (the op's ellipse takes the column between)."""
    index = {id(n): i for i, n in enumerate(nodes)}
    col = {}
    for n in reversed(nodes):              # breadth-first from the root: operands come later
        kids = [k for k in n.children if id(k) in index]
        col[id(n)] = 0 if not kids else 2 + max(col.get(id(k), 0) for k in kids)
    for n in nodes:                        # a shared operand may be met before its users' others
        kids = [k for k in n.children if id(k) in index]
        if kids:
            col[id(n)] = max(col[id(n)], 2 + max(col[id(k)] for k in kids))
    return col


def _svg_text(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def to_svg(root: Any, max_nodes: int = 60) -> str:
    """The graph of root as an SVG picture (a string), laid out left to right:
    leaves on the left, the root on the right."""
    nodes, everything = _nearest(root, max_nodes)
    col = _columns(nodes)
    rows: dict = {}
    place = {}
    for n in reversed(nodes):              # leaves first, each column top to bottom
        c = col[id(n)]
        place[id(n)] = (c, rows.get(c, 0))
        rows[c] = rows.get(c, 0) + 1
    # An edge that skips a column (x to the add of x*x + x) would pass behind
    # that column's boxes: it goes round them instead, along a band above
    # every box, entering and leaving it in the gaps between columns.
    skips = sum(1 for n in nodes for k in n.children
                if id(k) in place and col[id(n)] - col[id(k)] > 2)
    band = _GAP_Y + 4 * min(skips, 5) if skips else 0
    height = max(rows.values()) * (_BOX_H + _GAP_Y) + _GAP_Y + band

    def x_of(c):
        return _GAP_X + (c // 2) * (_BOX_W + _OP_W + 2 * _GAP_X)

    def y_of(c, r):
        top = band + (height - band - rows[c] * (_BOX_H + _GAP_Y) + _GAP_Y) / 2
        return top + r * (_BOX_H + _GAP_Y)

    width = x_of(max(col.values())) + _BOX_W + _GAP_X
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'font-family="monospace" font-size="11">',
           '<defs><marker id="mg-arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
           'markerHeight="7" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>']
    lanes = 0
    for n in nodes:
        c, r = place[id(n)]
        x, y = x_of(c), y_of(c, r)
        out.append(f'<rect x="{x:.0f}" y="{y:.0f}" width="{_BOX_W}" height="{_BOX_H}" rx="4" '
                   f'fill="#f4f7fb" stroke="#4a6fa5"/>')
        out.append(f'<text x="{x + 8:.0f}" y="{y + 16:.0f}">value {_svg_text(f"{n.value:.4g}")}'
                   f'</text><text x="{x + 8:.0f}" y="{y + 32:.0f}">grad  '
                   f'{_svg_text(f"{n.gradient:.4g}")}</text>')
        kids = [k for k in n.children if id(k) in place]
        if not n.op:
            continue
        ox, oy = x - _GAP_X - _OP_W, y + _BOX_H / 2
        out.append(f'<ellipse cx="{ox + _OP_W / 2:.0f}" cy="{oy:.0f}" rx="{_OP_W / 2}" ry="13" '
                   f'fill="#fff7e6" stroke="#c47f00"/><text x="{ox + _OP_W / 2:.0f}" '
                   f'y="{oy + 4:.0f}" text-anchor="middle">{_svg_text(n.op)}</text>')
        out.append(f'<line x1="{ox + _OP_W:.0f}" y1="{oy:.0f}" x2="{x:.0f}" y2="{oy:.0f}" '
                   f'stroke="#555" marker-end="url(#mg-arrow)"/>')
        for k in kids:
            kc, kr = place[id(k)]
            kx, ky = x_of(kc) + _BOX_W, y_of(kc, kr) + _BOX_H / 2
            if c - kc > 2:                 # round the columns between, above them
                lane = _GAP_Y / 2 + 4 * (lanes % 5)
                lanes += 1
                h = _GAP_X / 2
                d = (f"M{kx:.0f},{ky:.0f} C{kx + h:.0f},{ky:.0f} {kx + h:.0f},{lane:.0f} "
                     f"{kx + _GAP_X - 4:.0f},{lane:.0f} L{ox - _GAP_X + 4:.0f},{lane:.0f} "
                     f"C{ox - h:.0f},{lane:.0f} {ox - h:.0f},{oy:.0f} {ox:.0f},{oy:.0f}")
            else:
                d = (f"M{kx:.0f},{ky:.0f} C{kx + _GAP_X:.0f},{ky:.0f} "
                     f"{ox - _GAP_X:.0f},{oy:.0f} {ox:.0f},{oy:.0f}")
            out.append(f'<path d="{d}" fill="none" stroke="#555" '
                       f'marker-end="url(#mg-arrow)"/>')
    hidden = len(everything) - len(nodes)
    if hidden > 0:
        out.append(f'<text x="{_GAP_X}" y="{height - 4:.0f}">{hidden} more nodes not drawn</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
