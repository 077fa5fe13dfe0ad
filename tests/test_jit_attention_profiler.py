"""cgrad.jit, cgrad.nn.attention and the profilers against PyTorch.

jit: the eager behaviour of the TorchScript helpers (isinstance on typing
containers, fork/wait and Future, the decorators) and a NotImplementedError for
what would compile. attention: SDPBackend, sdpa_kernel and, for each set of
enabled backends, whether scaled_dot_product_attention computes (the same
values) or raises (the same error and warnings) as PyTorch's CPU does.
profiler: record_function ranges, their nesting and self time, the summaries
and the schedule.
"""
import gzip
import json
import threading
import time
import typing
import warnings
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import pytest

import cgrad
from cgrad import profiler as CP
from cgrad.autograd import profiler as CAP
from cgrad.nn import attention as CA

torch = pytest.importorskip("torch")
from torch import profiler as TP  # noqa: E402
from torch.nn import attention as TA  # noqa: E402


def _outcome(fn):
    """(result or (error type, message), [(warning category, message)]) of fn()."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = fn()
        except Exception as exc:
            result = (type(exc).__name__, str(exc))
    return result, [(w.category.__name__, str(w.message).split(" (Triggered internally")[0]) for w in caught]


# -- jit -----------------------------------------------------------------------------------------------------------

T_ONE = object()  # stands for a tensor: each library gets its own


class TensorType:
    """Stands for the Tensor class in a case's type: each library gets its own."""


ISINSTANCE_CASES = [
    ([1, 2], List[int]), ([1, "a"], List[int]), ([], List[int]), ([[]], List[List[int]]), ([[1.0]], List[List[int]]),
    ([[], 1.0], List[List[int]]), ([1.0, []], List[List[int]]), ({"a": 1}, Dict[str, int]), ({1: 1}, Dict[str, int]),
    ({}, Dict[str, int]), ({"a": []}, Dict[str, List[int]]), ([], Dict[str, int]), ({}, List[int]),
    ({"a": T_ONE}, Dict[str, TensorType]), ([T_ONE, T_ONE], List[TensorType]), (T_ONE, TensorType),
    ([T_ONE, 1], List[TensorType]), ((1, "a"), Tuple[int, str]), ((1, "a"), Tuple[int, int]), ((), Tuple[()]),
    ((), Tuple[int]), ((1, 2), Tuple[int, ...]), ((1,), Tuple[int, ...]), ((1, 2), Tuple[int, int, int]),
    ((1, []), Tuple[int, List[int]]),
    (None, Optional[int]), (1, Optional[int]), ("a", Optional[int]), ([1], Optional[List[int]]),
    (1, Optional[List[int]]), (None, Optional[List[int]]), ([], Optional[List[int]]), (1, Union[int, str]),
    (1.0, Union[int, str]),
    (1, Union[List[int], int]), ("a", Union[List[int], str]), ([1], Union[Dict[str, int], List[int]]),
    (["a"], Union[List[str], List[int]]), (None, Union[List[int], str, None]), ("a", Union[List[int], str, None]),
    (1, Union[int, List]), (1, Union[List, int]), (1, int | str), ([1], int | List[int]), (None, int | None),
    ([1, 2], list[int]), ({"a": 1}, dict[str, int]), ((1,), tuple[int]), ([[1]], list[list]), ([1], list[list]),
    (True, int), (1, float), (1, bool), (None, type(None)), (1, object), (set(), set),
    ((1, 2), tuple), ([1], list), ([1], List), ({}, Dict), ({}, dict), ((1,), Tuple), (1, Optional), (1, Union),
    (1, (int, str)), ([1.0], (List[int], str)), ([], (List[int], str)), (1, (int, "int")), (1, ("int", str)),
    (1, (list, int)), (1, (int, list)), (1, ()), (1, "int"), (1, 3), (None, None), (1, typing.Any),
    ([1], List[typing.Any]),
    ([1], typing.Sequence[int]), ({"a": 1}, typing.Mapping[str, int]), ({1}, typing.Set[int]), (1, typing.Literal[1]),
    (1, typing.Final[int]), ([1], List["int"]), ([print], List[typing.Callable]), (1, typing.Set),
]


