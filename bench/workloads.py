"""The benchmark workloads: what each one computes, its inputs, and how its time is reported.

Every backend reads the same inputs (made here, once, with fixed seeds) and must
produce the same values; `impl_*.py` hold the per-backend code.
"""
from dataclasses import asdict, dataclass

import numpy as np

BACKENDS = ("cgrad", "torch", "micrograd", "autograd", "numpy")

# Op codes of scalar_chain; the first operand of every op is the previous result.
ADD, MUL, TANH, EXP = 0, 1, 2, 3

SCALAR_OPS = 20_000
BIG_N = 4_000_000
MATMUL_N = 512


@dataclass(frozen=True)
class Workload:
    name: str
    about: str
    dtype: str
    unit: str                  # unit of the reported time
    scale: float               # time in `unit` = seconds * scale
    phases: tuple = ("step",)  # separately timed parts of one run
    backends: tuple = BACKENDS
    work: tuple = None         # (amount per run, "GB/s" | "GFLOP/s"): bytes or flops moved
    calibrate: str = None      # numpy baseline timed in the same process: "copy" | "matmul"
    on_request: bool = False   # run only when named in --workloads
    single_run: bool = False   # time the verified run alone: no warm-up, no repeats
    reference: str = "torch"   # float64 reference: "torch" (if installed) or "numpy"
    timeout: float = 900.0

    def as_dict(self):
        return asdict(self)


WORKLOADS = {w.name: w for w in [
    Workload("scalar_chain", f"{SCALAR_OPS} add/mul/tanh/exp ops on shape-[1] float64 tensors, "
             "backward from the last value", "float64", "ns/op", 1e9 / SCALAR_OPS,
             phases=("forward", "backward")),
    Workload("seed_linreg", "one epoch of 3x1 linear regression with MSE and a manual SGD update",
             "float32", "µs/epoch", 1e6),
    Workload("moons_mlp", "2-16-16-1 ReLU MLP, SVM max-margin loss + L2, one SGD step on 100 moons",
             "float64", "ms/step", 1e3),
    Workload("digits_mlp_f32", "64-128-64-10 ReLU MLP, softmax cross-entropy, one SGD epoch "
             "(batch 64) over load_digits", "float32", "ms/epoch", 1e3,
             backends=("cgrad", "torch", "autograd", "numpy")),
    Workload("digits_mlp_f64", "digits_mlp_f32 in float64", "float64", "ms/epoch", 1e3,
             backends=("cgrad", "torch", "autograd", "numpy")),
    Workload("big_elementwise", f"((x*x + 1).tanh() * x).sum() over {BIG_N:,} float32, "
             "forward + backward", "float32", "ms", 1e3,
             backends=("cgrad", "torch", "autograd", "numpy"),
             work=(2 * 4 * BIG_N, "GB/s"), calibrate="copy"),
    Workload("matmul_chain", f"((A @ B).relu() @ C).sum(), {MATMUL_N}x{MATMUL_N} float32, "
             "forward + backward", "float32", "ms", 1e3,
             backends=("cgrad", "torch", "autograd", "numpy"),
             work=(6 * 2 * MATMUL_N ** 3, "GFLOP/s"), calibrate="matmul"),
    Workload("deep_chain", "y = y * a + b, 100,000 times on a shape-[1] float64 tensor, "
             "forward + backward", "float64", "ms", 1e3),
    Workload("deep_chain_1e7", "deep_chain with 10,000,000 steps (cgrad only)", "float64", "s", 1.0,
             backends=("cgrad",), on_request=True, single_run=True, reference="numpy",
             timeout=3600.0),
    Workload("rnn_loop", "tanh RNN (input 32, hidden 64, batch 16), 100 steps, "
             "loss = sum of the last hidden state, forward + backward", "float32", "ms", 1e3,
             backends=("cgrad", "torch", "autograd", "numpy")),
]}


def default_workloads():
    return [name for name, w in WORKLOADS.items() if not w.on_request]


# ---------------------------------------------------------------- inputs

def _rounded(a, dtype):
    """Inputs hold values exactly representable in the workload's dtype."""
    return np.asarray(a, dtype=np.float64).astype(dtype)


def _next_op(rng, prev):
    """Choose an op code that keeps every value bounded (|v| < 4)."""
    if abs(prev) > 1.0:
        return TANH
    return int(np.searchsorted([0.25, 0.5, 0.8], rng.random(), side="right"))


def _apply(kind, a, b):
    if kind == ADD:
        return a + b
    if kind == MUL:
        return a * b
    return float(np.tanh(a)) if kind == TANH else float(np.exp(a))


def scalar_chain_data(n_ops=SCALAR_OPS, n_leaves=8, seed=0):
    rng = np.random.default_rng(seed)
    vals = list(rng.uniform(-1.0, 1.0, n_leaves))
    kinds = np.empty(n_ops, np.int64)
    args = np.empty(n_ops, np.int64)
    for i in range(n_ops):
        if i < n_leaves:  # start with a product of all leaves, so every leaf gets a gradient
            kinds[i], args[i] = MUL, i
        else:
            kinds[i] = _next_op(rng, vals[-1])
            args[i] = rng.integers(len(vals))  # second operand of add/mul: any earlier value
        vals.append(_apply(kinds[i], vals[-1], vals[args[i]]))
    return {"leaves": np.array(vals[:n_leaves]), "kinds": kinds, "args": args}


