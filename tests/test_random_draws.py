"""randperm, bernoulli and multinomial: what they draw (permutations, 0/1 with
the right frequencies, categories in proportion to their weights), that a
generator makes them reproducible, their dtypes, gradients and errors, and
that a compiled step draws again on every replay with the eager values."""
import numpy as np
import pytest

import cgrad


def gen(seed):
    return cgrad.Generator().manual_seed(seed)


# ---- randperm ------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, 1, 2, 7, 1000])
def test_randperm_is_a_permutation(n):
    p = cgrad.randperm(n, generator=gen(0))
    assert p.dtype == cgrad.int64 and tuple(p.shape) == (n,)
    assert sorted(p.tolist()) == list(range(n))


def test_randperm_is_uniform_over_orders():
    g = gen(1)
    counts = {}
    for _ in range(6000):
        key = tuple(cgrad.randperm(3, generator=g).tolist())
        counts[key] = counts.get(key, 0) + 1
    assert len(counts) == 6
    assert all(abs(c - 1000) < 150 for c in counts.values()), counts  # about 5 standard deviations


def test_randperm_generator_and_dtypes():
    assert cgrad.randperm(50, generator=gen(3)).tolist() == cgrad.randperm(50, generator=gen(3)).tolist()
    assert cgrad.randperm(50, generator=gen(3)).tolist() != cgrad.randperm(50, generator=gen(4)).tolist()
    f = cgrad.randperm(5, dtype=cgrad.float64, requires_grad=True)
    assert f.dtype == cgrad.float64 and f.requires_grad and sorted(f.tolist()) == [0.0, 1.0, 2.0, 3.0, 4.0]


# ---- bernoulli -----------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bernoulli_frequencies_follow_the_probabilities(dtype):
    p = cgrad.tensor([0.0, 0.1, 0.5, 0.9, 1.0], dtype=getattr(cgrad, dtype)).expand(40000, 5)
    draws = cgrad.bernoulli(p, generator=gen(2))
    assert draws.dtype == p.dtype and tuple(draws.shape) == (40000, 5)
    values = draws.numpy()
    assert set(np.unique(values)) <= {0.0, 1.0}
    freq = values.mean(0)
    assert freq[0] == 0.0 and freq[4] == 1.0
    np.testing.assert_allclose(freq[1:4], [0.1, 0.5, 0.9], atol=0.012)  # about 5 standard deviations


def test_bernoulli_with_a_number_and_in_place():
    x = cgrad.zeros(20000, 3)
    freq = cgrad.bernoulli(x, 0.25, generator=gen(5)).numpy().mean()
    assert abs(freq - 0.25) < 0.01
    y = cgrad.zeros(20000, 3, dtype=cgrad.int64)
    assert y.bernoulli_(0.75, generator=gen(6)) is y
    assert abs(y.numpy().mean() - 0.75) < 0.01
    z = cgrad.zeros(20000, 3)
    z.bernoulli_(cgrad.tensor([0.0, 0.5, 1.0]), generator=gen(7))
    np.testing.assert_allclose(z.numpy().mean(0), [0.0, 0.5, 1.0], atol=0.02)
    b = cgrad.zeros(1000, dtype=cgrad.bool).bernoulli_(generator=gen(8))
    assert b.dtype == cgrad.bool and 400 < b.sum().item() < 600


def test_bernoulli_is_reproducible_with_a_generator():
    p = cgrad.rand(100, generator=gen(9))
    assert cgrad.equal(p.bernoulli(generator=gen(10)), p.bernoulli(generator=gen(10)))


def test_bernoulli_passes_zero_gradients_as_torch_does():
    torch = pytest.importorskip("torch")
    results = []
    for lib in (cgrad, torch):
        p = lib.tensor([0.2, 0.7, 0.4], requires_grad=True)
        q = lib.tensor([0.5, 0.5, 0.5], requires_grad=True)
        y = lib.bernoulli(p)
        w = (p * 2).bernoulli_(q * 1) + (p * 3).bernoulli_(0.5)
        (y * 3 + w + p).sum().backward()
        results.append((type(y.grad_fn).__name__, type(w.grad_fn.next_functions[0][0]).__name__,
                        p.grad.tolist(), q.grad.tolist()))
    assert results[0] == results[1]


# ---- multinomial ---------------------------------------------------------------------------

