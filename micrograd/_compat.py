"""What micrograd 0.1.0 users see of a Number: its `_op` labels.

The original labels a node by the operator that made it; it builds `-`, `/`
and unary minus out of `+`, `*` and `**`, so only those labels can match.
"""
from . import _optable as T
from ._custom import name_of

REFUSED_CHILDREN = ("Value(data, _children, _op): building a node from given children is "
                    "not supported; use the operators")


def op_symbol(code, c):
    if code in (T.ADD, T.ADD_C):
        return "+"
    if code in (T.MUL, T.MUL_C):
        return "*"
    if code == T.POW_C:
        return f"**{int(c) if c.is_integer() else c}"
    if code == T.RELU:
        return "ReLU"
    return name_of(code, c)
