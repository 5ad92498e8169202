"""The tape: traced once, replayed over batches, lane for lane the bits of the
op-by-op graph, on both backends and any number of threads."""
import copy
import math
import pickle
import subprocess
import sys
import threading

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st

import micrograd as mg
from graphs import floats, programs, run, same_float
from micrograd._backend import module_of
from micrograd._convert import MIXING
from micrograd._errors import TRACES_FULL


def bits(a):
    return np.asarray(a, dtype=np.float64).tobytes()


def same_array(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and all(same_float(x, y) for x, y in zip(a.ravel(), b.ravel()))


def program_fn(mod, steps, params):
    """The program's steps as a function of its traced inputs: the first
    `len(params)` nodes are the closure's parameters.  Outputs: the last
    node and the sum of every node (so every node is in the second's graph)."""
    def fn(*xs):
        nodes, outcomes = run(mod, (list(params) + list(xs), steps), leaves=True)
        if any(o is not None for o in outcomes):
            raise ArithmeticError("a step failed")
        return nodes[-1], mod.sum(nodes)
    return fn


def op_by_op(mod, steps, params, row):
    """(outputs, parameter gradients, input gradients) of one sample built
    op by op, or None if the build raises."""
    xs = [mod.Number(v) for v in row]
    for p in params:
        p.gradient = 0.0
    nodes, outcomes = run(mod, (list(params) + xs, steps), leaves=True)
    if any(o is not None for o in outcomes):
        return None
    out = (nodes[-1], mod.sum(nodes))
    out[0].backward()
    return [o.value for o in out], [p.gradient for p in params], [x.gradient for x in xs]


@given(programs(), st.integers(0, 3), st.lists(st.lists(floats, min_size=4, max_size=4),
                                               min_size=1, max_size=5),
       st.sampled_from([1, 2]))
def test_each_lane_is_the_op_by_op_graph(impl, program, nparams, rows, threads):
    values, steps = program
    nparams = min(nparams, len(values) - 1)
    params = [impl.Number(v) for v in values[:nparams]]
    nin = len(values) - nparams
    try:
        tape = mg.trace(program_fn(impl, steps, params), *[impl.Number(v) for v in values[nparams:]])
    except ArithmeticError:
        assume(False)
    X = np.array([list(values[nparams:])] + [r[:nin] for r in rows])
    X = np.resize(X, (300, nin))                # more lanes than one chunk holds
    vals, pgrads = tape.value_and_grad(X, reduction="none", threads=threads)
    _, igrads = tape.value_and_grad(X, reduction="none", wrt="inputs", threads=threads)
    # the closure's parameters among the tape's (a Number the program makes,
    # all-constant where() or sum(), is a parameter of the tape too)
    ids = [id(p) for p in tape.params]
    columns = [ids.index(id(p)) for p in params if id(p) in ids]
    for lane, row in enumerate(X):
        expect = op_by_op(impl, steps, params, row)
        if expect is None:
            continue
        assert same_array(vals[lane], expect[0]), lane
        assert same_array(pgrads[lane][columns], [g for p, g in zip(params, expect[1])
                                                  if id(p) in ids]), lane
        assert same_array(igrads[lane], expect[2]), lane


@given(programs(), st.lists(st.lists(floats, min_size=4, max_size=4), min_size=1, max_size=6))
def test_c_and_python_replays_agree_even_where_python_would_raise(both, program, rows):
    core, py = both
    values, steps = program
    results = []
    for mod in both:
        try:
            tape = mg.trace(program_fn(mod, steps, []), *[mod.Number(v) for v in values])
        except ArithmeticError:
            assume(False)
        X = np.array([r[:len(values)] + [0.0] * (len(values) - len(r)) for r in rows])
        out, g = tape.value_and_grad(X, reduction="none", wrt="inputs")
        results.append((out, g, tape.value_and_grad(X, reduction="sum")[1]))
    for a, b in zip(*results):
        assert same_array(a, b)


def mlp(mod, seed=0, sizes=(2, 8, 8, 1)):
    rng = np.random.default_rng(seed)
    W = [[[mod.Number(rng.uniform(-1, 1)) for _ in range(sizes[i] + 1)]
          for _ in range(sizes[i + 1])] for i in range(len(sizes) - 1)]

    def model(*inputs):
        h = list(inputs)
        for i, layer in enumerate(W):
            h = [mod.dot(neuron, [1.0] + h) for neuron in layer]
            if i < len(W) - 1:
                h = [v.relu() for v in h]
        return h[0]
    return W, model


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_reductions_add_chunk_sums_in_chunk_order(impl, threads):
    W, model = mlp(impl)
    tape = mg.trace(lambda a, b, t: (1.0 - t * model(a, b)).relu(), *map(impl.Number, (0., 0., 1.)))
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(-2, 2, (2 * tape.lanes + 37, 2)),
                         rng.choice([-1.0, 1.0], 2 * tape.lanes + 37)])
    vals, per_lane = tape.value_and_grad(X, reduction="none")
    _, total = tape.value_and_grad(X, reduction="sum", threads=threads)
    _, mean = tape.value_and_grad(X, reduction="mean", threads=threads)
    expect = np.zeros(len(tape.params))
    for start in range(0, len(X), tape.lanes):
        part = np.zeros(len(tape.params))
        for lane in range(start, min(start + tape.lanes, len(X))):
            part = part + per_lane[lane]
        expect = expect + part
    assert bits(total) == bits(expect) and bits(mean) == bits(expect / len(X))
    for p in tape.params:
        p.gradient = 0.0
    loss = tape.backward(X, reduction="sum", threads=threads)
    assert bits([p.gradient for p in tape.params]) == bits(0.0 + expect)
    loss_expect = 0.0
    for start in range(0, len(X), tape.lanes):
        part = 0.0
        for v in vals[start:start + tape.lanes]:
            part += v
        loss_expect += part
    assert same_float(loss, loss_expect)


