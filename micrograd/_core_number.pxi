# Included by _core.pyx (one extension module); the twin of micrograd/_number_py.py.
# Each Number embeds its C node (one allocation per op) and owns a reference to
# each operand's Number; csrc/ only ever sees node pointers.  Numbers are not
# tracked by the cyclic GC: a node only points to older nodes.

# =============================================================================
# Conversions and errors
# =============================================================================
from micrograd._number_methods import NumberMethods as _NumberMethods, shared_items as _shared_items

cdef extern from "Python.h":
    double PyFloat_AS_DOUBLE(object o)
    double PyFloat_AsDouble(object o) except? -1.0
    # object's own hash, by identity (see Number.__hash__)
    Py_ssize_t _identity_hash "PyBaseObject_Type.tp_hash"(object o)

# Types whose instances are reals by type alone (bools, Fractions, Decimals,
# NumPy scalar types): found once by the reference's rule, then converted as
# float() converts them, straight from C.  _last_real is the last one seen
# (the dict keeps it alive), so a loop over one kind of operand skips even the
# lookup.  Anything else goes through the reference's rule each time.
#
# How a cached type is read (_READ_*): float() for most; a NumPy bool by its
# truth (its float() takes 130 ns); NumPy's int64, int32, uint64 and float32
# scalars straight from the value their object holds after its header, as
# numpy/arrayscalars.h lays them out (float() of one makes a Python float:
# 18 ns, which made n * np.int64 1.5 times n * 2.0).  The C cast gives the
# bits float() gives.
cdef dict _REAL_TYPES = {}          # type -> its _READ_* code
cdef object _last_real = None
cdef int _last_read = 0
cdef enum:
    _READ_FLOAT, _READ_TRUTH, _READ_I64, _READ_I32, _READ_U64, _READ_F32
    _READ_I16, _READ_I8, _READ_U32, _READ_U16, _READ_U8

cdef extern from *:
    """
    #include <stdint.h>
    #define MG_NP_VALUE(o, T) (*(const T *)((const char *)(o) + sizeof(PyObject)))
    static inline double mg_np_i64(PyObject *o) { return (double)MG_NP_VALUE(o, int64_t); }
    static inline double mg_np_i32(PyObject *o) { return (double)MG_NP_VALUE(o, int32_t); }
    static inline double mg_np_u64(PyObject *o) { return (double)MG_NP_VALUE(o, uint64_t); }
    static inline double mg_np_f32(PyObject *o) { return (double)MG_NP_VALUE(o, float); }
    static inline double mg_np_i16(PyObject *o) { return (double)MG_NP_VALUE(o, int16_t); }
    static inline double mg_np_i8(PyObject *o) { return (double)MG_NP_VALUE(o, int8_t); }
    static inline double mg_np_u32(PyObject *o) { return (double)MG_NP_VALUE(o, uint32_t); }
    static inline double mg_np_u16(PyObject *o) { return (double)MG_NP_VALUE(o, uint16_t); }
    static inline double mg_np_u8(PyObject *o) { return (double)MG_NP_VALUE(o, uint8_t); }
    """
    double mg_np_i64(object o)
    double mg_np_i32(object o)
    double mg_np_u64(object o)
    double mg_np_f32(object o)
    double mg_np_i16(object o)
    double mg_np_i8(object o)
    double mg_np_u32(object o)
    double mg_np_u16(object o)
    double mg_np_u8(object o)

_NUMPY_READ = {("b", 1): _READ_TRUTH, ("i", 8): _READ_I64, ("i", 4): _READ_I32,
               ("u", 8): _READ_U64, ("f", 4): _READ_F32, ("i", 2): _READ_I16,
               ("i", 1): _READ_I8, ("u", 4): _READ_U32, ("u", 2): _READ_U16,
               ("u", 1): _READ_U8}


cdef int _read_code(object b):
    """How to read every instance of type(b), a real by type."""
    np = sys.modules.get("numpy")
    if np is None or not isinstance(b, np.generic):
        return _READ_FLOAT
    return _NUMPY_READ.get((b.dtype.kind, b.dtype.itemsize), _READ_FLOAT)


cdef inline double _real(object x) except? -1.0:
    if type(x) is float:
        return <double>x
    return <double>_py_to_float(x, BACKEND)


cdef object _operand(object b):
    """The other operand of a binary op as a float object, or NotImplemented."""
    c = _py_operand(b, BACKEND)
    if c is not NotImplemented and _real_by_type(type(b)):
        _REAL_TYPES[type(b)] = _read_code(b)
    return c


