"""The package runs on every Python that pyproject.toml allows (3.9 up): the
twin formulas, and everything else, use only what 3.9's math module has."""
import ast
import os

import micrograd

# dir(math) on CPython 3.9, public names (3.11 added cbrt and exp2, 3.12
# sumprod, 3.13 fma: a formula that calls one breaks on the older versions)
MATH_39 = frozenset(
    "acos acosh asin asinh atan atan2 atanh ceil comb copysign cos cosh degrees dist e erf "
    "erfc exp expm1 fabs factorial floor fmod frexp fsum gamma gcd hypot inf isclose "
    "isfinite isinf isnan isqrt lcm ldexp lgamma log log10 log1p log2 modf nan nextafter "
    "perm pi pow prod radians remainder sin sinh sqrt tan tanh tau trunc ulp".split())


def math_names(source):
    """The names a module's source takes from math (math.x, from math import x)."""
    tree = ast.parse(source)
    aliases = {"math"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases |= {a.asname or a.name for a in node.names if a.name == "math"}
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in aliases:
            found.add(node.attr)
        if isinstance(node, ast.ImportFrom) and node.module == "math":
            found |= {a.name for a in node.names}
    return found


def test_the_scan_finds_what_a_newer_python_added():
    assert math_names("import math\ny = math.cbrt(x)") - MATH_39 == {"cbrt"}
    assert math_names("from math import fma, exp") - MATH_39 == {"fma"}
    assert math_names("import math as m\nm.exp2(1.0)") - MATH_39 == {"exp2"}


def test_every_module_uses_only_what_python_3_9_math_has():
    root = os.path.dirname(micrograd.__file__)
    bad = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name.endswith(".py"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    text = f.read()
                extra = math_names(text) - MATH_39
                if extra:
                    bad[os.path.relpath(path, root)] = sorted(extra)
    assert not bad, f"math functions Python 3.9 lacks: {bad}"
