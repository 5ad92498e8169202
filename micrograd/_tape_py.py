"""The reference tape: the twin of micrograd/_core_tape.pxi over csrc/mg_tape.c and mg_replay.c.

A traced graph flattened into instructions over slots, and replayed chunk by
chunk over lanes, with the loops of mg_replay.c (csrc/mg_tape.h has the layout,
docs/design.md the design): forward keeps the IEEE value where Python would
raise (``_ops_py.IEEE``), backward runs the first output's instructions in
reverse, and where a ``where`` or ``stop_gradient`` is on the tape a lane
propagates only the slots it reached.  Same instructions, same formulas, same
order: the same bits as the C replay, lane for lane.
"""
from . import _ops_py as ops
from . import _optable as T
from ._gradmode_py import trace_begin, trace_end
from ._custom import from_state as custom_from_state, op_of, to_state as custom_to_state
from ._errors import check_chunk_arrays, traced_read
from ._number_py import _hooks_live, _hooks_of, _traced, collect, trace_input

__all__ = ["Tape", "tape_hooks", "trace_begin", "trace_end", "trace_input"]

# by op code: whether the op may leave an operand unreached in a lane (where's
# other branch, stop_gradient's operand), so backward must track what it reaches
_PRUNES = tuple(op.kind in ("SELECT", "STOP") for op in T.OPS)


def tape_hooks(outputs, params):
    """Twin of the core's _tape_hooks: whether a Number a tape would replay (a
    parameter, or a node of the outputs' graphs) has a hook.  Looked for only
    while some hook is registered anywhere."""
    if _hooks_live[0] == 0:
        return False
    if any(_hooks_of(p) for p in params):
        return True
    order, _ = collect(list(outputs)) if outputs else ([], 0)
    return any(_hooks_of(n) for n in order)


def lanes_for(nlane, npar, prunes, npart=0):
    """mg_tape_lanes: a power of two from 8 to 256, a chunk's values,
    adjoints and custom ops' partials near 1 MiB."""
    per_lane = 16 * nlane + (nlane if prunes else 0) + 8 * npart + 1
    lanes = 256
    while lanes > 8 and lanes * per_lane > 1024 * 1024:
        lanes //= 2
    return lanes