cdef inline double _by_type(object b, int read) except? -1.0:
    if read == _READ_FLOAT:
        return PyFloat_AsDouble(b)
    if read == _READ_I64:
        return mg_np_i64(b)
    if read == _READ_TRUTH:
        return 1.0 if b else 0.0
    if read == _READ_I32:
        return mg_np_i32(b)
    if read == _READ_U64:
        return mg_np_u64(b)
    if read == _READ_F32:
        return mg_np_f32(b)
    if read == _READ_I16:
        return mg_np_i16(b)
    if read == _READ_I8:
        return mg_np_i8(b)
    if read == _READ_U32:
        return mg_np_u32(b)
    if read == _READ_U16:
        return mg_np_u16(b)
    return mg_np_u8(b)


cdef object _fail(int op, int status):
    """Raise what the same op on Python floats raises, for a formula's error
    status (micrograd/_errors.py words it; the reference is not asked)."""
    raise _op_error(_NAMES[op], _STATUS_NAMES[status])


_STATUS_NAMES = {MG_EZERODIV: "zerodiv", MG_EDOM: "domain", MG_ERANGE: "range"}


cdef inline str _name_of(const mg_node *node):
    """Number.op: the table's name, or a custom op's own (micrograd/_custom.py)."""
    if node.op == MG_CUSTOM:
        return _custom_name_of(node.op, node.c)
    return _NAMES[node.op]


# =============================================================================
# Node creation (the twins of _number_py's builders)
# =============================================================================
cdef inline Number _fresh(double value):
    cdef Number out = Number.__new__(Number)
    out.node.value = value
    return out


cdef inline bint _tracked(PyObject *o) noexcept:
    return PyType_HasFeature(<PyTypeObject *>Py_TYPE(o), Py_TPFLAGS_HAVE_GC)


cdef inline bint _either_tracked(Number a, Number b) noexcept:
    """Whether the cyclic GC tracks a or b (b may be None): the result is
    then a _GCNumber, so that a cycle through the graph stays visible to
    the collector (see _GCNumber)."""
    return _unlikely(_tracked(<PyObject *>a) or (b is not None and _tracked(<PyObject *>b)))


cdef Number _make_binary(int op, Number a, Number b):
    cdef double v
    cdef int status = mg_eval_binary(op, a.node.value, b.node.value, &v)
    if status != MG_OK:
        _fail(op, status)
    cdef Number out = _fresh_gc(v) if _either_tracked(a, b) else _fresh(v)
    if not mg_plain():
        _unusual(op, v, out, a, b, 2, a.node.value, b.node.value, 0.0)
        if not mg_grad_enabled():
            return out
    return _link_binary(out, op, v, a, b)


cdef inline Number _link_binary(Number out, int op, double v, Number a, Number b):
    """out becomes the node a <op> b (it holds a reference to each)."""
    Py_INCREF(a)
    Py_INCREF(b)
    mg_node_binary(&out.node, op, v, &a.node, &b.node)
    return out


cdef inline Number _link_const(Number out, int op, double v, Number x, double c):
    Py_INCREF(x)
    mg_node_const(&out.node, op, v, &x.node, c)
    return out


cdef inline Number _link_unary(Number out, int op, double v, Number x):
    Py_INCREF(x)
    mg_node_unary(&out.node, op, v, &x.node)
    return out


cdef Number _make_const(int op, Number x, double c):
    cdef double v
    cdef int status = mg_eval_binary(op, x.node.value, c, &v)
    if status != MG_OK:
        _fail(op, status)
    cdef Number out = _fresh_gc(v) if _either_tracked(x, None) else _fresh(v)
    if not mg_plain():
        _unusual(op, v, out, x, None, 2, x.node.value, c, 0.0)
        if not mg_grad_enabled():
            return out
    return _link_const(out, op, v, x, c)


cdef Number _make_unary(int op, Number x):
    cdef double v
    cdef int status = mg_eval_unary(op, x.node.value, &v)
    if status != MG_OK:
        _fail(op, status)
    cdef Number out = _fresh_gc(v) if _either_tracked(x, None) else _fresh(v)
    if not mg_plain():
        _unusual(op, v, out, x, None, 1, x.node.value, 0.0, 0.0)
        if not mg_grad_enabled():
            return out
    return _link_unary(out, op, v, x)


cdef Number _make_range(int op, Number x, double lo, double hi):
    cdef double v
    mg_eval_range(op, x.node.value, lo, hi, &v)
    cdef Number out = _fresh_gc(v) if _either_tracked(x, None) else _fresh(v)
    if not mg_plain():
        _unusual(op, v, out, x, None, 3, x.node.value, lo, hi)
        if not mg_grad_enabled():
            return out
    Py_INCREF(x)
    mg_node_range(&out.node, op, v, &x.node, lo, hi)
    return out


