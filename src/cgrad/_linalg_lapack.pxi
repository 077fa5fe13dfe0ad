# The factorizations and solvers of ops_linalg_lapack.c, one C call each;
# cgrad.linalg checks PyTorch's arguments and names the results.


cdef bytes _name_or_none(object name):
    return None if name is None else name.encode()


def _linalg_cholesky_ex(A, bint upper, check_name):
    cdef _TensorBase a = tensor_arg(A, "linalg_cholesky_ex", "input", 1)
    cdef cg_tensor *l = NULL
    cdef cg_tensor *info = NULL
    cdef bytes name = _name_or_none(check_name)
    cdef const char *cname = NULL
    if name is not None:
        cname = name
    check(cg_linalg_cholesky_ex(a.t, upper, cname, &l, &info))
    return wrap(l), wrap(info)


def _linalg_solve_triangular(A, B, bint upper, bint left, bint unitriangular):
    cdef _TensorBase a = tensor_arg(A, "linalg_solve_triangular", "input", 1)
    cdef _TensorBase b = tensor_arg(B, "linalg_solve_triangular", "B", 2)
    return wrap(cg_linalg_solve_triangular(a.t, b.t, upper, left, unitriangular))


def _linalg_solve_ex(A, B, bint left, check_name):
    cdef _TensorBase a = tensor_arg(A, "linalg_solve_ex", "A", 1)
    cdef _TensorBase b = tensor_arg(B, "linalg_solve_ex", "B", 2)
    cdef cg_tensor *x = NULL
    cdef cg_tensor *info = NULL
    cdef bytes name = _name_or_none(check_name)
    cdef const char *cname = NULL
    if name is not None:
        cname = name
    check(cg_linalg_solve_ex(a.t, b.t, left, cname, &x, &info))
    return wrap(x), wrap(info)


def _linalg_lu_factor_ex(A):
    cdef _TensorBase a = tensor_arg(A, "linalg_lu_factor_ex", "A", 1)
    cdef cg_tensor *lu = NULL
    cdef cg_tensor *piv = NULL
    cdef cg_tensor *info = NULL
    check(cg_linalg_lu_factor_ex(a.t, &lu, &piv, &info))
    return wrap(lu), wrap(piv), wrap(info)


def _linalg_lu(A):
    cdef _TensorBase a = tensor_arg(A, "linalg_lu", "A", 1)
    cdef cg_tensor *p = NULL
    cdef cg_tensor *l = NULL
    cdef cg_tensor *u = NULL
    check(cg_linalg_lu(a.t, &p, &l, &u))
    return wrap(p), wrap(l), wrap(u)


def _linalg_lu_solve(LU, pivots, B, bint left, bint adjoint):
    cdef _TensorBase lu = tensor_arg(LU, "linalg_lu_solve", "LU", 1)
    cdef _TensorBase piv = tensor_arg(pivots, "linalg_lu_solve", "pivots", 2)
    cdef _TensorBase b = tensor_arg(B, "linalg_lu_solve", "B", 3)
    return wrap(cg_linalg_lu_solve(lu.t, piv.t, b.t, left, adjoint))


def _linalg_ldl_factor_ex(A):
    cdef _TensorBase a = tensor_arg(A, "linalg_ldl_factor_ex", "A", 1)
    cdef cg_tensor *ld = NULL
    cdef cg_tensor *piv = NULL
    cdef cg_tensor *info = NULL
    check(cg_linalg_ldl_factor_ex(a.t, &ld, &piv, &info))
    return wrap(ld), wrap(piv), wrap(info)


def _linalg_ldl_solve(LD, pivots, B):
    cdef _TensorBase ld = tensor_arg(LD, "linalg_ldl_solve", "LD", 1)
    cdef _TensorBase piv = tensor_arg(pivots, "linalg_ldl_solve", "pivots", 2)
    cdef _TensorBase b = tensor_arg(B, "linalg_ldl_solve", "B", 3)
    return wrap(cg_linalg_ldl_solve(ld.t, piv.t, b.t))


def _linalg_eigh(A, bint upper, bint vectors):
    cdef _TensorBase a = tensor_arg(A, "linalg_eigh", "A", 1)
    cdef cg_tensor *w = NULL
    cdef cg_tensor *v = NULL
    check(cg_linalg_eigh(a.t, upper, vectors, &w, &v))
    return wrap(w), (wrap(v) if vectors else None)


def _linalg_qr(A, int mode):
    cdef _TensorBase a = tensor_arg(A, "linalg_qr", "A", 1)
    cdef cg_tensor *q = NULL
    cdef cg_tensor *r = NULL
    check(cg_linalg_qr(a.t, mode, &q, &r))
    return wrap(q), wrap(r)


def _linalg_svd(A, bint full_matrices, bint compute_uv):
    cdef _TensorBase a = tensor_arg(A, "linalg_svd", "A", 1)
    cdef cg_tensor *u = NULL
    cdef cg_tensor *s = NULL
    cdef cg_tensor *vh = NULL
    check(cg_linalg_svd(a.t, full_matrices, compute_uv, &u, &s, &vh))
    if not compute_uv:
        return None, wrap(s), None
    return wrap(u), wrap(s), wrap(vh)


def _geqrf(A):
    cdef _TensorBase a = tensor_arg(A, "geqrf", "input", 1)
    cdef cg_tensor *qr = NULL
    cdef cg_tensor *tau = NULL
    check(cg_geqrf(a.t, &qr, &tau))
    return wrap(qr), wrap(tau)