class Tape:
    """A flattened graph and its replay (see micrograd.tape.Tape)."""

    # code: (op, out, a, b, c, c2) per instruction; a block op's a and b are
    # its first index in args and its operand count
    __slots__ = ("code", "ngrad", "args", "consts", "outs", "nin", "npar", "nlane",
                 "prunes", "lanes", "params", "plain", "npart")

    @staticmethod
    def build(outputs, inputs):
        """mg_tape_build: flatten the graphs of the outputs."""
        self = Tape.__new__(Tape)
        order, self.ngrad = collect(list(outputs))
        refs = {}
        for i, leaf in enumerate(inputs):
            if id(leaf) in refs:
                raise ValueError("trace: an input appears twice")
            refs[id(leaf)] = i
        nin = len(inputs)
        nlane = nin + len(order)
        for i, node in enumerate(order):
            refs[id(node)] = nin + i
        params = []

        def ref(node):
            if id(node) not in refs:          # a leaf seen for the first time
                refs[id(node)] = nlane + len(params)
                params.append(node)
            return refs[id(node)]

        code, args, consts, npart = [], [], [], 0
        for i, node in enumerate(order):
            ins = _ENCODE[node._code](node, nin + i, ref, args, consts)
            if ins[0] == T.CUSTOM:          # its partial rows: c2, as mg_tape_build
                ins, npart = ins[:5] + (float(npart),), npart + ins[3]
            code.append(ins)
        outs = [ref(r) for r in outputs]
        for p in params:                # see micrograd/tape.py, trace
            if p._trace and _traced(p):
                raise traced_read("", "tracing a function that uses the value")
        self.args = [a if a >= 0 else nlane + len(params) + (-1 - a) for a in args]
        self.code, self.consts, self.outs, self.nin = code, consts, outs, nin
        self.params = tuple(params)
        self._finish()
        return self

    @staticmethod
    def from_state(state, params):
        """A tape from to_state() and fresh parameter Numbers (a pickle)."""
        self = Tape.__new__(Tape)
        code, npart = [], 0
        for name, out, a, b, c, c2 in state["code"]:
            op = T.from_tape_name(name)
            if op < 0:
                raise ValueError(f"tape: unknown op {name!r}")
            if op == T.CUSTOM:      # its partials' rows, laid out again (mg_tape_check)
                c2, npart = npart, npart + int(b)
            code.append((op, int(out), int(a), int(b), custom_from_state(op, c, int(b)),
                         float(c2)))
        self.code, self.ngrad, self.nin = code, int(state["ngrad"]), int(state["nin"])
        self.args = [int(a) for a in state["args"]]
        self.consts = [float(c) for c in state["consts"]]
        self.outs = [int(o) for o in state["outs"]]
        self.params = tuple(params)
        self._finish()
        if not self._consistent():
            raise ValueError("tape: the pickled tape is not consistent")
        return self

    def _finish(self):
        self.plain = False        # this replay is the plain interpreter either way
        self.npar = len(self.params)
        self.nlane = self.nin + len(self.code)
        self.prunes = any(_PRUNES[ins[0]] for ins in self.code)
        self.npart = sum(ins[3] for ins in self.code if ins[0] == T.CUSTOM)
        self.lanes = lanes_for(self.nlane, self.npar, self.prunes, self.npart)

    def _consistent(self):
        """mg_tape_check."""
        nref = self.nlane + self.npar + len(self.consts)
        if self.ngrad > len(self.code) or not self.outs:
            return False
        for i, (op, out, a, b, c, c2) in enumerate(self.code):
            if out != self.nin + i:
                return False
            refs = _REFS[op](self, op, a, b)
            if refs is None:
                return False
            if any(r >= nref or (r < self.nlane and r >= out) for r in refs):
                return False
        return all(o < self.nlane + self.npar for o in self.outs)

    def to_state(self):
        return {"nin": self.nin, "ngrad": self.ngrad,
                "code": [(T.tape_name(op), out, a, b, custom_to_state(op, c), c2)
                         for op, out, a, b, c, c2 in self.code],
                "args": list(self.args), "consts": list(self.consts), "outs": list(self.outs)}

    @property
    def shape(self):
        return (self.nin, len(self.outs), len(self.code), self.lanes)

    def param_values(self):
        return [p._value for p in self.params]

    def backward_into_params(self, x, divisor, threads):
        """run() with backward, then each parameter's .gradient gains its
        total divided by divisor: tape.backward's one call."""
        total = [0.0] * self.npar
        value = self.run(x, None, None, None, total, True, threads)
        self.add_param_grads(total, divisor)
        return value

    def add_param_grads(self, grads, divisor=1.0):
        for p, g in zip(self.params, grads):
            p._gradient += float(g) if divisor == 1.0 else float(g) / divisor

    def run(self, x, out, input_grads, param_grads, param_total, backward, threads,
            chunk_outs=None, chunk_sums=None):
        """_Tape.run: chunk by chunk, sums added in chunk order (threads only
        change how the C shares out chunks, so here they change nothing);
        chunk_outs and chunk_sums get each chunk's sums as they are added."""
        B, L = len(x), self.lanes
        check_chunk_arrays(chunk_outs, chunk_sums, param_total, -(-B // L), self.npar)
        pvals = self.param_values()
        total = 0.0
        for c, first in enumerate(range(0, B, L)):
            n = min(L, B - first)
            out_sum, part = self._chunk(x, pvals, out, input_grads, param_grads, backward,
                                        first, n)
            total += out_sum
            if chunk_outs is not None:
                chunk_outs[c] = out_sum
            if param_total is not None:     # as Python floats: inf - inf is nan, not a warning
                for i in range(self.npar):
                    param_total[i] = float(param_total[i]) + part[i]
                if chunk_sums is not None:
                    chunk_sums[c] = part
        return total

    # -- one chunk: mg_tape_chunk ----------------------------------------------------
    def _value(self, val, pvals, r, l):
        if r < self.nlane:
            return val[r][l]
        if r < self.nlane + self.npar:
            return pvals[r - self.nlane]
        return self.consts[r - self.nlane - self.npar]

    def _custom_lanes(self, val, pvals, ins, n, partials):
        """A custom op's chunk (mg_tape_custom and the core's callback): its
        lanes' values into its slot, and with partials, its partial rows
        after the lane slots (at nlane + c2 + i)."""
        op, o, a, b, c, c2 = ins
        cols = [[self._value(val, pvals, r, l) for l in range(n)] for r in self.args[a:a + b]]
        val[o], rows = op_of(c).lanes(cols, partials)
        if partials:
            val[self.nlane + int(c2):self.nlane + int(c2) + b] = rows

    def _chunk(self, x, pvals, out, input_grads, param_grads, backward, first, n):
        nlane, npar = self.nlane, self.npar
        val = [None] * (nlane + self.npart)
        for i in range(self.nin):
            val[i] = [float(x[first + l][i]) for l in range(n)]
        for ins in self.code:
            if ins[0] == T.CUSTOM:
                self._custom_lanes(val, pvals, ins, n, backward)
                continue
            forward = _FORWARD[ins[0]]
            val[ins[1]] = [forward(self, val, pvals, ins, l) for l in range(n)]
        if out is not None:
            for k, r in enumerate(self.outs):
                for l in range(n):
                    out[first + l][k] = self._value(val, pvals, r, l)
        out_sum = 0.0
        for l in range(n):
            out_sum += self._value(val, pvals, self.outs[0], l)
        if not backward:
            return out_sum, None
        adj = [[0.0] * n for _ in range(nlane + npar)]        # lane slots, then parameters
        reach = [[False] * n for _ in range(nlane)] if self.prunes else None
        seed = self.outs[0]
        for l in range(n):
            adj[seed][l] += 1.0
            if reach is not None and seed < nlane:
                reach[seed][l] = True
        for ins in reversed(self.code[:self.ngrad]):
            backward, o = _BACKWARD[ins[0]], ins[1]
            for l in range(n):
                if reach is None or reach[o][l]:
                    backward(self, val, pvals, adj, reach, ins, l)
        if input_grads is not None:
            for i in range(self.nin):
                for l in range(n):
                    input_grads[first + l][i] = adj[i][l]
        if param_grads is not None:
            for p in range(npar):
                for l in range(n):
                    param_grads[first + l][p] = adj[nlane + p][l]
        part = []
        for p in range(npar):
            acc = 0.0
            for l in range(n):
                acc += adj[nlane + p][l]
            part.append(acc)
        return out_sum, part

    # -- forward mode: mg_tape_jvp (csrc/mg_interp.c) --------------------------------
    def jvp(self, x, v, out, tout):
        """Forward mode over the rows of x: out gets the outputs and tout their
        tangents along the rows of v; chunk by chunk, lane by lane, as the C."""
        B, L, pvals = len(x), self.lanes, self.param_values()
        for first in range(0, B, L):
            n = min(L, B - first)
            val = [None] * (self.nlane + self.npart)
            tan = [None] * self.nlane                         # tan: None = no tangent
            for i in range(self.nin):
                val[i] = [float(x[first + l][i]) for l in range(n)]
                tan[i] = [float(v[first + l][i]) for l in range(n)]
            for ins in self.code:
                forward, tangent, o = _FORWARD[ins[0]], _JVP[ins[0]], ins[1]
                custom = ins[0] == T.CUSTOM
                if custom:                  # the chunk's values and partials at once
                    self._custom_lanes(val, pvals, ins, n, True)
                else:
                    val[o] = [0.0] * n
                tan[o] = [None] * n
                for l in range(n):
                    if not custom:
                        val[o][l] = forward(self, val, pvals, ins, l)
                    tan[o][l] = tangent(self, val, pvals, tan, ins, l)
            for k, r in enumerate(self.outs):
                for l in range(n):
                    out[first + l][k] = self._value(val, pvals, r, l)
                    t = tan[r][l] if r < self.nlane else None
                    tout[first + l][k] = 0.0 if t is None else t

    def _add(self, adj, reach, r, l, v):
        """A contribution to an operand: added, and the operand reached
        (constants have no adjoint)."""
        if r < len(adj):
            adj[r][l] += v
            if reach is not None and r < self.nlane:
                reach[r][l] = True


# -- one function per operand layout, in tables by op code ----------------------------
# An instruction is (op, out, a, b, c, c2) (see Tape): a and b are operand
# slots, c the inline constant (lo for a RANGE op) and c2 a RANGE op's hi; a
# block op's a and b are its first index in args and its operand count.  A
# kind missing from a table fails at import; LEAF has no entries to call (a
# leaf is a slot, never an instruction).

# build: a node's instruction, its operand slots taken in operand order (ref
# numbers a parameter the first time it meets one, so the order is the C's)
def _encode_one(node, out, ref, args, consts):       # UNARY, CONST, PARAM, STOP
    return (node._code, out, ref(node._kids[0]), 0, node._c, 0.0)


def _encode_binary(node, out, ref, args, consts):
    return (node._code, out, ref(node._kids[0]), ref(node._kids[1]), node._c, 0.0)


def _encode_range(node, out, ref, args, consts):     # lo in _c, hi in the second slot
    return (node._code, out, ref(node._kids[0]), 0, node._c, node._kids[1])


def _encode_block(node, out, ref, args, consts):     # SELECT, NARY, CUSTOM: operands in args
    # a custom node's operands alone (its partials are its sample's); its c
    # is its op's registry index
    kids = node._kids[:len(node._kids) // 2] if node._code == T.CUSTOM else node._kids
    ins = (node._code, out, len(args), len(kids), node._c, 0.0)
    for k in kids:
        if type(k) is float:
            args.append(-1 - len(consts))       # rebased at the end of build
            consts.append(k)
        else:
            args.append(ref(k))
    return ins


# _consistent: an instruction's operand slots, or None if its block is malformed
def _refs_one(tape, op, a, b):
    return [a]


def _refs_binary(tape, op, a, b):
    return [a, b]


def _refs_block(tape, op, a, b):
    if a + b > len(tape.args) or b == 0 or (op == T.DOT and b % 2) \
            or (op == T.WHERE and b != 3):
        return None
    return tape.args[a:a + b]


# forward: lane l's value of an instruction, IEEE where Python would raise
def _fwd_unary(tape, val, pvals, ins, l):            # UNARY, and STOP (the identity)
    op, o, a, b, c, c2 = ins
    return ops.IEEE[op](tape._value(val, pvals, a, l))


def _fwd_const(tape, val, pvals, ins, l):            # CONST and PARAM
    op, o, a, b, c, c2 = ins
    return ops.IEEE[op](tape._value(val, pvals, a, l), c)


def _fwd_range(tape, val, pvals, ins, l):
    op, o, a, b, c, c2 = ins
    return ops.IEEE[op](tape._value(val, pvals, a, l), c, c2)


def _fwd_binary(tape, val, pvals, ins, l):
    op, o, a, b, c, c2 = ins
    return ops.IEEE[op](tape._value(val, pvals, a, l), tape._value(val, pvals, b, l))


def _fwd_block(tape, val, pvals, ins, l):
    op, o, a, b, c, c2 = ins
    return ops.block_value(op, [tape._value(val, pvals, r, l) for r in tape.args[a:a + b]])


# backward: lane l's adjoint of an instruction, passed to its operands in
# operand order (the order mg_replay.c adds them)
def _bwd_unary(tape, val, pvals, adj, reach, ins, l):
    op, o, a, b, c, c2 = ins
    x = tape._value(val, pvals, a, l)
    tape._add(adj, reach, a, l, ops.BWD[op](adj[o][l], x, val[o][l]))


def _bwd_const(tape, val, pvals, adj, reach, ins, l):          # CONST and PARAM
    op, o, a, b, c, c2 = ins
    x = tape._value(val, pvals, a, l)
    tape._add(adj, reach, a, l, ops.BWD[op](adj[o][l], x, val[o][l], c))


def _bwd_range(tape, val, pvals, adj, reach, ins, l):
    op, o, a, b, c, c2 = ins
    x = tape._value(val, pvals, a, l)
    tape._add(adj, reach, a, l, ops.BWD[op](adj[o][l], x, val[o][l], c, c2))


def _bwd_binary(tape, val, pvals, adj, reach, ins, l):
    op, o, a, b, c, c2 = ins
    x, w = tape._value(val, pvals, a, l), tape._value(val, pvals, b, l)
    da, db = ops.BWD[op](adj[o][l], x, w, val[o][l])
    tape._add(adj, reach, a, l, da)
    tape._add(adj, reach, b, l, db)


def _bwd_stop(tape, val, pvals, adj, reach, ins, l):           # nothing passes back
    pass


def _bwd_where(tape, val, pvals, adj, reach, ins, l):          # the picked operand only
    op, o, a, b, c, c2 = ins
    refs = tape.args[a:a + b]
    cond = tape._value(val, pvals, refs[0], l)
    tape._add(adj, reach, refs[1] if ops.where_picks_a(cond) else refs[2], l, adj[o][l])


def _bwd_nary(tape, val, pvals, adj, reach, ins, l):           # sum and dot
    op, o, a, b, c, c2 = ins
    g, refs = adj[o][l], tape.args[a:a + b]
    if op == T.SUM:
        for r in refs:
            tape._add(adj, reach, r, l, g)
    else:                                     # dot: each operand times its partner
        half = b // 2
        for i, r in enumerate(refs):
            partner = refs[i + half if i < half else i - half]
            tape._add(adj, reach, r, l, g * tape._value(val, pvals, partner, l))


# forward mode: lane l's tangent of an instruction, None where no operand has one
def _tan(tape, tan, r, l):
    return tan[r][l] if r < tape.nlane else None


def _take(t, v):
    return v if t is None else t + v


def _jvp_unary(tape, val, pvals, tan, ins, l):
    op, o, a, b, c, c2 = ins
    ta = _tan(tape, tan, a, l)
    return None if ta is None else ops.BWD[op](ta, tape._value(val, pvals, a, l), val[o][l])


def _jvp_const(tape, val, pvals, tan, ins, l):                # CONST and PARAM
    op, o, a, b, c, c2 = ins
    ta = _tan(tape, tan, a, l)
    return None if ta is None else ops.BWD[op](ta, tape._value(val, pvals, a, l), val[o][l], c)


def _jvp_range(tape, val, pvals, tan, ins, l):
    op, o, a, b, c, c2 = ins
    ta = _tan(tape, tan, a, l)
    return None if ta is None else ops.BWD[op](ta, tape._value(val, pvals, a, l), val[o][l],
                                               c, c2)


def _jvp_binary(tape, val, pvals, tan, ins, l):               # one backward per tangent
    op, o, a, b, c, c2 = ins
    x, w, t = tape._value(val, pvals, a, l), tape._value(val, pvals, b, l), None
    ta, tb = _tan(tape, tan, a, l), _tan(tape, tan, b, l)
    if ta is not None:
        t = ops.BWD[op](ta, x, w, val[o][l])[0]
    if tb is not None:
        t = _take(t, ops.BWD[op](tb, x, w, val[o][l])[1])
    return t


def _jvp_stop(tape, val, pvals, tan, ins, l):                 # a zero tangent
    return None


def _jvp_where(tape, val, pvals, tan, ins, l):                # the picked operand's
    op, o, a, b, c, c2 = ins
    refs = tape.args[a:a + b]
    cond = tape._value(val, pvals, refs[0], l)
    return _tan(tape, tan, refs[1] if ops.where_picks_a(cond) else refs[2], l)


def _jvp_nary(tape, val, pvals, tan, ins, l):                 # sum and dot
    op, o, a, b, c, c2 = ins
    refs, t, half = tape.args[a:a + b], None, b // 2
    for i, r in enumerate(refs):
        tr = _tan(tape, tan, r, l)
        if tr is None:
            continue
        if op == T.DOT:
            tr = tr * tape._value(val, pvals, refs[i + half if i < half else i - half], l)
        t = _take(t, tr)
    return t


def _refs_custom(tape, op, a, b):          # its operands (its partials are rows of lanes)
    if a + b > len(tape.args) or b == 0:
        return None
    return tape.args[a:a + b]


def _fwd_custom(*args):
    # unreachable: the replays fill a custom op's lanes a chunk at a time
    raise AssertionError("a custom op's lanes come from Tape._custom_lanes")


def _bwd_custom(tape, val, pvals, adj, reach, ins, l):         # times each lane's partial
    op, o, a, b, c, c2 = ins
    g, rows = adj[o][l], tape.nlane + int(c2)
    for i, r in enumerate(tape.args[a:a + b]):
        tape._add(adj, reach, r, l, g * val[rows + i][l])


def _jvp_custom(tape, val, pvals, tan, ins, l):                # each tangent times its partial
    op, o, a, b, c, c2 = ins
    t, rows = None, tape.nlane + int(c2)
    for i, r in enumerate(tape.args[a:a + b]):
        tr = _tan(tape, tan, r, l)
        if tr is not None:
            t = _take(t, tr * val[rows + i][l])
    return t


#                 kind      build            _consistent   forward      backward
_BY_KIND = {"LEAF":   (None,           None,         None,        None),
            "UNARY":  (_encode_one,    _refs_one,    _fwd_unary,  _bwd_unary),
            "CONST":  (_encode_one,    _refs_one,    _fwd_const,  _bwd_const),
            "PARAM":  (_encode_one,    _refs_one,    _fwd_const,  _bwd_const),
            "RANGE":  (_encode_range,  _refs_one,    _fwd_range,  _bwd_range),
            "BINARY": (_encode_binary, _refs_binary, _fwd_binary, _bwd_binary),
            "STOP":   (_encode_one,    _refs_one,    _fwd_unary,  _bwd_stop),
            "SELECT": (_encode_block,  _refs_block,  _fwd_block,  _bwd_where),
            "NARY":   (_encode_block,  _refs_block,  _fwd_block,  _bwd_nary),
            "CUSTOM": (_encode_block,  _refs_custom, _fwd_custom, _bwd_custom)}
_ENCODE, _REFS, _FORWARD, _BACKWARD = zip(*(_BY_KIND[op.kind] for op in T.OPS))
_JVP_BY_KIND = {"LEAF": None, "UNARY": _jvp_unary, "CONST": _jvp_const, "PARAM": _jvp_const,
                "RANGE": _jvp_range, "BINARY": _jvp_binary, "STOP": _jvp_stop,
                "SELECT": _jvp_where, "NARY": _jvp_nary, "CUSTOM": _jvp_custom}
_JVP = tuple(_JVP_BY_KIND[op.kind] for op in T.OPS)
