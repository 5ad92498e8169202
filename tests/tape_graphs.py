"""Graphs shaped like the ones the tape's fast replay lowers, for hypothesis.

csrc/mg_tape.c and csrc/mg_replay.c pattern-match a traced graph: consecutive
dot nodes sharing their second half (the neurons of a layer) with first halves
of parameters and constants become a dense run; activations interleaved with
them are moved after the layer; a parameter used once by a dot with a lane
partner has its chunk sum taken inside the dot (MG_ONLY); the first
contribution to each adjoint is stored instead of added.  A random graph
rarely has those shapes, so the strategy here draws them on purpose, with the
edge cases that decide whether a lowering applies: tied and shared weights, a
parameter that is a weight and an input of one layer, repeated inputs, skip
connections, pre-activations read again, constants and parameters as inputs,
biases that differ only in a constant's sign, width-1 layers, runs longer than
the kernels' blocks (4, 8, 64 neurons), outputs that are parameters or inputs,
and where/stop_gradient, which switch the tape to its pruning path.  Every op
of the table is drawn, the comparisons too (their gradient is 0.0, whatever
arrives).

A drawn ``Spec`` is plain data.  ``Model(mod, spec, example)`` resolves it once
into a flat plan (the weights become Numbers of backend ``mod`` then), so that
calling ``model.fn`` builds the same graph for the trace and for every op-by-op
sample.  ``model.source()`` prints the plan as standalone Python, to turn a
failing draw into a reproducer.
"""
import math
from collections import namedtuple

import numpy as np
from hypothesis import strategies as st

from micrograd import _optable

# -- the ops ---------------------------------------------------------------------------
KIND = {op.stem: op.kind for op in _optable.OPS}
BINARY = [op.stem for op in _optable.of_kind("BINARY")]
# every op that mg_tape.c's activation_of() takes for an activation
ACTIVATIONS = [op.stem for op in _optable.of_kind("UNARY", "CONST", "PARAM", "RANGE")]
NAN = math.nan
# constants for the ops that take one, chosen so that most traces succeed
CONSTS = {
    "add_c": [1.0, -0.5, 0.0, -0.0, 3.0], "sub_c": [1.0, 0.25, -0.0, 0.0],
    "rsub_c": [1.0, 0.0, -0.0, -2.0], "mul_c": [0.5, -2.0, 0.0, -0.0, 1.0],
    "div_c": [2.0, -0.5, 3.0, 1e-3], "rdiv_c": [1.0, -2.0, 0.5],
    "pow_c": [2.0, 3.0, 1.0, 0.0, 0.5, -1.0], "rpow_c": [2.0, 0.5, 1.0, 3.0],
    "maximum_c": [0.0, -0.0, 0.5, -1.0, NAN], "minimum_c": [0.0, -0.0, 1.0, NAN],
    **{stem: [0.0, -0.0, 0.5, -1.0, NAN] for stem in ("gt_c", "ge_c", "lt_c", "le_c")},
    "softplus": [20.0, 1.0, 0.0, -2.0], "leaky_relu": [0.01, 0.2, 0.0, -0.5, 1.0],
    "elu": [1.0, 0.5, 0.0, 2.0],
}
BOUNDS = [(-1.0, 1.0), (None, 0.5), (0.0, None), (-0.0, 0.0), (0.5, -0.5), (-2.0, 2.0)]
# activations whose domain is not the whole line: a layer using one gets a
# large positive bias, so that its pre-activations are positive at the example
RISKY = {"log", "log1p", "sqrt", "pow_c", "rdiv_c"}
# what replaces an op that raises at the example (same kind, never raises there)
FALLBACK = {"UNARY": ("tanh", 0.0, 0.0), "CONST": ("mul_c", 0.5, 0.0),
            "PARAM": ("leaky_relu", 0.1, 0.0), "RANGE": ("clamp", -1.0, 1.0),
            "STOP": ("stop_gradient", 0.0, 0.0)}