cdef object _with_real(Number a, object b, int cop):
    """a <cop> b where b is not a Number: a real, or NotImplemented."""
    global _last_real, _last_read
    t = type(b)
    if t is float or t is int:                 # int: OverflowError as float() gives it
        return _make_const(cop, a, <double>b)
    if isinstance(b, float):                   # np.float64 and other float subclasses
        return _make_const(cop, a, PyFloat_AS_DOUBLE(b))
    if t is bool:
        return _make_const(cop, a, 1.0 if b is True else 0.0)
    if t is _last_real:
        return _make_const(cop, a, _by_type(b, _last_read))
    read = _REAL_TYPES.get(t)
    if read is not None:
        _last_real, _last_read = t, read
        return _make_const(cop, a, _by_type(b, _last_read))
    c = _operand(b)
    if c is NotImplemented:
        return c
    return _make_const(cop, a, <double>c)


cdef object _binary(Number a, object b, int op, int cop):
    if isinstance(b, Number):
        return _make_binary(op, a, <Number>b)
    return _with_real(a, b, cop)


cdef object _reflected(Number a, object b, int op, int cop):
    """b <op> a, where b came second to Python (a reflected operator)."""
    if isinstance(b, Number):
        return _make_binary(op, <Number>b, a)
    return _with_real(a, b, cop)


cdef inline object _checked(object result, object a, object b, str symbol):
    """What the operator would raise, for the method forms (n.add(b), chain steps)."""
    if result is NotImplemented:
        _py_checked(result, a, b, symbol)
    return result


# =============================================================================
# Freeing without recursion
# =============================================================================
# Dropping the last reference to the head of a long chain would free the chain
# recursively and overflow the C stack.  Instead an interior operand whose
# reference we hold alone is parked on a stack and freed by the outermost
# dealloc, one at a time.
cdef Py_ssize_t _NODE_OFFSET = 0     # where the node sits inside a Number
cdef PyObject **_parked = NULL
cdef Py_ssize_t _nparked = 0, _capparked = 0
cdef bint _draining = False


cdef inline PyObject *_owner(mg_node *node) noexcept:
    return <PyObject *>(<char *>node - _NODE_OFFSET)


cdef void _release(mg_node *kid) noexcept:
    global _parked, _capparked, _nparked
    cdef PyObject *o = _owner(kid)
    cdef PyObject **grown
    if kid.n == 0 or Py_REFCNT(o) != 1 or (Py_TYPE(o) != <void *>Number
                                           and Py_TYPE(o) != <void *>_GCNumber):
        Py_DECREF(o)
        return
    if _nparked == _capparked:
        grown = <PyObject **>realloc(_parked, sizeof(PyObject *) * (2 * _capparked + 1024))
        if grown == NULL:
            Py_DECREF(o)      # no memory: fall back to plain (recursive) freeing
            return
        _parked = grown
        _capparked = 2 * _capparked + 1024
    _parked[_nparked] = o
    _nparked += 1


cdef void _drain() noexcept:
    global _draining, _nparked
    if _draining:
        return
    _draining = True
    while _nparked > 0:
        _nparked -= 1
        Py_DECREF(_parked[_nparked])
    _draining = False


cdef int _check_signals(void *ctx) noexcept with gil:
    return PyErr_CheckSignals()


# =============================================================================
# Traced Numbers (see micrograd/tape.py): made by a thread while its trace is
# open; reading their value raises TraceError, in any thread and in any trace
# opened inside theirs, until their trace closes (csrc/mg_graph.c)
# =============================================================================
cdef inline bint _traced(Number n) noexcept:
    return n.node.trace != 0 and mg_trace_is_open(n.node.trace)


cdef object _refuse(Number n, str how):
    raise _traced_read(_name_of(&n.node), how)


cdef void _unusual(int op, double v, Number out, Number a, Number b, int n, double o0,
                   double o1, double o2) except *:
    """The node builders' slow path (grad mode off, or anomaly mode on):
    anomaly mode's check and note (on the n operand values o0, o1, o2, made a
    tuple only here), and the trace's refusal of a no_grad result."""
    if mg_anomaly_enabled():
        _anomalous(_NAMES[op], v, (o0, o1, o2)[:n], out)
    if not mg_grad_enabled() and (a.node.trace or (b is not None and b.node.trace)):
        _untraced_operands(a, b)


cdef void _anomalous(str name, double v, object operands, Number out) except *:
    """Twin of _number_py._anomalous."""
    where = _site()
    if v != v and not any(o != o for o in operands):
        raise _forward_error(name, list(operands), where)
    _record(out)[0] = where


# -- records: anomaly sites, hooks, gradient graphs (the reference keeps them
# in a slot; here a side table keyed by address, flagged on the node, dropped
# when the Number is freed) ------------------------------------------------------
cdef dict _RECORDS = {}
cdef Py_ssize_t _hooks_live = 0     # hooks registered and not removed: backward watches