def seed_linreg_data():
    return {"X": _rounded([[1.0], [2.0], [3.0]], np.float32),
            "y": _rounded([[2.0], [4.0], [6.0]], np.float32),
            "w": np.zeros((1, 1), np.float32), "b": np.zeros((1, 1), np.float32),
            "lr": np.array(0.01)}


def _layers(rng, sizes, dtype, init):
    """Weights W<i> (in, out) and biases b<i> (out,) of an MLP."""
    params = {}
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
        params[f"W{i}"], params[f"b{i}"] = init(rng, n_in, n_out)
    return {k: _rounded(v, dtype) for k, v in params.items()}


def _micrograd_init(rng, n_in, n_out):
    return rng.uniform(-1.0, 1.0, (n_in, n_out)), np.zeros(n_out)


def _linear_init(rng, n_in, n_out):
    bound = 1.0 / np.sqrt(n_in)
    return rng.uniform(-bound, bound, (n_in, n_out)), rng.uniform(-bound, bound, n_out)


def moons_data(seed=1):
    from sklearn.datasets import make_moons
    X, y = make_moons(n_samples=100, noise=0.1, random_state=seed)
    data = _layers(np.random.default_rng(seed), [2, 16, 16, 1], np.float64, _micrograd_init)
    data.update(X=X.astype(np.float64), y=(2.0 * y - 1.0).reshape(-1, 1),
                alpha=np.array(1e-4), lr=np.array(0.1))
    return data


def digits_data(dtype, seed=2):
    from sklearn.datasets import load_digits
    digits = load_digits()
    data = _layers(np.random.default_rng(seed), [64, 128, 64, 10], dtype, _linear_init)
    data.update(X=_rounded(digits.data / 16.0, dtype),
                onehot=np.eye(10, dtype=dtype)[digits.target],
                batch=np.array(64), lr=np.array(0.01))
    return data


def big_elementwise_data(seed=3):
    return {"x": np.random.default_rng(seed).uniform(0.0, 1.0, BIG_N).astype(np.float32)}


def matmul_chain_data(seed=4):
    rng, n = np.random.default_rng(seed), MATMUL_N
    return {"A": _rounded(rng.standard_normal((n, n)), np.float32),
            "B": _rounded(rng.standard_normal((n, n)) / np.sqrt(n), np.float32),
            # C >= 0 keeps the loss a sum of non-negative terms (well conditioned in float32)
            "C": _rounded(rng.uniform(0.0, 2.0, (n, n)) / np.sqrt(n), np.float32)}


def deep_chain_data(steps):
    # a**steps stays e**10 whatever the length, so long chains neither overflow nor vanish
    return {"y0": np.array([0.5]), "steps": np.array(steps),
            "a": np.array(1.0 + 10.0 / steps), "b": np.array(10.0 / steps)}


def rnn_data(seed=5, steps=100, batch=16, n_in=32, hidden=64):
    rng = np.random.default_rng(seed)
    return {"x": _rounded(rng.standard_normal((steps, batch, n_in)), np.float32),
            "Wx": _rounded(rng.standard_normal((n_in, hidden)) / np.sqrt(n_in), np.float32),
            "Wh": _rounded(rng.standard_normal((hidden, hidden)) * 0.5 / np.sqrt(hidden), np.float32),
            "b": _rounded(rng.uniform(-0.1, 0.1, hidden), np.float32),
            "h0": np.zeros((batch, hidden), np.float32)}


DATA = {
    "scalar_chain": scalar_chain_data,
    "seed_linreg": seed_linreg_data,
    "moons_mlp": moons_data,
    "digits_mlp_f32": lambda: digits_data(np.float32),
    "digits_mlp_f64": lambda: digits_data(np.float64),
    "big_elementwise": big_elementwise_data,
    "matmul_chain": matmul_chain_data,
    "deep_chain": lambda: deep_chain_data(100_000),
    "deep_chain_1e7": lambda: deep_chain_data(10_000_000),
    "rnn_loop": rnn_data,
}


def make_data(name):
    return DATA[name]()


# ---------------------------------------------------------------- same-process numpy baselines

def _best_of(fn, repeats=7):
    import time
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def calibrate_copy():
    """Seconds and bytes moved for np.copyto of a BIG_N float32 array (read + write)."""
    src = np.ones(BIG_N, np.float32)
    dst = np.empty_like(src)
    return _best_of(lambda: np.copyto(dst, src)), 2 * src.nbytes


def calibrate_matmul():
    """Seconds and flops of one bare MATMUL_N x MATMUL_N float32 numpy matmul."""
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((MATMUL_N, MATMUL_N)).astype(np.float32) for _ in range(2))
    out = np.empty_like(a)
    return _best_of(lambda: np.matmul(a, b, out=out)), 2 * MATMUL_N ** 3


CALIBRATE = {"copy": calibrate_copy, "matmul": calibrate_matmul}