def _lib_value(value, lib):
    """A case's object or type for one library: T_ONE and TensorType become that library's tensor and Tensor."""
    if value is T_ONE:
        return lib.ones(1)
    if value is TensorType:
        return lib.Tensor
    if isinstance(value, list):
        return [_lib_value(v, lib) for v in value]
    if isinstance(value, dict):
        return {k: _lib_value(v, lib) for k, v in value.items()}
    origin = typing.get_origin(value)
    if origin in (list, dict) and TensorType in typing.get_args(value):
        args = tuple(_lib_value(a, lib) for a in typing.get_args(value))
        return List[args[0]] if origin is list else Dict[args]
    return value


@pytest.mark.parametrize("obj, target", ISINSTANCE_CASES, ids=[str(i) for i in range(len(ISINSTANCE_CASES))])
def test_isinstance_matches_torch(obj, target):
    expected = _outcome(lambda: torch.jit.isinstance(_lib_value(obj, torch), _lib_value(target, torch)))
    got = _outcome(lambda: cgrad.jit.isinstance(_lib_value(obj, cgrad), _lib_value(target, cgrad)))
    assert got == expected


def test_annotations_and_decorators_are_eager_no_ops():
    jit = cgrad.jit
    assert jit.is_scripting() is False and jit.is_tracing() is False
    assert jit.annotate(List[int], [3]) == [3]
    assert jit.Final is typing.Final

    def f(x):
        return x + 1
    for decorate in (jit.ignore, jit.unused, jit.export, jit.ignore(), jit.ignore(drop=False)):
        assert decorate(f) is f and f(1) == 2
    prop = property(lambda self: 1)
    assert jit.unused(prop) is prop
    wrapped = jit.script_if_tracing(f)
    assert wrapped(2) == 3 and wrapped.__name__ == "f" and wrapped.__wrapped__ is f
    assert jit.Attribute(3, int) == (3, int) and jit.Attribute(3, int).type is int
    assert issubclass(jit.Error, Exception) and issubclass(jit.TracingCheckError, Exception)
    assert issubclass(jit.TracerWarning, Warning) and issubclass(jit.ScriptWarning, Warning)
    assert jit._overload(f) is f and jit._overload_method(f) is f
    with jit.optimized_execution(False):
        assert f(1) == 2


@pytest.mark.parametrize("call", ["ignore(True)", "ignore(drop=True)", "ignore(drop_on_export=True)", "ignore(3)",
                                  "ignore(foo=1)", "interface(3)", "interface(f)"])
def test_decorator_warnings_and_errors_match_torch(call):
    def f(x):
        return x

    def outcome(jit):
        result, caught = _outcome(lambda: eval(f"jit.{call}", {"jit": jit, "f": f}))
        return (result if isinstance(result, tuple) else "ok"), caught
    assert outcome(cgrad.jit) == outcome(torch.jit)


def test_interface_returns_the_class():
    with pytest.warns(DeprecationWarning, match="torch.jit.interface` is deprecated"):
        @cgrad.jit.interface
        class Interface(cgrad.nn.Module):
            def forward(self, x: cgrad.Tensor) -> cgrad.Tensor:
                pass
    assert Interface.__name__ == "Interface" and issubclass(Interface, cgrad.nn.Module)


def test_fork_and_wait():
    def f(x, y=2):
        return x * y
    for jit in (torch.jit, cgrad.jit):
        with pytest.warns(DeprecationWarning, match="`torch.jit.fork` is deprecated"):
            fut = jit.fork(f, 3, y=4)
        assert fut.done() and fut.value() == 12
        with pytest.warns(DeprecationWarning, match="`torch.jit.wait` is deprecated"):
            assert jit.wait(fut) == 12
        with pytest.raises(ValueError, match="boom"), pytest.warns(DeprecationWarning):
            jit.fork(lambda: (_ for _ in ()).throw(ValueError("boom")))
    assert isinstance(fut, cgrad.jit.Future) and cgrad.jit.Future is cgrad.futures.Future