cdef list _record(Number n):
    cdef Py_ssize_t key = <Py_ssize_t><void *>n
    if n.node.flags & MG_FLAG_EXTRA:
        return _RECORDS[key]
    rec = [None, None, None]
    _RECORDS[key] = rec
    n.node.flags |= MG_FLAG_EXTRA
    return rec


cdef inline object _record_of(Number n):
    if n.node.flags & MG_FLAG_EXTRA:
        return _RECORDS[<Py_ssize_t><void *>n]
    return None


cdef void _forget(Number n) noexcept:
    global _hooks_live
    rec = _RECORDS.pop(<Py_ssize_t><void *>n, None)
    if rec is not None and rec[1]:
        _hooks_live -= len(rec[1])


cdef void _drop_graph(mg_node *node) except *:
    """zero_grad's part: the gradient graph goes with the gradient (and with it
    the cycle leaf -> record -> graph -> leaf, which the side table would keep)."""
    if node.flags & MG_FLAG_EXTRA:
        _RECORDS[<Py_ssize_t>_owner(node)][2] = None


def _hook_removed():
    global _hooks_live
    _hooks_live -= 1


cdef void _untraced_operands(Number a, Number b) except *:
    """Without grad, a result is a leaf holding a value: refused under a
    trace if it comes from a traced value (the tape could not recompute it)."""
    if _traced(a):
        _refuse(a, "a no_grad result")
    if b is not None and _traced(b):
        _refuse(b, "a no_grad result")


