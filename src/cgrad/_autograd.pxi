# The callbacks the C engine makes into Python: node hooks, custom Function
# backward, anomaly-mode records. Each takes the GIL for the Python call only.
# Included by _C.pyx.

import os as _os
import sys as _sys
import traceback as _traceback

_PACKAGE_DIR = _os.path.dirname(__file__) + _os.sep


def _user_stacklevel():
    """warnings.warn's stacklevel, called from Cython, that points at the first
    frame outside cgrad (Cython code has no frames of its own)."""
    level, frame = 1, _sys._getframe(0)
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        level, frame = level + 1, frame.f_back
    return level

# ---- post-accumulate-grad hooks --------------------------------------------------

cdef int run_post_accumulate_hook(void *ctx, cg_tensor *t, cg_tensor **out) noexcept nogil:
    if cg_is_recording():
        cg_tape_break(b"a Python hook ran during backward")
    with gil:
        try:
            (<object>ctx)(wrap_borrowed(t))
            return 0
        except BaseException as e:
            _pending.exc = e
            cg_error_set(CG_ERR_EXTERNAL, b"a hook raised an exception")
            return -1


# ---- node hooks -----------------------------------------------------------------

cdef object wrap_grads(cg_tensor **grads, int n):
    return tuple([wrap_borrowed(grads[i]) for i in range(n)])


cdef int replace_grads(object fn, object result, cg_tensor **grads, int n) except -1:
    """Stores a hook's returned tuple into grads, checked as PyTorch checks it."""
    if not isinstance(result, tuple):
        raise TypeError(f"expected tuple, but hook returned '{type(result).__name__}'")
    if len(result) != n:
        raise RuntimeError(f"hook '{hook_name(fn)}' has returned an incorrect number of values "
                           f"(got {len(result)}, but expected {n})")
    for g in result:
        if g is not None and not isinstance(g, _TensorBase):
            raise TypeError(f"expected Variable or None, but hook returned '{type(g).__name__}'")
    cdef int i
    for i in range(n):
        g = result[i]
        cg_tensor_release(grads[i])
        grads[i] = NULL
        if g is not None:
            cg_tensor_retain((<_TensorBase>g).t)
            grads[i] = (<_TensorBase>g).t
    return 0


cdef int run_node_hook(void *ctx, cg_node *n, cg_tensor **grads, int n_grads,
                       cg_tensor **other, int n_other) noexcept nogil:
    if cg_is_recording():
        cg_tape_break(b"a Python hook ran during backward")
    with gil:
        try:
            fn, post = <tuple>ctx
            if post:
                result = fn(wrap_grads(grads, n_grads), wrap_grads(other, n_other))
            else:
                result = fn(wrap_grads(grads, n_grads))
            if result is not None:
                replace_grads(fn, result, grads, n_grads)
            return 0
        except BaseException as e:
            _pending.exc = e
            cg_error_set(CG_ERR_EXTERNAL, b"a hook raised an exception")
            return -1


cdef RemovableHandle node_hook(cg_node *n, object fn, bint post):
    ctx = (fn, post)
    Py_INCREF(ctx)
    return make_handle(cg_node_register_hook(n, post, run_node_hook, <void *>ctx, release_hook), ctx)


# ---- saved-tensor hooks (Note [Saved-tensor hooks] in graph.c) ---------------------------

_saved_hooks = threading.local()  # .stack: [(pack_hook, unpack_hook)]; .disabled: an error message or None


cdef class _Packed:
    """What a pack hook returned, with the unpack hook to undo it; owned by
    the node's saved slot. A class of its own, not a tuple, so that the
    collector can clear it: the packed value may hold the node's own graph."""
    cdef object unpack_hook
    cdef object packed


cdef cg_tensor *unpack_saved(void *obj) noexcept nogil:
    with gil:
        try:
            if (<_Packed>obj).unpack_hook is None:
                raise RuntimeError("a saved tensor's packed value was freed by the garbage collector")
            result = (<_Packed>obj).unpack_hook((<_Packed>obj).packed)
            if not isinstance(result, _TensorBase):
                raise TypeError("Output of saved tensor unpack_hook expected to be a Tensor but got result of type "
                                + type(result).__name__)
            cg_tensor_retain((<_TensorBase>result).t)
            return (<_TensorBase>result).t
        except BaseException as e:
            _pending.exc = e
            cg_error_set(CG_ERR_EXTERNAL, b"a saved tensor unpack hook raised an exception")
            return NULL


