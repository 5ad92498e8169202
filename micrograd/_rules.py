"""Each op's derivative as ops, read from its MG_RULE line in csrc/mg_ops.def.

A gradient that is to be differentiated again (backward(create_graph=True),
grad of grad, hessian, hvp) is built from ordinary ops, so every op needs its
local derivative written as ops: its *rule*.  A rule is written once, beside
its row in the table, in a small language (Python's expression syntax), and
this module translates it into code for both backends: Python source that the
reference executes at import (micrograd/_higher_py.py), and Cython source that
tools/regen.py writes into the core's build (micrograd/_core_table.pxi).  Both
translations build the same ops in the same order, so they give the same bits.

The language, for one row:

    rule   := [name "=" expr ";"]... result
    result := expr                 (a tuple "(da, db)" for a BINARY row)

- The names are the row's operands as its kind has them: ``g`` (the incoming
  gradient), ``y`` (the op's output) and ``x`` (UNARY, CONST, PARAM, RANGE)
  or ``a``, ``b`` (BINARY) are Numbers; ``c`` (CONST, PARAM) and ``lo``,
  ``hi`` (RANGE) are reals, as are number literals, ``nan`` and ``inf``.
- ``+ - * / **`` and unary ``-`` on two Numbers make the BINARY op of that
  name; on a Number and a real, its CONST form (``x * c`` is mul_c, ``c - x``
  rsub_c, ``c ** x`` rpow_c, ...); on two reals, IEEE arithmetic on floats.
- ``f(e)`` makes the UNARY op named f (``exp(x)``, ``sigmoid(x)``); on a
  real it is the op's IEEE value.
- Comparisons (``x > 0``, ``lo <= x <= hi``), ``and``, ``or`` and ``not``
  read values: they decide, as torch's masks do, which graph is built.
  ``A if cond else B`` builds only the branch taken.
- ``None`` is no contribution (the operand gets no edge).
- ``name = expr;`` names a Number (or real) used twice, so that it is one
  node of the graph, not two.

The translation is checked here, when the table is read: an unknown name, a
Number where a real must be, or a possible ``None`` inside an op is an error
that names the row.
"""
import ast

__all__ = ["VARIABLES", "RuleError", "source", "no_rule_message"]

# the operands a rule of each kind sees, Numbers first, then reals
VARIABLES = {"UNARY": ("g", "x", "y"), "CONST": ("g", "x", "y", "c"),
             "PARAM": ("g", "x", "y", "c"), "BINARY": ("g", "a", "b", "y"),
             "RANGE": ("g", "x", "y", "lo", "hi")}
_REALS = ("c", "lo", "hi")
NUM, REAL, NONE, MAYBE = "Number", "real", "None", "Number or None"

# how each backend spells what the translated code calls
_SPELL = {
    "py": {"binary": "_b", "const": "_k", "unary": "_u", "real2": "_fb", "real1": "_fu",
           "code": "T.{}", "value": "({})._value", "nan": "_NAN", "inf": "_INF"},
    "pyx": {"binary": "_ib", "const": "_ik", "unary": "_iu", "real2": "_fb", "real1": "_fu",
            "code": "MG_{}", "value": "(<Number>({})).node.value", "nan": "_C_NAN",
            "inf": "_C_INF"},
}
_ARITH = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Pow: "pow"}
# a real on the left: its CONST form, or the commutative one with the operands swapped
_REVERSED = {"add": ("add", True), "mul": ("mul", True), "sub": ("rsub", False),
             "div": ("rdiv", False), "pow": ("rpow", False)}
_COMPARE = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==",
            ast.NotEq: "!="}


class RuleError(ValueError):
    """A rule that cannot be translated: the message names its row."""


def no_rule_message(name):
    """What both backends raise when a create_graph sweep reaches an op with no rule."""
    return (f"{name} has no rule for create_graph: its gradient cannot be differentiated "
            f"again (its MG_RULE line in csrc/mg_ops.def is missing)")


