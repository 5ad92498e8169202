"""Random graph programs, run on any backend (or on torch) step by step.

A program is a list of steps over a growing list of nodes; each step names an
op and its operands (earlier node indices or constants).  Running the same
program on two backends gives two lists to compare bit for bit.
"""
import math
import struct

from hypothesis import strategies as st

from micrograd import _optable

EDGES = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, -2.5, math.inf, -math.inf, math.nan,
         5e-324, -5e-324, 2.2250738585072014e-308, 1e-300, 1e300, 1.7976931348623157e308,
         709.0, 710.0, -745.2, 800.0, -1000.0, 1e-8, 1 / 3]

floats = st.one_of(st.sampled_from(EDGES),
                   st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True),
                   st.floats(-10, 10))

BINARY = [op.name for op in _optable.of_kind("BINARY")]
# every plain unary op of the table, and the activations with their defaults
UNARY = [op.name for op in _optable.of_kind("UNARY")] + ["softplus", "leaky_relu", "elu"]
PARAM = {"leaky_relu": lambda n, v: n.leaky_relu(v), "elu": lambda n, v: n.elu(v),
         "softplus_beta": lambda n, v: n.softplus(beta=v),
         "softplus_threshold": lambda n, v: n.softplus(threshold=v),
         "gelu_tanh": lambda n, v: n.gelu(approximate="tanh")}


def _step(draw, n_nodes):
    idx = st.integers(0, n_nodes - 1)
    kind = draw(st.sampled_from(["bin", "bin", "const", "rconst", "unary", "unary", "param",
                                 "sum", "dot", "where", "clamp"]))
    if kind == "clamp":
        bound = st.one_of(st.none(), floats)
        return ("clamp", draw(idx), draw(bound), draw(bound))
    if kind == "where":
        slot = st.one_of(idx, floats.map(lambda v: ("c", v)))
        return ("where", [draw(slot) for _ in range(3)])
    if kind == "param":
        return ("param", draw(st.sampled_from(sorted(PARAM))), draw(idx), draw(floats))
    if kind == "bin":
        return ("bin", draw(st.sampled_from(BINARY)), draw(idx), draw(idx))
    if kind in ("const", "rconst"):
        return (kind, draw(st.sampled_from(BINARY)), draw(idx), draw(floats))
    if kind == "unary":
        return ("unary", draw(st.sampled_from(UNARY)), draw(idx))
    slots = draw(st.lists(st.one_of(idx, floats.map(lambda v: ("c", v))), min_size=1, max_size=6))
    if kind == "dot":
        slots = slots + draw(st.lists(st.one_of(idx, floats.map(lambda v: ("c", v))),
                                      min_size=len(slots), max_size=len(slots)))
    return (kind, slots)


@st.composite
def programs(draw, max_steps=14):
    inputs = draw(st.lists(floats, min_size=1, max_size=4))
    steps, n = [], len(inputs)
    for _ in range(draw(st.integers(1, max_steps))):
        steps.append(_step(draw, n))
        n += 1                    # a failing step still takes an index (see run)
    return inputs, steps


SYMBOL = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
          "div": lambda a, b: a / b, "pow": lambda a, b: a ** b}


def binop(mod, name, a, b):
    """a <name> b with either operand a Number or a real."""
    if name in SYMBOL:
        return SYMBOL[name](a, b)
    return getattr(mod, name)(a, b)


def run(mod, program, leaves=False):
    """Run a program; returns (nodes, outcomes).  A failing step records its
    exception and its index holds the first input instead.  With leaves,
    the program's inputs are Numbers already (a traced function's)."""
    inputs, steps = program
    nodes = list(inputs) if leaves else [mod.Number(v) for v in inputs]
    outcomes = []

    def slot(s):
        return s[1] if isinstance(s, tuple) else nodes[s]

    for step in steps:
        try:
            kind = step[0]
            if kind == "bin":
                out = binop(mod, step[1], nodes[step[2]], nodes[step[3]])
            elif kind == "const":
                out = binop(mod, step[1], nodes[step[2]], step[3])
            elif kind == "rconst":
                out = binop(mod, step[1], step[3], nodes[step[2]])
            elif kind == "clamp":
                if step[2] is None and step[3] is None:
                    raise ValueError("no bounds")
                out = mod.clamp(nodes[step[1]], step[2], step[3])
            elif kind == "where":
                out = mod.where(*[slot(s) for s in step[1]])
            elif kind == "param":
                out = PARAM[step[1]](nodes[step[2]], step[3])
            elif kind == "unary" and step[1] == "abs":
                out = abs(nodes[step[2]])
            elif kind == "unary":
                out = getattr(nodes[step[2]], step[1])()
            elif kind == "sum":
                out = mod.sum([slot(s) for s in step[1]])
            else:
                half = len(step[1]) // 2
                out = mod.dot([slot(s) for s in step[1][:half]], [slot(s) for s in step[1][half:]])
            outcomes.append(None)
        except (ArithmeticError, ValueError) as exc:
            outcomes.append((type(exc), str(exc)))
            out = nodes[0]
        nodes.append(out)
    return nodes, outcomes


def same_float(a, b):
    """Bit-identical, except that any NaN equals any NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return struct.pack("<d", a) == struct.pack("<d", b)