# =============================================================================
# Number
# =============================================================================
@cython.freelist(1024)
# binding=False: the methods are CPython method descriptors, which check self
# when called unbound; Cython's own method objects do not (Cython #1903), so
# Number.backward(5) read an int as a Number and crashed
@cython.binding(False)
cdef class Number:
    """A scalar in the graph: a value, a gradient, and the op that made it."""

    cdef mg_node node

    _mg_backend = BACKEND
    __array_ufunc__ = None          # NumPy defers to our reflected operators

    def __init__(self, value, _children=(), _op=""):
        cdef double v
        if _children:
            raise TypeError(_REFUSED_CHILDREN)
        v = _real(value)
        if self.node.op != MG_LEAF:
            raise TypeError(f"Number.__init__: this Number is the result of an op "
                            f"({_name_of(&self.node)!r}) and cannot become a leaf; make a new one")
        self.node.value = v
        self.node.gradient = 0.0

    def __dealloc__(self):
        cdef uint32_t i, n = self.node.n
        cdef mg_node *kid
        if self.node.flags & MG_FLAG_EXTRA:
            _forget(self)
        if n == 0:
            return
        for i in range(n):
            kid = mg_node_kid(&self.node, i)
            if kid != NULL:
                _release(kid)
        mg_node_release(&self.node)
        _drain()

    # -- attributes -----------------------------------------------------------
    @property
    def value(self):
        """The number this node holds (a Python float)."""
        if self.node.trace and _traced(self):
            _refuse(self, "reading .value")
        return self.node.value

    @value.setter
    def value(self, v):
        self.node.value = _real(v)

    @value.deleter
    def value(self):
        raise _no_delete("Number", "value")

    @property
    def gradient(self):
        """d(root)/d(self) after root.backward(); leaves accumulate, as in torch."""
        return self.node.gradient

    @gradient.setter
    def gradient(self, g):
        self.node.gradient = _real(g)

    @gradient.deleter
    def gradient(self):
        raise _no_delete("Number", "gradient")

    @property
    def data(self):
        """micrograd 0.1.0's name for .value."""
        if self.node.trace and _traced(self):
            _refuse(self, "reading .data")
        return self.node.value

    @data.setter
    def data(self, v):
        self.node.value = _real(v)

    @data.deleter
    def data(self):
        raise _no_delete("Number", "data")

    @property
    def grad(self):
        """micrograd 0.1.0's name for .gradient."""
        return self.node.gradient

    @grad.setter
    def grad(self, g):
        self.node.gradient = _real(g)

    @grad.deleter
    def grad(self):
        raise _no_delete("Number", "grad")

    @property
    def op(self):
        """The name of the op that made this node ('' for a leaf, as in 0.1.0)."""
        return _name_of(&self.node)

    @op.setter
    def op(self, value):
        raise _read_only("Number", "op")

    @op.deleter
    def op(self):
        raise _read_only("Number", "op")

    @property
    def children(self):
        """The Numbers this node was made from, in operand order."""
        cdef uint32_t i
        cdef mg_node *kid
        out = []
        for i in range(self.node.n):
            kid = mg_node_kid(&self.node, i)
            if kid != NULL:
                out.append(<object>_owner(kid))
        return tuple(out)

    @children.setter
    def children(self, value):
        raise _read_only("Number", "children")

    @children.deleter
    def children(self):
        raise _read_only("Number", "children")

    @property
    def _prev(self):
        """micrograd 0.1.0's name: the set of children."""
        return set(self.children)

    @_prev.setter
    def _prev(self, value):
        raise _read_only("Number", "_prev")

    @_prev.deleter
    def _prev(self):
        raise _read_only("Number", "_prev")

    @property
    def _op(self):
        """micrograd 0.1.0's op label ('+', '*', '**2', 'ReLU', '' for a leaf)."""
        return _op_symbol(self.node.op, self.node.c)

    @_op.setter
    def _op(self, value):
        raise _read_only("Number", "_op")

    @_op.deleter
    def _op(self):
        raise _read_only("Number", "_op")

    def __repr__(self):
        if self.node.trace and _traced(self):
            return f"Number(traced, op={_name_of(&self.node)!r})"
        return f"Number(value={self.node.value!r}, gradient={self.node.gradient!r})"

    def __float__(self):
        if self.node.trace and _traced(self):
            _refuse(self, "float()")
        return self.node.value

    def __bool__(self):
        """True, as for any object; refused while traced (an `if` on a value)."""
        if self.node.trace and _traced(self):
            _refuse(self, "bool() (an `if` or `and`/`or`)")
        return True

    # Python's ordering operators, shared (micrograd/_number_methods.py): CPython
    # calls them through a type slot, which a method installed later would not fill
    def __lt__(self, other): return _NumberMethods.__lt__(self, other)
    def __le__(self, other): return _NumberMethods.__le__(self, other)
    def __gt__(self, other): return _NumberMethods.__gt__(self, other)
    def __ge__(self, other): return _NumberMethods.__ge__(self, other)

    def __hash__(self):
        # by identity, as before: a class with a rich comparison gets no
        # inherited hash from Cython, and graphs key dicts and sets by Number
        return _identity_hash(self)

    def __format__(self, spec):
        _format_spec(spec)
        if self.node.trace and _traced(self):
            _refuse(self, "formatting")
        return format(self.node.value, spec) if spec else str(self)

    def __reduce__(self):
        if self.node.trace and _traced(self):
            _refuse(self, "pickling")           # a pickle would carry the example's value
        if type(self) is Number or type(self) is _GCNumber:
            return _restore, (self.node.value, self.node.gradient)
        return (_restore_subclass, (type(self), self.node.value, self.node.gradient),
                getattr(self, "__dict__", None))

    # -- operators ------------------------------------------------------------
    def __add__(self, other): return _binary(self, other, MG_ADD, MG_ADD_C)
    def __radd__(self, other): return _reflected(self, other, MG_ADD, MG_ADD_C)
    def __sub__(self, other): return _binary(self, other, MG_SUB, MG_SUB_C)
    def __rsub__(self, other): return _reflected(self, other, MG_SUB, MG_RSUB_C)
    def __mul__(self, other): return _binary(self, other, MG_MUL, MG_MUL_C)
    def __rmul__(self, other): return _reflected(self, other, MG_MUL, MG_MUL_C)
    def __truediv__(self, other): return _binary(self, other, MG_DIV, MG_DIV_C)
    def __rtruediv__(self, other): return _reflected(self, other, MG_DIV, MG_RDIV_C)

    def __pow__(self, other, modulo):
        if modulo is not None:
            return NotImplemented
        return _binary(self, other, MG_POW, MG_POW_C)

    def __rpow__(self, other, modulo):
        if modulo is not None:
            return NotImplemented
        return _reflected(self, other, MG_POW, MG_RPOW_C)

    def __neg__(self): return _make_unary(MG_NEG, self)
    def __pos__(self): return self
    def __abs__(self): return _make_unary(MG_ABS, self)

    # -- binary methods, the names the original Chain article gave them -------------------------
    def add(self, other):
        """self + other, as a method (the Chain article's name)."""
        return _checked(_binary(self, other, MG_ADD, MG_ADD_C), self, other, "+")

    def sub(self, other):
        """self - other, as a method."""
        return _checked(_binary(self, other, MG_SUB, MG_SUB_C), self, other, "-")

    def mul(self, other):
        """self * other, as a method."""
        return _checked(_binary(self, other, MG_MUL, MG_MUL_C), self, other, "*")

    def div(self, other):
        """self / other, as a method."""
        return _checked(_binary(self, other, MG_DIV, MG_DIV_C), self, other, "/")

    def pow(self, other):
        """self ** other, as a method."""
        return _checked(_binary(self, other, MG_POW, MG_POW_C), self, other, "** or pow()")

    # -- unary methods: one per UNARY row of the table, installed below ----------
    def gelu(self, approximate="none"):
        """x * Phi(x); approximate='tanh' for the tanh form (as torch)."""
        if approximate == "none":
            return _make_unary(MG_GELU, self)
        if approximate == "tanh":
            return _make_unary(MG_GELU_TANH, self)
        raise ValueError(f"approximate must be 'none' or 'tanh', not {approximate!r}")

    # -- activations with parameters ----------------------------------------------
    def softplus(self, beta=1.0, threshold=20.0):
        """log(1 + exp(beta*x)) / beta, and x where beta*x > threshold (as torch)."""
        cdef double b = _real(beta), t = _real(threshold)
        if b == 1.0:
            return _make_const(MG_SOFTPLUS, self, t)
        return _make_const(MG_DIV_C, _make_const(MG_SOFTPLUS, _make_const(MG_MUL_C, self, b), t), b)

    def leaky_relu(self, negative_slope=0.01):
        """x where x > 0, else negative_slope * x (as torch)."""
        return _make_const(MG_LEAKY_RELU, self, _real(negative_slope))

    def elu(self, alpha=1.0):
        """x where x > 0, else alpha * (exp(x) - 1) (as torch)."""
        return _make_const(MG_ELU, self, _real(alpha))

    def clamp(self, lo=None, hi=None):
        """self limited to [lo, hi] (either bound may be None), as torch.clamp."""
        return clamp(self, lo, hi)

    def stop_gradient(self):
        """self's value, in the graph, through which no gradient flows back
        (JAX's stop_gradient; traced code uses it where it would detach)."""
        return _make_unary(MG_STOP_GRADIENT, self)

    def _backward(self):
        """micrograd 0.1.0's one local step of backward, which its lectures call
        by hand on each node in turn: each operand gains this node's gradient
        times the local derivative (nothing for a leaf)."""
        if self.node.op != MG_LEAF:
            mg_propagate(&self.node)

    def detach(self):
        """A new leaf with the same value."""
        if self.node.trace and _traced(self):
            _refuse(self, "detach()")
        return _fresh(self.node.value)

    def backward(self, gradient=1.0, create_graph=False):
        """Fill .gradient of every node of this graph with d self / d node.
        With create_graph=True, each leaf it reaches also gets .grad_node, its
        gradient as a Number whose graph can be differentiated again."""
        cdef double seed = _real(gradient)
        cdef dict graphs, replay = None
        if create_graph:
            # the graphs first, with the hooks (called once, on Numbers), then
            # the floats, given what the hooks returned: if either raises,
            # nothing has changed (the twin: _number_py.Number.backward)
            replay = {}
            graphs = _sweep(self, seed, True, replay)
        if _hooks_live > 0 or mg_anomaly_enabled():
            _watched_backward(self, seed, replay)
        elif mg_backward(&self.node, seed, _check_signals, NULL) == -1:
            raise MemoryError("micrograd: out of memory in backward")
        if create_graph:
            # the keys are addresses of Numbers this graph holds alive
            for key, g in graphs.items():
                node = <Number><PyObject *><Py_ssize_t>key
                if node.node.op == MG_LEAF:
                    _record(node)[2] = g