cdef void release_packed(void *obj) noexcept nogil:
    with gil:
        _decref_later(<PyObject *>obj)


cg_saved_hooks_callbacks(unpack_saved, release_packed)


cdef object wrap_target(cg_node *n, int slot):
    """The tensor to hand the pack hook for slot, None if it holds none."""
    cdef cg_tensor *t = cg_saved_hooks_target(n, slot)
    if t == NULL and cg_error_kind() == CG_OK:
        return None
    return wrap(t)


cdef int pack_saved() except -1:
    """Hands each save this thread queued to the innermost pack hook. The
    whole queue is taken even when a hook raises: the rest stay unpacked."""
    cdef cg_node *n
    cdef int slot, prev
    cdef _Packed obj
    error = None
    stack = getattr(_saved_hooks, "stack", None)
    while cg_saved_hooks_next(&n, &slot):
        try:
            if error is None and stack:
                if cg_is_recording():
                    cg_tape_break(b"a saved tensor hook ran")
                pack_hook, unpack_hook = stack[len(stack) - 1]
                x = wrap_target(n, slot)
                if x is None:
                    continue
                version = x._version
                prev = cg_is_grad_enabled()
                cg_set_grad_enabled(0)  # as PyTorch, the pack hook runs without grad
                try:
                    packed = pack_hook(x)
                finally:
                    cg_set_grad_enabled(prev)
                if x._version != version:
                    raise RuntimeError(
                        "A saved tensor pack hook is modifying its input in place. Tensors provided as input to "
                        "pack hook cannot be modified by in-place operations as this can lead to unexpected "
                        "side-effects. Please open an issue if you need to perform in-place operations on the "
                        "input to a pack hook.")
                obj = _Packed.__new__(_Packed)
                obj.unpack_hook, obj.packed = unpack_hook, packed
                Py_INCREF(obj)
                check(cg_saved_set_packed(n, slot, <void *>obj))
        except BaseException as e:
            error = e
        finally:
            cg_node_release(n)
    if error is not None:
        raise error
    return 0


def _push_saved_tensors_default_hooks(pack_hook, unpack_hook):
    message = getattr(_saved_hooks, "disabled", None)
    if message is not None:
        raise RuntimeError(message)
    stack = getattr(_saved_hooks, "stack", None)
    if stack is None:
        stack = _saved_hooks.stack = []
    stack.append((pack_hook, unpack_hook))
    _track_tensors()  # what a hook packs can hold its own graph: a cycle the collector must see
    cg_saved_hooks_on(1)


def _pop_saved_tensors_default_hooks():
    stack = getattr(_saved_hooks, "stack", None)
    if not stack:
        raise RuntimeError("no saved tensors hooks to pop")
    try:
        if cg_saved_hooks_pending():
            pack_saved()
    finally:
        stack.pop()
        if not stack:
            cg_saved_hooks_on(0)


def _saved_tensors_hooks_disable(str message):
    if getattr(_saved_hooks, "stack", None):
        raise RuntimeError(message)
    _saved_hooks.disabled = message


def _saved_tensors_hooks_enable():
    _saved_hooks.disabled = None


def _saved_tensors_hooks_get_disabled_error_message():
    return getattr(_saved_hooks, "disabled", None)


# ---- custom Functions --------------------------------------------------------------

cdef class _FunctionCtx:
    """What a custom Function's forward leaves for its backward. Once the
    Function is recorded, its C node owns this object."""
    cdef cg_node *node  # borrowed: the node owning this ctx, NULL before and after
    cdef dict __dict__
    cdef object __weakref__

    def _saved(self):
        """The tensors save_for_backward stored, unpacked with the version check."""
        cdef cg_tensor *t = NULL
        if self.node == NULL:
            return tuple(getattr(self, "to_save", ()) or ())
        out = []
        for i in range(cg_function_num_saved(self.node)):
            check(cg_function_unpack(self.node, i, &t))
            out.append(wrap(t) if t != NULL else None)
        return tuple(out)

    def _needs_input_grad_now(self):
        """needs_input_grad of the recorded node: which inputs get a gradient."""
        if self.node == NULL:
            return ()
        return tuple([bool(cg_node_needs_input_grad(self.node, i)) for i in range(cg_node_num_next(self.node))])

    @property
    def _grad_fn(self):
        return wrap_node(self.node) if self.node != NULL else None