def test_future_api_matches_torch():
    for Future in (torch.futures.Future, cgrad.futures.Future):
        fut = Future()
        assert not fut.done()
        seen = []
        fut.add_done_callback(lambda f: seen.append(f.value()))
        chained = fut.then(lambda f: f.value() + 1)
        failing = fut.then(lambda f: 1 / 0)
        fut.set_result(10)
        assert fut.done() and fut.wait() == 10 and seen == [10] and chained.wait() == 11
        with pytest.raises(RuntimeError, match="Got the following error when running the callback: "
                                               "ZeroDivisionError: division by zero"):
            failing.wait()
        with pytest.raises(RuntimeError, match="^Attempting to mark a completed Future as complete again. Note that "
                                               "a Future can only be marked completed once.$"):
            fut.set_result(11)
        bad = Future()
        bad.set_exception(ValueError("bad"))
        for method in (bad.wait, bad.value):
            with pytest.raises(ValueError, match="bad"):
                method()


def test_future_wait_blocks_until_another_thread_completes_it():
    fut = cgrad.futures.Future()
    threading.Timer(0.01, fut.set_result, args=(5,)).start()
    assert fut.wait() == 5
    assert cgrad.futures.wait_all([fut, cgrad.futures.collect_all([fut])]) == [5, [fut]]


@pytest.mark.parametrize("call, deprecation", [
    ("script(f)", "`torch.jit.script` is deprecated"), ("trace(f, cgrad.ones(1))", "`torch.jit.trace` is deprecated"),
    ("trace_module(m, {'forward': cgrad.ones(2)})", "`torch.jit.trace_method` is deprecated"),
    ("save(m, 'x.pt')", "`torch.jit.save` is deprecated"), ("load('x.pt')", "`torch.jit.load` is deprecated"),
    ("freeze(m)", "`torch.jit.freeze` is deprecated"),
    ("optimize_for_inference(m)", "`torch.jit.optimize_for_inference` is deprecated"),
    ("ScriptModule()", None), ("ScriptFunction()", None), ("CompilationUnit('def f(x):\\n    return x\\n')", None)])
def test_compiling_raises_not_implemented(call, deprecation):
    scope = {"jit": cgrad.jit, "cgrad": cgrad, "f": lambda x: x, "m": cgrad.nn.Linear(2, 2)}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(NotImplementedError, match="cgrad.compile"):
            eval(f"jit.{call}", scope)
    assert [str(w.message).split(". ")[0] for w in caught] == ([deprecation] if deprecation else [])
    name = call.split("(")[0]
    assert name in cgrad.jit.NOT_IMPLEMENTED and name in cgrad._missing.JIT


# -- nn.attention --------------------------------------------------------------------------------------------------

def test_sdpbackend_is_shaped_like_torchs():
    TB, CB = TA.SDPBackend, CA.SDPBackend
    assert list(CB.__members__) == list(TB.__members__)
    for name in TB.__members__:
        t, c = getattr(TB, name), getattr(CB, name)
        assert (repr(c), str(c), f"{c}", c.name, c.value, int(c), hash(c)) == \
               (repr(t), str(t), f"{t}", t.name, t.value, int(t), hash(t))
    assert (CB.__name__, CB.__qualname__) == (TB.__name__, TB.__qualname__)
    assert repr(CB(7)) == repr(TB(7)) and CB(1) == CB.FLASH_ATTENTION and CB.MATH != 0
    assert [0, 1][CB.FLASH_ATTENTION] == 1
    for expr in ("B.MATH < B.FLASH_ATTENTION", "list(B)", "B['MATH']", "B.MATH + 1", "B('MATH')"):
        with pytest.raises(TypeError):
            eval(expr, {"B": CB})


@pytest.mark.parametrize("backends", ["3", "'MATH'", "(B.MATH,)", "{B.MATH}", "None"])
def test_sdpa_kernel_rejects_what_torch_rejects(backends):
    def enter(lib):
        cm = lib.sdpa_kernel(eval(backends, {"B": lib.SDPBackend}))  # made lazily: raises on entry
        with cm:
            pass
    assert _outcome(lambda: enter(CA)) == _outcome(lambda: enter(TA))