def test_backward_accumulates_and_reads_params_at_every_call(impl):
    w = impl.Number(0.5)
    tape = mg.trace(lambda x, y: (x * w - y) ** 2, impl.Number(0.0), impl.Number(0.0))
    assert tape.params == [w]
    X = [[1.0, 2.0], [2.0, 1.0]]
    assert tape.backward(X) == 1.125 and w.gradient == -1.5
    assert tape.backward(X, reduction="sum") == 2.25 and w.gradient == -1.5 + -3.0
    w.value = 1.0                                # as an optimizer would
    assert tape(X).tolist() == [1.0, 1.0]


def test_a_training_loop_with_the_tape_matches_op_by_op(impl):
    """opt.zero_grad(); tape.backward(X); opt.step(): the same parameters, bit
    for bit, as summing per-sample op-by-op gradients in chunk order."""
    from micrograd import optim
    W, model = mlp(impl, seed=3)
    params = [p for layer in W for n in layer for p in n]
    W2, model2 = mlp(impl, seed=3)
    params2 = [p for layer in W2 for n in layer for p in n]
    tape = mg.trace(lambda a, b, t: (1.0 - t * model(a, b)).relu(), *map(impl.Number, (0., 0., 1.)))
    rng = np.random.default_rng(2)
    X = np.column_stack([rng.uniform(-2, 2, (40, 2)), rng.choice([-1.0, 1.0], 40)])
    opt, opt2 = optim.SGD(params, lr=0.1, momentum=0.9), optim.SGD(params2, lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.zero_grad()
        tape.backward(X, reduction="sum")
        opt.step()
        opt2.zero_grad()
        total = [0.0] * len(params2)
        for row in X:
            for p in params2:
                p.gradient = 0.0
            (1.0 - row[2] * model2(impl.Number(row[0]), impl.Number(row[1]))).relu().backward()
            total = [t + p.gradient for t, p in zip(total, params2)]
        for p, t in zip(params2, total):
            p.gradient = t
        opt2.step()
    assert bits([p.value for p in params]) == bits([p.value for p in params2])


# -- tracing rules ---------------------------------------------------------------------
READS = {
    ".value": lambda n: n.value,
    ".data": lambda n: n.data,
    "float()": float,
    "bool()": bool,
    "if": lambda n: 1 if n else 0,
    "format": lambda n: f"{n:.3f}",
    "f-string": lambda n: f"{n}",
    "numpy": lambda n: np.float64(n),
    "math": math.floor,
    "detach()": lambda n: n.detach(),
    "no_grad": lambda n: _no_grad_result(n),
}


def _no_grad_result(n):
    with module_of([n]).no_grad():
        return n * 2.0


@pytest.mark.parametrize("how", sorted(READS))
@pytest.mark.parametrize("what", ["input", "result"])
def test_reading_a_traced_value_raises_trace_error(impl, how, what):
    def fn(x):
        y = x if what == "input" else (x * 3.0).tanh()
        READS[how](y)
        return y
    with pytest.raises(mg.TraceError) as err:
        mg.trace(fn, impl.Number(0.5))
    text = str(err.value)
    assert "micrograd.where" in text and "after tracing" in text
    assert ("'tanh'" in text) == (what == "result")


COPIES = {"copy.copy()": copy.copy, "copy.deepcopy()": copy.deepcopy, "pickling": pickle.dumps}


def _weight_class(mod):
    """A user's subclass of mod.Number, made once at module level (pickle finds it)."""
    name = f"Weight_{mod.BACKEND}"
    if name not in globals():
        globals()[name] = type(name, (mod.Number,), {"__module__": __name__})
    return globals()[name]


@pytest.mark.parametrize("how", sorted(COPIES))
@pytest.mark.parametrize("what", ["input", "result", "subclass operand"])
def test_copying_or_pickling_a_traced_value_raises_trace_error(impl, how, what):
    """A copy or a pickle is a leaf holding the one example's value: refused
    as .value and detach() are, for results too (the core's result of an op
    on a subclass with a __dict__ is its GC-tracked Number type)."""
    w = _weight_class(impl)(2.0)
    w.name = "w"

    def fn(x):
        assert COPIES[how](w) is not None       # a parameter: fine
        y = {"input": x, "result": (x * 3.0).tanh(), "subclass operand": x * w}[what]
        # a deep copy or a pickle reaches inside containers too
        COPIES[how](y if how == "copy.copy()" else [1.0, y])
        return y
    with pytest.raises(mg.TraceError) as err:
        mg.trace(fn, impl.Number(0.5))
    op = {"input": "an input of the traced function", "result": "the result of 'tanh'",
          "subclass operand": "the result of 'mul'"}[what]
    assert str(err.value).startswith(f"{how} of a traced Number ({op}) while micrograd.trace "
                                     f"records: ")
    assert "micrograd.where" in str(err.value) and "after tracing" in str(err.value)


def test_traced_values_copy_and_pickle_after_tracing(impl):
    kept = []
    tape = mg.trace(lambda x: kept.append((x, x * 3.0)) or kept[-1][1], impl.Number(0.5))
    for n in kept[0]:
        copies = [copy.copy(n), copy.deepcopy(n), pickle.loads(pickle.dumps(n))]
        assert [c.value for c in copies] == [n.value] * 3
    assert tape([1.0]) == 3.0


def test_a_trace_inside_fn_cannot_read_the_outer_traces_values(impl):
    """An inner trace closes first; the outer trace stays open all along."""
    def outer(read, what):
        def fn(x):
            y = (x * 3.0).tanh()
            mg.trace(lambda z: z * read(x if what == "input" else y), impl.Number(1.0))
            return y
        return fn
    for what, op in [("input", "an input of the traced function"),
                     ("result", "the result of 'tanh'")]:
        for how, read in [("float()", float), ("reading .value", lambda n: n.value),
                          ("bool() (an `if` or `and`/`or`)", bool),
                          ("copy.copy()", copy.copy)]:
            with pytest.raises(mg.TraceError) as err:
                mg.trace(outer(read, what), impl.Number(0.5))
            assert str(err.value).startswith(f"{how} of a traced Number ({op}) while")
    # an inner tape whose graph uses an outer value would replay that value
    def uses(x):
        mg.trace(lambda z: z * (x * 2.0), impl.Number(1.0))
        return x
    with pytest.raises(mg.TraceError, match=r"^tracing a function that uses the value of a "
                                            r"traced Number \(an input of the traced function\)"):
        mg.trace(uses, impl.Number(0.5))
    # an inner trace of its own values works, and they read once it closes
    seen = []

    def fn(x):
        kept = []
        inner = mg.trace(lambda z: kept.append(z * 2.0) or kept[-1], impl.Number(1.5))
        seen.append((kept[0].value, inner([2.0])))
        with pytest.raises(mg.TraceError):
            x.value                             # the outer trace is still open
        return x * 2.0
    assert mg.trace(fn, impl.Number(0.5))([4.0]) == 8.0
    assert seen == [(3.0, 4.0)]


def _in_thread(fn, *args):
    """fn(*args) in another thread: what it returned, or the exception it raised."""
    box = []

    def work():
        try:
            box.append(fn(*args))
        except BaseException as exc:            # handed back to the test
            box.append(exc)
    t = threading.Thread(target=work)
    t.start()
    t.join()
    return box[0]


def test_other_threads_cannot_read_traced_values_while_the_trace_is_open(impl):
    kept, seen = [], []
    reads = {"reading .value": lambda n: n.value, "float()": float,
             "detach()": lambda n: n.detach(), "formatting": lambda n: f"{n:.2f}",
             "pickling": pickle.dumps}

    def fn(x):
        y = (x * 3.0).tanh()
        kept.extend([x, y])
        for n, op in [(x, "an input of the traced function"), (y, "the result of 'tanh'")]:
            for how, read in reads.items():
                got = _in_thread(read, n)
                seen.append(isinstance(got, mg.TraceError)
                            and str(got).startswith(f"{how} of a traced Number ({op}) while"))
        return y
    tape = mg.trace(fn, impl.Number(0.5))
    assert seen == [True] * 10
    # the trace is closed: its values read again, in any thread
    assert _in_thread(lambda: [n.value for n in kept]) == [0.5, math.tanh(1.5)]
    assert [float(n) for n in kept] == [0.5, math.tanh(1.5)]
    assert tape([0.5]) == math.tanh(1.5)


def test_another_threads_ops_on_traced_values_are_traced_too(impl):
    """A thread fn starts computes from a traced value and reads the result:
    the result is the trace's, so the read raises (it baked the example)."""
    seen = []

    def fn(x):
        for make in (lambda: x * 2.0, lambda: (x + x).tanh(), lambda: impl.sum([x, 1.0]),
                     lambda: impl.dot([x, 2.0], [1.0, x]), lambda: x.clamp(0.0, 1.0)):
            got = _in_thread(lambda: make().value)
            seen.append(isinstance(got, mg.TraceError))
        return x * 2.0
    mg.trace(fn, impl.Number(0.5))
    assert seen == [True] * 5
    # after the trace, another thread's ops on its Numbers read as usual
    w = impl.Number(0.25)
    assert _in_thread(lambda: (w * 2.0).value) == 0.5


def test_a_trace_closing_in_another_thread_leaves_this_ones_values_traced(impl):
    """Two fresh threads trace at once: a trace id is open for the process,
    and two open traces never share one, so closing one does not open the
    other's values (and its own read again at once)."""
    a_open, a_may_close, no_wait = threading.Event(), threading.Event(), threading.Event()
    no_wait.set()
    kept = {}

    def traced(name, opened, wait):
        def fn(x):
            kept[name] = x * 2.0
            opened.set()
            wait.wait(10)
            return kept[name]
        return lambda: mg.trace(fn, impl.Number(1.0))
    a = threading.Thread(target=traced("a", a_open, a_may_close))
    a.start()
    try:
        assert a_open.wait(10)
        tape_b = _in_thread(traced("b", threading.Event(), no_wait))
        assert isinstance(tape_b, mg.Tape), tape_b
        assert kept["b"].value == 2.0           # b's trace is closed
        got = _in_thread(lambda: kept["a"].value)
        assert isinstance(got, mg.TraceError), got
        with pytest.raises(mg.TraceError):
            kept["a"].value
    finally:
        a_may_close.set()
        a.join()
    assert kept["a"].value == 2.0


def test_every_trace_id_open_at_once(impl):
    """Ids are 16 bits; the 65,536th open trace is refused and changes nothing."""
    stack = []
    try:
        for _ in range(65535):
            stack.append(impl._trace_begin())
        inner = impl._trace_input(1.0)
        with pytest.raises(RuntimeError) as err:
            impl._trace_begin()
        assert str(err.value) == TRACES_FULL
        with pytest.raises(mg.TraceError):
            inner.value                         # the innermost trace is still open
    finally:
        while stack:
            impl._trace_end(stack.pop())
    assert inner.value == 1.0
    assert mg.trace(lambda x: x * 2.0, impl.Number(1.0))([3.0]) == 6.0


def test_values_read_after_tracing_and_params_during_it(impl):
    w = impl.Number(2.0)
    seen = []

    def fn(x):
        seen.append(w.value)                    # a parameter: fine
        y = x * w
        seen.append(repr(y))                    # repr does not read the value
        return y
    tape = mg.trace(fn, impl.Number(3.0))
    assert seen == [2.0, "Number(traced, op='mul')"]
    out = fn(impl.Number(3.0))                  # outside a trace: values again
    assert out.value == 6.0 and float(out) == 6.0 and bool(out) is True
    assert tape([3.0]) == 6.0


def test_where_based_code_traces_and_picks_per_lane(impl):
    tape = mg.trace(lambda x: mg.where(x, x.sqrt(), -x), impl.Number(1.0))
    X = np.array([[4.0], [-9.0], [0.0]])
    vals, grads = tape.value_and_grad(X, reduction="none", wrt="inputs")
    assert vals.tolist() == [2.0, 9.0, 0.0]
    # at 0 the untaken sqrt has an infinite derivative: it must not leak
    assert grads[:, 0].tolist() == [0.25, -1.0, -1.0]


def test_softmax_cross_entropy_traces(impl):
    from micrograd import losses
    tape = mg.trace(lambda a, b, c: losses.cross_entropy([a, b, c], 1), *map(impl.Number, (0., 1., 2.)))
    X = np.array([[0.5, 1.5, -1.0], [3.0, -2.0, 0.0]])
    vals, grads = tape.value_and_grad(X, reduction="none", wrt="inputs")
    for lane, row in enumerate(X):
        xs = [impl.Number(v) for v in row]
        loss = losses.cross_entropy(xs, 1)
        loss.backward()
        assert bits(loss.value) == bits(vals[lane])
        assert bits([x.gradient for x in xs]) == bits(grads[lane])


def test_nn_models_and_chains_trace(impl):
    from micrograd import nn
    if impl is not mg._backend.impl:
        pytest.skip("nn builds its weights in the active backend")
    model = nn.MLP(2, [4, 1], seed=0)
    tape = mg.trace(lambda x0, x1: model([x0, x1]), 0.0, 0.0)
    assert {id(p) for p in tape.params} == {id(p) for p in model.parameters()}
    assert tape([0.5, -0.5]) == model([0.5, -0.5]).value
    chain_tape = mg.trace(lambda x: mg.Chain(x).mul(2.0).tanh(), 0.0)
    assert chain_tape([0.25]) == math.tanh(0.5)


def test_several_outputs(impl):
    tape = mg.trace(lambda x, y: (x * y, x + y, (x - y).exp()), impl.Number(1.0), impl.Number(2.0))
    out = tape([[1.0, 2.0], [3.0, 4.0]])
    assert out.shape == (2, 3) and out[1].tolist() == [12.0, 7.0, math.exp(-1.0)]
    vals, g = tape.value_and_grad([1.0, 2.0], reduction="none", wrt="inputs")
    assert vals.tolist() == [2.0, 3.0, math.exp(-1.0)] and g.tolist() == [2.0, 1.0]


# -- errors ------------------------------------------------------------------------------
def test_bad_batches_and_arguments(impl):
    tape = mg.trace(lambda x, y: x * y, impl.Number(1.0), impl.Number(2.0))
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        tape([[1.0, 2.0, 3.0]])
    with pytest.raises(ValueError, match=r"shape \(batch, 2\)"):
        tape(np.zeros((2, 2, 2)))
    with pytest.raises(TypeError, match="real numbers"):
        tape(np.array([[1j, 2j]]))
    with pytest.raises(TypeError, match="real numbers"):
        tape([["a", "b"]])
    with pytest.raises(ValueError, match="reduction"):
        tape.backward([[1.0, 2.0]], reduction="none")
    with pytest.raises(ValueError, match="reduction"):
        tape.value_and_grad([[1.0, 2.0]], reduction="max")
    with pytest.raises(ValueError, match="wrt"):
        tape.value_and_grad([[1.0, 2.0]], wrt="outputs")
    with pytest.raises(ValueError, match="threads"):
        tape([[1.0, 2.0]], threads=0)
    with pytest.raises(ValueError, match="empty"):
        tape.backward(np.zeros((0, 2)))
    assert tape(np.zeros((0, 2))).shape == (0,)
    with pytest.raises(TypeError, match="must be a Number"):
        mg.trace(lambda x: 3.0, 1.0)
    with pytest.raises(TypeError, match="callable"):
        mg.trace(3.0, 1.0)
    with pytest.raises(TypeError, match="example input 0"):
        mg.trace(lambda x: x, "1.0")


def test_trace_refuses_a_closure_over_the_other_backend(both):
    """With real examples or none, the examples pick the active backend; with
    Numbers, theirs.  A graph fn builds only from a closure's Numbers of the
    other backend gets the mixing error an op mixing them gives."""
    active = mg._backend.impl
    for mod in both:
        other = both[1] if mod is both[0] else both[0]
        w = other.Number(2.0)
        expect = MIXING.format(mod.BACKEND, other.BACKEND)
        with pytest.raises(TypeError) as err:
            mod.Number(1.0) * w
        assert str(err.value) == expect         # the message everywhere else
        cases = [(lambda x: w * 3.0, [mod.Number(1.0)]),
                 (lambda x: (x * 2.0, other.Chain(w).tanh()), [mod.Number(1.0)])]
        if mod is active:
            cases += [(lambda: w * 3.0, []), (lambda x, y: w.exp(), [1.0, 2.0]),
                      (lambda x: [x * 2.0, w], [np.float64(1.0)])]
        for fn, examples in cases:
            with pytest.raises(TypeError) as err:
                mg.trace(fn, *examples)
            assert str(err.value) == expect
        # examples of both backends: the same error, before fn runs
        called = []
        with pytest.raises(TypeError) as err:
            mg.trace(lambda a, b: called.append(1) or a * 2.0, mod.Number(1.0), other.Number(2.0))
        assert str(err.value) == expect and called == []


def test_float32_int_and_strided_batches_are_converted(impl):
    tape = mg.trace(lambda x, y: x * y, impl.Number(1.0), impl.Number(2.0))
    wide = np.arange(12, dtype=np.float64).reshape(3, 4)
    assert tape(wide[:, ::2]).tolist() == [0.0, 24.0, 80.0]
    assert tape(np.array([[2, 3]], dtype=np.int64)).tolist() == [6.0]
    assert tape(np.array([[0.5, 4]], dtype=np.float32)).tolist() == [2.0]
    assert tape([2.0, 5.0]) == 10.0


def test_check_names_the_lanes_and_changes_nothing(impl):
    w = impl.Number(1.0)
    tape = mg.trace(lambda x: (x * w).log(), impl.Number(1.0))
    X = np.array([[1.0], [0.0], [2.0], [-1.0]])
    with pytest.raises(FloatingPointError, match=r"2 of 4 lanes .*lanes 1, 3"):
        tape.backward(X, check=True)
    assert w.gradient == 0.0
    vals = tape(X)                              # IEEE values, as documented
    assert vals[1] == -math.inf and math.isnan(vals[3])


# -- pickles and processes ------------------------------------------------------------
def test_a_tape_pickles_and_replays_with_the_same_bits(impl):
    W, model = mlp(impl, seed=5)
    tape = mg.trace(lambda a, b: model(a, b), impl.Number(0.0), impl.Number(0.0))
    X = np.random.default_rng(0).uniform(-1, 1, (50, 2))
    again = pickle.loads(pickle.dumps(tape))
    assert [p.value for p in again.params] == [p.value for p in tape.params]
    a, b = tape.value_and_grad(X), again.value_and_grad(X)
    assert bits(a[0]) == bits(b[0]) and bits(a[1]) == bits(b[1])
    with pytest.raises(ValueError, match="not consistent"):
        state = tape._impl.to_state()
        state["args"][0] = 10 ** 6
        type(tape._impl).from_state(state, tape.params)


SHARD = """
import pickle, sys
import numpy as np
tape, X = pickle.loads(sys.stdin.buffer.read())
sys.stdout.buffer.write(pickle.dumps(tape.value_and_grad(X, reduction="sum")))
"""


@pytest.mark.slow
def test_data_parallel_shards_in_processes_give_the_same_bits():
    """Each shard's gradient computed in another process, summed in shard
    order, equals the same sum computed in this process."""
    from concurrent.futures import ProcessPoolExecutor
    W, model = mlp(mg._backend.impl, seed=7)
    tape = mg.trace(lambda a, b: model(a, b), 0.0, 0.0)
    X = np.random.default_rng(1).uniform(-1, 1, (600, 2))
    shards = np.array_split(X, 3)
    with ProcessPoolExecutor(2) as pool:
        remote = list(pool.map(_shard_grads, [pickle.dumps((tape, s)) for s in shards]))
    local = [tape.value_and_grad(s, reduction="sum") for s in shards]
    total_remote, total_local = np.zeros(len(tape.params)), np.zeros(len(tape.params))
    for (_, g_remote), (_, g_local) in zip(remote, local):
        assert bits(g_remote) == bits(g_local)
        total_remote, total_local = total_remote + g_remote, total_local + g_local
    assert bits(total_remote) == bits(total_local)
    out = subprocess.run([sys.executable, "-c", SHARD], input=pickle.dumps((tape, X)),
                         capture_output=True, check=True)
    assert bits(pickle.loads(out.stdout)[1]) == bits(tape.value_and_grad(X, reduction="sum")[1])


def _shard_grads(payload):
    tape, X = pickle.loads(payload)
    return tape.value_and_grad(X, reduction="sum")


# -- dense layers: the replay runs them together; the bits must not change -------------
@st.composite
def networks(draw):
    """Random stacks of layers: widths 1-9, activations of several kinds or
    none, some weights tied across neurons, constants among the inputs."""
    nin = draw(st.integers(1, 4))
    layers, width = [], nin
    for _ in range(draw(st.integers(1, 3))):
        out = draw(st.integers(1, 9))
        act = draw(st.sampled_from([None, "relu", "tanh", "scale", "leaky"]))
        tie = draw(st.booleans())
        const = draw(st.sampled_from([None, 0, width]))     # where a constant sits
        layers.append((width, out, act, tie, const))
        width = out
    return nin, layers, draw(st.integers(0, 2**31))


def network_fn(mod, layers, seed):
    rng = np.random.default_rng(seed)
    weights = []
    for width, out, act, tie, const in layers:
        n_in = width + 1 + (const is not None)
        rows = [[mod.Number(rng.uniform(-1, 1)) for _ in range(n_in)] for _ in range(out)]
        if tie and out > 1:
            rows[1][1] = rows[0][1]                      # one weight shared by two neurons
        weights.append(rows)

    def fn(*xs):
        h = list(xs)
        for (width, out, act, tie, const), rows in zip(layers, weights):
            operands = [1.0] + h
            if const is not None:
                operands.insert(const + 1, 0.5)
            h = [mod.dot(r, operands) for r in rows]
            if act == "relu":
                h = [v.relu() for v in h]
            elif act == "tanh":
                h = [v.tanh() for v in h]
            elif act == "scale":
                h = [v * 0.5 for v in h]
            elif act == "leaky":
                h = [v.leaky_relu(0.1) for v in h]
        return mod.sum(h) if len(h) > 1 else h[0]
    return fn, [p for rows in weights for r in rows for p in r]


@given(networks(), st.integers(1, 300))
def test_layers_replay_with_the_bits_of_their_nodes(impl, network, batch):
    nin, layers, seed = network
    fn, params = network_fn(impl, layers, seed)
    tape = mg.trace(fn, *[impl.Number(0.1)] * nin)
    X = np.random.default_rng(seed).uniform(-2, 2, (batch, nin))
    vals, per_lane = tape.value_and_grad(X, reduction="none")
    _, total = tape.value_and_grad(X, reduction="sum")
    _, total2 = tape.value_and_grad(X, reduction="sum", threads=2)
    expect = np.zeros(len(tape.params))
    for start in range(0, batch, tape.lanes):
        part = np.zeros(len(tape.params))
        for lane in range(start, min(start + tape.lanes, batch)):
            part = part + per_lane[lane]
        expect = expect + part
    assert bits(total) == bits(expect) and bits(total2) == bits(expect)
    tp = tape.params
    for lane in (0, batch // 2, batch - 1):
        for p in tp:
            p.gradient = 0.0
        out = fn(*[impl.Number(v) for v in X[lane]])
        out.backward()
        assert bits(out.value) == bits(vals[lane])
        assert bits([p.gradient for p in tp]) == bits(per_lane[lane])


INTERRUPT = """
import numpy as np, micrograd as mg
from micrograd import {mod} as m
w = m.Number(0.5)
def fn(x):
    y = x
    for _ in range(200):
        y = (y * w + 0.1).tanh()
    return y
tape = mg.trace(fn, m.Number(0.1))
X = np.full(({rows}, 1), 0.25)
tape.backward(X, threads={threads})
one, w.gradient, calls, expect = w.gradient, 0.0, 0, 0.0
print("ready", flush=True)
try:
    while True:
        tape.backward(X, threads={threads})
        calls += 1
        expect += one
except KeyboardInterrupt:
    print("interrupted", w.gradient == expect, calls, flush=True)
"""


@pytest.mark.parametrize("threads", [1, 2])
def test_ctrl_c_during_a_replay(impl, threads):
    """Honoured between chunks, with several threads too; the interrupted call
    adds nothing to any gradient."""
    import signal
    import time
    mod = "_core" if impl.BACKEND == "core" else "_core_py"
    rows = 200_000 if impl.BACKEND == "core" else 2_000
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPT.format(mod=mod, rows=rows,
                                                                    threads=threads)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-2000:]
    # every completed call added its sum; the interrupted one added nothing
    assert out.startswith("interrupted True"), out + err


def test_a_gradient_graph_made_while_tracing_is_traced_too(impl):
    """backward(create_graph=True) inside fn: reading grad_node's value raised
    TraceError on the core and not on the reference (its graph nodes were
    made untraced).  Both refuse it now, as they refuse the value it came from."""
    seen = []

    def fn(x):
        y = x * x
        y.backward(create_graph=True)
        for read in (lambda: x.grad_node.value, lambda: float(x.grad_node)):
            try:
                read()
                seen.append(False)
            except mg.TraceError:
                seen.append(True)
        return y
    mg.trace(fn, impl.Number(0.5))
    assert seen == [True, True]
