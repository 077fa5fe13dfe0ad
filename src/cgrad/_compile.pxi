# Compiled steps: the recording tape of csrc/compile.c. cgrad/compile.py drives it.

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

    def __len__(self):
        return cg_tape_size(self.tp)

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
            with nogil:
                rc = cg_tape_replay(self.tp, a.arr, a.n, outs)
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
