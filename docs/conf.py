"""Sphinx configuration for the micrograd site: `make docs` builds it with -W -n."""
import ast
import os
import re
import sys

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
sys.path.insert(0, os.path.join(DOCS, "_ext"))
sys.path.insert(0, ROOT)

import micrograd  # noqa: E402

project = "micrograd"
author = "the micrograd authors"
copyright = "2026, the micrograd authors"
release = micrograd.__version__

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon", "sphinx_copybutton",
              "mgdocs"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_generated/*.md", "notebooks", "README.md"]
myst_heading_anchors = 3
html_theme = "furo"
html_title = f"micrograd {release}"
copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_default_options = {"members": True, "undoc-members": False}
napoleon_google_docstring = True
napoleon_numpy_docstring = False

# Every reference must resolve (-n), except to types documented elsewhere
# (NumPy's, PyTorch's, the standard library's) and to type aliases: the stubs'
# private ones and `Real` (Union[Number, float, int]) in activations and losses.
nitpick_ignore_regex = [
    ("py:class", r"(numpy|np|torch|graphviz|collections\.abc|types|random)\..*"),
    ("py:class", r"_[A-Za-z]+|Real"), ("py:class", r"(ndarray|Tensor|Module|Handle)"),
    ("py:class", r"micrograd\._.*")]


# -- signatures from the stubs ----------------------------------------------------
# The compiled classes carry no annotations; micrograd/_core.pyi has them (and
# stubtest keeps it true to the module), so the reference shows those.
def _stub_signatures():
    with open(os.path.join(ROOT, "micrograd", "_core.pyi"), encoding="utf-8") as f:
        tree = ast.parse(f.read())
    found = {}

    def visit(body, prefix):
        for node in body:
            if isinstance(node, ast.ClassDef):
                visit(node.body, prefix + node.name + ".")
            elif isinstance(node, ast.FunctionDef):
                args = ast.unparse(node.args)
                args = ", ".join(a for a in args.split(", ") if a not in ("self", "/"))
                ret = ast.unparse(node.returns) if node.returns else None
                found.setdefault(prefix + node.name, (f"({args})", ret))
    visit(tree.body, "")
    return found


STUBS = _stub_signatures()


# What a reader of the reference should see of the stubs' private names: a
# parameter kept for micrograd 0.1.0 (`_children`, `_op`) is not shown, and the
# private aliases read as what they accept.
READABLE = {"_Real": "float", "_Operand": "Number | float"}


def readable(signature):
    """A stub's signature without its private parameters and aliases."""
    if signature is None:
        return None
    inner = signature[1:-1]
    kept, depth, part = [], 0, ""
    for ch in inner + ",":                 # split on the top-level commas
        if ch == "," and depth == 0:
            if part.strip() and not part.strip().startswith("_"):
                kept.append(part.strip())
            part = ""
            continue
        depth += ch in "[(" and 1 or (ch in "])" and -1 or 0)
        part += ch
    text = "(" + ", ".join(kept) + ")"
    return re.sub(r"\b_(Real|Operand)\b", lambda m: READABLE[m.group(0)], text)


def _signature(app, what, name, obj, options, signature, return_annotation):
    if what not in ("method", "function", "class") or not name.startswith("micrograd."):
        return None
    owner = getattr(obj, "__module__", "") or ""
    if not owner.startswith("micrograd._core") and "cython" not in type(obj).__name__:
        return None
    short = ".".join(name.split(".")[1:])
    for key in (short, short.split(".", 1)[-1], f"{short}.__init__"):
        if key in STUBS:
            sig, ret = STUBS[key]
            ret = ret and re.sub(r"\b_(Real|Operand)\b", lambda m: READABLE[m.group(0)], ret)
            return readable(sig), ret
    return None


def setup(app):
    app.connect("autodoc-process-signature", _signature)
