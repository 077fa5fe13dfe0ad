"""Which of tied entries topk picks, as PyTorch's CPU kernel picks them.

PyTorch's topk on CPU selects with libstdc++'s std::partial_sort (when k * 64 <= n) or std::nth_element over
(value, index) pairs, so among entries equal to the k-th value the chosen ones are whichever those
algorithms leave in front. Pruning masks depend on that choice (a zero-initialized bias is all ties), so
nn.utils.prune replays the same selection when the k-th value is tied; these are those algorithms, step for
step.
"""
import numpy as np


def _lg(n):
    return n.bit_length() - 1


def _adjust_heap(a, first, hole, length, value, comp):
    top = hole
    second = hole
    while second < (length - 1) // 2:
        second = 2 * (second + 1)
        if comp(a[first + second], a[first + second - 1]):
            second -= 1
        a[first + hole] = a[first + second]
        hole = second
    if (length & 1) == 0 and second == (length - 2) // 2:
        second = 2 * (second + 1)
        a[first + hole] = a[first + second - 1]
        hole = second - 1
    parent = (hole - 1) // 2
    while hole > top and comp(a[first + parent], value):
        a[first + hole] = a[first + parent]
        hole = parent
        parent = (hole - 1) // 2
    a[first + hole] = value


def _make_heap(a, first, last, comp):
    length = last - first
    if length < 2:
        return
    parent = (length - 2) // 2
    while True:
        _adjust_heap(a, first, parent, length, a[first + parent], comp)
        if parent == 0:
            return
        parent -= 1


def _heap_select(a, first, middle, last, comp):
    """std::__heap_select: the best `middle - first` by comp end up in front."""
    _make_heap(a, first, middle, comp)
    for i in range(middle, last):
        if comp(a[i], a[first]):
            value = a[i]
            a[i] = a[first]
            _adjust_heap(a, first, 0, middle - first, value, comp)


def _insertion_sort(a, first, last, comp):
    if first == last:
        return
    for i in range(first + 1, last):
        val = a[i]
        if comp(val, a[first]):
            a[first + 1:i + 1] = a[first:i]
            a[first] = val
        else:
            j = i
            while comp(val, a[j - 1]):
                a[j] = a[j - 1]
                j -= 1
            a[j] = val


def _median_to_first(a, result, x, y, z, comp):
    if comp(a[x], a[y]):
        if comp(a[y], a[z]):
            m = y
        elif comp(a[x], a[z]):
            m = z
        else:
            m = x
    elif comp(a[x], a[z]):
        m = x
    elif comp(a[y], a[z]):
        m = z
    else:
        m = y
    a[result], a[m] = a[m], a[result]


def _partition_pivot(a, first, last, comp):
    mid = first + (last - first) // 2
    _median_to_first(a, first, first + 1, mid, last - 1, comp)
    pivot = a[first]
    lo, hi = first + 1, last
    while True:
        while comp(a[lo], pivot):
            lo += 1
        hi -= 1
        while comp(pivot, a[hi]):
            hi -= 1
        if not lo < hi:
            return lo
        a[lo], a[hi] = a[hi], a[lo]
        lo += 1


def _nth_element(a, nth, comp):
    """std::nth_element (introselect: median-of-three partitions, heap select past the depth limit)."""
    first, last = 0, len(a)
    if first == last or nth == last:
        return
    depth = _lg(last - first) * 2
    while last - first > 3:
        if depth == 0:
            _heap_select(a, first, nth + 1, last, comp)
            a[first], a[nth] = a[nth], a[first]
            return
        depth -= 1
        cut = _partition_pivot(a, first, last, comp)
        if cut <= nth:
            first = cut
        else:
            last = cut
    _insertion_sort(a, first, last, comp)


def _select(values, k, largest):
    """The indices PyTorch's CPU topk picks (the set; not their order)."""
    a = [(v, i) for i, v in enumerate(values)]
    if largest:
        def comp(x, y):
            return (x[0] != x[0] and y[0] == y[0]) or x[0] > y[0]
    else:
        def comp(x, y):
            return (x[0] == x[0] and y[0] != y[0]) or x[0] < y[0]
    if k * 64 <= len(a):
        _heap_select(a, 0, k, len(a), comp)
    else:
        _nth_element(a, k - 1, comp)
    return [i for _, i in a[:k]]


def topk_indices(t, k, largest, fast):
    """The indices of the k largest (or smallest) entries of the 1-D tensor t, ties broken as PyTorch breaks
    them; `fast` is cgrad's topk result, kept when no tie crosses the k-th value."""
    v = np.asarray(t.detach(), dtype=np.float64)
    chosen = v[np.asarray(fast)]
    nan = np.isnan(chosen)
    if largest:
        b = np.nan if nan.all() else chosen[~nan].min()
    else:
        b = np.nan if nan.any() else chosen.max()
    same = np.isnan(v) if np.isnan(b) else v == b
    same_chosen = np.isnan(chosen) if np.isnan(b) else chosen == b
    if same.sum() == same_chosen.sum():
        return fast
    from cgrad._creation import tensor
    return tensor(_select(v.tolist(), k, largest))