WEIGHT_CONSTS = [0.5, -1.0, 2.0, 0.0, -0.0, 1.0, 0.25, -3.0]
WEIGHT_EDGES = [0.0, -0.0, 5e-324, -1e-300, 1.0, -1.0]
PARAM_VALUES = [0.5, -0.75, 1.5, 0.0, -0.0, 2.0, -2.0, 1e-3, 5e-324, 0.1]
# values for the special cells of a batch: NaN, infinities, signed zeros, subnormals
X_EDGES = [NAN, math.inf, -math.inf, 0.0, -0.0, 5e-324, -5e-324, 2.2250738585072014e-308,
           1e-300, 1e300, -1e300, 709.0, 710.0, -745.2, 1.0, -1.0]


def apply_act(mod, x, act):
    """One node: act = (stem, c, c2) applied to x (a Number)."""
    stem, c, c2 = act
    if stem == "neg":
        return -x
    if stem == "abs":
        return abs(x)
    if stem == "gelu_tanh":
        return x.gelu(approximate="tanh")
    if stem == "stop_gradient":
        return x.stop_gradient()
    kind = KIND[stem]
    if kind == "UNARY":
        return getattr(x, stem)()
    if kind == "CONST":
        return {"add_c": lambda: x + c, "sub_c": lambda: x - c, "rsub_c": lambda: c - x,
                "mul_c": lambda: x * c, "div_c": lambda: x / c, "rdiv_c": lambda: c / x,
                "pow_c": lambda: x ** c, "rpow_c": lambda: c ** x,
                "maximum_c": lambda: mod.maximum(x, c),
                "minimum_c": lambda: mod.minimum(c, x),
                # a real first is the mirrored relation: lt_c from gt(c, x), le_c from ge
                "gt_c": lambda: mod.gt(x, c), "ge_c": lambda: mod.ge(x, c),
                "lt_c": lambda: mod.gt(c, x), "le_c": lambda: mod.ge(c, x)}[stem]()
    if stem == "softplus":
        return x.softplus(threshold=c)       # beta=1: one SOFTPLUS node
    if stem == "leaky_relu":
        return x.leaky_relu(c)
    if stem == "elu":
        return x.elu(c)
    if stem == "clamp":
        return mod.clamp(x, c, c2)
    raise AssertionError(stem)


SYMBOLS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}


def binary(mod, stem, a, b):
    """a <stem> b: an operator, or the backend's function of that name
    (maximum, minimum, the comparisons)."""
    if stem in SYMBOLS:
        return {"add": lambda: a + b, "sub": lambda: a - b, "mul": lambda: a * b,
                "div": lambda: a / b, "pow": lambda: a ** b}[stem]()
    return getattr(mod, stem)(a, b)


def act_source(act, x):
    stem, c, c2 = act
    c, c2 = _real(c), _real(c2)
    special = {"neg": f"-{x}", "abs": f"abs({x})", "gelu_tanh": f"{x}.gelu(approximate='tanh')",
               "add_c": f"{x} + {c}", "sub_c": f"{x} - {c}", "rsub_c": f"{c} - {x}",
               "mul_c": f"{x} * {c}", "div_c": f"{x} / {c}", "rdiv_c": f"{c} / {x}",
               "pow_c": f"{x} ** {c}", "rpow_c": f"{c} ** {x}",
               "maximum_c": f"m.maximum({x}, {c})", "minimum_c": f"m.minimum({c}, {x})",
               "gt_c": f"m.gt({x}, {c})", "ge_c": f"m.ge({x}, {c})",
               "lt_c": f"m.gt({c}, {x})", "le_c": f"m.ge({c}, {x})",
               "softplus": f"{x}.softplus(threshold={c})", "leaky_relu": f"{x}.leaky_relu({c})",
               "elu": f"{x}.elu({c})", "clamp": f"m.clamp({x}, {c}, {c2})"}
    return special.get(stem, f"{x}.{stem}()")


def _real(v):
    if v is None:
        return "None"
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