def test_sdpa_kernel_selection_nests_restores_and_decorates():
    B = CA.SDPBackend
    assert CA._cur_sdpa_kernel_backends() == list(CA._DEFAULT_ORDER)
    with CA.sdpa_kernel(B.MATH, set_priority=True) as state:
        assert state == {} and CA._cur_sdpa_kernel_backends() == [B.MATH]
        with CA.sdpa_kernel([B.FLASH_ATTENTION, B.FLASH_ATTENTION, 3, B.ERROR]):
            assert CA._cur_sdpa_kernel_backends() == [B.FLASH_ATTENTION]
        assert CA._cur_sdpa_kernel_backends() == [B.MATH]
    with pytest.raises(ValueError):
        with CA.sdpa_kernel([]):
            raise ValueError
    assert cgrad.nn.functional._sdpa_enabled is None

    @CA.sdpa_kernel([B.FLASH_ATTENTION])
    def inside():
        return CA._cur_sdpa_kernel_backends()
    assert inside() == [B.FLASH_ATTENTION] and cgrad.nn.functional._sdpa_enabled is None


def test_cuda_backend_flags_share_the_selection():
    cuda, B = cgrad.backends.cuda, CA.SDPBackend
    assert cuda.flash_sdp_enabled() and cuda.math_sdp_enabled() and cuda.mem_efficient_sdp_enabled()
    cuda.enable_flash_sdp(False)
    try:
        assert not cuda.flash_sdp_enabled() and B.FLASH_ATTENTION not in CA._cur_sdpa_kernel_backends()
    finally:
        cuda.enable_flash_sdp(True)
    assert cgrad.nn.functional._sdpa_enabled is None
    with pytest.warns(FutureWarning, match="sdp_kernel\\(\\)` is deprecated"):
        with cuda.sdp_kernel(enable_flash=False):
            assert CA._cur_sdpa_kernel_backends() == [B.CUDNN_ATTENTION, B.EFFICIENT_ATTENTION, B.MATH]
    assert not cuda.is_flash_attention_available()


def test_can_use_fused_attention_is_false_on_cpu_as_in_torch():
    q = np.random.default_rng(0).standard_normal((1, 2, 3, 4))
    for lib, attn in ((torch, TA), (cgrad, CA)):
        t = lib.tensor(q, dtype=lib.float32)
        params = attn.SDPAParams(t, t, t, None, 0.0, False, False)
        assert params.query is t and params.dropout == 0.0 and params.is_causal is False
        assert attn.can_use_flash_attention(params) is False and attn.can_use_efficient_attention(params, True) is False


def test_flash_attention_impl_registry():
    assert CA.list_flash_attention_impls() == TA.list_flash_attention_impls() == ["FA3", "FA4"]
    assert CA.current_flash_attention_impl() is None
    with pytest.raises(ValueError, match=r"^Unknown flash attention impl 'nope'. Available implementations: "
                                         r"\['FA3', 'FA4'\]$"):
        CA.activate_flash_attention_impl("nope")
    with pytest.raises(NotImplementedError, match="CUDA"):
        CA.activate_flash_attention_impl("FA3")


RNG = np.random.default_rng(1)


def _a(*shape):
    return RNG.standard_normal(shape)


Q, K, V = _a(2, 3, 4, 8), _a(2, 3, 5, 8), _a(2, 3, 5, 8)


def _last_strided(x):
    return x.transpose(-1, -2).contiguous().transpose(-1, -2)


