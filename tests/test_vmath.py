"""exp, log, tanh and sigmoid are vectorised in C: check their accuracy in ulps
against numpy's libm over wide ranges and at every special value."""
import numpy as np
import pytest

import cgrad

RANGES = {
    "exp": [(-5, 5), (-100, 88), (-740, 709)],
    "log": [(0.5, 2.0), (1e-30, 1e30), (1e-300, 1e300)],
    "tanh": [(-0.6, 0.6), (-1e-4, 1e-4), (-20, 20)],
    "sigmoid": [(-30, 30), (-1, 1)],
}
REFERENCE = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "sigmoid": lambda x: 1 / (1 + np.exp(-x))}
MAX_ULP = {"float32": 3.0, "float64": 3.0}


def _sample(name, low, high, dtype, n=200_000):
    rng = np.random.default_rng(0)
    if name == "log":
        x = np.exp(rng.uniform(np.log(low), np.log(high), n))
    else:
        x = rng.uniform(low, high, n)
    finfo = np.finfo(dtype)
    return np.clip(x, -float(finfo.max), float(finfo.max)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(RANGES))
def test_accuracy_in_ulps(name, dtype):
    for low, high in RANGES[name]:
        x = _sample(name, low, high, dtype)
        got = getattr(cgrad.from_numpy(x), name)().numpy().astype(np.float64)
        with np.errstate(all="ignore"):
            ref = REFERENCE[name](x.astype(np.float64 if dtype == "float32" else np.longdouble)).astype(np.float64)
            ref_rounded = ref.astype(dtype)
        finite = np.isfinite(ref_rounded) & (ref_rounded != 0)
        ulp = np.spacing(np.abs(ref_rounded[finite])).astype(np.float64)
        worst = np.max(np.abs(got[finite] - ref[finite]) / ulp)
        assert worst <= MAX_ULP[dtype], f"{name} {dtype} on [{low}, {high}]: {worst:.2f} ulp"
        assert np.array_equal(got[~finite], ref_rounded[~finite].astype(np.float64))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(RANGES))
def test_special_values(name, dtype):
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-40, -1e-40, 1e-310, 1.0, -1.0, 88.8, -104.0,
                        709.8, -745.2, 20.0, -20.0, 1e-8, -1e-8], dtype=dtype)
    got = getattr(cgrad.from_numpy(special), name)().numpy()
    with np.errstate(all="ignore"):
        ref = REFERENCE[name](special.astype(np.float64)).astype(dtype)
        same = (got == ref) | (np.isnan(got) & np.isnan(ref)) | (np.abs(got - ref) <= 3 * np.spacing(np.abs(ref)))
    assert same.all(), f"{name} {dtype}: inputs {special[~same]} gave {got[~same]}, expected {ref[~same]}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_tanh_keeps_the_sign_of_zero(dtype):
    got = cgrad.from_numpy(np.array([-0.0, 0.0], dtype=dtype)).tanh().numpy()
    assert list(np.signbit(got)) == [True, False]


def test_strided_and_contiguous_give_the_same_values():
    x = cgrad.randn(64, 64, dtype=cgrad.float64)
    for name in RANGES:
        a = getattr(x.T, name)().numpy()
        b = getattr(x.T.contiguous(), name)().numpy()
        np.testing.assert_array_equal(a, b)


# ---- the same bits at every vector width --------------------------------------------------------

# x86-64 levels and the CPU flags each needs (as /proc/cpuinfo names them; abm is lzcnt)
_V2 = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}
_V3 = _V2 | {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
_WIDTHS = {"x86-64": set(), "x86-64-v3": _V3,
           "x86-64-v4": _V3 | {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}}
_N = 200_003
_FUNCS = ("exp", "log", "tanh", "sigmoid")


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return next((set(line.split(":", 1)[1].split()) for line in f if line.startswith("flags")), set())
    except OSError:
        return set()


def _outputs(path):
    """The inputs and each function's outputs a build of tests/c/vmath/widths.c wrote."""
    raw = np.fromfile(path, dtype=np.uint8)
    parts, at = {}, 0
    for name in ("input",) + _FUNCS:
        for dtype in (np.float32, np.float64):
            size = _N * np.dtype(dtype).itemsize
            parts[name, np.dtype(dtype).name] = raw[at:at + size].view(dtype)
            at += size
    assert at == raw.size
    return parts


def test_every_vector_width_gives_the_same_bits(tmp_path):
    """Each array function is built for AVX-512, for AVX2 with FMA and for the
    baseline, the CPU choosing at load time: all must give the same bits, NaNs
    included, and cgrad (whichever build this CPU runs) the same as them."""
    import platform
    import shutil
    import subprocess
    from pathlib import Path

    if platform.machine() != "x86_64":
        pytest.skip("the vector builds are x86-64's")
    cc = shutil.which("gcc")
    if cc is None:
        pytest.skip("no gcc on this machine")
    root = Path(__file__).resolve().parent.parent
    flags = _cpu_flags()
    widths = [w for w, need in _WIDTHS.items() if need <= flags]
    results = {}
    for width in widths:
        exe, out = tmp_path / width, tmp_path / f"{width}.bin"
        build = subprocess.run([cc, "-std=gnu11", "-O3", f"-march={width}", "-DCG_ONE_BUILD",
                                "-I", str(root / "csrc"), str(root / "csrc" / "vmath.c"),
                                str(root / "tests" / "c" / "vmath" / "widths.c"), "-o", str(exe), "-lm"],
                               capture_output=True, text=True)
        assert build.returncode == 0, build.stderr
        run = subprocess.run([str(exe), str(out)], capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        results[width] = _outputs(out)
    base = results["x86-64"]
    for name in _FUNCS:
        for dtype in ("float32", "float64"):
            want = base[name, dtype]
            got = getattr(cgrad.from_numpy(base["input", dtype].copy()), name)().numpy()
            builds = {w: r[name, dtype] for w, r in results.items()} | {"cgrad": got}
            for who, have in builds.items():
                bad = np.flatnonzero(have.view(f"u{have.itemsize}") != want.view(f"u{want.itemsize}"))
                assert bad.size == 0, (f"{name} {dtype}: {who} differs from the baseline build at {bad.size} "
                                       f"inputs, first {base['input', dtype][bad[0]]!r}: {have[bad[0]]!r} "
                                       f"against {want[bad[0]]!r}")
