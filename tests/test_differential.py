"""The two backends agree bit for bit on random graphs (values, gradients,
exceptions, ops and children), edge values included."""
import pytest
from hypothesis import given, strategies as st

from graphs import floats, programs, run, same_float

pytestmark = pytest.mark.core


def check_values_and_gradients(core_nodes, py_nodes):
    assert len(core_nodes) == len(py_nodes)
    for i, (c, p) in enumerate(zip(core_nodes, py_nodes)):
        assert same_float(c.value, p.value), (i, c, p)
        assert same_float(c.gradient, p.gradient), (i, c, p)


def check_same(core_nodes, py_nodes):
    check_values_and_gradients(core_nodes, py_nodes)
    for c, p in zip(core_nodes, py_nodes):
        assert c.op == p.op and repr(c) == repr(p)
        assert len(c.children) == len(p.children)


@given(programs())
def test_random_graphs_agree_bit_for_bit(both, program):
    core, py = both
    core_nodes, core_out = run(core, program)
    py_nodes, py_out = run(py, program)
    assert core_out == py_out
    check_same(core_nodes, py_nodes)
    # the root uses every node, so shared subexpressions are everywhere
    for mod, nodes in ((core, core_nodes), (py, py_nodes)):
        root = mod.sum(nodes[::-1]) * nodes[-1]
        root.backward()
        root.backward(0.5)
    check_same(core_nodes, py_nodes)


@given(programs(max_steps=6))
def test_backward_from_every_node_agrees(both, program):
    core, py = both
    core_nodes, _ = run(core, program)
    py_nodes, _ = run(py, program)
    for c, p in zip(core_nodes, py_nodes):
        c.backward()
        p.backward()
        check_same(core_nodes, py_nodes)


@given(programs(max_steps=10), st.lists(floats, min_size=1, max_size=30))
def test_backward_after_editing_values_agrees(both, program, edits):
    """Backward reads the values stored in the nodes; a user may have set them
    to anything (0 under a log, a negative base, inf), where the local
    derivatives divide by zero or leave their domain: C's IEEE results and
    the reference's emulation of them must still be the same bits."""
    core, py = both
    core_nodes, _ = run(core, program)
    py_nodes, _ = run(py, program)
    for i, (c, p) in enumerate(zip(core_nodes, py_nodes)):
        c.value = p.value = edits[i % len(edits)]
    for nodes in (core_nodes, py_nodes):
        nodes[-1].backward()
    check_values_and_gradients(core_nodes, py_nodes)