# name -> (q, k, v arrays, {"dtype", "transpose" (indices of q, k, v whose last dim is strided)}, sdpa kwargs;
# a kwarg ("mask", shape, kind) is a mask made per library)
SDPA_CASES = {
    "plain": ((Q, K, V), {}, {}),
    "float64": ((Q, K, V), {"dtype": "float64"}, {}),
    "bool mask": ((Q, K, V), {}, {"attn_mask": ("mask", (4, 5), "bool")}),
    "float mask": ((Q, K, V), {}, {"attn_mask": ("mask", (4, 5), "float32")}),
    "4-d mask": ((Q, K, V), {}, {"attn_mask": ("mask", (2, 1, 4, 5), "float32")}),
    "3-d mask": ((Q, K, V), {}, {"attn_mask": ("mask", (3, 4, 5), "float32")}),
    "1-d mask": ((Q, K, V), {}, {"attn_mask": ("mask", (5,), "float32")}),
    "0-d mask": ((Q, K, V), {}, {"attn_mask": ("mask", (), "float32")}),
    "mask of wrong length": ((Q, K, V), {}, {"attn_mask": ("mask", (4, 3), "float32")}),
    "mask of wrong heads": ((Q, K, V), {}, {"attn_mask": ("mask", (1, 2, 4, 5), "float32")}),
    "5-d mask": ((Q, K, V), {}, {"attn_mask": ("mask", (1, 1, 3, 4, 5), "float32")}),
    "mask requiring grad": ((Q, K, V), {}, {"attn_mask": ("mask", (4, 5), "grad")}),
    "float64 mask": ((Q, K, V), {}, {"attn_mask": ("mask", (4, 5), "float64")}),
    "dropout": ((Q, K, V), {}, {"dropout_p": 0.5}),
    "negative dropout": ((Q, K, V), {}, {"dropout_p": -0.5}),
    "nan dropout": ((Q, K, V), {}, {"dropout_p": float("nan")}),
    "dropout over 1": ((Q, K, V), {}, {"dropout_p": 1.5}),
    "causal": ((Q, K, V), {}, {"is_causal": True}),
    "causal and mask": ((Q, K, V), {}, {"is_causal": True, "attn_mask": ("mask", (4, 5), "float32")}),
    "causal and bool mask": ((Q, K, V), {"dtype": "float64"},
                             {"is_causal": True, "attn_mask": ("mask", (2, 1, 4, 5), "bool")}),
    "scale": ((Q, K, V), {}, {"scale": 0.3}),
    "gqa": ((Q, K[:, :1], V[:, :1]), {}, {"enable_gqa": True}),
    "gqa heads not dividing": ((Q, _a(2, 2, 5, 8), _a(2, 2, 5, 8)), {}, {"enable_gqa": True}),
    "gqa key and value heads differ": ((_a(1, 4, 2, 8), _a(1, 2, 3, 8), _a(1, 1, 3, 8)), {}, {"enable_gqa": True}),
    "gqa batch": ((_a(2, 4, 2, 8), _a(1, 2, 3, 8), _a(1, 2, 3, 8)), {}, {"enable_gqa": True}),
    "heads differ": ((Q, K[:, :1], V[:, :1]), {}, {}),
    "3-d": ((Q[0], K[0], V[0]), {}, {}),
    "2-d": ((Q[0, 0], K[0, 0], V[0, 0]), {}, {}),
    "dims differ": ((Q, K[0], V[0]), {}, {}),
    "value dim differs": ((Q, K, _a(2, 3, 5, 6)), {}, {}),
    "strided query": ((Q, K, V), {"transpose": (0,)}, {}),
    "strided value": ((Q, K, V), {"transpose": (2,)}, {}),
    "batch broadcast": ((Q, K[:1], V[:1]), {}, {}),
    "int64": ((np.round(Q * 3), np.round(K * 3), np.round(V * 3)), {"dtype": "int64"}, {}),
    "int64 3-d": ((np.round(Q[0] * 3), np.round(K[0] * 3), np.round(V[0] * 3)), {"dtype": "int64"}, {}),
    "no keys": ((Q, K[:, :, :0], V[:, :, :0]), {}, {}),
    "no queries": ((Q[:, :, :0], K, V), {}, {}),
    "empty head dim": ((Q[..., :0], K[..., :0], V), {}, {}),
    "3-d mask and value dim": ((Q, K, _a(2, 3, 5, 6)), {}, {"attn_mask": ("mask", (3, 4, 5), "float32")}),
    "mask requiring grad and heads": ((Q, K[:, :1], V[:, :1]), {}, {"attn_mask": ("mask", (4, 5), "grad")}),
    "dropout and 3-d": ((Q[0], K[0], V[0]), {}, {"dropout_p": 0.5}),
}
SUBSETS = [None, ["MATH"], ["FLASH_ATTENTION"], ["EFFICIENT_ATTENTION"], ["CUDNN_ATTENTION", "OVERRIDEABLE"],
           ["FLASH_ATTENTION", "CUDNN_ATTENTION"], ["MATH", "FLASH_ATTENTION"], ["ERROR"]]


