"""The op table, read from the one file that defines it: csrc/mg_ops.def.

The C core compiles that file into its enum, names and dispatch; this module
parses the same rows, so the reference's codes, names, kinds and arities are
the C ones by construction (tests/test_optable.py also checks them against
the built core).  An installed package carries a copy of the file beside
this module (setup.py puts it there); a source checkout reads csrc/.

Each row becomes an ``Op`` record, and each code a module constant
(``ADD``, ``EXP``, ...), numbered in row order like the C enum.
"""
import os
import re
from collections import namedtuple

Op = namedtuple("Op", "code CODE stem name kind arity doc rule")
Op.__doc__ = ("One row of csrc/mg_ops.def, with its code (the row's position) and its "
              "derivative rule (the text of its MG_RULE line, None if it has none).")

KINDS = ("LEAF", "BINARY", "CONST", "UNARY", "PARAM", "RANGE", "STOP", "SELECT", "NARY", "CUSTOM")

_HERE = os.path.dirname(os.path.abspath(__file__))
_PLACES = (os.path.join(_HERE, "mg_ops.def"),
           os.path.join(os.path.dirname(_HERE), "csrc", "mg_ops.def"))
_ROW = re.compile(r'^MG_OP\(\s*(\w+)\s*,\s*(\w+)\s*,\s*"([^"]*)"\s*,\s*(\w+)\s*,'
                  r'\s*(-?\d+)\s*,\s*"([^"]*)"\s*\)\s*$')
# MG_RULE(CODE, "text" "more text" ...): the string may go on over several lines
_RULE = re.compile(r'^MG_RULE\(\s*(\w+)\s*,((?:\s*"[^"]*")+)\s*\)', re.M)


def source_path():
    """Where the table was found."""
    for path in _PLACES:
        if os.path.exists(path):
            return path
    raise ImportError("micrograd: the op table mg_ops.def is missing (looked in "
                      + " and ".join(_PLACES) + "); reinstall the package")


def parse(text):
    """The rows of an mg_ops.def text, as Op records in code order."""
    rows = []
    for line in text.splitlines():
        if not line.startswith("MG_OP("):
            continue
        match = _ROW.match(line)
        if match is None:
            raise ValueError(f"mg_ops.def: cannot read the row {line!r}")
        CODE, stem, name, kind, arity, doc = match.groups()
        if kind not in KINDS:
            raise ValueError(f"mg_ops.def: {CODE} has an unknown kind {kind!r}")
        rows.append(Op(len(rows), CODE, stem, name, kind, int(arity), doc, None))
    rules = {}
    for match in _RULE.finditer(text):
        CODE = match.group(1)
        if CODE in rules:
            raise ValueError(f"mg_ops.def: {CODE} has two MG_RULE lines")
        rules[CODE] = " ".join(re.findall(r'"([^"]*)"', match.group(2)))
    if text.count("\nMG_RULE(") != len(rules):
        raise ValueError("mg_ops.def: an MG_RULE line cannot be read (MG_RULE(CODE, \"rule\"))")
    known = {op.CODE for op in rows}
    for CODE in rules:
        if CODE not in known:
            raise ValueError(f"mg_ops.def: MG_RULE names {CODE}, which has no row")
    return tuple(op._replace(rule=rules.get(op.CODE)) for op in rows)


with open(source_path(), encoding="utf-8") as _f:
    OPS = parse(_f.read())

NAMES = tuple(op.name for op in OPS)
NUM_OPS = len(OPS)
globals().update({op.CODE: op.code for op in OPS})   # ADD = 1, EXP = ..., as the C enum


def tape_name(code):
    """An op's name in a pickled tape: its CODE, unique per row (the public
    names are not: the constant forms share their binary op's name)."""
    return OPS[code].CODE


def from_tape_name(name):
    """The code of an op named in a pickled tape, or -1 if no op (or the
    leaf) has that name.  A public name (tapes pickled before CODEs were
    written) is taken only where one row has it: the constant forms of
    mul, add, pow, ... cannot be told from their binary forms by it."""
    for op in OPS:
        if op.CODE == name:
            return op.code if op.kind != "LEAF" else -1
    rows = [op for op in OPS if op.name == name and op.kind != "LEAF"]
    if len(rows) > 1:
        raise ValueError(f"tape: this pickle names op {name!r}, which has several forms; "
                         f"it was made by an older micrograd: trace the function again")
    return rows[0].code if rows else -1


def sentence(doc):
    """A row's doc as a docstring sentence: capitalised where it starts with a
    word ("the sine of x" -> "The sine of x."), left as it is where it starts
    with a formula ("e ** x", "log(1 + x)", "x if x > 0 ...": a variable's
    case is its meaning)."""
    first = doc.split(" ", 1)[0]
    if len(first) > 1 and first.isalpha():
        doc = doc[0].upper() + doc[1:]
    return doc + "."


def of_kind(*kinds):
    """The rows of the given kinds, in code order."""
    return tuple(op for op in OPS if op.kind in kinds)
