# Compiled steps: the recording tape of csrc/compile.c. cgrad/compile.py drives it.
from cpython.pythread cimport (NOWAIT_LOCK, WAIT_LOCK, PyThread_acquire_lock, PyThread_allocate_lock,
                               PyThread_free_lock, PyThread_release_lock, PyThread_type_lock)

from types import MethodType

_recording = threading.local()  # .tape: the _Tape recording on this thread


cdef void release_kept(void *obj) noexcept nogil:
    with gil:
        Py_DECREF(<object>obj)


cdef inline void reading(_TensorBase t, const char *what):
    """Reading t's values from Python while a step is recorded: breaks the
    recording when the step computed them."""
    if cg_is_recording():
        cg_tape_read(t.t, what)


cdef inline void keep_while_recording(object obj):
    """Keeps obj (a Generator the recording draws from) alive as long as the tape."""
    if cg_is_recording():
        Py_INCREF(obj)
        cg_tape_keep(<void *>obj, release_kept)


def _is_recording():
    return bool(cg_is_recording())


def _is_refreshing():
    """Whether a replay is running the recorded optimizers' step() on this thread, only to read their
    hyper-parameters (see _Tape.refresh): their step hooks must not run then."""
    return bool(cg_tape_refreshing())


def _recording_break(str cause):
    """Marks the step being recorded on this thread unusable, naming the cause."""
    if cg_is_recording():
        cg_tape_break(b"%s", cause.encode())


def _note_optimizer(opt):
    """An optimizer's step() ran in the step being recorded: replays refresh its hyper-parameters."""
    tape = getattr(_recording, "tape", None)
    if tape is not None and cg_is_recording():
        (<_Tape>tape).optimizers.append(opt)


cdef class _Tape:
    """The kernels one call of a step ran, replayable without Python (see csrc/compile.c)."""
    cdef cg_tape *tp
    cdef readonly list optimizers  # optimizers whose step() the recording ran, in order
    cdef readonly int n_inputs

    def __cinit__(self):
        self.tp = cg_tape_new()
        if self.tp == NULL:
            raise_error()
        self.optimizers = []

    def __dealloc__(self):
        cg_tape_free(self.tp)

    def begin(self, inputs):
        """Starts recording on this thread; inputs are the step's tensor arguments."""
        cdef _Tensors ins = _Tensors(inputs, "inputs")
        check(cg_tape_begin(self.tp, ins.arr, ins.n))
        self.n_inputs = ins.n
        _recording.tape = self

    def set_outputs(self, outputs):
        cdef _Tensors outs = _Tensors(outputs, "outputs")
        check(cg_tape_set_outputs(self.tp, outs.arr, outs.n))

    def end(self):
        _recording.tape = None
        check(cg_tape_end(self.tp))

    @property
    def cause(self):
        """None, or why this recording cannot be replayed."""
        cdef const char *c = cg_tape_cause(self.tp)
        return None if c == NULL else c.decode("utf-8", "replace")

    def wrote(self, _TensorBase t):
        return bool(cg_tape_wrote(self.tp, t.t))

    def touched(self, _TensorBase t):
        """Whether an entry names a tensor on t's storage."""
        return bool(cg_tape_touched(self.tp, t.t))

    def __len__(self):
        return cg_tape_size(self.tp)

    @property
    def memory(self):
        """(bytes, shared bytes): once replayed, the intermediates that take turns
        with memory, counted alone, and the memory they share."""
        cdef int64_t alone, shared
        cg_tape_memory(self.tp, &alone, &shared)
        return alone, shared

    def entries(self):
        """[(kernel name, indices of the tensors it names)] in recorded order, for inspection."""
        cdef int64_t idx[6]
        cdef int64_t i
        out = []
        for i in range(cg_tape_size(self.tp)):
            name = cg_tape_entry(self.tp, i, idx)
            out.append((name.decode(), tuple([idx[j] for j in range(6) if idx[j] >= 0])))
        return out

    def drop_history(self):
        cg_tape_drop_history(self.tp)

    def compare(self, _Tape other):
        """None if both recordings did the same work, else the first difference."""
        cdef char buf[256]
        cdef const char *d = cg_tape_compare(self.tp, other.tp, buf, sizeof(buf))
        return None if d == NULL else d.decode("utf-8", "replace")

    def replay(self, args, int n_outputs):
        """Runs the recording on args; the copies of its outputs, or None when a guard failed."""
        cdef _Tensors a = _Tensors(args, "args")
        cdef cg_tensor **outs = <cg_tensor **>malloc(max(n_outputs, 1) * sizeof(cg_tensor *))
        cdef int rc, i
        if outs == NULL:
            raise MemoryError()
        try:
            _nogil_begin()
            with nogil:
                rc = cg_tape_replay(self.tp, a.arr, a.n, outs)
            _nogil_end()
            if rc < 0:
                raise_error()
            if rc > 0:
                return None
            return [wrap(outs[i]) for i in range(n_outputs)]
        finally:
            free(outs)

    def refresh(self):
        """Runs the recorded optimizers' step() so that they write their current
        hyper-parameters into the recording; False if they no longer match it."""
        check(cg_tape_refresh_begin(self.tp))
        cdef int rc = 1
        try:
            for opt in self.optimizers:
                opt.step()
        finally:
            rc = cg_tape_refresh_end(self.tp)
        return rc == 0


