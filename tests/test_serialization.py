"""cgrad.save / cgrad.load: round trips of tensors, state dicts and containers,
and damaged or hostile files (which must fail with a clear error and never run code)."""
import io
import json
import math
import pathlib
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import cgrad
import cgrad.nn as nn


def round_trip(obj, tmp_path, name="obj.pt"):
    path = tmp_path / name
    cgrad.save(obj, path)
    return cgrad.load(path)


def same_tensor(a, b):
    assert type(a) is type(b)
    assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad
    np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


# ---- round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "bool"])
@pytest.mark.parametrize("shape", [(), (0,), (3,), (2, 3), (2, 0, 4), (1, 2, 3, 4)], ids=str)
def test_tensor_round_trip(dtype, shape, tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.standard_normal(shape) * 100
    t = cgrad.tensor(arr, dtype=getattr(cgrad, dtype))
    same_tensor(round_trip(t, tmp_path), t)


def test_requires_grad_parameters_and_views(tmp_path):
    a = cgrad.randn(3, 4, requires_grad=True)
    p = nn.Parameter(cgrad.randn(2, 2, dtype=cgrad.float64))
    frozen = nn.Parameter(cgrad.randn(2), requires_grad=False)
    view = cgrad.randn(4, 5).transpose(0, 1)
    out = round_trip({"a": a, "p": p, "frozen": frozen, "view": view, "nonleaf": a * 2}, tmp_path)
    same_tensor(out["a"], a)
    assert out["a"].is_leaf and out["a"].requires_grad
    same_tensor(out["p"], p)
    assert isinstance(out["p"], nn.Parameter) and isinstance(out["frozen"], nn.Parameter)
    assert not out["frozen"].requires_grad
    same_tensor(out["view"], view.contiguous())
    assert out["nonleaf"].requires_grad and out["nonleaf"].grad_fn is None  # saved as a leaf


def test_state_dict_round_trip_and_load(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.ReLU(), nn.Linear(4, 2))
    sd = model.state_dict()
    out = round_trip(sd, tmp_path)
    assert isinstance(out, OrderedDict) and list(out) == list(sd)
    for k in sd:
        same_tensor(out[k], sd[k])
    fresh = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.ReLU(), nn.Linear(4, 2))
    fresh.load_state_dict(out)
    x = cgrad.randn(5, 3)
    np.testing.assert_array_equal(fresh(x).detach().numpy(), model(x).detach().numpy())


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_optimizer_state_dict_round_trip(name, tmp_path):
    def setup():
        cgrad.manual_seed(0)
        model = nn.Linear(3, 2)
        opt = getattr(cgrad.optim, name)(model.parameters(), lr=0.01,
                                         **({"momentum": 0.9} if name in ("SGD", "RMSprop") else {}))
        return model, opt

    def train(model, opt, seed):
        rng = np.random.default_rng(seed)
        for _ in range(3):
            opt.zero_grad()
            model(cgrad.tensor(rng.standard_normal((4, 3)).astype(np.float32))).sum().backward()
            opt.step()

    model, opt = setup()
    train(model, opt, 1)
    cgrad.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 3}, tmp_path / "ckpt")
    train(model, opt, 2)
    model2, opt2 = setup()
    ckpt = cgrad.load(tmp_path / "ckpt")
    assert ckpt["epoch"] == 3
    assert list(ckpt["optimizer"]["state"]) == [0, 1]  # int keys survive
    assert ckpt["optimizer"]["param_groups"] == opt.state_dict()["param_groups"]
    model2.load_state_dict(ckpt["model"])
    opt2.load_state_dict(ckpt["optimizer"])
    train(model2, opt2, 2)
    for p, q in zip(model.parameters(), model2.parameters()):
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_python_values_and_containers(tmp_path):
    obj = {
        "none": None, "true": True, "int": 12345678901234567890123, "neg": -7, "float": 0.1, "nan": math.nan,
        "inf": -math.inf, "negzero": -0.0, "str": "ünïcödé \"quoted\"\n", "list": [1, [2.5, "x"], ()],
        "tuple": (1, (2, None)), "dtype": cgrad.float64, "bool dtype": cgrad.bool, "size": cgrad.Size([2, 3]),
        3: "int key", 2.5: "float key", (1, "a"): "tuple key", None: "none key", False: "bool key",
        "nested": OrderedDict([("b", {"c": [cgrad.ones(2)]})]), "np": np.arange(6).reshape(2, 3),
        "npfloat": np.float32(1.5),
    }
    out = round_trip(obj, tmp_path)
    assert list(out) == list(obj)
    for k in obj:
        a, b = obj[k], out[k]
        if k == "nested":
            assert isinstance(b, OrderedDict)
            same_tensor(b["b"]["c"][0], a["b"]["c"][0])
        elif k == "np":
            np.testing.assert_array_equal(a, b)
            assert isinstance(b, np.ndarray)
        elif isinstance(a, float) and math.isnan(a):
            assert math.isnan(b)
        else:
            assert a == b and type(b) is type(a.item() if isinstance(a, np.generic) else a), k
    assert math.copysign(1.0, out["negzero"]) == -1.0