class _Translator:
    """One rule into one backend's code: expr() gives (code, type)."""

    def __init__(self, op, ops, target):
        self.op, self.spell = op, _SPELL[target]
        self.types = {name: (REAL if name in _REALS else NUM) for name in VARIABLES[op.kind]}
        self.binary = {o.name: o.CODE for o in ops if o.kind == "BINARY"}
        self.const = {o.name: o.CODE for o in ops if o.kind == "CONST"}
        self.unary = {o.name: o.CODE for o in ops if o.kind == "UNARY"}

    def fail(self, why, node=None):
        where = f" (at {ast.unparse(node)!r})" if node is not None else ""
        raise RuleError(f"mg_ops.def: the rule of {self.op.CODE}: {why}{where}")

    def code(self, CODE):
        return self.spell["code"].format(CODE)

    def real(self, node):
        code, kind = self.expr(node)
        if kind != REAL:
            self.fail(f"a real is needed here, not a {kind}", node)
        return code

    def number(self, node):
        code, kind = self.expr(node)
        if kind != NUM:
            self.fail(f"a Number is needed here, not {kind}", node)
        return code

    def value(self, node):
        """A comparison's operand: a real, or a Number's value."""
        code, kind = self.expr(node)
        if kind == NUM:
            return self.spell["value"].format(code)
        if kind != REAL:
            self.fail(f"cannot compare {kind}", node)
        return code

    def expr(self, node):
        if isinstance(node, ast.Constant):
            if node.value is None:
                return "None", NONE
            if type(node.value) in (int, float):
                return repr(float(node.value)), REAL
            self.fail("only numbers and None are constants", node)
        if isinstance(node, ast.Name):
            if node.id in self.types:
                return node.id, self.types[node.id]
            if node.id in ("nan", "inf"):
                return self.spell[node.id], REAL
            self.fail(f"unknown name {node.id!r}", node)
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.USub):
                code, kind = self.expr(node.operand)
                if kind == NUM:
                    return f"{self.spell['unary']}({self.code(self.unary['neg'])}, {code})", NUM
                if kind == REAL:
                    return f"(-{code})", REAL
                self.fail(f"cannot negate {kind}", node)
            self.fail("a condition is not a value", node)
        if isinstance(node, ast.BinOp):
            return self.arith(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.IfExp):
            test = self.test(node.test)
            yes, kyes = self.expr(node.body)
            no, kno = self.expr(node.orelse)
            kinds = {kyes, kno}
            if kinds == {REAL}:
                kind = REAL
            elif kinds <= {NUM}:
                kind = NUM
            elif kinds <= {NUM, NONE, MAYBE}:
                kind = MAYBE
            else:
                self.fail(f"the branches give {kyes} and {kno}", node)
            return f"({yes} if {test} else {no})", kind
        self.fail("not part of the rule language", node)

    def arith(self, node):
        name = _ARITH.get(type(node.op))
        if name is None:
            self.fail("unknown operator", node)
        left, kl = self.expr(node.left)
        right, kr = self.expr(node.right)
        for kind, side in ((kl, node.left), (kr, node.right)):
            if kind not in (NUM, REAL):
                self.fail(f"an operand is {kind}", side)
        sp = self.spell
        if kl == NUM and kr == NUM:
            return f"{sp['binary']}({self.code(self.binary[name])}, {left}, {right})", NUM
        if kl == NUM:
            return f"{sp['const']}({self.code(self.const[name])}, {left}, {right})", NUM
        if kr == NUM:
            form, swap = _REVERSED[name]
            return f"{sp['const']}({self.code(self.const[form])}, {right}, {left})", NUM
        # two reals: + - * are the same IEEE operation in Python and C (two
        # literals fold here); / and ** are the op's IEEE value, as C gives it
        # where Python would raise
        if name in ("add", "sub", "mul"):
            if isinstance(node.left, ast.Constant) and isinstance(node.right, ast.Constant):
                a, b = float(node.left.value), float(node.right.value)
                return repr(a + b if name == "add" else a - b if name == "sub" else a * b), REAL
            return f"({left} {'+-*'[('add', 'sub', 'mul').index(name)]} {right})", REAL
        return f"{sp['real2']}({self.code(self.binary[name])}, {left}, {right})", REAL

    def call(self, node):
        if not isinstance(node.func, ast.Name) or node.func.id not in self.unary \
                or len(node.args) != 1 or node.keywords:
            self.fail("a call must name a UNARY op and give it one operand", node)
        CODE = self.unary[node.func.id]
        code, kind = self.expr(node.args[0])
        if kind == NUM:
            return f"{self.spell['unary']}({self.code(CODE)}, {code})", NUM
        if kind == REAL:
            return f"{self.spell['real1']}({self.code(CODE)}, {code})", REAL
        self.fail(f"the operand is {kind}", node)

    def test(self, node):
        """A condition on values, as code that gives a bool."""
        if isinstance(node, ast.Compare):
            parts = [self.value(node.left)]
            for op, right in zip(node.ops, node.comparators):
                if type(op) not in _COMPARE:
                    self.fail("unknown comparison", node)
                parts += [_COMPARE[type(op)], self.value(right)]
            return "(" + " ".join(parts) + ")"
        if isinstance(node, ast.BoolOp):
            word = " and " if isinstance(node.op, ast.And) else " or "
            return "(" + word.join(self.test(v) for v in node.values) + ")"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"(not {self.test(node.operand)})"
        self.fail("a condition must be a comparison", node)

    def body(self, text):
        """[(name, code, type)] for the lets, and the result's code."""
        try:
            tree = ast.parse(text.strip(), mode="exec")
        except SyntaxError as e:
            self.fail(f"cannot parse {text!r}: {e.msg}")
        *lets, last = tree.body or [None]
        out = []
        for stmt in lets:
            if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
                    and isinstance(stmt.targets[0], ast.Name)):
                self.fail("only `name = expr;` may come before the result", stmt)
            name = stmt.targets[0].id
            if name in self.types or name in ("nan", "inf"):
                self.fail(f"{name!r} is already a name", stmt)
            code, kind = self.expr(stmt.value)
            if kind not in (NUM, REAL):
                self.fail(f"a name must be a Number or a real, not {kind}", stmt)
            self.types[name] = kind
            out.append((name, code, kind))
        if not isinstance(last, ast.Expr):
            self.fail("the rule must end with its result")
        if self.op.kind == "BINARY":
            if not (isinstance(last.value, ast.Tuple) and len(last.value.elts) == 2):
                self.fail("a BINARY rule gives a pair (da, db)")
            parts = [self.result(e) for e in last.value.elts]
            return out, "(" + ", ".join(parts) + ")"
        return out, self.result(last.value)

    def result(self, node):
        code, kind = self.expr(node)
        if kind not in (NUM, NONE, MAYBE):
            self.fail(f"a contribution is a Number or None, not a {kind}", node)
        return code