cdef object signature_of(object x, list tensors, dict seen):
    """A hashable description of one argument; tensors found in it are appended."""
    cdef _TensorBase t
    cdef int i
    if isinstance(x, _TensorBase):
        t = <_TensorBase>x
        alias = seen.get(id(x))
        if alias is not None:
            return ("same", alias)
        seen[id(x)] = len(tensors)
        tensors.append(x)
        return (t.t.dtype, t.t.requires_grad, id(x) if t.t.requires_grad else 0,
                tuple([t.t.shape[i] for i in range(t.t.ndim)]), tuple([t.t.strides[i] for i in range(t.t.ndim)]))
    if isinstance(x, (tuple, list)):
        return (type(x), tuple([signature_of(v, tensors, seen) for v in x]))
    if isinstance(x, dict):
        return (dict, tuple([(k, signature_of(v, tensors, seen)) for k, v in x.items()]))
    try:
        hash(x)
    except TypeError:
        return ("id", id(x))
    return (type(x), x)


def _step_signature(tuple args, dict kwargs):
    """(key, tensors): what a compiled step's cache is keyed by -- every tensor's
    dtype, requires_grad, shape and strides (and identity when it requires grad),
    other arguments by value (by identity when unhashable), grad mode and the
    default dtype -- and the tensors among the arguments, in order."""
    cdef list tensors = []
    cdef dict seen = {}
    key = (bool(cg_is_grad_enabled()), <int>cg_get_default_dtype(), signature_of(args, tensors, seen),
           signature_of(kwargs, tensors, seen) if kwargs else None)
    return key, tensors


_TENSOR_MARK = object()  # where a tensor sits in the structure of a step's outputs
_MISS = object()  # _Replayer.run: no replay (other arguments, or a failed guard: see stale)

cdef enum:
    META = 20  # per tensor argument: dtype, requires_grad, ndim, shape[8], strides[8], input slot
    # A replay naming fewer elements than this runs in microseconds: it keeps
    # the GIL, whose release and retaking (mutexes and a condition variable)
    # would cost it more than another thread could gain from those microseconds.
    SHORT_REPLAY = 65536


