"""Regenerate the parts of the type stubs that come from the op table.

    python tools/regen.py            # rewrite what is out of date
    python tools/regen.py --check    # exit 1 and list what is out of date

The stubs micrograd/_core.pyi and micrograd/functions.pyi hold one line per
plain unary op (a Number method, a Chain step, a function), between
"# BEGIN generated" and "# END generated" markers.  Those lines are written
here from csrc/mg_ops.def, so a new row of the table needs no edit in the
stubs; `make build` runs this script, and tests/test_optable.py fails if a
stub is out of date.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "micrograd"))
import _optable  # noqa: E402  (the table parser alone, without the package)

BLOCK = re.compile(r"^( *)# BEGIN generated: ([\w-]+)\n.*?^ *# END generated\n", re.M | re.S)


def lines(kind):
    """The stub lines of one generated block, by its name."""
    ops = [op for op in _optable.OPS if op.kind == "UNARY"]
    if kind == "number-methods":
        return [f"def {op.name}(self) -> Number: ..." for op in ops if op.name != "gelu"]
    if kind == "chain-steps":
        return [f"def {op.name}(self) -> Chain: ..." for op in ops if op.name != "gelu"]
    if kind == "functions":
        return [f"def {op.name}(x: _Real) -> Number: ..." for op in ops]
    raise ValueError(f"unknown generated block {kind!r}")


def regenerate(text):
    def block(match):
        indent, kind = match.group(1), match.group(2)
        body = "".join(f"{indent}{line}\n" for line in lines(kind))
        return (f"{indent}# BEGIN generated: {kind}\n{body}"
                f"{indent}# END generated\n")
    return BLOCK.sub(block, text)


STUBS = [os.path.join(ROOT, "micrograd", "_core.pyi"),
         os.path.join(ROOT, "micrograd", "functions.pyi")]


def main(argv):
    stale = []
    for path in STUBS:
        with open(path, encoding="utf-8") as f:
            old = f.read()
        new = regenerate(old)
        if new != old:
            stale.append(path)
            if "--check" not in argv:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(new)
    if stale and "--check" in argv:
        print("out of date (run python tools/regen.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