def _signature(kind, target):
    names = VARIABLES[kind]
    if target == "py":
        return ", ".join(names)
    return ", ".join(("double " if n in _REALS else "Number ") + n for n in names)


def source(ops, target):
    """The code of every row's rule for one backend ("py" or "pyx"): a
    function _rule_<CODE> per row with a rule, and

      py:  RULES = {code: function}
      pyx: cdef functions _unary_rule, _const_rule, _binary_rule, _range_rule
           (op, operands...) that dispatch on the op and raise
           NotImplementedError(no_rule_message(name)) for a row without a rule.
    """
    lines = []
    for op in ops:
        if op.rule is None:
            continue
        if op.kind not in VARIABLES:
            raise RuleError(f"mg_ops.def: {op.CODE} is {op.kind}, which takes no rule "
                            f"(its gradient is structural: see micrograd/_higher_py.py)")
        lets, result = _Translator(op, ops, target).body(op.rule)
        if target == "py":
            lines.append(f"def _rule_{op.CODE}({_signature(op.kind, target)}):")
        else:
            lines.append(f"cdef object _rule_{op.CODE}({_signature(op.kind, target)}):")
            for name, _, kind in lets:
                lines.append(f"    cdef {'double' if kind == REAL else 'Number'} {name}")
        lines.append(f"    # {op.CODE}: {' '.join(op.rule.split())}")
        for name, code, _ in lets:
            lines.append(f"    {name} = {code}")
        lines += [f"    return {result}", ""]
    with_rule = [op for op in ops if op.rule is not None]
    if target == "py":
        lines.append("RULES = {" + ", ".join(f"T.{op.CODE}: _rule_{op.CODE}"
                                             for op in with_rule) + "}")
        return "\n".join(lines) + "\n"
    for name, kinds in (("_unary_rule", ("UNARY",)), ("_const_rule", ("CONST", "PARAM")),
                        ("_binary_rule", ("BINARY",)), ("_range_rule", ("RANGE",))):
        lead = VARIABLES[kinds[0]]
        sig = _signature(kinds[0], target)
        lines.append(f"cdef object {name}(int op, {sig}):")
        for op in with_rule:
            if op.kind in kinds:
                lines += [f"    if op == {_SPELL[target]['code'].format(op.CODE)}:",
                          f"        return _rule_{op.CODE}({', '.join(lead)})"]
        lines += ["    raise NotImplementedError(_no_rule_message(_NAMES[op]))", ""]
    return "\n".join(lines) + "\n"