def test_multinomial_with_replacement_follows_the_weights():
    w = cgrad.tensor([1.0, 0.0, 3.0, 6.0], dtype=cgrad.float64)
    draws = cgrad.multinomial(w, 40000, replacement=True, generator=gen(11))
    assert draws.dtype == cgrad.int64 and tuple(draws.shape) == (40000,)
    freq = np.bincount(draws.numpy(), minlength=4) / 40000
    np.testing.assert_allclose(freq, [0.1, 0.0, 0.3, 0.6], atol=0.012)


def test_multinomial_without_replacement_draws_distinct_categories():
    w = cgrad.tensor([[1.0, 2.0, 3.0, 4.0], [0.0, 0.0, 5.0, 1.0]])
    g = gen(12)
    firsts = []
    for _ in range(3000):
        d = w.multinomial(3, generator=g)
        assert tuple(d.shape) == (2, 3)
        rows = d.tolist()
        assert all(len(set(r)) == 3 for r in rows)
        assert set(rows[1][:2]) == {2, 3}  # the weighted ones come before the unweighted
        firsts.append(rows[0][0])
    freq = np.bincount(firsts, minlength=4) / 3000
    np.testing.assert_allclose(freq, [0.1, 0.2, 0.3, 0.4], atol=0.045)


def test_multinomial_takes_every_category_when_asked_for_all():
    d = cgrad.multinomial(cgrad.tensor([0.5, 0.0, 0.25, 0.25]), 4, generator=gen(13)).tolist()
    assert sorted(d) == [0, 1, 2, 3] and d[3] == 1


def test_multinomial_is_reproducible_and_has_no_gradient():
    w = cgrad.tensor([0.2, 0.5, 0.3], requires_grad=True)
    a = cgrad.multinomial(w, 2, generator=gen(14))
    assert cgrad.equal(a, cgrad.multinomial(w, 2, generator=gen(14)))
    assert not a.requires_grad and a.grad_fn is None


ERRORS = {
    "randperm: negative": lambda m: m.randperm(-1),
    "randperm: bool": lambda m: m.randperm(5, dtype=m.bool),
    "randperm: float n": lambda m: m.randperm(5.0),
    "bernoulli: p above 1": lambda m: m.bernoulli(m.tensor([0.2, 1.5])),
    "bernoulli: p below 0": lambda m: m.bernoulli(m.tensor([0.2, -0.5])),
    "bernoulli: p nan": lambda m: m.bernoulli(m.tensor([0.2, float("nan")])),
    "bernoulli: integer p": lambda m: m.bernoulli(m.tensor([1, 0])),
    "bernoulli: number p above 1": lambda m: m.bernoulli(m.tensor([0.2, 0.5]), 1.3),
    "bernoulli_: tensor p above 1": lambda m: m.zeros(2).bernoulli_(m.tensor([0.1, 1.9])),
    "bernoulli: backward with a number p": lambda m: m.bernoulli(m.ones(2, requires_grad=True), 0.5).sum().backward(),
    "multinomial: too many": lambda m: m.multinomial(m.tensor([0.2, 0.5, 0.3]), 4),
    "multinomial: all zero": lambda m: m.multinomial(m.tensor([0.0, 0.0, 0.0]), 1),
    "multinomial: negative": lambda m: m.multinomial(m.tensor([0.2, -0.1, 0.0]), 1),
    "multinomial: inf": lambda m: m.multinomial(m.tensor([0.2, float("inf"), 0.0]), 1),
    "multinomial: 3 dims": lambda m: m.multinomial(m.ones(2, 2, 2), 1),
    "multinomial: 0 dims": lambda m: m.multinomial(m.tensor(1.0), 1),
    "multinomial: integers": lambda m: m.multinomial(m.tensor([1, 2]), 1),
    "multinomial: no samples": lambda m: m.multinomial(m.tensor([0.2, 0.5]), 0),
    "multinomial: no categories": lambda m: m.multinomial(m.ones(3, 0), 1),
    "multinomial: no categories, with replacement": lambda m: m.multinomial(m.zeros(3, 0), 2, True),
    "multinomial: an empty vector": lambda m: m.multinomial(m.zeros(0), 2, True),
}