cdef class _Replayer:
    """Replays one recording. run(args) first checks that positional args match
    the call it was recorded for, without building the signature (the hot path
    of a compiled step); run_inputs(tensors) trusts the caller. Both return the
    step's outputs, or _MISS; after a failed guard, stale is set and the
    recording must be made again."""
    cdef readonly _Tape tape
    cdef PyThread_type_lock lock  # one replay at a time: they share every buffer
    cdef readonly object spec
    cdef object unflatten         # unflatten(spec, tensors): outputs of any other structure
    cdef readonly int out_kind    # 1: one tensor, 2: a tuple of tensors, 0: anything else
    cdef readonly long replays
    cdef readonly bint stale
    cdef readonly bint keeps_gil  # a short replay: see replay()
    cdef int nargs, n_out, n_in, grad_mode
    cdef cg_dtype default_dtype
    cdef list values      # per argument: None (a tensor, see meta), or (type, value, by identity)
    cdef list identities  # per argument: the tensor it must be (one that requires grad), else None
    cdef int64_t *meta

    def __cinit__(self, _Tape tape, args, spec, int n_out, unflatten):
        self.tape = tape
        self.spec = spec
        self.unflatten = unflatten
        self.n_out = n_out
        self.n_in = tape.n_inputs
        self.keeps_gil = cg_tape_work(tape.tp) < SHORT_REPLAY
        self.out_kind = 1 if spec is _TENSOR_MARK else 2 if (type(spec) is tuple and
                                                             all(s is _TENSOR_MARK for s in spec)) else 0
        self.lock = PyThread_allocate_lock()
        if self.lock == NULL:
            raise MemoryError()
        self.nargs = -1  # no matching unless args are flat (see describe)
        if args is not None:
            self.describe(args)

    cdef describe(self, tuple args):
        cdef int i, d, slot = 0
        cdef cg_tensor *t
        cdef int64_t *m
        self.meta = <int64_t *>malloc(max(len(args), 1) * META * sizeof(int64_t))
        if self.meta == NULL:
            raise MemoryError()
        self.values, self.identities = [], []
        seen = set()
        for i, a in enumerate(args):
            if isinstance(a, (tuple, list, dict)) or id(a) in seen:
                return  # nested or repeated arguments: the signature decides
            seen.add(id(a))
            self.identities.append(a if isinstance(a, _TensorBase) and a.requires_grad else None)
            if not isinstance(a, _TensorBase):
                try:
                    hash(a)
                    self.values.append((type(a), a, False))
                except TypeError:
                    self.values.append((type(a), a, True))
                continue
            t = (<_TensorBase>a).t
            m = self.meta + i * META
            m[0], m[1], m[2] = t.dtype, t.requires_grad, t.ndim
            for d in range(t.ndim):
                m[3 + d] = t.shape[d]
                m[11 + d] = t.strides[d]
            m[19] = -1 if t.requires_grad else slot
            slot += 0 if t.requires_grad else 1
            self.values.append(None)
        if slot == self.n_in:
            self.nargs = len(args)
            self.grad_mode = cg_is_grad_enabled()
            self.default_dtype = cg_get_default_dtype()

    def __dealloc__(self):
        free(self.meta)
        if self.lock != NULL:
            PyThread_free_lock(self.lock)

    cdef bint matches(self, tuple args, cg_tensor **ins) except -1:
        cdef int i, d
        cdef int64_t *m
        cdef cg_tensor *t
        if self.nargs < 0 or len(args) != self.nargs or cg_is_grad_enabled() != self.grad_mode:
            return False
        if cg_get_default_dtype() != self.default_dtype:
            return False
        for i in range(self.nargs):
            a = args[i]
            v = self.values[i]
            if v is not None:
                if type(a) is not (<tuple>v)[0]:
                    return False
                if a is not (<tuple>v)[1] and ((<tuple>v)[2] or not a == (<tuple>v)[1]):
                    return False
                continue
            if not isinstance(a, _TensorBase):
                return False
            t = (<_TensorBase>a).t
            m = self.meta + i * META
            if t.dtype != m[0] or t.requires_grad != m[1] or t.ndim != m[2]:
                return False
            for d in range(t.ndim):
                if t.shape[d] != m[3 + d] or t.strides[d] != m[11 + d]:
                    return False
            if m[19] < 0:
                if a is not self.identities[i]:
                    return False
            else:
                ins[m[19]] = t
        return True

    cdef object replay(self, cg_tensor **ins):
        cdef cg_tensor *small[8]
        cdef cg_tensor **outs = small
        cdef int rc = 0, i
        if self.n_out > 8:
            outs = <cg_tensor **>malloc(self.n_out * sizeof(cg_tensor *))
            if outs == NULL:
                raise MemoryError()
        try:
            if not PyThread_acquire_lock(self.lock, NOWAIT_LOCK):
                with nogil:
                    PyThread_acquire_lock(self.lock, WAIT_LOCK)
            try:
                if self.tape.optimizers and not self.tape.refresh():
                    rc = 1
                else:
                    _nogil_begin(not self.keeps_gil)
                    if self.keeps_gil:
                        rc = cg_tape_replay(self.tape.tp, ins, self.n_in, outs)
                    else:
                        with nogil:
                            rc = cg_tape_replay(self.tape.tp, ins, self.n_in, outs)
                    _nogil_end(not self.keeps_gil)
            finally:
                PyThread_release_lock(self.lock)
            if rc < 0:
                raise_error()
            if rc > 0:
                self.stale = True
                return _MISS
            self.replays += 1
            if self.out_kind == 1:
                return wrap(outs[0])
            results = [wrap(outs[i]) for i in range(self.n_out)]
            return tuple(results) if self.out_kind == 2 else self.unflatten(self.spec, results)
        finally:
            if outs != small:
                free(outs)

    cdef object run(self, tuple args):
        """The step's outputs (a list of tensors when out_kind is 0), or _MISS / _STALE."""
        cdef cg_tensor *small[8]
        cdef cg_tensor **ins = small
        if cg_is_recording() or self.nargs < 0 or self.stale:
            return _MISS
        if self.n_in > 8:
            ins = <cg_tensor **>malloc(self.n_in * sizeof(cg_tensor *))
            if ins == NULL:
                raise MemoryError()
        try:
            if not self.matches(args, ins):
                return _MISS
            return self.replay(ins)
        finally:
            if ins != small:
                free(ins)

    def run_inputs(self, inputs):
        """As run, for the tape's input tensors (the caller matched the signature)."""
        cdef _Tensors t = _Tensors(inputs, "inputs")
        if cg_is_recording() or self.stale:
            return _MISS
        if t.n != self.n_in:
            raise ValueError(f"expected {self.n_in} input tensors, got {t.n}")
        return self.replay(t.arr)


cdef class _CompiledFunction:
    """What cgrad.compile returns. A call with the positional arguments of the
    last replay goes straight to that replay, with no Python frame of its own;
    any other call is the step's (compile.py's _CompiledStep) to answer."""
    cdef readonly object _cgrad_step
    cdef public _Replayer fast  # the replayer of the last signature replayed, or None
    cdef dict __dict__          # what functools.update_wrapper copies from the function
    cdef object __weakref__

    def __cinit__(self, step):
        self._cgrad_step = step

    def __call__(self, *args, **kwargs):
        cdef _Replayer fast = self.fast
        if fast is not None and not kwargs:
            out = fast.run(args)
            if out is not _MISS:
                return out
        return self._cgrad_step(args, kwargs)

    def __get__(self, obj, objtype):
        """Bound to an instance, as a function is (a compiled method)."""
        return self if obj is None else MethodType(self, obj)

    def __repr__(self):
        return f"<compiled function {getattr(self, '__qualname__', '?')}>"
