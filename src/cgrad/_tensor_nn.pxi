# Fused neural-network kernels and optimizer steps. Included by _C.pyx.
# The module-level functions with a leading underscore are the C calls behind
# cgrad.nn.functional and cgrad.optim; they take reductions as PyTorch's enum
# (0 'none', 1 'mean', 2 'sum').


cdef class _TensorNN(_TensorIndex):
    """Fused neural-network kernels."""

    def softmax(self, dim, dtype=None):
        src = self if dtype is None else self.to(dtype)
        return wrap(cg_softmax((<_TensorBase>src).t, int_arg(dim, "softmax", "dim")))

    def log_softmax(self, dim, dtype=None):
        src = self if dtype is None else self.to(dtype)
        return wrap(cg_log_softmax((<_TensorBase>src).t, int_arg(dim, "log_softmax", "dim")))

    @property
    def data(self):
        return wrap(cg_detach(self.t))

    @data.setter
    def data(self, value):
        if not isinstance(value, _TensorBase):
            raise TypeError(f"data must be a Tensor, got {type(value).__name__}")
        check(cg_tensor_set_data(self.t, (<_TensorBase>value).t))

    @staticmethod
    def _make_subclass(cls, data, require_grad=False):
        """A cls instance (a Tensor subclass) sharing data's memory, without its history."""
        if not isinstance(data, _TensorBase):
            raise TypeError(f"expected a Tensor as data, got {type(data).__name__}")
        if not (isinstance(cls, type) and issubclass(cls, Tensor)):
            raise TypeError(f"cls must be a subclass of Tensor, got {cls!r}")
        if require_grad and not data.dtype.is_floating_point:
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        cdef cg_tensor *t = cg_detach((<_TensorBase>data).t)
        if t == NULL:
            raise_error()
        cdef _TensorBase r = _tensor_alloc(<type>cls, <PyObject *>(), NULL)  # Cython's allocator, not the legacy one
        r.t = t
        cg_tensor_set_pyobj(t, <void *>r)
        check(cg_tensor_set_requires_grad(t, bool(require_grad)))
        return r


def softmax(input, dim, dtype=None):
    return input.softmax(dim, dtype)


def log_softmax(input, dim, dtype=None):
    return input.log_softmax(dim, dtype)


def set_num_threads(int num):
    """Sets the number of threads the BLAS behind linear layers and matmul uses."""
    if num <= 0:
        raise RuntimeError(f"set_num_threads expects a positive integer, but got {num}")
    cg_set_num_threads(num)


def get_num_threads():
    return cg_get_num_threads()


cdef cg_tensor *nn_optional(object x, str name) except? NULL:
    """x's C tensor, or NULL for None."""
    if x is None:
        return NULL
    if not isinstance(x, _TensorBase):
        raise TypeError(f"{name} must be a Tensor or None, got {type(x).__name__}")
    return (<_TensorBase>x).t


cdef _TensorBase nn_required(object x, str name):
    if not isinstance(x, _TensorBase):
        raise TypeError(f"{name} must be a Tensor, not {type(x).__name__}")
    return <_TensorBase>x


def _linear(input, weight, bias):
    return wrap(cg_linear(nn_required(input, "input").t, nn_required(weight, "weight").t, nn_optional(bias, "bias")))


def _nll_loss(input, target, weight, int reduction, int64_t ignore_index):
    return wrap(cg_nll_loss(nn_required(input, "input").t, nn_required(target, "target").t, nn_optional(weight, "weight"),
                            reduction, ignore_index))


def _cross_entropy(input, target, weight, int reduction, int64_t ignore_index):
    return wrap(cg_cross_entropy(nn_required(input, "input").t, nn_required(target, "target").t,
                                 nn_optional(weight, "weight"), reduction, ignore_index))


def _layer_norm(input, normalized_shape, weight, bias, double eps):
    cdef int64_t shape[8]
    cdef int k = parse_shape((tuple(normalized_shape),), shape)
    return wrap(cg_layer_norm(nn_required(input, "input").t, shape, k, nn_optional(weight, "weight"),
                              nn_optional(bias, "bias"), eps))


