/*
 * cgrad.h -- the one public header of the cgrad C core.
 *
 * cgrad is PyTorch's eager autograd as a C library. Three objects:
 *
 *   cg_storage  a refcounted buffer with a version counter; views share it.
 *   cg_tensor   a refcounted strided view of a storage (dtype, shape, strides,
 *               offset) plus its autograd part: requires_grad, grad, grad_fn.
 *   cg_node     one applied operation in the graph. Its next edges point at the
 *               nodes that produced its inputs; its backward function turns the
 *               gradient of its outputs into gradients of its inputs.
 *
 * An Edge is a (node, input_nr) pair: input_nr says which output of that node
 * the value came from. Gradients arriving at the same edge are summed.
 *
 *     cg_tensor *x = cg_full((int64_t[]){1}, 1, 2.0, CG_FLOAT32);
 *     cg_tensor_set_requires_grad(x, 1);
 *     cg_tensor *y = cg_mul(x, x);                 // y = x^2, MulBackward0
 *     cg_tensor *z = cg_add(y, y);                 // z = 2x^2
 *     if (!z) fprintf(stderr, "%s\n", cg_error_message());
 *     cg_backward(&z, NULL, 1, 0, 0);              // x->grad = 4x = 8
 *     double g = cg_tensor_item(x->grad);
 *     cg_tensor_release(z); cg_tensor_release(y); cg_tensor_release(x);
 *
 * Ownership: every function returning a pointer returns a NEW reference that
 * the caller releases (cg_tensor_release / cg_node_release), unless its comment
 * says "borrowed". Arguments are borrowed unless the comment says "steals".
 * Errors: functions return NULL (pointers) or -1 (ints) and set the
 * thread-local error (cg_error_kind / cg_error_message). Nothing aborts or
 * prints.
 */
#ifndef CGRAD_H
#define CGRAD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CG_MAX_DIMS 8

/* Enum values are only ever appended. */
typedef enum cg_dtype {
    CG_FLOAT32 = 0,
    CG_FLOAT64 = 1,
    CG_INT64 = 2,
    CG_BOOL = 3,
} cg_dtype;
#define CG_NUM_DTYPES 4

typedef enum cg_errkind {
    CG_OK = 0,
    CG_ERR_VALUE = 1,    /* ValueError */
    CG_ERR_TYPE = 2,     /* TypeError */
    CG_ERR_INDEX = 3,    /* IndexError */
    CG_ERR_RUNTIME = 4,  /* RuntimeError */
    CG_ERR_MEMORY = 5,   /* allocation failed (RuntimeError, as PyTorch) */
    CG_ERR_NOTIMPL = 6,  /* NotImplementedError */
    CG_ERR_EXTERNAL = 7, /* a callback (Python hook) failed; it kept its own error */
    CG_ERR_LINALG = 8,   /* a matrix LAPACK cannot factor (torch.linalg.LinAlgError, a RuntimeError) */
} cg_errkind;

typedef struct cg_storage cg_storage;
typedef struct cg_tensor cg_tensor;
typedef struct cg_node cg_node;

/* Releases a borrowed external buffer (e.g. a numpy array's memory). May run
 * on any thread, without the GIL. */
typedef void (*cg_deleter)(void *data, void *ctx);

struct cg_storage {
    int64_t refcount;   /* atomic */
    void *data;
    int64_t nbytes;
    uint64_t version;   /* bumped by every in-place write; shared by views */
    cg_deleter deleter; /* NULL: cgrad owns data */
    void *deleter_ctx;
    _Alignas(16) unsigned char inline_buf[16]; /* data of tiny tensors */
};

struct cg_tensor {
    /* The first cache line holds all that a release reads: a big graph's
     * intermediate values die, far out of cache, touching only that line. */
    int64_t refcount; /* atomic */
    cg_storage *storage;
    int32_t ndim;
    uint8_t dtype;          /* cg_dtype */
    uint8_t requires_grad;  /* leaves: the flag; non-leaves: grad_fn != NULL */
    uint8_t retains_grad;
    uint8_t is_wrapped;     /* a Python scalar turned into a 0-d tensor */
    uint32_t output_nr;     /* which output of grad_fn this is */
    uint8_t had_hooks;      /* hooks was ever set: when 0, a release need not read it */
    uint8_t view_no_grad;   /* views: 1 made in no_grad mode, 2 made of such a view (Note [Views made in no_grad]) */
    cg_node *grad_fn;  /* owned, NULL for leaves */
    void *pyobj;       /* borrowed back-pointer to the Python wrapper, or NULL */
    cg_tensor *base;   /* owned: the tensor this one is a view of, or NULL */
    cg_tensor *grad;   /* owned, or NULL */
    int64_t offset; /* in elements */
    int64_t numel;
    cg_node *grad_acc; /* borrowed: the leaf's AccumulateGrad node, cleared when it dies */
    struct cg_hook *hooks; /* leaves: gradient hooks run before accumulation */
    uint64_t view_version; /* views: the storage version their grad_fn was made at */
    int64_t shape[CG_MAX_DIMS];
    int64_t strides[CG_MAX_DIMS]; /* in elements */
};

/* ---- errors ------------------------------------------------------------ */
cg_errkind cg_error_kind(void);
const char *cg_error_message(void); /* borrowed, valid until the next error */
void cg_error_set(cg_errkind kind, const char *fmt, ...);
void cg_error_clear(void);

/* ---- dtypes ------------------------------------------------------------ */
int64_t cg_dtype_size(cg_dtype dtype);
const char *cg_dtype_name(cg_dtype dtype); /* "float32", ... (static) */
int cg_dtype_is_floating(cg_dtype dtype);
cg_dtype cg_get_default_dtype(void);
int cg_set_default_dtype(cg_dtype dtype); /* floating types only */
/* The dtype PyTorch's promotion gives a binary op between a and b. */
cg_dtype cg_result_type(const cg_tensor *a, const cg_tensor *b);

/* ---- storage and tensors ----------------------------------------------- */
void cg_storage_retain(cg_storage *s);
void cg_storage_release(cg_storage *s);
void cg_tensor_retain(cg_tensor *t);
void cg_tensor_release(cg_tensor *t); /* NULL allowed */
/* Sets t->pyobj, the binding's wrapper of t (borrowed; NULL when it dies). */
void cg_tensor_set_pyobj(cg_tensor *t, void *obj);
/* The wrapper obj dies: clears t->pyobj if it is obj, and releases t (the
 * wrapper's reference). `next` and `after` (not owned, possibly dead, never
 * written; NULL allowed) are guesses at tensors released soon after: see
 * Note [Dropping results in a row] in tensor.c. */
void cg_tensor_release_wrapper(cg_tensor *t, void *obj, const cg_tensor *next, const cg_tensor *after);

/* Uninitialised / filled tensors of the given shape. */
cg_tensor *cg_empty(const int64_t *shape, int ndim, cg_dtype dtype);
cg_tensor *cg_zeros(const int64_t *shape, int ndim, cg_dtype dtype);
cg_tensor *cg_ones(const int64_t *shape, int ndim, cg_dtype dtype);
cg_tensor *cg_full(const int64_t *shape, int ndim, double value, cg_dtype dtype);
/* A new tensor with t's shape and dtype, uninitialised. */
cg_tensor *cg_empty_like(const cg_tensor *t);
/* A copy of `data` (contiguous, row-major, nbytes = numel * itemsize). */
cg_tensor *cg_from_data(const void *data, const int64_t *shape, int ndim, cg_dtype dtype);
/* A tensor over external memory, which stays alive until deleter(data, ctx)
 * is called. `strides` in elements; NULL means contiguous. Steals nothing;
 * on failure the deleter is NOT called. */
cg_tensor *cg_from_blob(void *data, const int64_t *shape, const int64_t *strides, int ndim,
                        cg_dtype dtype, cg_deleter deleter, void *ctx);
/* A 0-d tensor holding a Python-style scalar, in the dtype PyTorch uses for a
 * wrapped number next to `like` (may be NULL): a float value next to a float
 * tensor takes its dtype, next to an integer tensor the default dtype; an
 * integer value takes an integer or floating tensor's dtype. kind is
 * CG_FLOAT64 for a float, CG_INT64 for an int, CG_BOOL for a bool. */
cg_tensor *cg_scalar_tensor(double value, cg_dtype kind, const cg_tensor *like);
/* The same, possibly shared with earlier calls: the caller must never write
 * into it (operands of an op are fine). New reference. */
cg_tensor *cg_scalar_cached(double value, cg_dtype kind, const cg_tensor *like);

int cg_tensor_is_contiguous(const cg_tensor *t);
double cg_tensor_item(const cg_tensor *t); /* one element, any dtype, as double; NaN+error if numel != 1 */
/* Pointer to the first element (borrowed). */
void *cg_tensor_data(const cg_tensor *t);

/* ---- threads ----------------------------------------------------------- */
/* Any thread may call the library and hold any object: counts change
 * atomically. A caller that makes all its calls under one lock of its own
 * may declare it (cg_set_serialized(1)) and must then bracket each call it
 * makes without holding that lock between cg_unserialized_begin() and
 * cg_unserialized_end(), both called with the lock held. While no such call
 * runs, counts change by plain, cheaper instructions. */
void cg_set_serialized(int on);
void cg_unserialized_begin(void);
void cg_unserialized_end(void);

/* ---- autograd state of a tensor ---------------------------------------- */
int cg_is_grad_enabled(void);     /* thread-local */
void cg_set_grad_enabled(int on); /* thread-local */
int cg_tensor_set_requires_grad(cg_tensor *t, int on); /* leaves only; floating only */
/* t's grad_fn (borrowed, NULL for leaves), remade first if t is a view whose
 * base was written in place since its history was recorded. */
cg_node *cg_tensor_grad_fn(cg_tensor *t);
int cg_tensor_is_leaf(const cg_tensor *t);
/* Replaces t->grad; g may be NULL. Checks shape and dtype like PyTorch. */
int cg_tensor_set_grad(cg_tensor *t, cg_tensor *g);
/* Non-leaf tensors keep their .grad after backward. */
int cg_tensor_retain_grad(cg_tensor *t);
/* A new tensor sharing t's data, with no autograd history. */
cg_tensor *cg_detach(cg_tensor *t);
/* Cuts t from its graph in place (t becomes a leaf that does not require grad). */
int cg_detach_(cg_tensor *t);

/* ---- graph ------------------------------------------------------------- */
void cg_node_retain(cg_node *n);
void cg_node_release(cg_node *n); /* NULL allowed; frees chains iteratively */
const char *cg_node_name(const cg_node *n); /* borrowed */
int cg_node_num_next(const cg_node *n);
/* Borrowed node (NULL for an input that needs no gradient) and its input_nr. */
cg_node *cg_node_next(const cg_node *n, int i, uint32_t *input_nr);
/* For an AccumulateGrad node: the leaf it accumulates into (borrowed), else NULL. */
cg_tensor *cg_node_variable(const cg_node *n);
uint64_t cg_node_sequence_nr(const cg_node *n);
/* A slot for the wrapper object of a binding (borrowed; cgrad never reads it). */
void *cg_node_get_user(const cg_node *n);
void cg_node_set_user(cg_node *n, void *user);

