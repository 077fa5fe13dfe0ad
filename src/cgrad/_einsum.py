"""einsum: Einstein summation over tensors, built from cgrad's own ops.

The equation is read into one list of dimension names per operand (letters,
and for an ellipsis names of its own, aligned from the right across operands
as broadcasting aligns them). Each operand then loses its repeated names (a
diagonal: the operand zeroed off it, summed along the second copy) and
the names no one else needs (summed out). The operands are contracted two at
a time, left to right, each pair as one batched matrix product: the names
both keep are the batch, the names only one keeps are its rows or columns,
and the names neither needs afterwards are summed by the product. Sizes of 1
broadcast, as in PyTorch. Gradients come from the ops used.
"""
import string

from cgrad._C import Tensor, eye

_LETTERS = string.ascii_letters


def _fail(msg):
    raise RuntimeError(f"einsum(): {msg}")


def _from_sublists(args):
    """The equation of einsum's sublist form: operand, [dims], operand, [dims], ..., [output dims]."""
    def letters(sub):
        out = ""
        for s in sub:
            if s is Ellipsis:
                out += "..."
            elif isinstance(s, int) and 0 <= s < 52:
                out += _LETTERS[s]
            else:
                raise ValueError(f"einsum(): expected subscript to be within the range [0, 52), but got {s}")
        return out
    pairs, out = (args[:-1], args[-1]) if len(args) % 2 else (args, None)
    operands, subs = list(pairs[0::2]), [letters(s) for s in pairs[1::2]]
    return ",".join(subs) + ("" if out is None else "->" + letters(out)), operands


def _terms(equation, n):
    """The subscripts of each operand, and of the output (None: implicit)."""
    equation = equation.replace(" ", "")
    lhs, arrow, rhs = equation.partition("->")
    terms = lhs.split(",")
    if len(terms) < n:
        _fail("more operands were provided than specified in the equation")
    if len(terms) > n:
        _fail("fewer operands were provided than specified in the equation")
    at = 0
    for k, term in enumerate(terms):
        _check_term(term, at, f"operand {k}")
        at += len(term) + 1
    if arrow:
        _check_term(rhs, at + 1, "output")
    return terms, rhs if arrow else None


def _check_term(term, at, where):
    rest = term.replace("...", "", 1)
    if "..." in rest:
        _fail(f"found '.' for {where} but an ellipsis (...) was already found")
    if "." in rest:
        _fail(f"found '.' for {where} that is not part of any ellipsis")
    for i, c in enumerate(term):
        if c != "." and c not in _LETTERS:
            _fail(f"invalid subscript given at index {at + i} in the equation string, subscripts must be in [a-zA-Z]")


def _names(term, ndim, k):
    """The dimension names of operand k: its letters, an ellipsis' dims as ('...', j) counted from the right."""
    if "..." not in term:
        if len(term) != ndim:
            _fail(f"the number of subscripts in the equation ({len(term)}) does not match the number of dimensions "
                  f"({ndim}) for operand {k} and no ellipsis was given")
        return list(term)
    head, _, tail = term.partition("...")
    covered = ndim - len(head) - len(tail)
    if covered < 0:
        _fail(f"the number of subscripts in the equation ({len(head) + len(tail)}) is more than the number of "
              f"dimensions ({ndim}) for operand {k}")
    return list(head) + [("...", covered - j) for j in range(covered)] + list(tail)


def _sizes(operands, names):
    """The size of each name across operands (1 broadcasts), checked as PyTorch checks them."""
    size = {}
    for k, (t, ns) in enumerate(zip(operands, names)):
        seen = {}
        for n, s in zip(ns, t.shape):
            if n in seen and seen[n] != s:
                _fail(f"subscript {n} is repeated for operand {k} but the sizes don't match, {s} != {seen[n]}")
            seen[n] = s
        for n, s in seen.items():
            have = size.get(n)
            if have is None or have == 1:
                size[n] = s
            elif s != 1 and s != have:
                if isinstance(n, tuple):
                    _fail(f"dimension {len([m for m in ns if isinstance(m, tuple)]) - n[1]} covered by ellipsis in operand {k}"
                          f"has size {s} which does not broadcast with previously seen ellipsis with size {have} "
                          f"for the respective dimension")
                _fail(f"subscript {n} has size {s} for operand {k} which does not broadcast with previously seen "
                      f"size {have}")
    return size


def _output(names, rhs):
    """The output's names: given, or the ellipsis' then the letters seen once, alphabetically."""
    ellipsis = sorted({n for ns in names for n in ns if isinstance(n, tuple)}, key=lambda n: -n[1])
    if rhs is None:
        counts = {}
        for ns in names:
            for n in ns:
                if not isinstance(n, tuple):
                    counts[n] = counts.get(n, 0) + 1
        return ellipsis + sorted((n for n, c in counts.items() if c == 1), key=_LETTERS.index)
    out = []
    head, dots, tail = rhs.partition("...")
    for c in head + (" " if dots else "") + tail:
        if c == " ":
            out += ellipsis
            continue
        if c in out:
            _fail(f"output subscript {c} appears more than once in the output")
        if not any(c in ns for ns in names):
            _fail(f"output subscript {c} does not appear in the equation for any input operand")
        out.append(c)
    return out


