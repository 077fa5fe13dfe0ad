"""cgrad.compile: record what one call of a training step does in C, then replay it.

A compiled step runs eagerly on its first call with a new signature (that call
makes the lazily created state: the first .grad tensors, optimizer buffers),
is recorded on the next two calls, and once both recordings did the same work,
every later call replays the recording: forward kernels, backward kernels,
gradient accumulation and optimizer updates as one C loop over the same
buffers, without the GIL and without Python per op. See docs/compile.md.
"""
import functools
import threading
import warnings
import weakref

from cgrad import _C
from cgrad._C import _MISS, Tensor

__all__ = ["compile", "CompileError"]


class CompileError(RuntimeError):
    """cgrad.compile(fn, fullgraph=True) cannot replay fn; the message names the cause."""


def compile(fn=None, *, fullgraph=False, cache_size=8):
    """Compiles fn, a training or evaluation step: ``step = cgrad.compile(step)``, or as a decorator
    (``@cgrad.compile`` / ``@cgrad.compile(fullgraph=True)``).

    Calls are keyed by their signature: each tensor argument's shape, dtype, strides and
    requires_grad (and identity, when it requires grad), other arguments by value, grad mode and
    the default dtype; up to cache_size signatures are recorded, later new ones run eagerly.
    Tensors the step returns are fresh copies without grad_fn. Parameters and other tensors the
    step reaches from outside must stay the same objects between calls (updating them in place
    is fine). A step that cannot be replayed runs eagerly from then on, after one warning naming
    the cause; with fullgraph=True it raises CompileError instead.
    """
    if fn is None:
        return functools.partial(compile, fullgraph=fullgraph, cache_size=cache_size)
    if not callable(fn):
        raise TypeError(f"cgrad.compile expects a callable, got {type(fn).__name__}")
    if not isinstance(cache_size, int) or cache_size < 1:
        raise ValueError(f"cache_size must be a positive int, got {cache_size!r}")
    step = _CompiledStep(fn, bool(fullgraph), cache_size)
    return functools.update_wrapper(step.front, fn)


compile.CompileError = CompileError


# ---- outputs --------------------------------------------------------------------------------

_TENSOR = _C._TENSOR_MARK  # marks where a tensor sits in an output's structure


def _flatten(out, tensors):
    """out with every tensor replaced by _TENSOR (and appended to tensors)."""
    if isinstance(out, Tensor):
        tensors.append(out)
        return _TENSOR
    if isinstance(out, (tuple, list)):
        items = [_flatten(x, tensors) for x in out]
        return tuple(items) if type(out) is tuple else type(out)(items) if type(out) is list else type(out)(*items)
    if isinstance(out, dict):
        return type(out)((k, _flatten(v, tensors)) for k, v in out.items())
    return out


def _unflatten(spec, tensors):
    it = iter(tensors)

    def build(s):
        if s is _TENSOR:
            return next(it)
        if isinstance(s, (tuple, list)):
            items = [build(x) for x in s]
            return tuple(items) if type(s) is tuple else type(s)(items) if type(s) is list else type(s)(*items)
        if isinstance(s, dict):
            return type(s)((k, build(v)) for k, v in s.items())
        return s

    return build(spec)


def _same_spec(a, b):
    """Whether two output structures match, Python values included (NaN equals NaN)."""
    if a is _TENSOR or b is _TENSOR:
        return a is b
    if type(a) is not type(b):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same_spec(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same_spec(a[k], b[k]) for k in a)
    try:
        return bool(a == b) or (a != a and b != b)
    except Exception:
        return a is b


def _copies(tensors):
    with _C_no_grad():
        return [t.detach().clone() for t in tensors]


class _C_no_grad:
    def __enter__(self):
        self.prev = _C._is_grad_enabled()
        _C._set_grad_enabled(False)

    def __exit__(self, *exc):
        _C._set_grad_enabled(self.prev)


def _substitute(x, table):
    """x with the tensors in table (id -> replacement) replaced, in the same structure."""
    if isinstance(x, Tensor):
        return table.get(id(x), x)
    if isinstance(x, (tuple, list)):
        items = [_substitute(v, table) for v in x]
        return tuple(items) if type(x) is tuple else type(x)(items) if type(x) is list else type(x)(*items)
    if isinstance(x, dict):
        return type(x)((k, _substitute(v, table)) for k, v in x.items())
    return x


def _span(t):
    """How many elements t's memory spans, from its first element to its last."""
    return sum((s - 1) * st for s, st in zip(t.shape, t.stride())) + 1 if t.numel() else 0


def _extent(t):
    """The byte range t's elements span."""
    start = t.data_ptr()
    return start, start + _span(t) * t.element_size()