# -- the spec ------------------------------------------------------------------------
# A layer: `width` neurons dot([bias weight] + w, [bias] + second half), where
# the second half is the current vector h with `extras` inserted; then `act`.
#   weights: fresh | tied | shared | const | mixed | lane | selfw   (see Model._weight)
#   bias: (mode, value): none | one (the constant value) | vary (neuron 0 has
#         value, the others a constant of other bits) | param (a pool parameter)
#   act: None | (stem, c, c2) | "mixed" (one per neuron) | "partial" (some neurons)
#   extras: (kind, k, pos) items inserted at pos (noh: h left out): in (input k), lane (any lane
#         value so far), pre (a pre-activation so far), param (pool parameter
#         k: stride 0), const (constant k), dup (h[k] again), selfw (pool
#         parameter k, also the first weight of neuron k), freshp (a new
#         parameter used only there)
Layer = namedtuple("Layer", "width weights bias act extras")
# An op of the table on drawn operands: (src, k) with src h (the current
# vector), lane (any lane value so far), param (pool parameter) or const (a
# real, only in sum, dot and where).  target: append (to h), replace (h[k]), pool.
Op = namedtuple("Op", "stem operands c c2 target")
# outputs: (src, k) with src sum (the sum of h), h, lane, param, input, tail (a
# layer over h only that output uses, summed).  The first is differentiated.
Spec = namedtuple("Spec", "nin pvals steps outputs seed")


# -- strategies ------------------------------------------------------------------------
def _sized(draw, big):
    """A count: mostly 1-6; 7-40 one time in four (past the kernels' tiles of
    4 and 6 neurons, 8 and 16 inputs, the transposes' 32); 41-300 one time in
    twenty when `big` (shrinks towards small)."""
    tier = draw(st.integers(0, 19))
    if big and tier == 19:
        return draw(st.integers(41, 300))
    if tier >= 14:
        return draw(st.integers(7, 40))
    return draw(st.integers(1, 6))


def acts(risky=True, stop=False):
    names = [a for a in ACTIVATIONS if risky or a not in RISKY]
    names += ["stop_gradient"] if stop else []

    @st.composite
    def one(draw):
        stem = draw(st.sampled_from(names))
        if stem == "clamp":
            lo, hi = draw(st.sampled_from(BOUNDS))
            return (stem, lo, hi)
        if stem in CONSTS:
            return (stem, draw(st.sampled_from(CONSTS[stem])), 0.0)
        return (stem, 0.0, 0.0)
    return one()


PLAIN_ACTS = [("relu", 0.0, 0.0), ("tanh", 0.0, 0.0), ("sigmoid", 0.0, 0.0),
              ("leaky_relu", 0.1, 0.0), ("mul_c", 0.5, 0.0), ("clamp", -1.0, 1.0)]