/* Gradient hooks. fn gets the gradient (borrowed) and may set *out to a new
 * reference replacing it. It returns 0, or -1 after storing its own error
 * (then cgrad reports CG_ERR_EXTERNAL). release(ctx) runs once the hook is
 * removed, or its owner dies, and no call of it is in flight, on any thread;
 * the handle keeps only the hook, not ctx. */
typedef struct cg_hook cg_hook;
typedef int (*cg_hook_fn)(void *ctx, cg_tensor *grad, cg_tensor **out);
typedef void (*cg_hook_release)(void *ctx);
/* Registers a hook on t's gradient (hooks run in registration order).
 * Returns a handle, a new reference released with cg_hook_handle_release,
 * or NULL. The handle stays valid after t dies. */
cg_hook *cg_tensor_register_hook(cg_tensor *t, cg_hook_fn fn, void *ctx, cg_hook_release release);
/* A hook run after a leaf's .grad was updated by backward; fn gets the leaf
 * itself (its *out is ignored). Leaves only. */
cg_hook *cg_tensor_register_post_accumulate_hook(cg_tensor *t, cg_hook_fn fn, void *ctx, cg_hook_release release);
/* Unregisters h wherever it is: it does not run again. */
void cg_hook_remove(cg_hook *h);
void cg_hook_handle_release(cg_hook *h); /* NULL allowed */
int64_t cg_hook_id(const cg_hook *h);

/* ---- backward ---------------------------------------------------------- */
/* Accumulates d(roots)/d(leaves) into the leaves' .grad. grads[i] is the
 * gradient of roots[i] (NULL: ones, roots[i] must have one element).
 * With `inputs` (n_inputs > 0) only those tensors' .grad are accumulated.
 * Runs without Python; hooks, custom Functions and anomaly mode are the only
 * callbacks. With create_graph the formulas record nodes (grad mode is
 * create_graph during the run) and .grad is accumulated out of place.
 * Without retain_graph each node frees its saved tensors once it has run
 * (PyTorch's default for retain_graph is the value of create_graph). */
int cg_backward(cg_tensor *const *roots, cg_tensor *const *grads, int n,
                int retain_graph, int create_graph);
int cg_backward_inputs(cg_tensor *const *roots, cg_tensor *const *grads, int n,
                       int retain_graph, int create_graph,
                       cg_tensor *const *inputs, int n_inputs);
/* autograd.grad: writes d(roots)/d(inputs[j]) into out[j] (new references,
 * NULL where an input is unused; an error then unless allow_unused).
 * Leaves' .grad is untouched. */
int cg_grad(cg_tensor *const *roots, cg_tensor *const *grads, int n,
            cg_tensor *const *inputs, int n_inputs, int retain_graph, int create_graph,
            int allow_unused, cg_tensor **out);

/* The backward pass running on this thread, innermost first when a hook
 * runs another: its id (-1 outside backward), and whether it runs node n
 * (or, for grad() and backward(inputs=), captures the gradient n receives). */
int64_t cg_current_run_id(void);
int cg_node_will_execute(const cg_node *n);