cdef int function_backward_cb(void *ctx, cg_node *n, cg_tensor **gout, int n_out,
                              cg_tensor **gin, int n_in) noexcept nogil:
    if cg_is_recording():
        cg_tape_break(b"the backward of a custom autograd.Function (Python) ran")
    with gil:
        try:
            grads = (<object>ctx)._backward([wrap_borrowed(gout[k]) for k in range(n_out)])
            if len(grads) != n_in:
                raise RuntimeError(f"internal error: {len(grads)} gradients for {n_in} inputs")
            for i in range(n_in):
                g = grads[i]
                if g is not None:
                    cg_tensor_retain((<_TensorBase>g).t)
                    gin[i] = (<_TensorBase>g).t
            return 0
        except BaseException as e:
            _pending.exc = e
            cg_error_set(CG_ERR_EXTERNAL, b"a custom Function's backward raised an exception")
            return -1


cdef void function_ctx_release(void *ctx) noexcept nogil:
    with gil:
        (<_FunctionCtx>ctx).node = NULL
        _decref_later(<PyObject *>ctx)


cdef object function_output(_FunctionCtx ctx, object o, set inputs, set input_bases, set dirty, set non_diff,
                            uint32_t k):
    """Output k as the Function returns it: with the node as its history."""
    cdef _TensorBase t = <_TensorBase>o
    if id(o) in dirty:  # modified in place by forward: it takes the new history itself
        if t.t.grad_fn == NULL and t.t.requires_grad:
            raise RuntimeError("a leaf Variable that requires grad has been used in an in-place operation.")
    elif id(o) in inputs or t.t.requires_grad or t.t.grad_fn != NULL:
        t = <_TensorBase>wrap(cg_detach(t.t))  # an input returned as is: a new alias
    elif t.t.base != NULL and <size_t>t.t.base not in input_bases:
        # a view of a tensor forward made: nobody else sees that base, so the output stands alone,
        # and an in-place write into it is recorded on top of this node rather than on the base
        cg_tensor_release(t.t.base)
        t.t.base = NULL
    if id(o) in non_diff or not cg_dtype_is_floating(<cg_dtype>t.t.dtype):
        return t
    check(cg_function_set_output(ctx.node, t.t, k))
    return t


def _function_record(_FunctionCtx ctx, str name, tuple args, list outputs, dirty, non_diff, saved):
    """Records a custom Function: its node (named `name`) gets the tensor args
    as inputs and the tensor outputs (replaced in `outputs` where they must be
    aliases) as outputs, and keeps `saved` for backward."""
    tensors = [a for a in args if isinstance(a, _TensorBase)]
    positions = [k for k, o in enumerate(outputs) if isinstance(o, _TensorBase)]
    cdef int n_in = len(tensors), n_saved = len(saved)
    cdef cg_tensor **ins = tensor_array(tensors, n_in)
    Py_INCREF(ctx)
    cdef cg_node *node = cg_function_node_new(name.encode(), ins, n_in, len(positions),
                                              function_backward_cb, <void *>ctx, function_ctx_release)
    free(ins)
    if node == NULL:
        Py_DECREF(ctx)
        raise_error()
    ctx.node = node
    _track_tensors()
    cdef cg_tensor **arr = NULL
    try:
        input_ids = {id(t) for t in tensors}
        input_bases = {<size_t>((<_TensorBase>t).t.base if (<_TensorBase>t).t.base != NULL else (<_TensorBase>t).t)
                       for t in tensors}
        dirty_ids = {id(t) for t in dirty}
        non_diff_ids = {id(t) for t in non_diff}
        for k, pos in enumerate(positions):
            outputs[pos] = function_output(ctx, outputs[pos], input_ids, input_bases, dirty_ids, non_diff_ids, k)
        for t in saved:
            if t is not None and not isinstance(t, _TensorBase):
                raise TypeError(f"save_for_backward can only save variables, but argument "
                                f"{list(saved).index(t)} is of type {type(t).__name__}")
        arr = tensor_array(saved, n_saved)
        check(cg_function_save(node, arr, n_saved))
    finally:
        free(arr)
        cg_node_release(node)  # the outputs hold it now; with none, it dies and frees ctx