# Python's own messages ("unsupported operand type(s) for +: 'Number' and
# 'str'") name a static type by tp_name; the reference's class is plain
# "Number", so the core's is too.
# A bare tp_name would make the class's __module__ "builtins"; pickle and
# help() look the class up by __module__, so that is set back.
(<PyTypeObject *>Number).tp_name = "Number"
_set_module(Number, "micrograd._core")

@cython.final
cdef class _GCNumber(Number):
    """A Number the cyclic GC tracks: the result of an op with a tracked
    operand.

    Plain Numbers hold no Python objects but their operands, and stay out of
    the collector (it would cost every node time and 16 bytes).  But a user's
    subclass with a __dict__ is tracked, and can close a cycle through the
    graph (`t.out = t * 2.0`): the collector must see the edge from the
    result back to t.  So a result with a tracked operand is one of these,
    whose traverse visits its operands and whose clear lets go of them.
    It behaves as a Number in every way, and is named Number.
    """

    cdef object _unused     # an object field makes Cython give the class GC support


cdef Number _fresh_gc(double value):
    cdef Number out = _GCNumber.__new__(_GCNumber)
    out.node.value = value
    return out


cdef int _gc_traverse(PyObject *o, visitproc visit, void *arg) noexcept:
    cdef mg_node *node = <mg_node *>(<char *>o + _NODE_OFFSET)
    cdef mg_node *kid
    cdef uint32_t i
    cdef int r
    for i in range(node.n):
        kid = mg_node_kid(node, i)
        if kid != NULL:
            r = visit(_owner(kid), arg)
            if r:
                return r
    return 0


cdef int _gc_clear(PyObject *o) noexcept:
    """Let go of the operands (the node becomes a leaf of the same value)."""
    cdef mg_node *node = <mg_node *>(<char *>o + _NODE_OFFSET)
    cdef mg_node *two[2]
    cdef mg_node **kids = two
    cdef uint32_t i, n = node.n
    if n == 0:
        return 0
    if n > 2:
        kids = <mg_node **>malloc(n * sizeof(mg_node *))
        if kids == NULL:
            return 0            # no memory: the cycle stays, nothing breaks
    for i in range(n):
        kids[i] = mg_node_kid(node, i)
    mg_node_release(node)                   # (a record stays: it goes when the Number does)
    for i in range(n):
        if kids[i] != NULL:
            _release(kids[i])
    if kids != two:
        free(kids)
    _drain()
    return 0