/* ---- element-wise ops (broadcasting, type promotion) -------------------- */
cg_tensor *cg_add(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_sub(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_rsub(cg_tensor *a, cg_tensor *b); /* b - a, as Python's `number - tensor` */
/* a + alpha b and a - alpha b, rounded once (fma) as PyTorch rounds them.
 * alpha is a wrapped number (cg_scalar_tensor) of the Python number's kind:
 * bool, int64 or float64, which decides what it may scale. */
cg_tensor *cg_add_alpha(cg_tensor *a, cg_tensor *b, cg_tensor *alpha);
cg_tensor *cg_sub_alpha(cg_tensor *a, cg_tensor *b, cg_tensor *alpha);
cg_tensor *cg_mul(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_div(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_pow(cg_tensor *a, cg_tensor *b);   /* tensor ** tensor */
cg_tensor *cg_pow_scalar(cg_tensor *a, double exponent); /* tensor ** number */
cg_tensor *cg_rpow_scalar(double base, cg_tensor *e);    /* number ** tensor */
cg_tensor *cg_neg(cg_tensor *a);
cg_tensor *cg_exp(cg_tensor *a);
cg_tensor *cg_log(cg_tensor *a);
cg_tensor *cg_tanh(cg_tensor *a);
cg_tensor *cg_sigmoid(cg_tensor *a);
cg_tensor *cg_relu(cg_tensor *a);
/* Casts to dtype (a copy, differentiable between floating types). */
cg_tensor *cg_to_dtype(cg_tensor *a, cg_dtype dtype);

/* In place: a op= b, b broadcast to a's shape. Returns a (new reference). */
cg_tensor *cg_add_(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_sub_(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_add_alpha_(cg_tensor *a, cg_tensor *b, cg_tensor *alpha);
cg_tensor *cg_sub_alpha_(cg_tensor *a, cg_tensor *b, cg_tensor *alpha);
cg_tensor *cg_mul_(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_div_(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_zero_(cg_tensor *a);
cg_tensor *cg_fill_(cg_tensor *a, double value);
/* fill_ with a 0-d tensor: its gradient is the sum of the filled elements' (FillBackward3). */
cg_tensor *cg_fill_tensor_(cg_tensor *a, cg_tensor *value);
/* dst[...] = src (broadcast, cast). Returns dst (new reference). */
cg_tensor *cg_copy_(cg_tensor *dst, cg_tensor *src);

/* ---- element-wise math and comparisons (ops_math.c) ------------------------ */
/* All broadcast and promote like PyTorch. Unary ops on integer or bool
 * tensors compute in the default float dtype, except abs, sign and square,
 * which keep integer dtypes (square of bool gives int64). */
cg_tensor *cg_abs(cg_tensor *a);
cg_tensor *cg_sign(cg_tensor *a);
cg_tensor *cg_sgn(cg_tensor *a); /* sign, recorded as sgn (SgnBackward0) */
cg_tensor *cg_floor(cg_tensor *a); /* floor, ceil, round (ties to even), trunc: integers as they are */
cg_tensor *cg_ceil(cg_tensor *a);
cg_tensor *cg_round(cg_tensor *a);
cg_tensor *cg_trunc(cg_tensor *a);
cg_tensor *cg_frac(cg_tensor *a); /* a - trunc(a), floating only */
cg_tensor *cg_exp2(cg_tensor *a);
cg_tensor *cg_log2(cg_tensor *a);
cg_tensor *cg_log10(cg_tensor *a);
cg_tensor *cg_log1p(cg_tensor *a);
cg_tensor *cg_expm1(cg_tensor *a);
cg_tensor *cg_sqrt(cg_tensor *a);
cg_tensor *cg_rsqrt(cg_tensor *a);
cg_tensor *cg_sin(cg_tensor *a);
cg_tensor *cg_cos(cg_tensor *a);
cg_tensor *cg_tan(cg_tensor *a);
cg_tensor *cg_sinh(cg_tensor *a);
cg_tensor *cg_cosh(cg_tensor *a);
cg_tensor *cg_asin(cg_tensor *a);
cg_tensor *cg_acos(cg_tensor *a);
cg_tensor *cg_atan(cg_tensor *a);
cg_tensor *cg_asinh(cg_tensor *a);
cg_tensor *cg_acosh(cg_tensor *a); /* NaN below 1 */
cg_tensor *cg_atanh(cg_tensor *a); /* +-inf at +-1, NaN outside [-1, 1] */
cg_tensor *cg_erf(cg_tensor *a);
cg_tensor *cg_erfc(cg_tensor *a); /* 1 - erf(a) without cancellation for large a */
cg_tensor *cg_sinc(cg_tensor *a); /* sin(pi a) / (pi a), 1 at 0 */
cg_tensor *cg_erfinv(cg_tensor *a); /* the inverse of erf: +-inf at +-1, NaN outside [-1, 1] */
cg_tensor *cg_reciprocal(cg_tensor *a);
cg_tensor *cg_lgamma(cg_tensor *a);  /* log|gamma(a)|: inf at 0 and the negative integers */
cg_tensor *cg_digamma(cg_tensor *a); /* gamma'(a) / gamma(a): -+inf at +-0, NaN at negative integers */
cg_tensor *cg_i0(cg_tensor *a);      /* the modified Bessel function of order 0; NaN at +-inf */
cg_tensor *cg_special_i1(cg_tensor *a); /* order 1 (i0's derivative) */
/* the n-th derivative of digamma; n < 0 is an error */
cg_tensor *cg_polygamma(int64_t n, cg_tensor *a);
/* log of the multivariate gamma function of dimension p >= 1 */
cg_tensor *cg_mvlgamma(cg_tensor *a, int64_t p);
/* a = polygamma(n, a) (PolygammaBackward1) and a = mvlgamma(a, p) in place, as cg_apply_ */
cg_tensor *cg_polygamma_(cg_tensor *a, int64_t n);
cg_tensor *cg_mvlgamma_(cg_tensor *a, int64_t p);
/* log(a / (1 - a)), a clamped to [eps, 1 - eps] first unless eps < 0 */
cg_tensor *cg_logit(cg_tensor *a, double eps);
cg_tensor *cg_square(cg_tensor *a);
/* torch.special: scaled erfc, scaled I0 and I1, the inverse normal CDF and its log, -x log(x) */
cg_tensor *cg_special_erfcx(cg_tensor *a);
cg_tensor *cg_special_i0e(cg_tensor *a);
cg_tensor *cg_special_i1e(cg_tensor *a);
cg_tensor *cg_special_ndtri(cg_tensor *a);
cg_tensor *cg_special_log_ndtr(cg_tensor *a);
cg_tensor *cg_special_entr(cg_tensor *a);
/* the standard normal CDF, composed as PyTorch composes it: (1 + erf(a / sqrt 2)) / 2 */
cg_tensor *cg_special_ndtr(cg_tensor *a);
/* Bessel and Airy functions (no gradient, as PyTorch); float results for integer inputs */
cg_tensor *cg_special_airy_ai(cg_tensor *a);
cg_tensor *cg_special_bessel_j0(cg_tensor *a);
cg_tensor *cg_special_bessel_j1(cg_tensor *a);
cg_tensor *cg_special_bessel_y0(cg_tensor *a);
cg_tensor *cg_special_bessel_y1(cg_tensor *a);
cg_tensor *cg_special_modified_bessel_i0(cg_tensor *a);
cg_tensor *cg_special_modified_bessel_i1(cg_tensor *a);
cg_tensor *cg_special_modified_bessel_k0(cg_tensor *a);
cg_tensor *cg_special_modified_bessel_k1(cg_tensor *a);
cg_tensor *cg_special_scaled_modified_bessel_k0(cg_tensor *a);
cg_tensor *cg_special_scaled_modified_bessel_k1(cg_tensor *a);
cg_tensor *cg_special_spherical_bessel_j0(cg_tensor *a);
/* x log1p(y) and Hurwitz's zeta(s, q); either operand may be a wrapped number */
cg_tensor *cg_special_xlog1py(cg_tensor *x, cg_tensor *y);
cg_tensor *cg_special_zeta(cg_tensor *s, cg_tensor *q);
/* orthogonal polynomials p_n(x), n truncated to an integer and broadcast with x (no gradient) */
cg_tensor *cg_special_chebyshev_polynomial_t(cg_tensor *x, cg_tensor *n);
cg_tensor *cg_special_chebyshev_polynomial_u(cg_tensor *x, cg_tensor *n);
cg_tensor *cg_special_chebyshev_polynomial_v(cg_tensor *x, cg_tensor *n);
cg_tensor *cg_special_chebyshev_polynomial_w(cg_tensor *x, cg_tensor *n);
cg_tensor *cg_special_shifted_chebyshev_polynomial_t(cg_tensor *x, cg_tensor *n);
cg_tensor *cg_special_shifted_chebyshev_polynomial_u(cg_tensor *x, cg_tensor *n);
cg_tensor *cg_special_shifted_chebyshev_polynomial_v(cg_tensor *x, cg_tensor *n);
cg_tensor *cg_special_shifted_chebyshev_polynomial_w(cg_tensor *x, cg_tensor *n);
cg_tensor *cg_special_hermite_polynomial_h(cg_tensor *x, cg_tensor *n);
cg_tensor *cg_special_hermite_polynomial_he(cg_tensor *x, cg_tensor *n);
cg_tensor *cg_special_laguerre_polynomial_l(cg_tensor *x, cg_tensor *n);
cg_tensor *cg_special_legendre_polynomial_p(cg_tensor *x, cg_tensor *n);
/* a = fn(a) in place, with fn's gradient; fn is one of the unary ops above
 * (or any op returning a new tensor of a's shape). The result must be
 * castable to a's dtype. Returns a (new reference). */
typedef cg_tensor *(*cg_unary_fn)(cg_tensor *a);
cg_tensor *cg_apply_(cg_tensor *a, cg_unary_fn fn);
/* a = fn(a, b) in place, as cg_apply_; b (possibly a wrapped number) must
 * broadcast to a's shape. For the comparisons (cg_eq ... cg_ge) a gets 1 and
 * 0 in its own dtype and a zero gradient. Returns a (new reference). */
typedef cg_tensor *(*cg_binary_fn)(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_apply2_(cg_tensor *a, cg_tensor *b, cg_binary_fn fn);

cg_tensor *cg_atan2(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_fmod(cg_tensor *a, cg_tensor *b);  /* the remainder with the sign of a, as C's fmod */
cg_tensor *cg_hypot(cg_tensor *a, cg_tensor *b); /* sqrt(a^2 + b^2) without overflow, floating only */
cg_tensor *cg_logaddexp(cg_tensor *a, cg_tensor *b); /* log(e^a + e^b) without overflow, floating only */
cg_tensor *cg_logaddexp2(cg_tensor *a, cg_tensor *b); /* log2(2^a + 2^b), floating only */
/* |a| with b's sign (b may be a wrapped number); integers compute in the default float dtype */
cg_tensor *cg_copysign(cg_tensor *a, cg_tensor *b);
/* the larger and smaller of a and b, a NaN operand ignored (NaN only when both are) */
cg_tensor *cg_fmax(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_nextafter(cg_tensor *a, cg_tensor *b);  /* floating only; d/da = 1, d/db = 0 */
cg_tensor *cg_heaviside(cg_tensor *a, cg_tensor *b);  /* one dtype; no derivative */
cg_tensor *cg_bitwise_left_shift(cg_tensor *a, cg_tensor *b);  /* integers */
cg_tensor *cg_bitwise_right_shift(cg_tensor *a, cg_tensor *b); /* integers, arithmetic */
cg_tensor *cg_fmin(cg_tensor *a, cg_tensor *b);
/* integers only, no gradient: the greatest common divisor (>= 0) and least common multiple */
cg_tensor *cg_gcd(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_lcm(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_signbit(cg_tensor *a); /* bool: the sign bit of a (set for -0.0) */
cg_tensor *cg_ldexp(cg_tensor *a, cg_tensor *b); /* a 2^b; integers compute in the default float dtype */
/* a log(b), 0 where a == 0 unless b is NaN; either may be a wrapped number */
cg_tensor *cg_xlogy(cg_tensor *a, cg_tensor *b);
/* The regularized incomplete gamma functions P(a, x) and Q(a, x) = 1 - P(a, x), floating; the
 * gradient in x only (PyTorch defines none in a: asking for it fails). */
cg_tensor *cg_igamma(cg_tensor *a, cg_tensor *x);
cg_tensor *cg_igammac(cg_tensor *a, cg_tensor *x);
/* On ties the gradient is split half and half between a and b. */
cg_tensor *cg_maximum(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_minimum(cg_tensor *a, cg_tensor *b);
/* Python's // and % (rounding toward -inf); no gradient for floor_divide.
 * Integer division by zero is an error. */
cg_tensor *cg_floor_divide(cg_tensor *a, cg_tensor *b);
/* div with rounding_mode 'floor' or 'trunc', in the promoted dtype (DivBackward2). */
cg_tensor *cg_div_floor(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_div_trunc(cg_tensor *a, cg_tensor *b);
/* round(decimals) of a floating tensor (RoundBackward1); the _ form writes a. */
cg_tensor *cg_round_decimals(cg_tensor *a, int64_t decimals);
cg_tensor *cg_round_decimals_(cg_tensor *a, int64_t decimals);
cg_tensor *cg_remainder(cg_tensor *a, cg_tensor *b);
/* input + value t1 t2 and input + value t1 / t2 (t1 and t2 not both
 * integers), broadcast and promoted; the _ forms write into input and return
 * it (new reference). */
cg_tensor *cg_addcmul(cg_tensor *input, cg_tensor *t1, cg_tensor *t2, double value);
cg_tensor *cg_addcdiv(cg_tensor *input, cg_tensor *t1, cg_tensor *t2, double value);
cg_tensor *cg_addcmul_(cg_tensor *input, cg_tensor *t1, cg_tensor *t2, double value);
cg_tensor *cg_addcdiv_(cg_tensor *input, cg_tensor *t1, cg_tensor *t2, double value);
/* a * (pi / 180) and a * (180 / pi), floating (integers in the default dtype). */
cg_tensor *cg_deg2rad(cg_tensor *a);
cg_tensor *cg_rad2deg(cg_tensor *a);
/* x with NaN, +inf and -inf replaced by nan, *posinf and *neginf (NULL: the
 * dtype's largest and lowest finite values); integers and bool are copied.
 * The _ form writes into x and returns it (new reference). */
cg_tensor *cg_nan_to_num(cg_tensor *x, double nan, const double *posinf, const double *neginf);
cg_tensor *cg_nan_to_num_(cg_tensor *x, double nan, const double *posinf, const double *neginf);
/* start + weight * (end - start); floating, all of one dtype. */
cg_tensor *cg_lerp(cg_tensor *start, cg_tensor *end, cg_tensor *weight);
cg_tensor *cg_lerp_scalar(cg_tensor *start, cg_tensor *end, double weight);
/* start = lerp(start, end, weight) in place; a wrapped-number weight is
 * cg_lerp_scalar's. Returns start (new reference). */
cg_tensor *cg_lerp_(cg_tensor *start, cg_tensor *end, cg_tensor *weight);
/* cond ? a : b, cond a bool tensor; the three broadcast together. */
cg_tensor *cg_where(cg_tensor *cond, cg_tensor *a, cg_tensor *b);
/* min(max(a, lo), hi). lo or hi may be NULL (not both). Bounds that are
 * wrapped numbers (cg_scalar_tensor) take PyTorch's Scalar overload, other
 * tensors the Tensor overload, which passes gradients to the bounds too. */
cg_tensor *cg_clamp(cg_tensor *a, cg_tensor *lo, cg_tensor *hi);
cg_tensor *cg_clamp_min(cg_tensor *a, cg_tensor *lo);
cg_tensor *cg_clamp_max(cg_tensor *a, cg_tensor *hi);
/* In place; return a (new reference). */
cg_tensor *cg_clamp_(cg_tensor *a, cg_tensor *lo, cg_tensor *hi);
cg_tensor *cg_clamp_min_(cg_tensor *a, cg_tensor *lo);
cg_tensor *cg_clamp_max_(cg_tensor *a, cg_tensor *hi);

/* Comparisons and logic: bool results, never a gradient. Comparisons
 * compute in the promoted dtype of a and b. */
cg_tensor *cg_eq(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_ne(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_lt(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_le(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_gt(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_ge(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_logical_not(cg_tensor *a);
cg_tensor *cg_logical_and(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_logical_or(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_logical_xor(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_isnan(cg_tensor *a);
cg_tensor *cg_isinf(cg_tensor *a);
cg_tensor *cg_isfinite(cg_tensor *a);
/* Bitwise ops: int64 and bool only. */
cg_tensor *cg_bitwise_not(cg_tensor *a);
cg_tensor *cg_bitwise_and(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_bitwise_or(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_bitwise_xor(cg_tensor *a, cg_tensor *b);


/* ---- reductions (ops_reduce.c) -------------------------------------------- */
/* dims == NULL (or ndims == 0): all dimensions. Negative dims count from the end. */
cg_tensor *cg_sum(cg_tensor *a, const int64_t *dims, int ndims, int keepdim);
/* The sum with NaNs taken as 0 (integers: the sum); NansumBackward0. */
cg_tensor *cg_nansum(cg_tensor *a, const int64_t *dims, int ndims, int keepdim);
cg_tensor *cg_mean(cg_tensor *a, const int64_t *dims, int ndims, int keepdim);
/* Sums a broadcast gradient back to `shape` (the inverse of expand). */
cg_tensor *cg_sum_to(cg_tensor *a, const int64_t *shape, int ndim);
/* Sums and products of integers and bools are int64. */
cg_tensor *cg_prod(cg_tensor *a, const int64_t *dims, int ndims, int keepdim);
/* sum((a - mean)^2) / (N - correction) over N reduced elements; std is its root. */
cg_tensor *cg_var(cg_tensor *a, const int64_t *dims, int ndims, double correction, int keepdim);
cg_tensor *cg_std(cg_tensor *a, const int64_t *dims, int ndims, double correction, int keepdim);
/* Largest / smallest values; the gradient is shared evenly among ties. */
cg_tensor *cg_amax(cg_tensor *a, const int64_t *dims, int ndims, int keepdim);
cg_tensor *cg_amin(cg_tensor *a, const int64_t *dims, int ndims, int keepdim);
cg_tensor *cg_max(cg_tensor *a); /* of all elements, 0-d */
cg_tensor *cg_min(cg_tensor *a);
/* Along dim: the values (returned) and, in *indices (new reference, int64),
 * the position of the first largest / smallest element of each slice. The
 * gradient goes to that position only. */
cg_tensor *cg_max_dim(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices);
cg_tensor *cg_min_dim(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices);
/* Along dim, as max_dim: the k-th smallest value (k from 1), the median (the
 * lower of the two middle values; NaN when the slice has one) and the mode
 * (the most frequent value, the smallest among equally frequent ones), each
 * with its position in *indices: among equal values, the last for the mode.
 * NaN sorts after every number. The gradient goes to that position only. */
cg_tensor *cg_kthvalue(cg_tensor *a, int64_t k, int64_t dim, int keepdim, cg_tensor **indices);
cg_tensor *cg_median_dim(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices);
cg_tensor *cg_mode(cg_tensor *a, int64_t dim, int keepdim, cg_tensor **indices);
/* The median of all elements, 0-d; the gradient is shared evenly among ties. */
cg_tensor *cg_median(cg_tensor *a);
/* int64 positions of the first largest / smallest element; dim NULL: of the flattened a. */
cg_tensor *cg_argmax(cg_tensor *a, const int64_t *dim, int keepdim);
cg_tensor *cg_argmin(cg_tensor *a, const int64_t *dim, int keepdim);
/* log(sum(exp(a))), computed without overflow; integers give the default dtype. */
cg_tensor *cg_logsumexp(cg_tensor *a, const int64_t *dims, int ndims, int keepdim);
/* The vector p-norm (p may be 0, +-INFINITY or any other number), as linalg.vector_norm. */
cg_tensor *cg_norm(cg_tensor *a, double p, const int64_t *dims, int ndims, int keepdim);

/* ---- gather, scatter, masks (ops_gather.c) -------------------------------- */
/* Index tensors are int64. out[i] = a[i with coordinate dim replaced by index[i]]. */
cg_tensor *cg_gather(cg_tensor *a, int64_t dim, cg_tensor *index);
/* The same values, recorded as the values of sort (SortBackward0; SortBackward1
 * for its overload with `stable`) or of topk (TopkBackward0). */
typedef enum { CG_SORTED_BY_SORT, CG_SORTED_BY_STABLE_SORT, CG_SORTED_BY_TOPK } cg_sorted_by;
cg_tensor *cg_sorted_values(cg_tensor *a, int64_t dim, cg_tensor *index, cg_sorted_by by);
/* A copy of a with a[i with coordinate dim replaced by index[i]] = src[i]
 * (scatter_add: += src[i]); cg_scatter_value writes value everywhere. */
cg_tensor *cg_scatter(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src);
cg_tensor *cg_scatter_value(cg_tensor *a, int64_t dim, cg_tensor *index, double value);
cg_tensor *cg_scatter_add(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src);
/* In place: write into a, return a (new reference). */
cg_tensor *cg_scatter_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src);
cg_tensor *cg_scatter_value_(cg_tensor *a, int64_t dim, cg_tensor *index, double value);
cg_tensor *cg_scatter_add_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src);
/* A copy of a with src[i] combined into a[i with coordinate dim replaced by
 * index[i]] by op: 0 product, 1 maximum, 2 minimum (a NaN wins). Records no
 * node: the caller differentiates it. New reference. */
cg_tensor *cg_scatter_reduce_raw(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src, int op);
/* The slices of a along dim named by a 1-d (or 0-d) index, in its order. */
cg_tensor *cg_index_select(cg_tensor *a, int64_t dim, cg_tensor *index);
/* A copy of a whose slices index[i] along dim get src's slice i times
 * alpha added (index_add; alpha truncated for integers) or copied in (index_copy), or hold a 0-d value (index_fill,
 * where negative indices count from the end). The _ forms write into a and
 * return it (new reference). */
cg_tensor *cg_index_add(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src, double alpha);
cg_tensor *cg_index_add_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src, double alpha);
cg_tensor *cg_index_copy(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src);
cg_tensor *cg_index_copy_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *src);
cg_tensor *cg_index_fill(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *value);
cg_tensor *cg_index_fill_(cg_tensor *a, int64_t dim, cg_tensor *index, cg_tensor *value);
/* src's elements, in order, where mask (bool) holds: in a copy of a
 * broadcast with the mask, or in a itself (_, mask broadcast to a). */
cg_tensor *cg_masked_scatter(cg_tensor *a, cg_tensor *mask, cg_tensor *src);
cg_tensor *cg_masked_scatter_(cg_tensor *a, cg_tensor *mask, cg_tensor *src);
/* a.flatten()[index[j]] = src[j] (+= with accumulate), negative indices from the end. */
cg_tensor *cg_put(cg_tensor *a, cg_tensor *index, cg_tensor *src, int accumulate);
cg_tensor *cg_put_(cg_tensor *a, cg_tensor *index, cg_tensor *src, int accumulate);
/* where(mask, value, a) for a bool mask broadcast with a and a 0-d value
 * (a wrapped number is a constant; a tensor value receives a gradient). */
cg_tensor *cg_masked_fill(cg_tensor *a, cg_tensor *mask, cg_tensor *value);
cg_tensor *cg_masked_fill_(cg_tensor *a, cg_tensor *mask, cg_tensor *value); /* a (new reference) */

/* ---- linear algebra ----------------------------------------------------- */
cg_tensor *cg_matmul(cg_tensor *a, cg_tensor *b);
cg_tensor *cg_mm(cg_tensor *a, cg_tensor *b);  /* 2-D @ 2-D */
cg_tensor *cg_bmm(cg_tensor *a, cg_tensor *b); /* 3-D @ 3-D, same batch */
cg_tensor *cg_mv(cg_tensor *a, cg_tensor *b);  /* 2-D @ 1-D */
cg_tensor *cg_dot(cg_tensor *a, cg_tensor *b); /* 1-D . 1-D */
/* beta * input + alpha * (a @ b), input broadcast to the product's shape;
 * beta == 0 ignores input's values (NaN too), and for addmm alpha == 0 the
 * product's. All three of one dtype; int64 operands truncate beta and alpha. */
cg_tensor *cg_addmm(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha);   /* a, b 2-D */
cg_tensor *cg_baddbmm(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha); /* a, b 3-D */
/* The same written into input, which must have the result's shape; returns
 * input (new reference), recorded as the out-of-place node. */
cg_tensor *cg_addmm_(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha);
cg_tensor *cg_baddbmm_(cg_tensor *input, cg_tensor *a, cg_tensor *b, double beta, double alpha);
/* The same over addmv's mat @ vec, addr's outer(vec1, vec2) (promoted; a bool
 * one is input | (vec1 & vec2)) and addbmm's sum over the batch of
 * batch1[i] @ batch2[i], with operands and input's shape already checked
 * (the Python layer does); addmv and addbmm do not read the product when
 * alpha is 0. The _ forms write into input and return it (new reference). */
cg_tensor *cg_addmv(cg_tensor *input, cg_tensor *mat, cg_tensor *vec, double beta, double alpha);
cg_tensor *cg_addr(cg_tensor *input, cg_tensor *vec1, cg_tensor *vec2, double beta, double alpha);
cg_tensor *cg_addbmm(cg_tensor *input, cg_tensor *batch1, cg_tensor *batch2, double beta, double alpha);
cg_tensor *cg_addmv_(cg_tensor *input, cg_tensor *mat, cg_tensor *vec, double beta, double alpha);
cg_tensor *cg_addr_(cg_tensor *input, cg_tensor *vec1, cg_tensor *vec2, double beta, double alpha);
cg_tensor *cg_addbmm_(cg_tensor *input, cg_tensor *batch1, cg_tensor *batch2, double beta, double alpha);
cg_tensor *cg_vdot(cg_tensor *a, cg_tensor *b); /* dot, recorded as VdotBackward0 */
/* The Kronecker product (any dims). */
cg_tensor *cg_kron(cg_tensor *a, cg_tensor *b);
/* The p-norm of a - b (broadcast, promoted), as one node (DistBackward0). */
cg_tensor *cg_dist(cg_tensor *a, cg_tensor *b, double p);
/* The cross product of a and b (same ndim, broadcast, same dtype) along dim, where both have 3 elements. */
cg_tensor *cg_cross(cg_tensor *a, cg_tensor *b, int64_t dim);
/* Batches of square float32/float64 matrices (ops_lapack.c, LAPACK's LU):
 * the inverse (an error for a singular matrix), the determinant, and its
 * sign and log|det| (new references in *sign and *logabsdet; 0 or -1). */
cg_tensor *cg_linalg_inv(cg_tensor *a);
cg_tensor *cg_linalg_det(cg_tensor *a);
int cg_linalg_slogdet(cg_tensor *a, cg_tensor **sign, cg_tensor **logabsdet);
/* The pseudo-inverse of each matrix (any shape) by its SVD, the singular
 * values at most max(atol, rtol times the largest) taken as 0. */
cg_tensor *cg_linalg_pinv(cg_tensor *a, double atol, double rtol);
/* Factorizations and solvers of batches of float32/float64 matrices (ops_linalg_lapack.c), one node
 * each as PyTorch's. Results are new references in the out-pointers (0 or -1); info and pivots are
 * int64 (LAPACK's info per matrix; 1-based pivots). A *_name argument, when not NULL, makes a failing
 * matrix the error of that function's name (LinAlgError). */
int cg_linalg_cholesky_ex(cg_tensor *a, int upper, const char *check_name, cg_tensor **l, cg_tensor **info);
cg_tensor *cg_linalg_solve_triangular(cg_tensor *a, cg_tensor *b, int upper, int left, int unitriangular);
/* X of A X = B (left) or X A = B; B a vector (batch) when it has A's shape without the last dim. */
int cg_linalg_solve_ex(cg_tensor *a, cg_tensor *b, int left, const char *check_name, cg_tensor **x,
                       cg_tensor **info);
int cg_linalg_lu_factor_ex(cg_tensor *a, cg_tensor **lu, cg_tensor **pivots, cg_tensor **info);
int cg_linalg_lu(cg_tensor *a, cg_tensor **p, cg_tensor **l, cg_tensor **u);
cg_tensor *cg_linalg_lu_solve(cg_tensor *lu, cg_tensor *pivots, cg_tensor *b, int left, int adjoint);
/* A = L D L^T (LAPACK's sytrf on the lower triangles): *ld L and D, zero above the diagonal; no node is
 * recorded (PyTorch defines no derivative). ldl_solve takes ld, pivots (.., n) and b (.., n, k) of one
 * batch shape. */
int cg_linalg_ldl_factor_ex(cg_tensor *a, cg_tensor **ld, cg_tensor **pivots, cg_tensor **info);
cg_tensor *cg_linalg_ldl_solve(cg_tensor *ld, cg_tensor *pivots, cg_tensor *b);
/* Eigenvalues (ascending) and, when vectors, eigenvectors (else *v is NULL) of symmetric matrices. */
int cg_linalg_eigh(cg_tensor *a, int upper, int vectors, cg_tensor **w, cg_tensor **v);
/* mode 0 'reduced', 1 'complete', 2 'r' (*q an empty tensor). */
int cg_linalg_qr(cg_tensor *a, int mode, cg_tensor **q, cg_tensor **r);
/* Without compute_uv, *u and *vh are NULL. */
int cg_linalg_svd(cg_tensor *a, int full_matrices, int compute_uv, cg_tensor **u, cg_tensor **s, cg_tensor **vh);
/* LAPACK's geqrf: R on and above the diagonal of *qr, the Householder vectors below it, their scalars in
 * *tau (.., min(m, n)). The node recorded (GeqrfBackward0) refuses backward, as PyTorch's. */
int cg_geqrf(cg_tensor *a, cg_tensor **qr, cg_tensor **tau);

/* ---- shape (views share storage and version with their base) ------------ */
cg_tensor *cg_reshape(cg_tensor *a, const int64_t *shape, int ndim); /* -1 allowed */
cg_tensor *cg_view(cg_tensor *a, const int64_t *shape, int ndim);    /* -1 allowed */
cg_tensor *cg_transpose(cg_tensor *a, int64_t d0, int64_t d1);
/* A tensor of at most 2 dims transposed (one of 0 or 1 dims as it is), recorded as TBackward0. */
cg_tensor *cg_t(cg_tensor *a);
cg_tensor *cg_permute(cg_tensor *a, const int64_t *dims, int ndim);
cg_tensor *cg_unsqueeze(cg_tensor *a, int64_t dim);
cg_tensor *cg_squeeze(cg_tensor *a, const int64_t *dims, int ndims); /* NULL: all size-1 dims */
cg_tensor *cg_expand(cg_tensor *a, const int64_t *shape, int ndim);  /* -1 keeps a size */
cg_tensor *cg_contiguous(cg_tensor *a); /* a itself (new ref) when already contiguous */
/* A view of all of a, recorded as AliasBackward0 (what x[...] gives). */
cg_tensor *cg_alias_view(cg_tensor *a);
cg_tensor *cg_clone(cg_tensor *a);
/* conj_physical_ of a real tensor: the values stay, yet it is an in-place op (version bumped, a leaf that
 * requires grad refused, ConjPhysicalBackward1 recorded). Returns a (new reference). */
cg_tensor *cg_conj_physical_(cg_tensor *a);
/* PyTorch's *_copy ops: a new contiguous tensor with v's values whose history is v's node,
 * renamed `name` (Note [Copies of views] in ops_shape.c); v is the result of a view op. */
cg_tensor *cg_copy_as(cg_tensor *v, const char *name);
cg_tensor *cg_view_copy(cg_tensor *a, const int64_t *shape, int ndim); /* -1 allowed; any a */
/* In-place forms: a itself takes the view's layout (recorded as an in-place
 * op: version bumped, history the view's node); return a (new reference). */
cg_tensor *cg_transpose_(cg_tensor *a, int64_t d0, int64_t d1);
cg_tensor *cg_t_(cg_tensor *a); /* at most 2 dims */
cg_tensor *cg_unsqueeze_(cg_tensor *a, int64_t dim);
cg_tensor *cg_squeeze_(cg_tensor *a, const int64_t *dims, int ndims);

/* ---- indexing and joining (ops_index.c) ------------------------------------ */
/* Views of one index / a range of one dim (negative positions count from the
 * end; slice clamps like Python and needs step > 0). */
cg_tensor *cg_select(cg_tensor *a, int64_t dim, int64_t index);
cg_tensor *cg_slice(cg_tensor *a, int64_t dim, int64_t start, int64_t stop, int64_t step);
cg_tensor *cg_narrow(cg_tensor *a, int64_t dim, int64_t start, int64_t length);
/* Views of consecutive pieces along dim, written to out[0..n) (new
 * references); one node records them all. */
int cg_split_with_sizes(cg_tensor *a, const int64_t *sizes, int n, int64_t dim, int equal_split,
                        cg_tensor **out);
int cg_unbind(cg_tensor *a, int64_t dim, cg_tensor **out); /* out has a->shape[dim] slots */
/* New tensors joining ts[0..n) along dim (cat promotes dtypes, as PyTorch). */
cg_tensor *cg_cat(cg_tensor *const *ts, int n, int64_t dim);
cg_tensor *cg_stack(cg_tensor *const *ts, int n, int64_t dim);
/* Copies with elements moved. */
cg_tensor *cg_flip(cg_tensor *a, const int64_t *dims, int ndims);
cg_tensor *cg_roll(cg_tensor *a, const int64_t *shifts, const int64_t *dims, int n); /* dims NULL: flattened */
cg_tensor *cg_repeat(cg_tensor *a, const int64_t *sizes, int n);
/* a[indices]: indices[d] an int64 tensor indexing dim d, or NULL to take dim d
 * whole; n <= ndim. Index tensors broadcast together, as in numpy. */
cg_tensor *cg_index(cg_tensor *a, cg_tensor *const *indices, int n);
/* A copy of a with a[indices] = values (or += with accumulate; repeated
 * indices then add up), and its in-place form (returns a, new reference). */
cg_tensor *cg_index_put(cg_tensor *a, cg_tensor *const *indices, int n, cg_tensor *values, int accumulate);
cg_tensor *cg_index_put_(cg_tensor *a, cg_tensor *const *indices, int n, cg_tensor *values, int accumulate);
/* The int64 [count, ndim] coordinates of a's non-zero elements. */
cg_tensor *cg_nonzero(cg_tensor *a);

/* ---- diagonals, windows and regions replaced (ops_views.c) ------------------ */
/* Views: the diagonal [.., i, .., i + offset, ..] over dims dim1 and dim2
 * (those dims removed, the diagonal last); windows of `size` elements along
 * a dim, every `step` (that dim counts them, a new last dim runs within one). */
cg_tensor *cg_diagonal(cg_tensor *a, int64_t offset, int64_t dim1, int64_t dim2);
cg_tensor *cg_unfold(cg_tensor *a, int64_t dimension, int64_t size, int64_t step);
/* The sum of a 2-D tensor's main diagonal (int64 for int64). */
cg_tensor *cg_trace(cg_tensor *a);
/* tril (lower) or triu: a copy of a with the elements of its last two dims
 * above (below) the diagonal-th diagonal zeroed; the _ form writes a. */
cg_tensor *cg_triangle(cg_tensor *a, int64_t diagonal, int lower);
cg_tensor *cg_triangle_(cg_tensor *a, int64_t diagonal, int lower);
/* Zeros with a's last dim along a diagonal over new dims dim1 and dim2. */
cg_tensor *cg_diag_embed(cg_tensor *a, int64_t offset, int64_t dim1, int64_t dim2);
/* Copies of a with the region cg_diagonal / cg_select / cg_slice would view
 * replaced by src (of that region's shape; cast to a's dtype). */
cg_tensor *cg_diagonal_scatter(cg_tensor *a, cg_tensor *src, int64_t offset, int64_t dim1, int64_t dim2);
cg_tensor *cg_select_scatter(cg_tensor *a, cg_tensor *src, int64_t dim, int64_t index);
cg_tensor *cg_slice_scatter(cg_tensor *a, cg_tensor *src, int64_t dim, int64_t start, int64_t stop, int64_t step);
/* a copy turned k quarter turns in the plane of dims[0], dims[1] (ndims == 2),
 * from the first towards the second. */
cg_tensor *cg_rot90(cg_tensor *a, int64_t k, const int64_t *dims, int ndims);
/* The min over dims (NULL or ndims 0: all), returned, and the max, in *max
 * (new references); one node records both. */
cg_tensor *cg_aminmax(cg_tensor *a, const int64_t *dims, int ndims, int keepdim, cg_tensor **max);

/* ---- layouts of the caller's choosing (ops_strided.c) ----------------------- */
/* as_strided: the view of a's storage with the given layout (offset in
 * elements from the storage's start), whatever a's own; the _ form gives a
 * itself that layout (returns a, new reference). as_strided_scatter: a copy
 * of a's storage, laid out as a, with that region overwritten by src (of
 * its shape; cast to a's dtype). empty_strided: an uninitialised tensor with
 * that layout over the storage it reaches. PyTorch's errors throughout. */
cg_tensor *cg_as_strided_storage(cg_tensor *a, const int64_t *shape, const int64_t *strides, int ndim, int64_t offset);
cg_tensor *cg_as_strided_storage_(cg_tensor *a, const int64_t *shape, const int64_t *strides, int ndim, int64_t offset);
cg_tensor *cg_as_strided_scatter_storage(cg_tensor *a, cg_tensor *src, const int64_t *shape, const int64_t *strides,
                                         int ndim, int64_t offset);
cg_tensor *cg_empty_strided(const int64_t *shape, const int64_t *strides, int ndim, cg_dtype dtype);
/* Tensor.set_: t takes that layout over storage s, keeping its dtype (the caller applies the
 * in-place rules). source is the tensor s came from, or NULL. In grad mode, when t or source
 * requires grad, t's new history is a node that refuses backward, as PyTorch's. share_memory:
 * s's bytes move to memory a forked process shares; the old bytes stay alive with s (numpy
 * arrays may point at them) until free_old_bytes, called by whoever knows that nothing reads
 * them any more. is_shared: whether s's bytes have moved. */
int cg_tensor_set_storage(cg_tensor *t, cg_storage *s, const int64_t *shape, const int64_t *strides, int ndim,
                          int64_t offset, cg_tensor *source);
int cg_storage_share_memory(cg_storage *s);
int cg_storage_is_shared(const cg_storage *s);
void cg_storage_free_old_bytes(cg_storage *s);

/* ---- memory formats (memory_format.c) ---------------------------------------- */
/* PyTorch's memory formats: how a new tensor orders its dims in memory. CHANNELS_LAST is
 * NHWC on a 4-d NCHW tensor, CHANNELS_LAST_3D NDHWC on a 5-d one; PRESERVE follows a source
 * tensor (its strides where it is dense and non-overlapping). Values never depend on it. */
typedef enum cg_memory_format {
    CG_CONTIGUOUS_FORMAT = 0,
    CG_PRESERVE_FORMAT = 1,
    CG_CHANNELS_LAST = 2,
    CG_CHANNELS_LAST_3D = 3,
} cg_memory_format;
/* Whether t is densely laid out in format f (PRESERVE: row-major); 0 for a tensor of another rank. */
int cg_is_contiguous_as(const cg_tensor *t, cg_memory_format f);
/* Whether t's elements fill a block of memory exactly once, in any order of its dims. */
int cg_is_non_overlapping_and_dense(const cg_tensor *t);
/* t's dims in memory order, outermost first (order has t->ndim entries): PyTorch's dim_order(). */
void cg_dim_order(const cg_tensor *t, int64_t *order);
/* The strides of a new tensor of that shape in format f, following `like` for PRESERVE (NULL:
 * an error there). 0, or -1 and an error: a format of another rank, PRESERVE without like. */
int cg_format_strides(const int64_t *shape, int ndim, cg_memory_format f, const cg_tensor *like, int64_t *strides);
/* Uninitialised tensors in format f: of that shape (PRESERVE is an error), or of t's shape. */
cg_tensor *cg_empty_format(const int64_t *shape, int ndim, cg_dtype dtype, cg_memory_format f);
cg_tensor *cg_empty_like_format(const cg_tensor *t, cg_dtype dtype, cg_memory_format f);
/* A copy of a in format f, recorded as CloneBackward0 (cg_clone: CONTIGUOUS). */
cg_tensor *cg_clone_format(cg_tensor *a, cg_memory_format f);
/* a itself (new reference) when already dense in format f, else cg_clone_format; PRESERVE is
 * an error unless a is contiguous. */
cg_tensor *cg_contiguous_format(cg_tensor *a, cg_memory_format f);
/* A copy of a in that dtype and format f, recorded as ToCopyBackward0 for floating dtypes
 * (cg_to_dtype: CONTIGUOUS). */
cg_tensor *cg_to_dtype_format(cg_tensor *a, cg_dtype dtype, cg_memory_format f);

/* ---- neural-network kernels (ops_nn.c) -------------------------------------- */
/* Fused ops with PyTorch's semantics and node names. Losses take PyTorch's
 * reduction enum: 0 'none', 1 'mean', 2 'sum'. Optional tensors may be NULL. */
/* y = x w^T + b: one AddmmBackward0 node for 2-D x (views around it otherwise). */
cg_tensor *cg_linear(cg_tensor *x, cg_tensor *w, cg_tensor *b);
cg_tensor *cg_softmax(cg_tensor *x, int64_t dim);
cg_tensor *cg_log_softmax(cg_tensor *x, int64_t dim);
cg_tensor *cg_cumsum(cg_tensor *x, int64_t dim); /* integers and bool sum as int64 */
cg_tensor *cg_cumprod(cg_tensor *x, int64_t dim); /* integers and bool multiply as int64 */
/* The same written into x (new reference); dtype, PyTorch's dtype= argument, must be x's; not for bool. */
cg_tensor *cg_cumsum_(cg_tensor *x, int64_t dim, cg_dtype dtype);
cg_tensor *cg_cumprod_(cg_tensor *x, int64_t dim, cg_dtype dtype);
cg_tensor *cg_logcumsumexp(cg_tensor *x, int64_t dim); /* log(cumsum(exp(x))) without overflow; floats only */
/* The running maximum (minimum) along dim, in x's dtype, and in *indices (new
 * reference, int64) the last position where it was reached; NaN, once met,
 * stays. The gradient goes back to those positions. */
cg_tensor *cg_cummax(cg_tensor *x, int64_t dim, cg_tensor **indices);
cg_tensor *cg_cummin(cg_tensor *x, int64_t dim, cg_tensor **indices);
/* The int64 positions that sort x along dim, equal elements kept in order; NaN
 * last ascending, first descending. The values are cg_gather(x, dim, them). */
cg_tensor *cg_sort_indices(cg_tensor *x, int64_t dim, int descending);
/* x: (N, C, d1, ...) or (C,) log-probabilities; target: int64 class indices. */
cg_tensor *cg_nll_loss(cg_tensor *x, cg_tensor *target, cg_tensor *weight, int reduction, int64_t ignore_index);
/* nll_loss(log_softmax(x, class dim)) */
cg_tensor *cg_cross_entropy(cg_tensor *x, cg_tensor *target, cg_tensor *weight, int reduction, int64_t ignore_index);
/* Normalises over the last k dims, which must equal normalized_shape. */
cg_tensor *cg_layer_norm(cg_tensor *x, const int64_t *normalized_shape, int k, cg_tensor *weight, cg_tensor *bias,
                         double eps);
cg_tensor *cg_gelu(cg_tensor *x, int approximate_tanh);
cg_tensor *cg_leaky_relu(cg_tensor *x, double negative_slope);
/* Activations as single nodes, with PyTorch's formulas and node names (elu
 * and selu: EluBackward0, celu: CeluBackward0; alpha must not be 0). */
cg_tensor *cg_silu(cg_tensor *x);
cg_tensor *cg_elu(cg_tensor *x, double alpha, double scale, double input_scale);
cg_tensor *cg_celu(cg_tensor *x, double alpha);
cg_tensor *cg_softplus(cg_tensor *x, double beta, double threshold);
cg_tensor *cg_hardtanh(cg_tensor *x, double min_val, double max_val);
cg_tensor *cg_hardsigmoid(cg_tensor *x);
cg_tensor *cg_hardswish(cg_tensor *x);
cg_tensor *cg_mish(cg_tensor *x);
/* a sigmoid(b), a and b the halves of x along dim (0 <= dim < ndim, even size) */
cg_tensor *cg_glu(cg_tensor *x, int64_t dim);
/* In place, recording the same nodes, as PyTorch's do; return x (new reference). */
cg_tensor *cg_silu_(cg_tensor *x);
cg_tensor *cg_hardtanh_(cg_tensor *x, double min_val, double max_val);
cg_tensor *cg_hardsigmoid_(cg_tensor *x);
cg_tensor *cg_hardswish_(cg_tensor *x);
cg_tensor *cg_mish_(cg_tensor *x);
/* In place, saving the result, as PyTorch's: EluBackward1 and CeluBackward1. */
cg_tensor *cg_elu_(cg_tensor *x, double alpha, double scale, double input_scale);
cg_tensor *cg_celu_(cg_tensor *x, double alpha);
cg_tensor *cg_mse_loss(cg_tensor *x, cg_tensor *y, int reduction);
cg_tensor *cg_huber_loss(cg_tensor *x, cg_tensor *y, int reduction, double delta);
cg_tensor *cg_binary_cross_entropy(cg_tensor *x, cg_tensor *y, cg_tensor *weight, int reduction);
cg_tensor *cg_binary_cross_entropy_with_logits(cg_tensor *x, cg_tensor *y, cg_tensor *weight,
                                               cg_tensor *pos_weight, int reduction);
/* weight[indices]; padding_idx -1: none (rows of padding_idx get no gradient). */
cg_tensor *cg_embedding(cg_tensor *weight, cg_tensor *indices, int64_t padding_idx);
struct cg_generator;
/* x times a mask of 0 and 1/(1-p), each element kept with probability 1-p (g NULL: default). */
cg_tensor *cg_dropout(cg_tensor *x, double p, struct cg_generator *g);
/* int64 one-hot rows; num_classes -1: max(indices) + 1. */
cg_tensor *cg_one_hot(cg_tensor *indices, int64_t num_classes);
/* Threads the BLAS behind linear and matmul may use (torch.set_num_threads). */
void cg_set_num_threads(int n);
int cg_get_num_threads(void);
/* t takes src's data (storage, layout, dtype) and keeps its own autograd state. */
int cg_tensor_set_data(cg_tensor *t, cg_tensor *src);

/* ---- pooling (ops_pool.c) ------------------------------------------------------ */
/* PyTorch's pooling over the last two dims of a (C, H, W) or (N, C, H, W) x;
 * arguments are (height, width) pairs, checked with PyTorch's messages. One
 * node each: MaxPool2DWithIndicesBackward0, AvgPool2DBackward0,
 * AdaptiveAvgPool2DBackward0 (a mean, MeanBackward1, for a 1 x 1 output),
 * AdaptiveMaxPool2DBackward0. Max pools give in *indices (a new reference,
 * int64; indices may be NULL) the position of each maximum in its flattened
 * H x W plane; a NaN wins. max_pool2d and avg_pool2d take int64 too.
 * divisor_override NULL: none. */
cg_tensor *cg_max_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         const int64_t *dilation, int ceil_mode, cg_tensor **indices);
cg_tensor *cg_avg_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         int ceil_mode, int count_include_pad, const int64_t *divisor_override);
cg_tensor *cg_adaptive_avg_pool2d(cg_tensor *x, const int64_t *output_size);
cg_tensor *cg_adaptive_max_pool2d(cg_tensor *x, const int64_t *output_size, cg_tensor **indices);
/* The 1-d forms over the last dim of (C, L) or (N, C, L): the 2-d op on
 * x.unsqueeze(-2), squeezed back, as PyTorch builds them. cg_max_pool1d
 * without indices checks as torch.max_pool1d does (floats only); with them, as
 * torch.max_pool1d_with_indices. */
cg_tensor *cg_max_pool1d(cg_tensor *x, int64_t kernel, int64_t stride, int64_t padding, int64_t dilation,
                         int ceil_mode, cg_tensor **indices);
cg_tensor *cg_avg_pool1d(cg_tensor *x, int64_t kernel, int64_t stride, int64_t padding, int ceil_mode,
                         int count_include_pad);
cg_tensor *cg_adaptive_avg_pool1d(cg_tensor *x, int64_t output_size);
cg_tensor *cg_adaptive_max_pool1d(cg_tensor *x, int64_t output_size, cg_tensor **indices);
/* The 3-d forms over the last three dims of (C, D, H, W) or (N, C, D, H, W),
 * arguments as (depth, height, width) triples: MaxPool3DWithIndicesBackward0,
 * AvgPool3DBackward0, AdaptiveAvgPool3DBackward0 (MeanBackward1 for a 1 x 1 x 1
 * output), AdaptiveMaxPool3DBackward0; indices are positions in the flattened
 * D x H x W volume. max_pool3d and avg_pool3d take int64 too. */
cg_tensor *cg_max_pool3d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         const int64_t *dilation, int ceil_mode, cg_tensor **indices);
cg_tensor *cg_avg_pool3d(cg_tensor *x, const int64_t *kernel, const int64_t *stride, const int64_t *padding,
                         int ceil_mode, int count_include_pad, const int64_t *divisor_override);
cg_tensor *cg_adaptive_avg_pool3d(cg_tensor *x, const int64_t *output_size);
cg_tensor *cg_adaptive_max_pool3d(cg_tensor *x, const int64_t *output_size, cg_tensor **indices);
/* PyTorch's max_unpool2d / max_unpool3d: zeros of x's shape with its last 2 (3)
 * dims output_size, each x written at the position in its plane (volume) that
 * the int64 indices (x's shape) hold. One node, MaxUnpool2DBackward0 /
 * MaxUnpool3DBackward0; indices get no gradient. stride and padding (3 each)
 * are checked as PyTorch checks them. */
cg_tensor *cg_max_unpool2d(cg_tensor *x, cg_tensor *indices, const int64_t *output_size);
cg_tensor *cg_max_unpool3d(cg_tensor *x, cg_tensor *indices, const int64_t *output_size, const int64_t *stride,
                           const int64_t *padding);
/* PyTorch's fractional_max_pool2d / 3d: max pools of windows of size kernel
 * into output_size, each plane's windows placed by its row of samples
 * ((N, C, 2 or 3), x's dtype, values in [0, 1)), as PyTorch places them. One
 * node, FractionalMaxPool2DBackward0 / FractionalMaxPool3DBackward0; *indices
 * as the max pools' (indices may be NULL). */
cg_tensor *cg_fractional_max_pool2d(cg_tensor *x, const int64_t *kernel, const int64_t *output_size,
                                    cg_tensor *samples, cg_tensor **indices);
cg_tensor *cg_fractional_max_pool3d(cg_tensor *x, const int64_t *kernel, const int64_t *output_size,
                                    cg_tensor *samples, cg_tensor **indices);

/* ---- convolutions (ops_conv.c) ----------------------------------------------- */
/* conv1d / conv2d / conv3d with PyTorch's semantics and checks: x (N, C, *) or unbatched
 * (C, *), w (O, C / groups, k...) of 3 to 5 dims, b NULL or (O,); stride,
 * padding and dilation have w->ndim - 2 entries each. same: PyTorch's
 * padding='same' (padding unread; extra padding after, when odd). One
 * ConvolutionBackward0 node over (x, w, b); float32, float64 and int64. */
cg_tensor *cg_convolution(cg_tensor *x, cg_tensor *w, cg_tensor *b, const int64_t *stride, const int64_t *padding,
                          const int64_t *dilation, int64_t groups, int same);
/* conv_transpose1d / 2d / 3d with PyTorch's checks: x (N, C, *) or (C, *), w (C, O /
 * groups, k...), b NULL or (O,); each argument has w->ndim - 2 entries. The output's size
 * along a dim is (in - 1) stride - 2 padding + dilation (k - 1) + output_padding + 1. One
 * ConvolutionBackward0 node over (x, w, b); float32, float64 and int64. */
cg_tensor *cg_conv_transpose(cg_tensor *x, cg_tensor *w, cg_tensor *b, const int64_t *stride, const int64_t *padding,
                             const int64_t *output_padding, const int64_t *dilation, int64_t groups);
/* F.unfold: x (N, C, H, W) or (C, H, W) to its sliding blocks (N, C kh kw, L);
 * F.fold (col2im) sums such blocks back into (N, C, output_size). Two entries
 * per argument; each one's gradient is the other. */
cg_tensor *cg_im2col(cg_tensor *x, const int64_t *kernel, const int64_t *dilation, const int64_t *padding,
                     const int64_t *stride);
cg_tensor *cg_col2im(cg_tensor *cols, const int64_t *output_size, const int64_t *kernel, const int64_t *dilation,
                     const int64_t *padding, const int64_t *stride);

/* ---- optimizer steps (optim.c) ------------------------------------------------ */
/* One call updates every parameter of a group that has a .grad, replaying the
 * floating-point operations of PyTorch's single-tensor CPU implementation.
 * State arrays are parallel to params (borrowed); steps are 0-d counters. */
/* bufs[i] NULL: no momentum buffer yet; the first step stores a new reference there. */
int cg_sgd_step(cg_tensor *const *params, cg_tensor **bufs, int n, double lr, double momentum, double dampening,
                double weight_decay, int nesterov, int maximize);
/* max_exp_avg_sqs is read only with amsgrad. AdamW: decoupled_weight_decay = 1. */
int cg_adam_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **exp_avgs, cg_tensor **exp_avg_sqs,
                 cg_tensor **max_exp_avg_sqs, int n, double lr, double beta1, double beta2, double eps,
                 double weight_decay, int amsgrad, int maximize, int decoupled_weight_decay);
/* grad_avgs is read only when centered, momentum_buffers only with momentum > 0. */
int cg_rmsprop_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **square_avgs, cg_tensor **grad_avgs,
                    cg_tensor **momentum_buffers, int n, double lr, double alpha, double eps, double weight_decay,
                    double momentum, int centered, int maximize);
int cg_adagrad_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **sums, int n, double lr, double lr_decay,
                    double weight_decay, double eps, int maximize);
int cg_adamax_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **exp_avgs, cg_tensor **exp_infs, int n,
                   double lr, double beta1, double beta2, double eps, double weight_decay, int maximize);
/* mu_products are 0-d, in the step counters' dtype, as PyTorch keeps them. */
int cg_nadam_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **mu_products, cg_tensor **exp_avgs,
                  cg_tensor **exp_avg_sqs, int n, double lr, double beta1, double beta2, double eps, double weight_decay,
                  double momentum_decay, int decoupled_weight_decay, int maximize);
int cg_radam_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **exp_avgs, cg_tensor **exp_avg_sqs, int n,
                  double lr, double beta1, double beta2, double eps, double weight_decay, int decoupled_weight_decay,
                  int maximize);
int cg_adadelta_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **square_avgs, cg_tensor **acc_deltas,
                     int n, double lr, double rho, double eps, double weight_decay, int maximize);
/* The learning rate only seeds step_sizes, which the caller makes. */
int cg_rprop_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **prevs, cg_tensor **step_sizes, int n,
                  double etaminus, double etaplus, double step_size_min, double step_size_max, int maximize);
/* etas and mus are 0-d, in the step counters' dtype; each step rewrites them. */
int cg_asgd_step(cg_tensor *const *params, cg_tensor **steps, cg_tensor **etas, cg_tensor **mus, cg_tensor **axs,
                 int n, double lr, double lambd, double alpha, double t0, double weight_decay, int maximize);
/* Scales the params' grads in place so that their total norm is at most
 * max_norm; returns the total norm before clipping (a new 0-d tensor). */
cg_tensor *cg_clip_grad_norm_(cg_tensor *const *params, int n, double max_norm, double norm_type,
                              int error_if_nonfinite);
int cg_clip_grad_value_(cg_tensor *const *params, int n, double clip_value);
/* Optimizer.zero_grad: drops the params' grads, or zeroes them in place (detached). */
int cg_zero_grad(cg_tensor *const *params, int n, int set_to_none);

/* ---- compiled steps (compile.c) ------------------------------------------------ */
/* A tape records the kernels one call of a step performs (forward, backward,
 * optimizer update) and replays them over the same buffers, with no graph and
 * no allocation. See Note [Recording a step] in compile.c. */
typedef struct cg_tape cg_tape;
cg_tape *cg_tape_new(void); /* new, empty; NULL + error if out of memory */
void cg_tape_free(cg_tape *tp); /* NULL allowed; releases every tensor it holds */
/* Starts recording on this thread. inputs[0..n) (borrowed; the tape keeps a
 * reference) are the step's tensor arguments, whose data changes per call. */
int cg_tape_begin(cg_tape *tp, cg_tensor *const *inputs, int n);
int cg_tape_end(cg_tape *tp); /* stops recording on this thread */
int cg_is_recording(void);    /* a tape is recording on this thread */
/* Marks the recording of this thread unusable, with the cause (no-op when none records). */
void cg_tape_break(const char *fmt, ...);
/* Reading t's values (item(), numpy(), printing...) while recording: breaks the
 * recording, naming `what`, when the step wrote t's data or t is an input.
 * Returns 1 if it broke the recording. */
int cg_tape_read(const cg_tensor *t, const char *what);
/* A leaf's .grad is being read from outside the C core: the replay then
 * requires the same .grad object as at the start of the recording. */
void cg_tape_note_grad(cg_tensor *t);
/* Keeps obj alive until the recording tape is freed: release(obj) then. */
void cg_tape_keep(void *obj, void (*release)(void *obj));
const char *cg_tape_cause(const cg_tape *tp); /* NULL, or why the recording is unusable (borrowed) */
int cg_tape_set_outputs(cg_tape *tp, cg_tensor *const *outputs, int n); /* retains them */
int cg_tape_wrote(const cg_tape *tp, const cg_tensor *t); /* the step wrote t's storage */
int cg_tape_touched(const cg_tape *tp, const cg_tensor *t); /* an entry names a tensor on t's storage */
int64_t cg_tape_size(const cg_tape *tp); /* entries */
/* Once replayed: the bytes of the intermediates that share memory between
 * replays, each counted alone, and the bytes of the memory they share
 * (Note [Sharing buffers between replays' intermediates] in compile.c). */
void cg_tape_memory(const cg_tape *tp, int64_t *alone, int64_t *shared);
/* The elements the entries name, summed: a rough measure of a replay's work. */
int64_t cg_tape_work(const cg_tape *tp);
/* Entry i's kernel name (static), and in tensors[0..6) the tape's indices of
 * the tensors it names (-1: none); NULL if there is no entry i. */
const char *cg_tape_entry(const cg_tape *tp, int64_t i, int64_t *tensors);
/* Drops the autograd history of the tensors only the tape holds, so that the
 * nodes of a recorded backward die as they would after an eager step. */
void cg_tape_drop_history(cg_tape *tp);
/* NULL if a and b recorded the same work; else a description of the first
 * difference, written into buf. */
const char *cg_tape_compare(const cg_tape *a, const cg_tape *b, char *buf, size_t size);
/* Replays: copies args[0..n) into the inputs, runs every entry, writes back
 * inputs the step writes into, and stores copies of the outputs in outs (new
 * references). Returns 0; 1 when a guard fails (tensors the recording uses were
 * replaced since: nothing ran); -1 on error. Runs without Python. */
int cg_tape_replay(cg_tape *tp, cg_tensor *const *args, int n, cg_tensor **outs);
/* Between refresh_begin and refresh_end, the fused optimizer steps (optim.c)
 * do not run: they write their hyper-parameters into the entries they
 * recorded, in order. refresh_end returns 0, or 1 when the calls did not
 * match the recording (other parameters, flags or count). */
int cg_tape_refresh_begin(cg_tape *tp);
int cg_tape_refresh_end(cg_tape *tp);
int cg_tape_refreshing(void); /* between refresh_begin and refresh_end, on this thread */

/* ---- custom functions and anomaly mode (custom.c) ------------------------------ */
/* A custom Function is a node whose backward is a callback. fn gets the
 * gradients of the node's outputs (gout[k] borrowed, NULL where none arrived)
 * and writes gradients for its inputs into gin[i] (new references, NULL for
 * none). It returns 0, or -1 after setting an error (CG_ERR_EXTERNAL when it
 * kept its own, as hooks do). cgrad then checks each gin[i] against input i:
 * a gradient of a broadcastable shape is summed to it, another dtype is cast,
 * a shape that cannot be summed to it is an error. */
typedef int (*cg_function_backward)(void *ctx, cg_node *n, cg_tensor **gout, int n_out,
                                    cg_tensor **gin, int n_in);
typedef void (*cg_ctx_release)(void *ctx);
/* A new node named `name` (copied) with one edge per input (NULL inputs, and
 * inputs that do not require grad, get none) and n_outputs outputs. The node
 * owns ctx: release(ctx) runs when the node dies, on any thread. On failure
 * (NULL) release is not called. */
cg_node *cg_function_node_new(const char *name, cg_tensor *const *inputs, int n_inputs, int n_outputs,
                              cg_function_backward fn, void *ctx, cg_ctx_release release);
/* The ctx of a custom node (borrowed), NULL for any other node. */
void *cg_function_ctx(const cg_node *n);
/* Makes t output k of n (t->grad_fn = n). */
int cg_function_set_output(cg_node *n, cg_tensor *t, uint32_t k);
/* Saves tensors[0..count) for backward (NULL entries save None); an output of
 * n is saved without its history, as built-in ops save theirs. */
int cg_function_save(cg_node *n, cg_tensor *const *tensors, int count);
int cg_function_num_saved(const cg_node *n);
/* Saved tensor i into *out (new reference; NULL for a saved None). -1 when
 * it was freed by a backward or modified in place since it was saved. */
int cg_function_unpack(cg_node *n, int i, cg_tensor **out);
/* Whether n passes a gradient to input i (it has an edge there). */
int cg_node_needs_input_grad(const cg_node *n, int i);

/* Calls visit(ctx, arg) for the ctx of every hook released by hook_release,
 * and of every custom Function node released by fn_release, that nothing
 * but the holder of one reference to `root` keeps alive: every reference to
 * it, and to each object on the way to it, comes from root's graph (see
 * Note [Owned hooks] in graph.c). A garbage collector uses it to see a
 * callable or ctx that refers back to that holder. Nothing may change the
 * graph meanwhile (no backward pass or replay in another thread), and calls
 * must not overlap: the binding calls it from the collector, holding the
 * GIL, and never while a call of its own runs without it. Reports nothing
 * for graphs past 2^14 objects (or if its scratch, under 1 MB allocated
 * once, could not be), so the same graph always gets the same answer.
 * Returns the first nonzero visit result, or 0. */
int cg_visit_owned_contexts(cg_tensor *root, cg_hook_release hook_release, cg_ctx_release fn_release,
                            int (*visit)(void *ctx, void *arg), void *arg);

/* Hooks on a node (grad_fn.register_prehook / register_hook). A pre-hook gets
 * the gradients of n's outputs, grads[0..n_grads); a post-hook gets the
 * gradients n computed for its inputs, and `other` = the outputs' gradients.
 * Either may replace an entry of grads (release the old, store a new
 * reference). Entries may be NULL. Returns 0, or -1 as cg_hook_fn does. */
typedef int (*cg_node_hook_fn)(void *ctx, cg_node *n, cg_tensor **grads, int n_grads,
                               cg_tensor **other, int n_other);
/* Returns a handle as cg_tensor_register_hook does, or NULL. */
cg_hook *cg_node_register_hook(cg_node *n, int post, cg_node_hook_fn fn, void *ctx, cg_hook_release release);

/* What a node saved for backward: the number of slots, and slot i's tensor
 * (new reference, history-free), NULL when empty or already freed. */
int cg_node_num_saved(const cg_node *n);
cg_tensor *cg_node_saved(const cg_node *n, int i);
/* Saved-tensor hooks (Note [Saved-tensor hooks] in graph.c). While a thread
 * has them on, each save is queued; the binding takes the queue (next: 1 and
 * a node, new reference, and slot as cg_node_saved counts; 0 once empty)
 * after each call that can save, and packs each entry: target is the tensor
 * to hand the pack hook (new reference; NULL: nothing to pack), set_packed
 * puts the hook's result (owned, dropped by release) in the slot. unpack
 * turns such a result back into a tensor (new reference), or returns NULL
 * with the error set; release and unpack take the GIL themselves.
 * cg_saved_hooks_threads counts the threads with hooks on. */
typedef cg_tensor *(*cg_saved_unpack_fn)(void *obj);
extern int cg_saved_hooks_threads;
void cg_saved_hooks_callbacks(cg_saved_unpack_fn unpack, void (*release)(void *obj));
void cg_saved_hooks_on(int on); /* this thread */
int cg_saved_hooks_pending(void); /* this thread has saves queued, and is not packing them already */
int cg_saved_hooks_next(cg_node **n, int *slot);
cg_tensor *cg_saved_hooks_target(cg_node *n, int slot);
int cg_saved_set_packed(cg_node *n, int slot, void *obj);

/* Input i's shape and dtype as the node recorded them (the first two inputs
 * of a built-in op, every input of a custom Function); -1 if unknown. */
int cg_node_input_meta(const cg_node *n, int i, int64_t *shape, int *ndim, cg_dtype *dtype);

/* Anomaly mode (process-wide, as PyTorch's). While it is on, every new node
 * calls capture(parent, parent_name) and keeps the opaque record it returns
 * (parent: the record of the node whose backward is creating this one, and
 * that node's name; NULL, NULL outside backward); release
 * frees a record when its node dies (any thread). When a node's backward
 * fails, or returns NaN with check_nan on ("Function 'MulBackward0' returned
 * nan values in its 0th output."), report(record, node name) runs before the
 * error reaches the caller. */
typedef void *(*cg_anomaly_capture)(void *parent, const char *parent_name);
typedef void (*cg_anomaly_release)(void *record);
typedef void (*cg_anomaly_report)(void *record, const char *node_name);
void cg_set_anomaly_callbacks(cg_anomaly_capture capture, cg_anomaly_release release,
                              cg_anomaly_report report);
void cg_set_anomaly_enabled(int on, int check_nan);
int cg_is_anomaly_enabled(void);
int cg_is_anomaly_check_nan_enabled(void);
void *cg_node_anomaly(const cg_node *n); /* borrowed record, or NULL */
/* 1 if a floating tensor holds a NaN, else 0. */
int cg_tensor_has_nan(const cg_tensor *t);

/* ---- random numbers ------------------------------------------------------ */
typedef struct cg_generator {
    uint64_t s[4]; /* xoshiro256** state */
    double spare_normal;
    int has_spare;
} cg_generator;
void cg_generator_seed(cg_generator *g, uint64_t seed);
/* Seed g, or set its state (s[0..4), the spare normal draw); a step being
 * recorded does it again on every replay. 0, or -1 with an error set. */
int cg_generator_manual_seed(cg_generator *g, uint64_t seed);
int cg_generator_set_state(cg_generator *g, const uint64_t *s, int has_spare, double spare_normal);
cg_generator *cg_default_generator(void); /* borrowed, process-wide */
/* g NULL: the default generator. */
cg_tensor *cg_rand(const int64_t *shape, int ndim, cg_dtype dtype, cg_generator *g);
cg_tensor *cg_randn(const int64_t *shape, int ndim, cg_dtype dtype, cg_generator *g);
/* t filled in place with draws of N(mean, std^2) or of U[from, to) (floating t;
 * std >= 0; from <= to, both and their distance within t's dtype), recorded
 * as by PyTorch: by a node that passes no gradient back. Returns t (new
 * reference). */
cg_tensor *cg_normal_(cg_tensor *t, double mean, double std, cg_generator *g);
cg_tensor *cg_uniform_(cg_tensor *t, double from, double to, cg_generator *g);
/* Integers drawn uniformly from [low, high), stored as dtype. */
cg_tensor *cg_randint(int64_t low, int64_t high, const int64_t *shape, int ndim, cg_dtype dtype, cg_generator *g);
/* 0..n-1 in a random order, stored as dtype. */
cg_tensor *cg_randperm(int64_t n, cg_dtype dtype, cg_generator *g);
/* 1 with probability p, else 0: p the elements of a (cg_bernoulli), a number
 * (cg_bernoulli_p: a's shape and dtype), or, in place into a, a tensor p
 * broadcast to a (NULL: the number pv). The result passes zeros back. */
cg_tensor *cg_bernoulli(cg_tensor *p, cg_generator *g);
cg_tensor *cg_bernoulli_p(cg_tensor *a, double p, cg_generator *g);
cg_tensor *cg_bernoulli_(cg_tensor *a, cg_tensor *p, double pv, cg_generator *g);
/* Poisson counts with the elements of rates (>= 0) as means, and binomial counts of count trials
 * with success probabilities prob (broadcast together), in the dtype of rates / count (floating).
 * The Poisson result passes zeros back; the binomial one has no derivative, as in PyTorch. */
cg_tensor *cg_poisson(cg_tensor *rates, cg_generator *g);
cg_tensor *cg_binomial(cg_tensor *count, cg_tensor *prob, cg_generator *g);
/* ---- unique (ops_unique.c) ---- */
/* The distinct elements of a (has_dim: its distinct slices along dim), in
 * ascending order; where each element (slice) of a went among them, in a's
 * shape (the dim's size); and how often each came. New references. */
int cg_unique(cg_tensor *a, int has_dim, int64_t dim, cg_tensor **values, cg_tensor **inverse, cg_tensor **counts);
/* Gives values, computed from a without history, the history PyTorch gives
 * unique_consecutive's: a node whose backward fails. -1 on error. */
int cg_unique_consecutive_history(cg_tensor *values, cg_tensor *a);

/* n categories drawn per row of weights p (1-d or 2-d), as int64 indices. */
cg_tensor *cg_multinomial(cg_tensor *p, int64_t n, int replacement, cg_generator *g);

/* ---- ranges (creation.c) ---------------------------------------------------- */
/* start, start + step, ... while below end (above it for a negative step). */
cg_tensor *cg_arange(double start, double end, double step, cg_dtype dtype);
/* steps values from start to end inclusive, evenly spaced. */
cg_tensor *cg_linspace(double start, double end, int64_t steps, cg_dtype dtype);
/* n x m, ones on the diagonal. */
cg_tensor *cg_eye(int64_t n, int64_t m, cg_dtype dtype);

/* ---- embedding bags, CTC loss, grid sampling (ops_bag.c, ops_ctc.c, ops_grid.c) -- */
/* The sum (mode 0), mean (1) or max (2) of each bag of weight's rows: bag b is
 * indices[bounds[b] .. bounds[b + 1]) (int64, 1-D), (B, D) out. per_sample_weights
 * (NULL: none) scales each row (sum mode); rows of padding_idx (-1: none) are left
 * out; scale_grad_by_freq divides a row's gradient by its count in indices. */
cg_tensor *cg_embedding_bag(cg_tensor *weight, cg_tensor *indices, cg_tensor *bounds, cg_tensor *per_sample_weights,
                            int mode, int64_t padding_idx, int scale_grad_by_freq);
/* The negative log likelihood (N) of each target under log_probs (T, N, C): sequence b's
 * labels are targets[target_starts[b] ..][..target_lengths[b]] (all int64, 1-D,
 * contiguous), read over its first input_lengths[b] steps. zero_infinity: an infinite
 * loss passes no gradient. */
cg_tensor *cg_ctc_loss(cg_tensor *log_probs, cg_tensor *targets, cg_tensor *target_starts, cg_tensor *input_lengths,
                       cg_tensor *target_lengths, int64_t blank, int zero_infinity);
/* input (N, C, H, W) read at grid (N, Ho, Wo, 2) of (x, y) in [-1, 1], or input
 * (N, C, D, H, W) at grid (N, Do, Ho, Wo, 3) of (x, y, z): mode 0 (tri)linear, 1 nearest,
 * 2 bicubic (2-d only); padding_mode 0 zeros, 1 border, 2 reflection. */
cg_tensor *cg_grid_sampler(cg_tensor *input, cg_tensor *grid, int64_t mode, int64_t padding_mode, int align_corners);

#ifdef __cplusplus
}
#endif
#endif /* CGRAD_H */