@pytest.mark.parametrize("case", ERRORS)
def test_errors_match_torch(case):
    torch = pytest.importorskip("torch")
    ours = theirs = None
    try:
        ERRORS[case](cgrad)
    except Exception as e:  # noqa: BLE001 (the exception is what is compared)
        ours = e
    try:
        ERRORS[case](torch)
    except Exception as e:  # noqa: BLE001
        theirs = e
    assert ours is not None and theirs is not None and type(ours) is type(theirs), (ours, theirs)
    # torch appends a request for better wording to some internal checks
    assert str(theirs).split("  (Could this error message be improved?")[0].split("\n")[0] == str(ours)


def test_a_compiled_step_draws_again_on_every_replay():
    def make():
        w = cgrad.tensor([0.3, 0.6, 0.9, 0.1], requires_grad=True)

        def step(x):
            keep = cgrad.bernoulli(w.detach().clamp(0, 1))
            order = cgrad.randperm(4)
            pick = cgrad.multinomial(x, 2)
            loss = (w[order] * keep).sum() + w[pick].sum()
            w.grad = None
            loss.backward()
            with cgrad.no_grad():
                w.sub_(0.01 * w.grad)
            return loss, keep, order, pick
        return w, step

    ew, eager = make()
    w, step = make()
    compiled = cgrad.compile(step, fullgraph=True)
    x = cgrad.tensor([1.0, 2.0, 3.0, 4.0])
    seen = set()
    for k in range(8):
        cgrad.manual_seed(100 + k)
        a = eager(x)
        cgrad.manual_seed(100 + k)
        b = compiled(x)
        assert all(cgrad.equal(u.detach(), v.detach()) for u, v in zip(a, b))
        seen.add(tuple(b[2].tolist()))
    assert np.array_equal(ew.detach().numpy(), w.detach().numpy())
    assert len(seen) > 1


# ---- normal_ and uniform_ ------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_and_uniform_fill_in_place_with_their_laws(dtype):
    x = cgrad.zeros(200_000, dtype=getattr(cgrad, dtype))
    assert x.normal_(2.0, 0.5, generator=gen(0)) is x
    a = x.numpy()
    assert x.dtype == getattr(cgrad, dtype) and x._version == 1
    assert abs(a.mean() - 2.0) < 0.01 and abs(a.std() - 0.5) < 0.01
    x.uniform_(-3, 1, generator=gen(1))
    a = x.numpy()
    assert x._version == 2
    assert a.min() >= -3 and a.max() < 1 and abs(a.mean() + 1) < 0.02
    assert abs(np.histogram(a, bins=4, range=(-3, 1))[0] / len(a) - 0.25).max() < 0.01
    x.uniform_(**{"from": 5, "to": 6})
    assert 5 <= x.numpy().min() and x.numpy().max() < 6


def test_normal_and_uniform_follow_the_generator():
    a = cgrad.empty(7).normal_(generator=gen(5))
    b = cgrad.empty(7).normal_(generator=gen(5))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    c = cgrad.empty(7).uniform_(0, 1, generator=gen(5))
    np.testing.assert_array_equal(c.numpy(), cgrad.rand(7, generator=gen(5)).numpy())


def test_normal_and_uniform_errors_match_torch():
    torch = pytest.importorskip("torch")
    cases = [lambda m, x: x.normal_(0, -1), lambda m, x: x.uniform_(2, 1),
             lambda m, x: m.zeros(3, dtype=m.int64).normal_(), lambda m, x: m.zeros(3, dtype=m.bool).uniform_(),
             lambda m, x: m.zeros(3, requires_grad=True).normal_(),
             lambda m, x: m.zeros(3, requires_grad=True).uniform_(),
             lambda m, x: x.normal_(0.5, -0.25), lambda m, x: x.uniform_(2.5, 1.0),
             lambda m, x: m.zeros(3, dtype=m.int64).normal_(0, -1.0)]
    for case in cases:
        errors = []
        for m in (cgrad, torch):
            with pytest.raises(Exception) as e:
                case(m, m.zeros(3))
            errors.append((type(e.value), str(e.value)))
        assert errors[0] == errors[1]


def test_a_fill_stops_the_gradient_as_in_torch():
    torch = pytest.importorskip("torch")
    grads = []
    for m in (cgrad, torch):
        x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
        y = x * 2
        y[1:].normal_()
        (y * 3).sum().backward()
        grads.append(x.grad.numpy())
        with m.no_grad():
            x.uniform_(0, 1)  # a leaf may be filled under no_grad
    np.testing.assert_array_equal(grads[0], grads[1])