def test_shared_tensors_load_as_one(tmp_path):
    t = cgrad.randn(3)
    out = round_trip({"a": t, "b": [t, t]}, tmp_path)
    assert out["a"] is out["b"][0] is out["b"][1]
    with np.load(tmp_path / "obj.pt", allow_pickle=False) as f:
        assert sorted(f.files) == ["__cgrad__", "t0"]


def test_file_objects_and_paths(tmp_path):
    buf = io.BytesIO()
    t = cgrad.arange(5) if hasattr(cgrad, "arange") else cgrad.tensor(np.arange(5))
    cgrad.save(t, buf)
    buf.seek(0)
    same_tensor(cgrad.load(buf), t)
    cgrad.save(t, str(tmp_path / "plain"))  # no extension is added
    assert (tmp_path / "plain").exists() and not (tmp_path / "plain.npz").exists()
    same_tensor(cgrad.load(str(tmp_path / "plain")), t)
    same_tensor(cgrad.load(pathlib.Path(tmp_path / "plain"), map_location="cpu", weights_only=True), t)


def test_nesting_limit_on_save(tmp_path):
    obj = []
    for _ in range(250):
        obj = [obj]
    with pytest.raises(ValueError, match="nested more than 200 levels"):
        cgrad.save(obj, tmp_path / "deep")
    for _ in range(50):
        obj = obj[0]
    assert round_trip(obj, tmp_path) == obj


def test_unsupported_objects(tmp_path):
    with pytest.raises(TypeError, match="cannot save an object of type builtins.set"):
        cgrad.save({"s": {1, 2}}, tmp_path / "x")
    with pytest.raises(TypeError, match="cannot save an object of type"):
        cgrad.save(nn.Linear(2, 2), tmp_path / "x")
    with pytest.raises(TypeError, match="cannot save numpy arrays of dtype"):
        cgrad.save(np.array(["a"]), tmp_path / "x")
    with pytest.raises(FileNotFoundError):
        cgrad.load(tmp_path / "missing")


# ---- damaged and hostile files --------------------------------------------------------------


def write_npz(path, structure=None, raw=None, **arrays):
    """An npz archive with the given arrays and a description (a dict, or raw text/bytes)."""
    if raw is None and structure is not None:
        raw = json.dumps(structure)
    if raw is not None:
        data = raw.encode() if isinstance(raw, str) else raw
        arrays["__cgrad__"] = np.frombuffer(data, dtype=np.uint8)
    with open(path, "wb") as f:
        np.savez(f, **arrays)
    return path


def tensor_node(key="t0", dtype="float32", shape=(2,), **extra):
    node = {"type": "tensor", "key": key, "dtype": dtype, "shape": list(shape), "requires_grad": False,
            "parameter": False}
    node.update(extra)
    return node


def doc(root, **extra):
    d = {"format": "cgrad", "version": 1, "root": root}
    d.update(extra)
    return d


GOOD = np.zeros(2, dtype=np.float32)


def test_a_hand_written_file_loads(tmp_path):
    path = write_npz(tmp_path / "ok", doc({"type": "list", "items": [tensor_node(), {"type": "int", "value": "5"}]}),
                     t0=GOOD)
    out = cgrad.load(path)
    same_tensor(out[0], cgrad.zeros(2))
    assert out[1] == 5