# ---- anomaly mode -------------------------------------------------------------------

cdef class _AnomalyRecord:
    """Where a node was made: the Python stack then, and the record of the
    node whose backward made it (create_graph), with that node's name."""
    cdef readonly object stack
    cdef readonly object parent
    cdef readonly str parent_name

    def formatted(self):
        return "".join(_traceback.format_list(self.stack))


_anomaly_live = 0  # records alive, for tests of their release
_AUTOGRAD_DIR = _os.path.join(_os.path.dirname(__file__), "autograd", "")  # its frames are not the user's


cdef void *capture_record(void *parent, const char *parent_name) noexcept:
    global _anomaly_live
    cdef _AnomalyRecord rec
    try:
        rec = _AnomalyRecord.__new__(_AnomalyRecord)
        frames = _traceback.StackSummary.extract(_traceback.walk_stack(None), lookup_lines=False)
        frames.reverse()
        rec.stack = _traceback.StackSummary.from_list([f for f in frames if not f.filename.startswith(_AUTOGRAD_DIR)])
        rec.parent = <object>parent if parent != NULL else None
        rec.parent_name = parent_name.decode() if parent_name != NULL else None
        Py_INCREF(rec)
        _anomaly_live += 1
        return <void *>rec
    except BaseException:
        return NULL  # the node then just has no record


cdef void *anomaly_capture(void *parent, const char *parent_name) noexcept nogil:
    with gil:
        return capture_record(parent, parent_name)


cdef void release_record(void *record) noexcept:
    global _anomaly_live
    _anomaly_live -= 1
    Py_DECREF(<object>record)


cdef void anomaly_release(void *record) noexcept nogil:
    if record != NULL:
        with gil:
            release_record(record)


def _anomaly_records_alive():
    return _anomaly_live


cdef list anomaly_messages(object rec, str name):
    """PyTorch's warnings for a failure in node `name`: where it was made, then
    where each node whose backward made it was made."""
    if rec is None:
        return [f"Error detected in {name}. No forward pass information available. Enable detect "
                "anomaly during forward pass for more information."]
    out = [f"Error detected in {name}. Traceback of forward call that caused the error:\n"
           f"{rec.formatted()}"]
    while rec.parent_name is not None:
        name, rec = rec.parent_name, rec.parent
        if rec is None:
            out.append(f"Error detected in {name}. No forward pass information available. Enable detect "
                       "anomaly during forward pass for more information.")
            break
        out.append(f"\n\nPrevious calculation was induced by {name}. Traceback of forward call that "
                   f"induced the previous calculation:\n{rec.formatted()}")
    return out


cdef void anomaly_report(void *record, const char *node_name) noexcept nogil:
    with gil:
        try:
            messages = anomaly_messages(<object>record if record != NULL else None, node_name.decode())
            _pending.note = "".join(messages)
            for m in messages:
                warnings.warn(m, UserWarning, stacklevel=_user_stacklevel())
        except BaseException:
            pass


cg_set_anomaly_callbacks(anomaly_capture, anomaly_release, anomaly_report)


def _set_anomaly_enabled(bint mode, bint check_nan=True):
    cg_set_anomaly_enabled(mode, check_nan)


def _is_anomaly_enabled():
    return bool(cg_is_anomaly_enabled())


def _is_anomaly_check_nan_enabled():
    return bool(cg_is_anomaly_check_nan_enabled())


def _anomaly_trace(node):
    """The formatted stack where node was made in anomaly mode, or None."""
    cdef void *rec = cg_node_anomaly((<Node>node).n)
    return (<_AnomalyRecord>rec).formatted() if rec != NULL else None


def _has_nan(_TensorBase t):
    return bool(cg_tensor_has_nan(t.t))