def _sdpa_inputs(lib, arrays, opts, kwargs):
    dtype = getattr(lib, opts.get("dtype", "float32"))
    qkv = [lib.tensor(a, dtype=dtype) for a in arrays]
    qkv = [_last_strided(t) if i in opts.get("transpose", ()) else t for i, t in enumerate(qkv)]
    out = {}
    for name, value in kwargs.items():
        if isinstance(value, tuple) and value[0] == "mask":
            m = np.random.default_rng(2).standard_normal(value[1])
            kind = value[2]
            if kind == "bool":
                value = lib.tensor(m > -0.5)
            else:
                value = lib.tensor(m, dtype=getattr(lib, "float32" if kind == "grad" else kind),
                                   requires_grad=kind == "grad")
        out[name] = value
    return qkv, out


def _sdpa(lib, attn, backends, qkv, kwargs):
    if backends is None:
        return lib.nn.functional.scaled_dot_product_attention(*qkv, **kwargs).detach().numpy()
    with attn.sdpa_kernel([getattr(attn.SDPBackend, b) for b in backends]):
        return lib.nn.functional.scaled_dot_product_attention(*qkv, **kwargs).detach().numpy()


@pytest.mark.parametrize("backends", SUBSETS, ids=lambda b: "default" if b is None else "+".join(b) or "none")
@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_under_sdpa_kernel_matches_torch(case, backends):
    arrays, opts, kwargs = SDPA_CASES[case]
    expected, expected_warnings = _outcome(lambda: _sdpa(torch, TA, backends, *_sdpa_inputs(torch, arrays, opts,
                                                                                             kwargs)))
    got, got_warnings = _outcome(lambda: _sdpa(cgrad, CA, backends, *_sdpa_inputs(cgrad, arrays, opts, kwargs)))
    assert got_warnings == expected_warnings
    if isinstance(expected, tuple):
        assert got == expected
        return
    assert isinstance(got, np.ndarray), got
    assert got.shape == expected.shape
    if not kwargs.get("dropout_p", 0.0) > 0.0:
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def test_sdpa_causal_with_mask_has_gradients_like_torch():
    """PyTorch's CPU flash kernel takes both; its gradients are those of the mask and the causal mask added."""
    arrays, m = (Q, K, V), RNG.standard_normal((4, 5))
    grads = []
    for lib in (torch, cgrad):
        qkv = [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]
        out = lib.nn.functional.scaled_dot_product_attention(*qkv, attn_mask=lib.tensor(m, dtype=lib.float64),
                                                             is_causal=True)
        out.backward(lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)), dtype=lib.float64))
        grads.append([t.grad.numpy() for t in qkv])
    for t, c in zip(*grads):
        np.testing.assert_allclose(c, t, rtol=1e-7, atol=1e-9)


# -- profilers -------------------------------------------------------------------------------------------------------

def test_record_function_works_without_a_profiler():
    for lib in (torch, cgrad):
        with lib.profiler.record_function("alone") as r:
            assert r.name == "alone" and r.args is None

        @lib.profiler.record_function("decorated")
        def f(x):
            return x + 1
        assert f(1) == 2
        assert lib.autograd.profiler.record_function is lib.profiler.record_function


def _nested(lib, prof_cls, **kwargs):
    with prof_cls(**kwargs) as prof:
        with lib.profiler.record_function("outer"):
            time.sleep(0.01)
            with lib.profiler.record_function("inner"):
                time.sleep(0.02)
            with lib.profiler.record_function("inner"):
                time.sleep(0.005)
    return prof