@pytest.mark.parametrize("case", [
    "garbage", "truncated", "single npy", "no description", "bad json", "not utf8", "json constant",
    "wrong format", "wrong version", "no root", "unknown type", "missing array", "dtype mismatch",
    "shape mismatch", "unknown dtype", "extra array", "description not uint8", "bad int", "bad pair",
    "unhashable key", "int requires grad", "deep nesting", "very deep nesting", "bad flag", "bad size",
])
def test_malformed_files_fail_clearly(case, tmp_path):
    path = tmp_path / "bad"
    t = tensor_node()
    if case == "garbage":
        path.write_bytes(b"this is not a zip file at all" * 10)
    elif case == "truncated":
        write_npz(path, doc(t), t0=GOOD)
        path.write_bytes(path.read_bytes()[:-40])
    elif case == "single npy":
        with open(path, "wb") as f:
            np.save(f, GOOD)
    elif case == "no description":
        write_npz(path, t0=GOOD)
    elif case == "bad json":
        write_npz(path, raw="{not json", t0=GOOD)
    elif case == "not utf8":
        write_npz(path, raw=b"\xff\xfe{}", t0=GOOD)
    elif case == "json constant":
        write_npz(path, raw='{"format": "cgrad", "version": 1, "root": NaN}')
    elif case == "wrong format":
        write_npz(path, doc(t, format="pickle"), t0=GOOD)
    elif case == "wrong version":
        write_npz(path, doc(t, version=99), t0=GOOD)
    elif case == "no root":
        write_npz(path, {"format": "cgrad", "version": 1}, t0=GOOD)
    elif case == "unknown type":
        write_npz(path, doc({"type": "function", "value": "os.system"}))
    elif case == "missing array":
        write_npz(path, doc(tensor_node("t7")), t0=GOOD)
    elif case == "dtype mismatch":
        write_npz(path, doc(tensor_node(dtype="float64")), t0=GOOD)
    elif case == "shape mismatch":
        write_npz(path, doc(tensor_node(shape=(3,))), t0=GOOD)
    elif case == "unknown dtype":
        write_npz(path, doc(tensor_node(dtype="object")), t0=GOOD)
    elif case == "extra array":
        write_npz(path, doc(t), t0=GOOD, t1=GOOD)
    elif case == "description not uint8":
        with open(path, "wb") as f:
            np.savez(f, __cgrad__=np.array([1.0, 2.0]), t0=GOOD)
    elif case == "bad int":
        write_npz(path, doc({"type": "int", "value": "12abc"}))
    elif case == "bad pair":
        write_npz(path, doc({"type": "dict", "items": [[{"type": "none"}]]}))
    elif case == "unhashable key":
        write_npz(path, doc({"type": "dict", "items": [[{"type": "list", "items": []}, {"type": "none"}]]}))
    elif case == "int requires grad":
        write_npz(path, doc(tensor_node(dtype="int64", requires_grad=True)), t0=np.zeros(2, dtype=np.int64))
    elif case == "deep nesting":
        depth = 300
        write_npz(path, raw='{"format": "cgrad", "version": 1, "root": ' + '{"type": "list", "items": [' * depth
                  + '{"type": "none"}' + "]}" * depth + "}")
    elif case == "very deep nesting":
        depth = 100000
        write_npz(path, raw='{"format": "cgrad", "version": 1, "root": ' + '{"type": "list", "items": [' * depth
                  + '{"type": "none"}' + "]}" * depth + "}")
    elif case == "bad flag":
        write_npz(path, doc(tensor_node(requires_grad="yes")), t0=GOOD)
    elif case == "bad size":
        write_npz(path, doc({"type": "size", "items": [2, -1]}))
    with pytest.raises((ValueError, RuntimeError)) as info:
        cgrad.load(path)
    assert "cgrad.load" in str(info.value)


class Boom:
    """Sets a flag when unpickled: proof that loading would have run code."""

    ran = False

    def __reduce__(self):
        return (_explode, ())


def _explode():
    Boom.ran = True
    return "boom"


def test_pickled_payloads_are_never_run(tmp_path):
    payload = np.empty(1, dtype=object)
    payload[0] = Boom()
    path = tmp_path / "evil"
    with open(path, "wb") as f:
        np.savez(f, t0=payload, __cgrad__=np.frombuffer(json.dumps(
            doc(tensor_node(shape=(1,)))).encode(), dtype=np.uint8))
    with pytest.raises(ValueError, match="cannot be read without pickle"):
        cgrad.load(path)
    assert not Boom.ran
    # a plain pickle file is not a zip archive at all
    pickled = tmp_path / "pickled"
    pickled.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(RuntimeError, match="not a cgrad file"):
        cgrad.load(pickled)
    assert not Boom.ran