def _diagonal(t, ns):
    """t without repeated names: each repeat replaced by the diagonal it takes with the first copy."""
    while True:
        dup = next(((i, j) for i in range(len(ns)) for j in range(i + 1, len(ns)) if ns[i] == ns[j]), None)
        if dup is None:
            return t, ns
        i, j = dup
        n = t.shape[i]
        shape = [1] * t.ndim
        shape[i] = shape[j] = n
        off = eye(n, dtype=t.dtype).reshape(shape) == 0  # selected, not multiplied: inf * 0 would be NaN
        t = t.masked_fill(off, 0).sum(j)
        ns = ns[:j] + ns[j + 1:]


def _sum_out(t, ns, keep):
    """t summed over the names not in keep."""
    drop = [i for i, n in enumerate(ns) if n not in keep]
    if drop:
        t = t.sum(drop)
        ns = [n for n in ns if n in keep]
    return t, ns


def _arrange(t, ns, order):
    """t with its dims in the order of the names given, a name it lacks as a dim of size 1."""
    if ns:
        t = t.permute([ns.index(n) for n in order if n in ns])
    have = dict(zip([n for n in order if n in ns], t.shape))
    return t.reshape([have.get(n, 1) for n in order])


def _contract(a, na, b, nb, keep, size):
    """a * b summed over the names they share that keep lacks, as one batched product."""
    batch = [n for n in na if n in nb and n in keep]
    summed = [n for n in na if n in nb and n not in keep]
    rows = [n for n in na if n not in nb]
    cols = [n for n in nb if n not in na]

    def numel(shape):
        p = 1
        for s in shape:
            p *= s
        return p
    a = _arrange(a, na, batch + rows + summed)
    b = _arrange(b, nb, batch + summed + cols)
    nbatch, nrows, nsum = len(batch), len(rows), len(summed)
    a = a.expand(*[size[n] for n in batch], *[-1] * nrows, *[size[n] for n in summed])  # sizes of 1 broadcast
    b = b.expand(*[size[n] for n in batch + summed], *[-1] * len(cols))
    rows_shape, cols_shape = list(a.shape[nbatch:nbatch + nrows]), list(b.shape[nbatch + nsum:])
    k, nbat = numel([size[n] for n in summed]), numel([size[n] for n in batch])
    out = a.reshape(nbat, numel(rows_shape), k).bmm(b.reshape(nbat, k, numel(cols_shape)))
    return out.reshape([size[n] for n in batch] + rows_shape + cols_shape), batch + rows + cols


def einsum(*args):
    """einsum(equation, *operands) or einsum(equation, [operands]), or the sublist
    form einsum(op0, [dims], op1, [dims], ..., [output dims]): the sum over the
    equation's repeated subscripts of the products of the operands' elements."""
    if len(args) < 2:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscripts list")
    if isinstance(args[0], str):
        equation, operands = args[0], list(args[1:])
        if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
            operands = list(operands[0])
    else:
        equation, operands = _from_sublists(args)
    for k, t in enumerate(operands):
        if not isinstance(t, Tensor):
            kind = type(t).__qualname__ if type(t).__module__ == "builtins" else f"{type(t).__module__}.{type(t).__qualname__}"
            raise TypeError(f"expected Tensor as element {k} in argument 1, but got {kind}")
    if not operands:
        raise ValueError("einsum(): must provide at least one operand")
    terms, rhs = _terms(equation, len(operands))
    names = [_names(term, t.ndim, k) for k, (term, t) in enumerate(zip(terms, operands))]
    for t in operands[1:]:
        if t.dtype != operands[0].dtype:
            raise RuntimeError(f"expected scalar type {_type(operands[0])} but found {_type(t)}")
    size = _sizes(operands, names)
    out = _output(names, rhs)
    ops = [_diagonal(t, ns) for t, ns in zip(operands, names)]
    for k in range(len(ops)):  # names no other operand nor the output needs
        others = set(out).union(*(ops[j][1] for j in range(len(ops)) if j != k))
        ops[k] = _sum_out(*ops[k], others)
    acc, na = ops[0]
    for k in range(1, len(ops)):
        b, nb = ops[k]
        later = set(out).union(*(ops[j][1] for j in range(k + 1, len(ops))))
        acc, na = _contract(acc, na, b, nb, later, size)
    acc, na = _sum_out(acc, na, set(out))
    return _arrange(acc, na, out) if out else acc.reshape([])


def _type(t):
    return {"float32": "Float", "float64": "Double", "int64": "Long", "bool": "Bool"}[str(t.dtype).split(".")[-1]]