def test_ranges_nest_with_self_time():
    prof = _nested(cgrad, CP.profile, activities=[CP.ProfilerActivity.CPU], record_shapes=True, profile_memory=True,
                   with_stack=True)
    events = prof.events()
    assert [e.name for e in events] == ["outer", "inner", "inner"] and [e.id for e in events] == [1, 2, 3]
    outer, inner1, inner2 = events
    assert inner1.cpu_parent is outer and outer.cpu_children == [inner1, inner2] and outer.cpu_parent is None
    assert outer.cpu_time_total >= 35e3 and inner1.cpu_time_total >= 20e3
    assert outer.self_cpu_time_total == pytest.approx(outer.cpu_time_total - inner1.cpu_time_total
                                                      - inner2.cpu_time_total)
    assert outer.time_range.start <= inner1.time_range.start < inner1.time_range.end <= inner2.time_range.start
    averages = {e.key: e for e in prof.key_averages()}
    inner = averages["inner"]
    assert inner.count == 2 and inner.cpu_time_total == pytest.approx(inner1.cpu_time_total + inner2.cpu_time_total)
    assert inner.cpu_time == pytest.approx(inner.cpu_time_total / 2)
    assert inner.self_cpu_time_total == pytest.approx(inner.cpu_time_total)
    assert averages["outer"].self_cpu_time_total == pytest.approx(outer.self_cpu_time_total)
    assert inner.cpu_time_total_str.endswith("ms") and averages["outer"].key == "outer"


def test_table_has_torchs_layout():
    """Same columns, widths and footer as PyTorch's table of the same ranges (only times differ)."""
    tables = []
    for lib, prof_cls in ((torch, TP.profile), (cgrad, CP.profile)):
        prof = _nested(lib, prof_cls)
        table = prof.key_averages().table(sort_by="cpu_time_total", row_limit=2)
        tables.append(table.splitlines())
    t, c = tables
    assert len(c) == len(t) == 7
    for i in (0, 1, 2, 5):
        assert c[i] == t[i]
    assert [row.split()[0] for row in c[3:5]] == [row.split()[0] for row in t[3:5]] == ["outer", "inner"]
    assert [len(row) for row in c] == [len(row) for row in t]
    assert c[4].split()[-1] == t[4].split()[-1] == "2" and c[6].startswith("Self CPU time total: ")
    assert _nested(cgrad, CP.profile).key_averages().table(row_limit=0).count("inner") == 1
    with pytest.raises(AttributeError, match="'FunctionEventAvg' object has no attribute 'foo'"):
        _nested(cgrad, CP.profile).key_averages().table(sort_by="foo")
    with CP.profile() as empty:
        pass
    with TP.profile() as torch_empty:
        pass
    assert empty.key_averages().table() == torch_empty.key_averages().table() == ""


def test_legacy_profile():
    prof = _nested(cgrad, CAP.profile)
    assert [e.name for e in prof.function_events] == ["outer", "inner", "inner"]
    assert prof.key_averages()[0].key == "outer" and prof.total_average().count == 3
    assert "Self CPU time total" in prof.table(sort_by="self_cpu_time_total")
    with CAP.profile(enabled=False) as off:
        with CAP.record_function("x"):
            pass
    with pytest.raises(RuntimeError, match="Profiler didn't finish running"):
        off.key_averages()


def test_export_chrome_trace(tmp_path):
    prof = _nested(cgrad, CP.profile)
    for name, opener in (("trace.json", open), ("trace.json.gz", gzip.open)):
        prof.export_chrome_trace(str(tmp_path / name))
        with opener(tmp_path / name, "rt") as f:
            trace = json.load(f)
        spans = trace["traceEvents"]
        assert [s["name"] for s in spans] == ["outer", "inner", "inner"]
        assert all(s["ph"] == "X" and s["dur"] > 0 for s in spans)
        assert spans[0]["ts"] <= spans[1]["ts"] and spans[1]["ts"] + spans[1]["dur"] <= spans[0]["ts"] + spans[0]["dur"]