_ALIASED_ARGUMENT = ("a tensor argument shares memory with a tensor the step also reaches otherwise (a parameter's "
                     ".detach() or .data, a view of a buffer) and writes: a recording reads the argument from a copy")


def _optimized_memory(tensors):
    """Whether one of tensors shares memory with a parameter, .grad or state tensor of an optimizer, which
    the step would write through another name than the argument's."""
    if not tensors:
        return False
    extents = [_extent(t) for t in tensors if t.numel()]
    for opt in list(_optimizers):
        owned = [p for g in opt.param_groups for p in g["params"]]
        owned += [p.grad for p in owned if p.grad is not None]
        owned += [v for st in opt.state.values() for v in st.values() if isinstance(v, Tensor)]
        for t in owned:
            if t.numel():
                a, b = _extent(t)
                if any(a < hi and lo < b for lo, hi in extents):
                    return True
    return False


def _placeholder(t):
    """A tensor of t's dtype, shape and strides, the step's argument while it is recorded: an input
    broadcast by strides (or sliced) must be read in its own layout, as eagerly, or a reduction over
    it would add its elements in another order."""
    return _C.empty_strided(tuple(t.shape), tuple(t.stride()), dtype=t.dtype)


def _fill(placeholder, t):
    """placeholder's elements = t's, by the memory they span: element-wise copy_ refuses a
    placeholder whose elements share memory (a broadcast input)."""
    n = _span(t)
    placeholder.as_strided((n,), (1,), 0).copy_(t.as_strided((n,), (1,), t.storage_offset()))


# ---- the Python a recorded step runs: schedulers, hyper-parameters ---------------------------

_recorded = threading.local()  # Python-side events of the step recorded on this thread: .log, .depth, .watch
_optimizers = weakref.WeakSet()  # every optimizer made (see _HyperParameters)


def _hyper_parameters(opt):
    return [{k: v for k, v in g.items() if k not in ("params", "param_names")} for g in opt.param_groups]


def _same_hyper_parameters(a, b):
    try:
        return bool(a == b)
    except (RuntimeError, TypeError, ValueError):  # tensors of several elements: changed, unless the same objects
        return len(a) == len(b) and all(x.keys() == y.keys() and all(x[k] is y[k] for k in x) for x, y in zip(a, b))


class _HyperParameters:
    """The optimizers' hyper-parameters as a recording last saw them, to catch a step that sets them itself.

    A replay reads an optimizer's hyper-parameters when it refreshes its step, and runs again only the
    schedulers' steps: a learning rate the step computes in Python (from a counter, say) and writes into
    param_groups would be read stale. So while a step is recorded, the hyper-parameters may change only
    inside a scheduler's step: each optimizer's step, each scheduler step and the end of the call check
    that they are as they were last seen."""

    def __init__(self):
        self.seen = {id(o): (o, _hyper_parameters(o)) for o in list(_optimizers)}

    def check(self, opt):
        seen = self.seen.get(id(opt))
        if seen is not None and seen[0] is opt and not _same_hyper_parameters(_hyper_parameters(opt), seen[1]):
            _C._recording_break(f"it sets the hyper-parameters of {type(opt).__name__} (its param_groups) itself, "
                                "which a replay would not do again; step an lr_scheduler after the optimizer's "
                                "step instead, or set them between calls")

    def settle(self, opt):
        self.seen[id(opt)] = (opt, _hyper_parameters(opt))

    def check_all(self):
        for opt, _ in list(self.seen.values()):
            self.check(opt)


def _optimizer_stepped(opt):
    """opt.step() runs while a step is recorded (the caller checked)."""
    watch = getattr(_recorded, "watch", None)
    if watch is not None:
        watch.check(opt)


class _SchedulerStep:
    """Wraps one call of a scheduler's step(): while a step is recorded, notes it, to run again after
    each replay (a context manager, so that the step's warnings keep their stack level).

    A scheduler only sets Python values (its optimizer's lr, momentum...): no kernel of it is on the
    tape, and a replay refreshes the optimizers' hyper-parameters before it runs. A scheduler step
    that comes after the optimizer steps of the call can then simply run again after each replay,
    with the arguments it was recorded with."""

    __slots__ = ("sched", "args", "kwargs", "tape", "size")

    def __init__(self, sched, args, kwargs):
        self.sched, self.args, self.kwargs, self.tape = sched, args, kwargs, None

    def __enter__(self):
        if getattr(_recorded, "log", None) is None or not _C._is_recording() or _recorded.depth:
            return  # not recorded, or inside another scheduler's step
        self.tape = _C._recording.tape
        self.size = len(self.tape)
        _recorded.depth += 1
        opt = getattr(self.sched, "optimizer", None)
        if opt is not None:
            _recorded.watch.check(opt)

    def __exit__(self, *exc):
        tape = self.tape
        if tape is None:
            return
        _recorded.depth -= 1
        if len(tape) != self.size:
            _C._recording_break(f"{type(self.sched).__name__}.step runs tensor operations, which a replay "
                                "would run with the values of the recording")
        opt = getattr(self.sched, "optimizer", None)
        if opt is not None:
            _recorded.watch.settle(opt)
        _recorded.log.append((self.sched, self.args, self.kwargs, len(tape.optimizers)))