def _gelu(input, bint approximate_tanh):
    return wrap(cg_gelu(nn_required(input, "input").t, approximate_tanh))


def _leaky_relu(input, double negative_slope):
    return wrap(cg_leaky_relu(nn_required(input, "input").t, negative_slope))


def _silu(_TensorBase input):
    return wrap(cg_silu(input.t))


def _elu(_TensorBase input, double alpha, double scale, double input_scale):
    return wrap(cg_elu(input.t, alpha, scale, input_scale))


def _celu(_TensorBase input, double alpha):
    return wrap(cg_celu(input.t, alpha))


def _elu_(_TensorBase input, double alpha, double scale, double input_scale):
    return wrap(cg_elu_(input.t, alpha, scale, input_scale))


def _celu_(_TensorBase input, double alpha):
    return wrap(cg_celu_(input.t, alpha))


def _softplus(_TensorBase input, double beta, double threshold):
    return wrap(cg_softplus(input.t, beta, threshold))


def _hardtanh(_TensorBase input, double min_val, double max_val):
    return wrap(cg_hardtanh(input.t, min_val, max_val))


def _hardsigmoid(_TensorBase input):
    return wrap(cg_hardsigmoid(input.t))


def _hardswish(_TensorBase input):
    return wrap(cg_hardswish(input.t))


def _mish(_TensorBase input):
    return wrap(cg_mish(input.t))


def _glu(_TensorBase input, int64_t dim):
    return wrap(cg_glu(input.t, dim))


def _silu_(_TensorBase input):
    return wrap(cg_silu_(input.t))


def _hardtanh_(_TensorBase input, double min_val, double max_val):
    return wrap(cg_hardtanh_(input.t, min_val, max_val))


def _hardsigmoid_(_TensorBase input):
    return wrap(cg_hardsigmoid_(input.t))


def _hardswish_(_TensorBase input):
    return wrap(cg_hardswish_(input.t))


def _mish_(_TensorBase input):
    return wrap(cg_mish_(input.t))


def _mse_loss(input, target, int reduction):
    return wrap(cg_mse_loss(nn_required(input, "input").t, nn_required(target, "target").t, reduction))


def _huber_loss(input, target, int reduction, double delta):
    return wrap(cg_huber_loss(nn_required(input, "input").t, nn_required(target, "target").t, reduction, delta))


def _binary_cross_entropy(input, target, weight, int reduction):
    return wrap(cg_binary_cross_entropy(nn_required(input, "input").t, nn_required(target, "target").t,
                                        nn_optional(weight, "weight"), reduction))


def _binary_cross_entropy_with_logits(input, target, weight, pos_weight, int reduction):
    return wrap(cg_binary_cross_entropy_with_logits(nn_required(input, "input").t, nn_required(target, "target").t,
                                                    nn_optional(weight, "weight"), nn_optional(pos_weight, "pos_weight"),
                                                    reduction))


def _embedding(weight, indices, int64_t padding_idx):
    return wrap(cg_embedding(nn_required(weight, "weight").t, nn_required(indices, "indices").t, padding_idx))


def _dropout(input, double p, generator=None):
    return wrap(cg_dropout(nn_required(input, "input").t, p, gen_ptr(generator)))


def _one_hot(tensor, num_classes):
    num_classes = int_arg(num_classes, "one_hot", "num_classes")
    return wrap(cg_one_hot(nn_required(tensor, "tensor").t, num_classes))


# ---- optimizer steps ------------------------------------------------------------
# Each takes a group's parameters and its state as lists parallel to them
# (None where a parameter has no state yet) and makes one C call for all.

cdef class _Tensors:
    """A C array of the tensors of a list (NULL for None), kept alive with it."""
    cdef cg_tensor **arr
    cdef int n
    cdef object keep

    def __cinit__(self, seq, str what, bint allow_none=False):
        self.keep = seq
        self.n = len(seq)
        self.arr = <cg_tensor **>malloc(max(self.n, 1) * sizeof(cg_tensor *))
        if self.arr == NULL:
            raise MemoryError()
        for i in range(self.n):
            x = seq[i]
            if x is None and allow_none:
                self.arr[i] = NULL
            elif isinstance(x, _TensorBase):
                self.arr[i] = (<_TensorBase>x).t
            else:
                raise TypeError(f"{what} must be Tensors, got {type(x).__name__}")

    def __dealloc__(self):
        free(self.arr)