@pytest.mark.parametrize("kwargs", [dict(wait=1, warmup=1, active=2), dict(wait=1, warmup=1, active=2, repeat=2),
                                    dict(wait=2, warmup=1, active=1, skip_first=2),
                                    dict(wait=2, warmup=1, active=1, skip_first_wait=1, repeat=2),
                                    dict(wait=0, warmup=2, active=1, skip_first=1, skip_first_wait=1)])
def test_schedule_matches_torch(kwargs):
    t, c = TP.schedule(**kwargs), CP.schedule(**kwargs)
    assert [c(i).name for i in range(16)] == [t(i).name for i in range(16)]
    assert [(a.name, a.value) for a in CP.ProfilerAction] == [(a.name, a.value) for a in TP.ProfilerAction]


@pytest.mark.parametrize("kwargs", [dict(wait=0, warmup=0, active=0), dict(wait=-1, warmup=0, active=1),
                                    dict(wait=0, warmup=0, active=1), dict(wait=0, warmup=1, active=1, repeat=-1)])
def test_schedule_errors_and_warnings_match_torch(kwargs):
    def make(P):
        P.schedule(**kwargs)
        return "ok"
    assert _outcome(lambda: make(CP)) == _outcome(lambda: make(TP))


def test_scheduled_profile_hands_each_trace_to_on_trace_ready(tmp_path):
    traces = []
    with CP.profile(schedule=CP.schedule(wait=1, warmup=1, active=2, repeat=2),
                    on_trace_ready=lambda p: traces.append([e.name for e in p.events()])) as prof:
        with pytest.warns(UserWarning, match="Profiler clears events at the end of each cycle"):
            for step in range(10):
                with CP.record_function(f"step{step}"):
                    pass
                prof.step()
    assert traces == [["step2", "step3"], ["step6", "step7"]] and prof.step_num == 10
    for P in (TP, CP):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for repeat, acc_events in ((1, False), (0, True), (0, False)):
                with P.profile(schedule=P.schedule(wait=1, warmup=1, active=1, repeat=repeat),
                               acc_events=acc_events) as prof:
                    for _ in range(6):
                        prof.step()
        assert [str(w.message) for w in caught] == ["Warning: Profiler clears events at the end of each cycle. Only "
                                                    "events from the current cycle will be reported. To keep events "
                                                    "across cycles, set acc_events=True."]
    with CP.profile(on_trace_ready=CP.tensorboard_trace_handler(str(tmp_path), worker_name="w")):
        with CP.record_function("r"):
            pass
    (written,) = tmp_path.iterdir()
    assert written.name.startswith("w.") and written.name.endswith(".pt.trace.json")
    assert json.loads(written.read_text())["traceEvents"][0]["name"] == "r"


def test_profiler_surface():
    assert CP.supported_activities() == {CP.ProfilerActivity.CPU}
    for method in ("key_averages", "events", "export_chrome_trace"):
        args = ("unused.json",) if method == "export_chrome_trace" else ()
        assert _outcome(lambda: getattr(CP.profile(), method)(*args)) == \
               _outcome(lambda: getattr(TP.profile(), method)(*args))
    for name in TP.ProfilerActivity.__members__:
        t, c = getattr(TP.ProfilerActivity, name), getattr(CP.ProfilerActivity, name)
        assert (repr(c), str(c), int(c)) == (repr(t), str(t), int(t))
    prof = CP.profile()
    prof.start()
    with CP.record_function("a"):
        pass
    prof.stop()
    assert [e.key for e in prof.key_averages()] == ["a"]
    with pytest.raises(NotImplementedError, match="stacks"):
        prof.export_stacks("x.txt")


def test_a_raising_future_callback_does_not_stop_the_others():
    from cgrad import futures
    f = futures.Future()
    seen = []

    def bad(_):
        raise ValueError("boom")

    f.add_done_callback(bad)
    f.add_done_callback(lambda fut: seen.append(fut.value()))
    all_done = futures.collect_all([f])
    f.set_result(1)
    assert seen == [1] and all_done.done()