def _scheduler_cause(log, tape):
    """Why the scheduler steps of one recording cannot be run again after its replays, or None."""
    if any(n < len(tape.optimizers) for *_, n in log):
        return ("it steps an lr_scheduler before an optimizer's step, which a replay refreshes with the "
                "learning rate the scheduler has not set yet")
    return None


def _same_scheduling(a, b):
    return len(a) == len(b) and all(x[0] is y[0] and _same_spec(x[1:], y[1:]) for x, y in zip(a, b))


# ---- one signature ----------------------------------------------------------------------------

class _Entry:
    """The recordings of one signature and how its tensor arguments map onto the tape's inputs."""

    __slots__ = ("warm", "pending", "replayer", "inputs", "placeholders", "restarts", "mismatches", "schedulers")

    def __init__(self):
        self.warm = False        # the eager first call has run
        self.pending = None      # (tape, spec, scheduler steps) of the first recording, waiting for the second
        self.replayer = None     # replays the recording (a _C._Replayer)
        self.inputs = None       # positions of the tensor arguments that are tape inputs
        self.placeholders = None
        self.restarts = 0        # replays refused by a guard
        self.mismatches = 0      # recordings that differed from the one before
        self.schedulers = ()     # (scheduler, args, kwargs, ...) steps to run after each replay