@st.composite
def layers(draw, fan_in, budget, big, prune):
    extras = draw(st.lists(st.tuples(
        st.sampled_from(["in", "lane", "pre", "param", "const", "dup", "selfw", "freshp"]),
        st.integers(0, 7), st.integers(0, 300)), max_size=3))
    bias = draw(st.sampled_from([("one", 1.0)] * 4 + [("none", 0.0)] * 2 + [
        ("one", 0.0), ("one", -0.0), ("one", NAN), ("vary", 1.0), ("vary", 0.0), ("param", 0.0)]))
    fan = fan_in + len(extras) + (bias[0] != "none")
    width = max(1, min(_sized(draw, big), budget // max(1, fan)))
    weights = draw(st.sampled_from(["fresh"] * 3 + ["tied", "shared", "const", "mixed", "mixed",
                                                   "lane", "selfw", "lead"]))
    kind = draw(st.integers(0, 9))
    if kind < 2:
        act = None
    elif kind < 7:
        act = draw(acts(stop=prune))
    elif kind < 9:
        act = "mixed"
    else:
        act = "partial"
    return Layer(width, weights, bias, act, tuple(extras))


def _selector(draw, consts):
    srcs = ["h", "h", "lane", "param"] + (["const"] if consts else [])
    src = draw(st.sampled_from(srcs))
    if src == "const":
        return (src, draw(st.sampled_from(WEIGHT_CONSTS + [NAN])))
    return (src, draw(st.integers(0, 50)))


@st.composite
def ops(draw, prune, force=None):
    if force is not None:
        stem = force
    else:
        kinds = ["bin", "act", "act", "sum", "dot"] + (["where", "stop"] if prune else [])
        kind = draw(st.sampled_from(kinds))
        stem = {"bin": lambda: draw(st.sampled_from(BINARY)), "sum": lambda: "sum",
                "dot": lambda: "dot", "where": lambda: "where",
                "stop": lambda: "stop_gradient", "act": lambda: None}[kind]()
    c = c2 = 0.0
    if stem is None:
        stem, c, c2 = draw(acts())
    if stem in BINARY:
        operands = (_selector(draw, False), _selector(draw, False))
    elif stem == "sum":
        operands = tuple(_selector(draw, True) for _ in range(draw(st.integers(1, 6))))
    elif stem == "dot":
        half = draw(st.integers(1, 6))
        operands = tuple(_selector(draw, True) for _ in range(2 * half))
    elif stem == "where":
        operands = tuple(_selector(draw, True) for _ in range(3))
    else:
        operands = (_selector(draw, False),)
    target = draw(st.sampled_from(["append", "replace", "replace", "pool"]))
    return Op(stem, operands, c, c2, (target, draw(st.integers(0, 50))))


@st.composite
def specs(draw, budget=40_000, big=True, prune=None):
    """A Spec.  budget bounds the dot operands a graph holds (a layer of width
    w and fan-in f costs w * f); big allows the rare large draws (inputs,
    widths up to 300); prune None draws whether where/stop_gradient appear."""
    if prune is None:
        prune = draw(st.booleans())
    nin = _sized(draw, big) if draw(st.integers(0, 3)) == 0 else draw(st.integers(1, 4))
    pvals = tuple(draw(st.lists(st.one_of(st.sampled_from(PARAM_VALUES), st.floats(-2, 2)),
                                min_size=1, max_size=4)))
    n_layers = draw(st.sampled_from([1, 1, 2, 2, 3, 0]))
    n_ops = draw(st.integers(0, 3))
    order = draw(st.permutations(["L"] * n_layers + ["O"] * n_ops))
    steps, hlen, left = [], nin, budget
    for item in order:
        if item == "L":
            layer = draw(layers(hlen, left, big, prune))
            fan = hlen + len(layer.extras) + (layer.bias[0] != "none")
            left -= layer.width * fan
            hlen = layer.width
            steps.append(layer)
        else:
            op = draw(ops(prune))
            hlen += op.target[0] == "append"
            steps.append(op)
    if prune and not any(isinstance(s, Op) and s.stem in ("where", "stop_gradient")
                         for s in steps):
        op = draw(ops(prune, force=draw(st.sampled_from(["where", "stop_gradient"]))))
        op = op._replace(target=("replace", op.target[1]))
        steps.insert(draw(st.integers(0, len(steps))), op)
    first = draw(st.sampled_from(["sum"] * 5 + ["h", "h", "lane", "param", "input"]))
    outputs = [(first, draw(st.integers(0, 50)))]
    for _ in range(draw(st.sampled_from([0, 0, 1, 1, 2]))):
        src = draw(st.sampled_from(["sum", "h", "lane", "param", "input", "tail", "tail"]))
        if src == "tail":
            tail = draw(layers(hlen, max(1, left), False, prune))
            outputs.append((src, tail))
        else:
            outputs.append((src, draw(st.integers(0, 50))))
    return Spec(nin, pvals, tuple(steps), tuple(outputs), draw(st.integers(0, 2**32 - 1)))


CHUNK_SIZES = ["lanes-1", "lanes", "lanes+1", "2lanes+3"]


# -- every op in every position ---------------------------------------------------------
SWEEP_PVALS = (0.75, 1.25, 0.5, 1.5, 0.625)


def sweep_spec(stem, prune):
    """Op `stem` applied to lane values and to parameters (stride 1 and 0),
    twice each, so that each operand gets a first contribution and a later
    one; a binary op with every pairing of the two.  Output: the sum of the
    results, or with prune, that sum where input 0 > 0 (a where: the tape
    prunes, and the lanes where input 0 <= 0 reach none of the ops)."""
    x, p = (lambda k: ("input", k)), (lambda k: ("param", k))
    if stem in BINARY:
        operands = [(x(0), x(1)), (x(1), x(0)), (x(0), p(0)), (p(0), x(0)), (p(0), p(1)),
                    (p(1), p(0)), (x(0), x(0)), (p(0), p(0)), (x(2), x(3)), (p(2), p(3))]
        c = c2 = 0.0
    else:
        operands = [(x(0),), (x(0),), (p(0),), (p(0),), (x(1),), (p(1),)]
        c, c2 = (BOUNDS[0] if stem == "clamp" else (CONSTS.get(stem, [0.0])[0], 0.0))
    steps = tuple(Op(stem, ops, c, c2, ("replace", i) if i < 5 else ("append", 0))
                  for i, ops in enumerate(operands))
    return Spec(5, SWEEP_PVALS, steps, (("where_sum" if prune else "sum", 0),), 0)


SWEEP_OPS = BINARY + ACTIVATIONS + ["stop_gradient"]


@st.composite
def batches(draw, small=False):
    """(size, cells, seed): size is a row count or one of CHUNK_SIZES (the
    chunk size is the tape's, known after the trace: rows() resolves it);
    cells are (row, column, value) with NaN, infinities, signed zeros,
    subnormals, taken modulo the batch's shape."""
    sizes = [1, 2, 3, 5] + CHUNK_SIZES
    if small:                      # the reference: the chunk edges less often
        sizes = [1, 2, 3, 5, 7] * 2 + CHUNK_SIZES
    size = draw(st.sampled_from(sizes))
    cells = draw(st.lists(st.tuples(st.integers(0, 2**10), st.integers(0, 2**10),
                                    st.sampled_from(X_EDGES)), max_size=6))
    return size, tuple(cells), draw(st.integers(0, 2**32 - 1))


def rows(size, lanes):
    return {"lanes-1": lanes - 1, "lanes": lanes, "lanes+1": lanes + 1,
            "2lanes+3": 2 * lanes + 3}.get(size, size)


def make_batch(nin, example, B, cells, seed):
    """Row 0 is the trace's example; the others uniform in (-2, 2), then the
    special cells (never in row 0 of a batch of more than one row)."""
    X = np.random.default_rng(seed).uniform(-2.0, 2.0, (B, nin))
    X[0] = example
    for r, c, v in cells:
        if B == 1 or r % B:
            X[r % B, c % nin] = v
    return X


# -- the model ---------------------------------------------------------------------------
class Unbuildable(Exception):
    """The spec raises at its example even after the fallbacks (rare)."""


class Model:
    """A Spec resolved into a plan over backend `mod`.  Plan entries make one
    node each from references ("v", i) (value i: the inputs, then each
    entry's node), ("p", j) (params[j], a closure Number) or ("c", real)."""

    def __init__(self, mod, spec, example=None):
        self.mod, self.spec, self.nin = mod, spec, spec.nin
        self.example = [0.5] * spec.nin if example is None else list(example)
        self.rng = np.random.default_rng(spec.seed)
        self.pvalues = list(spec.pvals)
        self.plan = []
        self.h = [("v", i) for i in range(spec.nin)]
        self.lanes = [("v", i) for i in range(spec.nin)]
        self.pres = []
        self.scale = 1.0
        for step in spec.steps:
            if isinstance(step, Layer):
                self.h = self._layer(step, self.h)
            else:
                self._op(step)
        self.outputs = [self._output(o) for o in spec.outputs]
        self._repair()

    # references
    def _new(self, entry):
        self.plan.append(entry)
        ref = ("v", self.spec.nin + len(self.plan) - 1)
        self.lanes.append(ref)
        return ref

    def _fresh(self, value=None):
        if value is None:
            if self.rng.random() < 0.05:
                value = float(self.rng.choice(WEIGHT_EDGES))
            else:
                value = float(self.rng.uniform(-1.0, 1.0)) * self.scale
        self.pvalues.append(value)
        return ("p", len(self.pvalues) - 1)

    def _pick(self, src, k):
        if src == "h":
            return self.h[k % len(self.h)]
        if src == "lane":
            return self.lanes[k % len(self.lanes)]
        if src == "param":
            return ("p", k % len(self.spec.pvals))
        if src == "input":
            return ("v", k % self.nin)
        return ("c", k)

    # layers
    def _extra(self, kind, k, h):
        if kind == "in":
            return ("v", k % self.nin)
        if kind == "lane":
            return self.lanes[k % len(self.lanes)]
        if kind == "pre":
            return self.pres[k % len(self.pres)] if self.pres else self.lanes[k % len(self.lanes)]
        if kind in ("param", "selfw"):
            return ("p", k % len(self.spec.pvals))
        if kind == "const":
            return ("c", WEIGHT_CONSTS[k % len(WEIGHT_CONSTS)])
        if kind == "dup":
            return h[k % len(h)]
        if kind == "freshp":
            return self._fresh()
        raise AssertionError(kind)

    def _weight(self, mode, n, q, first_row):
        if mode == "mixed":
            u = self.rng.random()
            mode = ("fresh" if u < 0.55 else "shared" if u < 0.7 else "const" if u < 0.85
                    else "tied")
        if mode == "tied" and n > 0:
            return first_row[q]
        if mode == "shared":
            return ("p", int(self.rng.integers(len(self.spec.pvals))))
        if mode == "const":
            return ("c", float(self.rng.choice(WEIGHT_CONSTS)))
        return self._fresh()

    def _layer(self, layer, h):
        extras = [e for e in layer.extras if e[0] != "noh"]
        xs = [] if len(extras) < len(layer.extras) else list(h)     # noh: not h
        selfw = []
        if layer.weights == "selfw" and not any(e[0] == "selfw" for e in extras):
            extras.append(("selfw", 0, len(xs)))
        for kind, k, pos in extras:
            item = self._extra(kind, k, h)
            xs.insert(pos % (len(xs) + 1), item)
            if kind == "selfw":
                selfw.append((item, k % layer.width))
        acts = self._acts(layer)
        risky = any(a is not None and a[0] in RISKY for a in acts)
        mode, bval = layer.bias
        if layer.weights == "lead":
            # one parameter, then constants: their references follow it, as an
            # nn layer's block of parameters does (with no bias constant between)
            mode = "none"
            rows = [[self._fresh() if n == q == 0 else ("c", float(self.rng.choice(WEIGHT_CONSTS)))
                     for q in range(len(xs))] for n in range(layer.width)]
            return self._neurons(layer, rows, xs, acts, mode, bval)
        if risky and mode == "none":
            mode, bval = "one", 1.0
        fan = len(xs) + (mode != "none")
        self.scale = 0.05 if risky else 1.0
        rows = []
        for n in range(layer.width):
            ws = []
            if mode != "none":
                if risky:
                    ws.append(self._fresh(4.0 + float(self.rng.random())))
                else:
                    ws.append(self._weight(layer.weights if layer.weights in (
                        "tied", "shared", "const", "mixed") else "fresh", n, 0,
                        rows[0] if rows else None))
            for q in range(len(xs)):
                ws.append(self._weight(layer.weights if layer.weights not in ("lane", "selfw")
                                       else "mixed", n, len(ws), rows[0] if rows else None))
            rows.append(ws)
        self.scale = 1.0
        for item, n in selfw:
            rows[n][0] = item
        if layer.weights == "lane":
            n, q = int(self.rng.integers(layer.width)), int(self.rng.integers(fan))
            rows[n][q] = self.lanes[int(self.rng.integers(len(self.lanes)))]
        return self._neurons(layer, rows, xs, acts, mode, bval)

    def _neurons(self, layer, rows, xs, acts, mode, bval):
        out = []
        for n, ws in enumerate(rows):
            if mode == "none":
                second = xs
            elif mode == "param":
                second = [("p", 0)] + xs
            elif mode == "vary" and n > 0:
                second = [("c", -bval if bval == 0.0 else bval + 1.0)] + xs
            else:
                second = [("c", bval)] + xs
            d = self._new(("dot", tuple(ws), tuple(second)))
            self.pres.append(d)
            out.append(self._new(("act", acts[n], d)) if acts[n] is not None else d)
        return out

    def _acts(self, layer):
        if layer.act is None:
            return [None] * layer.width
        if layer.act == "mixed":
            return [PLAIN_ACTS[int(self.rng.integers(len(PLAIN_ACTS)))]
                    for _ in range(layer.width)]
        if layer.act == "partial":
            return [PLAIN_ACTS[0] if self.rng.random() < 0.5 else None for _ in range(layer.width)]
        return [tuple(layer.act)] * layer.width

    # op steps
    def _op(self, op):
        refs = tuple(self._pick(src, k) for src, k in op.operands)
        stem = op.stem
        if stem in BINARY:
            ref = self._new(("bin", stem, refs[0], refs[1]))
        elif stem in ("sum", "dot", "where"):
            if all(r[0] == "c" for r in refs):            # else a leaf, not a node
                refs = (self.h[0],) + refs[1:]
            if stem == "dot":
                half = len(refs) // 2
                ref = self._new(("dot", refs[:half], refs[half:]))
            else:
                ref = self._new((stem, refs))
        else:
            ref = self._new(("act", (stem, op.c, op.c2), refs[0]))
        target, k = op.target
        if target == "append":
            self.h = self.h + [ref]
        elif target == "replace":
            h = list(self.h)
            h[k % len(h)] = ref
            self.h = h

    def _output(self, out):
        src, k = out
        if src == "sum":
            return self._new(("sum", tuple(self.h)))
        if src == "where_sum":              # sum(h) where input k > 0, else 0.0
            total = self._new(("sum", tuple(self.h)))
            return self._new(("where", (("v", k % self.nin), total, ("c", 0.0))))
        if src == "tail":
            return self._new(("sum", tuple(self._layer(k, self.h))))
        return self._pick(src, k)

    # running
    def _value(self, vals, ref):
        tag, x = ref
        return vals[x] if tag == "v" else self.params[x] if tag == "p" else x

    def _entry(self, vals, entry):
        mod = self.mod
        kind = entry[0]
        if kind == "dot":
            return mod.dot([self._value(vals, r) for r in entry[1]],
                           [self._value(vals, r) for r in entry[2]])
        if kind in ("sum", "where"):
            slots = [self._value(vals, r) for r in entry[1]]
            return mod.sum(slots) if kind == "sum" else mod.where(*slots)
        if kind == "bin":
            return binary(mod, entry[1], self._value(vals, entry[2]), self._value(vals, entry[3]))
        return apply_act(mod, self._value(vals, entry[2]), entry[1])

    def fn(self, *xs):
        """The traced function: the plan's nodes from inputs xs; all outputs."""
        vals = list(xs)
        for entry in self.plan:
            vals.append(self._entry(vals, entry))
        return tuple(self._value(vals, r) for r in self.outputs)

    def _repair(self):
        """Replace each op that raises at the example by its kind's fallback,
        so that the trace succeeds; a dot or sum that raises is Unbuildable."""
        mod = self.mod
        self.params = [mod.Number(v) for v in self.pvalues]
        vals = [mod.Number(v) for v in self.example]
        for i, entry in enumerate(self.plan):
            try:
                vals.append(self._entry(vals, entry))
                continue
            except (ArithmeticError, ValueError):
                pass
            if entry[0] == "act":
                entry = ("act", FALLBACK[KIND[entry[1][0]]], entry[2])
            elif entry[0] == "bin":
                entry = ("bin", "maximum", entry[2], entry[3])
            else:
                raise Unbuildable(entry)
            try:
                vals.append(self._entry(vals, entry))
            except (ArithmeticError, ValueError):
                raise Unbuildable(entry) from None
            self.plan[i] = entry

    # reporting
    def source(self, X=None):
        """The plan as a standalone script (a reproducer)."""
        ref = {"v": lambda i: f"x{i}" if i < self.nin else f"v{i}", "p": lambda j: f"P[{j}]",
               "c": _real}
        r = lambda t: ref[t[0]](t[1])                    # noqa: E731
        module = "_core" if self.mod.BACKEND == "core" else "_core_py"
        lines = ["import numpy as np", "from math import inf, nan", "import micrograd as mg",
                 f"from micrograd import {module} as m",
                 f"P = [m.Number(v) for v in [{', '.join(_real(v) for v in self.pvalues)}]]",
                 f"def fn({', '.join(f'x{i}' for i in range(self.nin))}):"]
        for i, e in enumerate(self.plan):
            out = f"v{self.nin + i}"
            if e[0] == "dot":
                code = (f"m.dot([{', '.join(map(r, e[1]))}], [{', '.join(map(r, e[2]))}])")
            elif e[0] in ("sum", "where"):
                args = ", ".join(map(r, e[1]))
                code = f"m.sum([{args}])" if e[0] == "sum" else f"m.where({args})"
            elif e[0] == "bin":
                code = f"m.{e[1]}({r(e[2])}, {r(e[3])})" if e[1] not in SYMBOLS else (
                    f"{r(e[2])} {SYMBOLS[e[1]]} {r(e[3])}")
            else:
                code = act_source(e[1], r(e[2]))
            lines.append(f"    {out} = {code}")
        lines.append(f"    return ({', '.join(map(r, self.outputs))},)")
        lines.append(f"tape = mg.trace(fn, *[m.Number(v) for v in {self.example!r}])")
        if X is not None:
            lines.append(f"X = np.array({np.asarray(X).tolist()!r})".replace("nan", "np.nan")
                         .replace("inf", "np.inf"))
        return "\n".join(lines)


# -- fixed shapes: what a few random draws may miss -------------------------------------------
def layer_spec(J, K, weights="fresh", bias=True, reuse=None, act=("tanh", 0.0, 0.0)):
    """One dense run of J neurons over K inputs (the bias's constant 1.0 among
    them, if bias), summed.  reuse "first": input 0 is also added to the last
    neuron's activation (after the run, which stays whole), "all": every
    input is also negated into the sum, so that the run's contribution to it
    is not its first."""
    nin = max(1, K - bias)
    steps = [Layer(J, weights, ("one", 1.0) if bias else ("none", 0.0), act, ())]
    if reuse == "first":
        steps.append(Op("add", (("h", -1), ("input", 0)), 0.0, 0.0, ("replace", -1)))
    elif reuse == "all":
        steps += [Op("neg", (("input", i),), 0.0, 0.0, ("append", 0)) for i in range(nin)]
    return Spec(nin, (0.5,), tuple(steps), (("sum", 0),), J * 1000 + K)


def constant_inputs_spec(J, K):
    """A run over constants only (and, for its gradient, a later use of it)."""
    extras = (("noh", 0, 0),) + tuple(("const", k, 0) for k in range(K))
    steps = (Layer(J, "fresh", ("none", 0.0), ("tanh", 0.0, 0.0), extras),
             Op("mul", (("h", 0), ("input", 0)), 0.0, 0.0, ("replace", 0)))
    return Spec(1, (0.5,), steps, (("sum", 0),), 5)


def where_spec():
    """where() in every position: a constant or a parameter picked as a or b,
    and a where inside the branch of another that some lanes do not take (so
    that the inner one is not reached there)."""
    x, p, c = (lambda k: ("input", k)), (lambda k: ("param", k)), (lambda v: ("const", v))
    steps = (Op("where", (x(0), c(2.0), x(1)), 0.0, 0.0, ("append", 0)),
             Op("where", (x(1), x(2), c(-1.0)), 0.0, 0.0, ("append", 0)),
             Op("where", (x(2), p(0), x(0)), 0.0, 0.0, ("append", 0)),
             Op("where", (x(0), x(1), p(1)), 0.0, 0.0, ("append", 0)),
             Op("where", (p(0), x(1), x(2)), 0.0, 0.0, ("append", 0)),
             Op("mul", (x(0), x(2)), 0.0, 0.0, ("pool", 0)),                      # lane 8
             Op("where", (x(0), ("lane", 8), p(1)), 0.0, 0.0, ("pool", 0)),        # lane 9
             Op("sum", (("lane", 9), x(1), p(0), c(0.5)), 0.0, 0.0, ("pool", 0)),  # lane 10
             Op("dot", (("lane", 10), p(1), c(3.0), x(2), ("lane", 9), x(0)), 0.0, 0.0,
                ("pool", 0)),                                                      # lane 11
             Op("where", (x(1), ("lane", 11), x(0)), 0.0, 0.0, ("append", 0)))
    return Spec(3, (0.5, -1.5), steps, (("sum", 0), ("lane", 9)), 1)


def chain_spec(length):
    """x -> tanh -> tanh -> ... : a tape long enough for the smallest chunk."""
    steps = tuple(Op("tanh" if i % 2 else "sin", (("h", 0),), 0.0, 0.0, ("replace", 0))
                  for i in range(length))
    return Spec(1, (0.5,), steps, (("h", 0),), 2)


def wide_spec(width, fan_in):
    """A layer of `width` neurons over `fan_in` inputs (and a bias), then one
    neuron over all of them: the largest run and the longest lone dot."""
    steps = (Layer(width, "fresh", ("one", 1.0), ("relu", 0.0, 0.0), ()),
             Layer(1, "fresh", ("one", 1.0), None, ()))
    return Spec(fan_in, (0.5,), steps, (("h", 0),), 3)
