"""The two backends agree bit for bit on random graphs (values, gradients,
exceptions, ops and children), edge values included."""
import pytest
from hypothesis import given

from graphs import programs, run, same_float

pytestmark = pytest.mark.core


def check_same(core_nodes, py_nodes):
    assert len(core_nodes) == len(py_nodes)
    for i, (c, p) in enumerate(zip(core_nodes, py_nodes)):
        assert same_float(c.value, p.value), (i, c, p)
        assert same_float(c.gradient, p.gradient), (i, c, p)
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
