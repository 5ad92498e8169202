"""Install the requirements of optional extras of pyproject.toml, and not the
project itself (the venv already has it, editable).

    python tools/install_extra.py docs [wheelhouse ...]
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def extras():
    """{extra: [requirement, ...]} from pyproject.toml."""
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as f:
        text = f.read()
    try:
        import tomllib
    except ImportError:             # Python < 3.11: the section is simple enough to read
        section = text.split("[project.optional-dependencies]", 1)[1].split("\n[", 1)[0]
        out = {}
        for name, body in re.findall(r"^(\w+)\s*=\s*\[(.*?)\]", section, re.M | re.S):
            out[name] = re.findall(r'"([^"]+)"', body)
        return out
    return tomllib.loads(text)["project"]["optional-dependencies"]


def main(names):
    table = extras()
    unknown = [n for n in names if n not in table]
    if unknown or not names:
        print(f"install_extra: name one or more of {sorted(table)}", file=sys.stderr)
        return 2
    wanted = [r for n in names for r in table[n] if not r.startswith("micrograd-core")]
    return subprocess.call([sys.executable, "-m", "pip", "install", "-q", *wanted])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