class _CompiledStep:
    def __init__(self, fn, fullgraph, cache_size):
        self.fn = fn
        self.name = getattr(fn, "__qualname__", None) or repr(fn)
        self.fullgraph = fullgraph
        self.cache_size = cache_size
        self.cache = {}
        self.cause = None         # set when the step runs eagerly for good
        self.cache_warned = False
        self.front = _C._CompiledFunction(self)  # what compile() returns: calls the fast replayer first
        self.old_replays = 0      # replays of recordings dropped since

    @property
    def fast(self):
        """The replayer of the last signature replayed, which the front calls without Python."""
        return self.front.fast

    @fast.setter
    def fast(self, replayer):
        self.front.fast = replayer

    @property
    def replays(self):
        """Calls answered by a replay."""
        return self.old_replays + sum(e.replayer.replays for e in self.cache.values() if e.replayer is not None)

    def __call__(self, args, kwargs):
        if self.cause is not None or _C._is_recording():  # given up, or inside another recording
            return self.fn(*args, **kwargs)
        key, tensors = _C._step_signature(args, kwargs)
        entry = self.cache.get(key)
        if entry is None:
            if len(self.cache) >= self.cache_size:
                return self._over_cache(args, kwargs)
            entry = self.cache[key] = _Entry()
        replayer = entry.replayer
        if replayer is not None:
            out = replayer.run_inputs([tensors[i] for i in entry.inputs])
            if out is not _MISS:
                if entry.schedulers:
                    self._step_schedulers(entry.schedulers)
                else:
                    self.fast = replayer
                return out
            self._restart(entry)
            if self.cause is not None:
                return self.fn(*args, **kwargs)
        if not entry.warm:
            entry.warm = True
            out = self.fn(*args, **kwargs)
            tensors_out = []
            spec = _flatten(out, tensors_out)
            return _unflatten(spec, _copies(tensors_out))
        return self._record(entry, args, kwargs, tensors)

    # -- replay --

    @staticmethod
    def _step_schedulers(log):
        for sched, args, kwargs, _ in log:
            sched.step(*args, **kwargs)

    def _restart(self, entry):
        """A guard failed: tensors the recording relies on were replaced since. Warm up and record again."""
        if self.fast is entry.replayer:
            self.fast = None
        self.old_replays += entry.replayer.replays
        entry.replayer, entry.pending, entry.warm = None, None, False
        entry.restarts += 1
        if entry.restarts > 3:
            self._give_up("the tensors it uses (parameters, their .grad, optimizer state) keep being replaced "
                          "between calls")

    # -- recording --

    def _record(self, entry, args, kwargs, tensors):
        if _optimized_memory([t for t in tensors if not t.requires_grad]):
            self._give_up(_ALIASED_ARGUMENT)  # before the call: a recording would compute it wrongly
            return self.fn(*args, **kwargs)
        if entry.inputs is None:
            entry.inputs = [i for i, t in enumerate(tensors) if not t.requires_grad]
            with _C_no_grad():
                entry.placeholders = [_placeholder(tensors[i]) for i in entry.inputs]
        table = {}
        with _C_no_grad():
            for i, ph in zip(entry.inputs, entry.placeholders):
                _fill(ph, tensors[i])
                table[id(tensors[i])] = ph
        call_args, call_kwargs = _substitute(args, table), _substitute(kwargs, table)
        tape = _C._Tape()
        tape.begin(entry.placeholders)
        _recorded.log, _recorded.depth, _recorded.watch = [], 0, _HyperParameters()
        try:
            out = self.fn(*call_args, **call_kwargs)
            out_tensors = []
            spec = _flatten(out, out_tensors)
            tape.set_outputs(out_tensors)
            _recorded.watch.check_all()
        finally:
            tape.end()
            log, _recorded.log, _recorded.watch = _recorded.log, None, None
            self._write_back(entry, tensors, tape)
        result = _unflatten(spec, _copies(out_tensors))
        n_out = len(out_tensors)
        del out, out_tensors
        tape.drop_history()  # the recorded graph dies here, as an eager step's would
        cause = tape.cause or self._aliasing_cause(entry, tensors, tape) or _scheduler_cause(log, tape)
        if cause is None and entry.pending is not None:
            cause = self._difference(entry.pending, tape, spec, log)
            if cause is None:
                entry.replayer = _C._Replayer(tape, args if not kwargs else None, spec, n_out, _unflatten)
                entry.pending, entry.schedulers = None, log
                if not log:  # the front's fast path runs no Python after a replay
                    self.fast = entry.replayer
            elif entry.mismatches < 2:  # state made lazily in the first calls: compare the next two
                entry.mismatches += 1
                entry.pending, cause = (tape, spec, log), None
        elif cause is None:
            entry.pending = (tape, spec, log)
        if cause is not None:
            self._give_up(cause)
        return result

    def _difference(self, pending, tape, spec, log):
        """None if two recordings did the same work, else the first difference."""
        first, first_spec, first_log = pending
        cause = first.compare(tape)
        if cause is not None:
            return "it does different work from call to call: " + cause
        if not _same_spec(first_spec, spec):
            return "it returns different Python values (or structures) from call to call"
        if list(map(id, first.optimizers)) != list(map(id, tape.optimizers)):
            return "it steps different optimizers from call to call"
        if not _same_scheduling(first_log, log):
            return "it steps different lr_schedulers (or with different arguments) from call to call"
        return None

    def _write_back(self, entry, tensors, tape):
        """Writes what the step wrote into its tensor arguments back into them."""
        with _C_no_grad():
            for i, ph in zip(entry.inputs, entry.placeholders):
                if tape.wrote(ph):
                    tensors[i].copy_(ph)

    def _aliasing_cause(self, entry, tensors, tape):
        for i, ph in zip(entry.inputs, entry.placeholders):
            if tape.touched(tensors[i]) and (tape.wrote(tensors[i]) or tape.wrote(ph)):
                return _ALIASED_ARGUMENT
        written = [tensors[i] for i, ph in zip(entry.inputs, entry.placeholders) if tape.wrote(ph)]
        for w in written:
            lo, hi = _extent(w)
            for t in tensors:
                if t is not w and t.numel() and w.numel():
                    a, b = _extent(t)
                    if a < hi and lo < b:
                        return "it writes into a tensor argument that shares memory with another argument"
        return None

    # -- giving up --

    def _give_up(self, cause):
        if self.fullgraph:
            raise CompileError(f"cgrad.compile(fullgraph=True): {self.name} cannot be replayed: {cause}")
        self.cause = cause
        self.old_replays = self.replays
        self.cache.clear()
        self.fast = None
        warnings.warn(f"cgrad.compile: {self.name} runs eagerly from now on: {cause}", UserWarning, stacklevel=5)

    def _over_cache(self, args, kwargs):
        if self.fullgraph:
            raise CompileError(f"cgrad.compile(fullgraph=True): {self.name} was called with more than "
                               f"cache_size={self.cache_size} different argument signatures")
        if not self.cache_warned:
            self.cache_warned = True
            warnings.warn(f"cgrad.compile: {self.name} was called with more than cache_size={self.cache_size} "
                          "different argument signatures; calls with new signatures run eagerly", UserWarning,
                          stacklevel=4)
        return self.fn(*args, **kwargs)