cdef _Tensors state_list(object seq, int n, str what):
    if seq is None:
        seq = [None] * n
    if len(seq) != n:
        raise ValueError(f"{what}: expected {n} entries, got {len(seq)}")
    return _Tensors(seq, what, True)


def _sgd_step(params, momentum_buffers, double lr, double momentum, double dampening, double weight_decay,
              bint nesterov, bint maximize):
    """Updates params; new momentum buffers are stored into momentum_buffers (a list)."""
    cdef _Tensors p = _Tensors(params, "params")
    cdef _Tensors b = state_list(momentum_buffers, p.n, "momentum_buffers")
    cdef cg_tensor **before = <cg_tensor **>malloc(max(p.n, 1) * sizeof(cg_tensor *))
    if before == NULL:
        raise MemoryError()
    cdef int rc, i
    for i in range(p.n):
        before[i] = b.arr[i]
    rc = cg_sgd_step(p.arr, b.arr, p.n, lr, momentum, dampening, weight_decay, nesterov, maximize)
    for i in range(p.n):
        if b.arr[i] != before[i]:
            momentum_buffers[i] = wrap(b.arr[i])
    free(before)
    check(rc)


def _adam_step(params, steps, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, double lr, double beta1, double beta2,
               double eps, double weight_decay, bint amsgrad, bint maximize, bint decoupled_weight_decay):
    cdef _Tensors p = _Tensors(params, "params")
    cdef _Tensors st = state_list(steps, p.n, "steps")
    cdef _Tensors m = state_list(exp_avgs, p.n, "exp_avgs")
    cdef _Tensors v = state_list(exp_avg_sqs, p.n, "exp_avg_sqs")
    cdef _Tensors vmax = state_list(max_exp_avg_sqs, p.n, "max_exp_avg_sqs")
    check(cg_adam_step(p.arr, st.arr, m.arr, v.arr, vmax.arr, p.n, lr, beta1, beta2, eps, weight_decay, amsgrad,
                       maximize, decoupled_weight_decay))


def _rmsprop_step(params, steps, square_avgs, grad_avgs, momentum_buffers, double lr, double alpha, double eps,
                  double weight_decay, double momentum, bint centered, bint maximize):
    cdef _Tensors p = _Tensors(params, "params")
    cdef _Tensors st = state_list(steps, p.n, "steps")
    cdef _Tensors sq = state_list(square_avgs, p.n, "square_avgs")
    cdef _Tensors ga = state_list(grad_avgs, p.n, "grad_avgs")
    cdef _Tensors b = state_list(momentum_buffers, p.n, "momentum_buffers")
    check(cg_rmsprop_step(p.arr, st.arr, sq.arr, ga.arr, b.arr, p.n, lr, alpha, eps, weight_decay, momentum,
                          centered, maximize))


def _adagrad_step(params, steps, sums, double lr, double lr_decay, double weight_decay, double eps, bint maximize):
    cdef _Tensors p = _Tensors(params, "params")
    cdef _Tensors st = state_list(steps, p.n, "steps")
    cdef _Tensors s = state_list(sums, p.n, "sums")
    check(cg_adagrad_step(p.arr, st.arr, s.arr, p.n, lr, lr_decay, weight_decay, eps, maximize))


def _adamax_step(params, steps, exp_avgs, exp_infs, double lr, double beta1, double beta2, double eps,
                 double weight_decay, bint maximize):
    cdef _Tensors p = _Tensors(params, "params")
    cdef _Tensors st = state_list(steps, p.n, "steps")
    cdef _Tensors m = state_list(exp_avgs, p.n, "exp_avgs")
    cdef _Tensors u = state_list(exp_infs, p.n, "exp_infs")
    check(cg_adamax_step(p.arr, st.arr, m.arr, u.arr, p.n, lr, beta1, beta2, eps, weight_decay, maximize))