(<PyTypeObject *>_GCNumber).tp_traverse = _gc_traverse
(<PyTypeObject *>_GCNumber).tp_clear = _gc_clear
(<PyTypeObject *>_GCNumber).tp_name = "Number"

_probe = Number(0.0)
_NODE_OFFSET = <char *>&(<Number>_probe).node - <char *><PyObject *>_probe
del _probe


cdef Number _copied(Number n, object memo):
    """copy (memo None) and deepcopy: a leaf of the same type and backend with
    the same value and gradient, and a subclass's attributes copied along."""
    if n.node.trace and _traced(n):             # a leaf holding the one example's value
        _refuse(n, "copy.copy()" if memo is None else "copy.deepcopy()")
    cdef Number out = Number.__new__(Number if type(n) is _GCNumber else type(n))
    out.node.value = n.node.value
    out.node.gradient = n.node.gradient
    if hasattr(n, "__dict__"):
        out.__dict__.update(n.__dict__ if memo is None else _deepcopy(n.__dict__, memo))
    return out


# =============================================================================
# Functions of several operands: block-layout nodes, and the pairwise ops
# =============================================================================
cdef object _block(int op, list slots):
    """A SELECT or NARY node; a leaf when no operand is a Number."""
    cdef Py_ssize_t i, n = len(slots)
    cdef Number out
    cdef mg_node **kids
    cdef double *consts
    cdef bint any_node = False, tracked = False
    cdef double v
    for i in range(n):
        if isinstance(slots[i], Number) and _tracked(<PyObject *>slots[i]):
            tracked = True                  # see _either_tracked
            break
    out = _fresh_gc(0.0) if tracked else _fresh(0.0)
    if n == 0:
        return out
    if mg_node_block(&out.node, op, <uint32_t>n) < 0:
        raise MemoryError("micrograd: out of memory")
    kids = mg_block_kids(&out.node)
    consts = mg_block_consts(&out.node)
    try:
        for i in range(n):
            s = slots[i]
            if isinstance(s, Number):
                Py_INCREF(s)
                kids[i] = &(<Number>s).node
                any_node = True
            else:
                consts[i] = _real(s)
    except BaseException:
        _unblock(out, slots)
        raise
    mg_block_eval(&out.node)
    if any_node and mg_anomaly_enabled():
        _anomalous(_NAMES[op], out.node.value,
                   [consts[i] if kids[i] == NULL else kids[i].value for i in range(n)], out)
    if not any_node or not mg_grad_enabled():
        v = out.node.value
        _unblock(out, slots)
        out.node.value = v
        for s in slots:
            if isinstance(s, Number) and (<Number>s).node.trace:
                _untraced_operands(<Number>s, None)
    return out


cdef void _unblock(Number out, list slots):
    """Drop a block node's operands: it becomes a leaf."""
    cdef mg_node **kids = mg_block_kids(&out.node)
    cdef Py_ssize_t i
    for i in range(<Py_ssize_t>out.node.n):
        if kids[i] != NULL:
            kids[i] = NULL
            Py_DECREF(<PyObject *>slots[i])
    mg_node_release(&out.node)


def _custom(op, operands):
    """A custom op's node (micrograd/_custom.py): forward's value, and the
    partials derivative gives, kept as constants after the operands; a leaf
    when no operand is a Number, or under no_grad (derivative not called).
    The twin: _number_py._custom."""
    cdef Py_ssize_t i, n = len(operands)
    cdef Number out
    cdef mg_node **kids
    cdef double *consts
    cdef bint tracked = False, grad
    cdef double v
    slots = [s if isinstance(s, Number) else _real(s) for s in operands]
    values = [(<Number>s).node.value if isinstance(s, Number) else s for s in slots]
    v = op.value(values)
    numbers = [s for s in slots if isinstance(s, Number)]
    if not numbers:
        return _fresh(v)
    grad = mg_grad_enabled()                # asked after forward, as the reference does
    partials = op.partials(values, v) if grad else None
    for s in numbers:
        if _tracked(<PyObject *>s):
            tracked = True                  # see _either_tracked
    out = _fresh_gc(v) if tracked else _fresh(v)
    if grad:
        if mg_node_block(&out.node, MG_CUSTOM, <uint32_t>(2 * n)) < 0:
            raise MemoryError("micrograd: out of memory")
        kids = mg_block_kids(&out.node)
        consts = mg_block_consts(&out.node)
        for i in range(n):
            if isinstance(slots[i], Number):
                Py_INCREF(slots[i])
                kids[i] = &(<Number>slots[i]).node
            else:
                consts[i] = <double>slots[i]
            consts[n + i] = <double>partials[i]
        out.node.c = op._index
        out.node.value = v
        mg_block_eval(&out.node)            # the trace of a traced operand
    # after the block: mg_node_block resets the flags, the record's among them
    if mg_anomaly_enabled():
        _anomalous(op.name, v, values, out)
    if not grad:
        for s in numbers:
            if (<Number>s).node.trace:
                _untraced_operands(<Number>s, None)
    return out


