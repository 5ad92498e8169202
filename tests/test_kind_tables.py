"""The reference dispatches on an op's kind by tables built from the op table
(micrograd/_optable.py): every kind has its entry in each, and every op code
but LEAF's finds a function there (a leaf is never propagated, spread or put
on a tape as an instruction)."""
import pytest

from micrograd import _higher_py, _number_py, _optable as T, _tape_py

BY_KIND = {"_number_py._BACK_BY_KIND": _number_py._BACK_BY_KIND,
           "_number_py._OPERANDS_BY_KIND": _number_py._OPERANDS_BY_KIND,
           "_higher_py._SPREAD_BY_KIND": _higher_py._SPREAD_BY_KIND,
           "_tape_py._BY_KIND": _tape_py._BY_KIND}
BY_CODE = {"_PROPAGATE": _number_py._PROPAGATE, "_OPERANDS": _number_py._OPERANDS,
           "_SPREAD": _higher_py._SPREAD, "_ENCODE": _tape_py._ENCODE,
           "_REFS": _tape_py._REFS, "_FORWARD": _tape_py._FORWARD,
           "_BACKWARD": _tape_py._BACKWARD}


@pytest.mark.parametrize("name", sorted(BY_KIND))
def test_each_kind_table_has_every_kind(name):
    assert sorted(BY_KIND[name]) == sorted(T.KINDS)


@pytest.mark.parametrize("name", sorted(BY_CODE))
def test_each_code_table_has_a_function_for_every_op(name):
    table = BY_CODE[name]
    assert len(table) == T.NUM_OPS
    for op in T.OPS:
        if op.kind != "LEAF":
            assert callable(table[op.code]), f"{name}[{op.CODE}]"