def _nadam_step(params, steps, mu_products, exp_avgs, exp_avg_sqs, double lr, double beta1, double beta2,
                double eps, double weight_decay, double momentum_decay, bint decoupled_weight_decay, bint maximize):
    cdef _Tensors p = _Tensors(params, "params")
    cdef _Tensors st = state_list(steps, p.n, "steps")
    cdef _Tensors mu = state_list(mu_products, p.n, "mu_products")
    cdef _Tensors m = state_list(exp_avgs, p.n, "exp_avgs")
    cdef _Tensors v = state_list(exp_avg_sqs, p.n, "exp_avg_sqs")
    check(cg_nadam_step(p.arr, st.arr, mu.arr, m.arr, v.arr, p.n, lr, beta1, beta2, eps, weight_decay,
                        momentum_decay, decoupled_weight_decay, maximize))


def _radam_step(params, steps, exp_avgs, exp_avg_sqs, double lr, double beta1, double beta2, double eps,
                double weight_decay, bint decoupled_weight_decay, bint maximize):
    cdef _Tensors p = _Tensors(params, "params")
    cdef _Tensors st = state_list(steps, p.n, "steps")
    cdef _Tensors m = state_list(exp_avgs, p.n, "exp_avgs")
    cdef _Tensors v = state_list(exp_avg_sqs, p.n, "exp_avg_sqs")
    check(cg_radam_step(p.arr, st.arr, m.arr, v.arr, p.n, lr, beta1, beta2, eps, weight_decay,
                        decoupled_weight_decay, maximize))


def _adadelta_step(params, steps, square_avgs, acc_deltas, double lr, double rho, double eps, double weight_decay,
                   bint maximize):
    cdef _Tensors p = _Tensors(params, "params")
    cdef _Tensors st = state_list(steps, p.n, "steps")
    cdef _Tensors sq = state_list(square_avgs, p.n, "square_avgs")
    cdef _Tensors ad = state_list(acc_deltas, p.n, "acc_deltas")
    check(cg_adadelta_step(p.arr, st.arr, sq.arr, ad.arr, p.n, lr, rho, eps, weight_decay, maximize))


def _rprop_step(params, steps, prevs, step_sizes, double etaminus, double etaplus, double step_size_min,
                double step_size_max, bint maximize):
    cdef _Tensors p = _Tensors(params, "params")
    cdef _Tensors st = state_list(steps, p.n, "steps")
    cdef _Tensors pv = state_list(prevs, p.n, "prevs")
    cdef _Tensors ss = state_list(step_sizes, p.n, "step_sizes")
    check(cg_rprop_step(p.arr, st.arr, pv.arr, ss.arr, p.n, etaminus, etaplus, step_size_min, step_size_max,
                        maximize))


def _asgd_step(params, steps, etas, mus, axs, double lr, double lambd, double alpha, double t0, double weight_decay,
               bint maximize):
    cdef _Tensors p = _Tensors(params, "params")
    cdef _Tensors st = state_list(steps, p.n, "steps")
    cdef _Tensors e = state_list(etas, p.n, "etas")
    cdef _Tensors mu = state_list(mus, p.n, "mus")
    cdef _Tensors ax = state_list(axs, p.n, "axs")
    check(cg_asgd_step(p.arr, st.arr, e.arr, mu.arr, ax.arr, p.n, lr, lambd, alpha, t0, weight_decay, maximize))


def _clip_grad_norm(params, double max_norm, double norm_type, bint error_if_nonfinite):
    cdef _Tensors p = _Tensors(params, "parameters")
    return wrap(cg_clip_grad_norm_(p.arr, p.n, max_norm, norm_type, error_if_nonfinite))


def _clip_grad_value(params, double clip_value):
    cdef _Tensors p = _Tensors(params, "parameters")
    check(cg_clip_grad_value_(p.arr, p.n, clip_value))


def _zero_grad(params, bint set_to_none):
    cdef _Tensors p = _Tensors(params, "params")
    check(cg_zero_grad(p.arr, p.n, set_to_none))