def sum(numbers):
    """One n-ary node for numbers[0] + numbers[1] + ..., added left to right."""
    return _block(MG_SUM, list(numbers))


def dot(ws, xs):
    """One n-ary node for ws[0]*xs[0] + ws[1]*xs[1] + ..., added left to right."""
    ws, xs = list(ws), list(xs)
    if len(ws) != len(xs):
        raise ValueError(f"dot: lengths differ ({len(ws)} and {len(xs)})")
    return _block(MG_DOT, ws + xs)


def where(cond, a, b):
    """a where cond > 0, else b; the gradient flows to the picked operand only."""
    return _block(MG_WHERE, [cond, a, b])


cdef object _pairwise(object a, object b, int op, int cop, int rcop, str name):
    """op(a, b): cop for a Number and a real, rcop for a real and a Number."""
    cdef double v
    if isinstance(a, Number):
        out = _binary(<Number>a, b, op, cop)
    elif isinstance(b, Number):
        out = _reflected(<Number>b, a, op, rcop)
    else:
        mg_eval_binary(op, _real(a), _real(b), &v)
        return _fresh(v)
    return _checked(out, a, b, name)


def maximum(a, b):
    """The larger of a and b (NaN if either is NaN); ties split the gradient."""
    return _pairwise(a, b, MG_MAXIMUM, MG_MAXIMUM_C, MG_MAXIMUM_C, "maximum()")


def minimum(a, b):
    """The smaller of a and b (NaN if either is NaN); ties split the gradient."""
    return _pairwise(a, b, MG_MINIMUM, MG_MINIMUM_C, MG_MINIMUM_C, "minimum()")


# comparisons: a real first is the mirrored relation on the Number (2 > x is x < 2)
def gt(a, b):
    """1.0 if a > b else 0.0 (0.0 if either is NaN); no gradient flows back."""
    return _pairwise(a, b, MG_GT, MG_GT_C, MG_LT_C, "gt()")


def ge(a, b):
    """1.0 if a >= b else 0.0 (0.0 if either is NaN); no gradient flows back."""
    return _pairwise(a, b, MG_GE, MG_GE_C, MG_LE_C, "ge()")


def lt(a, b):
    """1.0 if a < b else 0.0 (0.0 if either is NaN); no gradient flows back."""
    return _pairwise(a, b, MG_LT, MG_LT_C, MG_GT_C, "lt()")


def le(a, b):
    """1.0 if a <= b else 0.0 (0.0 if either is NaN); no gradient flows back."""
    return _pairwise(a, b, MG_LE, MG_LE_C, MG_GE_C, "le()")


def clamp(x, lo=None, hi=None):
    """x limited to [lo, hi], as torch.clamp (either bound may be None)."""
    cdef double v, dlo, dhi
    if lo is None and hi is None:
        raise ValueError("clamp: at least one of lo and hi must not be None")
    dlo = -_C_INF if lo is None else _real(lo)
    dhi = _C_INF if hi is None else _real(hi)
    if not _is_number(x):
        mg_eval_range(MG_CLAMP, _real(x), dlo, dhi, &v)
        return _fresh(v)
    if not isinstance(x, Number):
        _py_operand(x, BACKEND)               # the mixing error
    return _make_range(MG_CLAMP, <Number>x, dlo, dhi)


# -- what Number shares with the reference (micrograd/_number_methods.py) -------
class _Kit:
    """What micrograd/_number_methods.py needs of the core (the twin:
    _number_py._Kit)."""
    owner = "Number"
    Number = Number
    hook_removed = _hook_removed
    maximum = maximum
    minimum = minimum

    @staticmethod
    def record(n):
        return _record(<Number?>n)

    @staticmethod
    def record_of(n):
        return _record_of(<Number?>n)

    @staticmethod
    def traced(n):
        return _traced(<Number?>n)

    @staticmethod
    def hooks_changed(Py_ssize_t k):
        global _hooks_live
        _hooks_live += k

    @staticmethod
    def copied(n, memo):
        return _copied(<Number?>n, memo)


_install(Number, "_kit", _Kit)
for _name, _shared in _shared_items():
    _install(Number, _name, _shared)
del _name, _shared
