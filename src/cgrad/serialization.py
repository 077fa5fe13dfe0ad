"""cgrad.save / cgrad.load: tensors and nested containers in a safe .npz format.

The file is a numpy .npz archive (a zip of .npy files): one array per tensor
("t0", "t1", ...) and a UTF-8 JSON description of the saved object in the
array "__cgrad__". Loading never runs code: arrays are read with
np.load(..., allow_pickle=False) and the description only names the types
listed below. The format is documented in docs/serialization.md.
"""
import io
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np

from cgrad import _C
from cgrad._C import Tensor

__all__ = ["save", "load"]

FORMAT = "cgrad"
VERSION = 1
STRUCTURE_KEY = "__cgrad__"
MAX_DEPTH = 200
_DTYPES = {"float32": np.float32, "float64": np.float64, "int64": np.int64, "bool": np.bool_}


# ---- saving -------------------------------------------------------------------------


class _Writer:
    def __init__(self):
        self.arrays = {}
        self.memo = {}  # id(tensor) -> key, so a tensor saved twice loads as one object
        self.keep = []  # the saved tensors, alive until the end so ids stay unique

    def tensor(self, t):
        from cgrad.nn.parameter import Parameter

        key = self.memo.get(id(t))
        if key is None:
            key = f"t{len(self.arrays)}"
            self.memo[id(t)] = key
            self.keep.append(t)
            self.arrays[key] = np.array(t.detach().numpy(), order="C")
        return {"type": "tensor", "key": key, "dtype": t.dtype.name, "shape": list(t.shape),
                "requires_grad": bool(t.requires_grad), "parameter": isinstance(t, Parameter)}

    def ndarray(self, a):
        if a.dtype.name not in _DTYPES:
            raise TypeError(f"cgrad.save: cannot save numpy arrays of dtype {a.dtype}")
        key = f"t{len(self.arrays)}"
        self.arrays[key] = np.array(a, order="C")
        return {"type": "ndarray", "key": key, "dtype": a.dtype.name, "shape": list(a.shape)}

    def node(self, obj, depth=0):
        if depth > MAX_DEPTH:
            raise ValueError(f"cgrad.save: the object is nested more than {MAX_DEPTH} levels deep")
        if obj is None:
            return {"type": "none"}
        if isinstance(obj, bool):
            return {"type": "bool", "value": obj}
        if isinstance(obj, int):
            return {"type": "int", "value": str(obj)}
        if isinstance(obj, float):
            return {"type": "float", "value": repr(obj)}
        if isinstance(obj, str):
            return {"type": "str", "value": obj}
        if isinstance(obj, Tensor):
            return self.tensor(obj)
        if isinstance(obj, np.ndarray):
            return self.ndarray(obj)
        if isinstance(obj, np.generic):
            return self.node(obj.item(), depth)
        if isinstance(obj, _C.dtype):
            return {"type": "dtype", "value": obj.name}
        if isinstance(obj, _C.Size):
            return {"type": "size", "items": [int(s) for s in obj]}
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            return {"type": kind, "items": [self.node(x, depth + 1) for x in obj]}
        if isinstance(obj, dict):
            return {"type": "dict", "ordered": isinstance(obj, OrderedDict),
                    "items": [[self.node(k, depth + 1), self.node(v, depth + 1)] for k, v in obj.items()]}
        raise TypeError(f"cgrad.save: cannot save an object of type {type(obj).__module__}.{type(obj).__qualname__}; "
                        "supported: tensors, numpy arrays, dicts, lists, tuples, numbers, strings, None")


def save(obj, f):
    """Saves obj (tensors, state dicts, nested dicts/lists/tuples of them, numbers, strings, None)
    to f, a path or a binary file object."""
    writer = _Writer()
    structure = {"format": FORMAT, "version": VERSION, "root": writer.node(obj)}
    text = json.dumps(structure, ensure_ascii=False, allow_nan=False)
    arrays = dict(writer.arrays)
    arrays[STRUCTURE_KEY] = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            np.savez(fh, **arrays)
    else:
        np.savez(f, **arrays)


# ---- loading -------------------------------------------------------------------------


def _dtype(name):
    return _C.bool_ if name == "bool" else getattr(_C, name)


def _reject_constant(name):
    raise _malformed(f"the description holds the non-JSON constant {name}")


def _malformed(msg):
    return ValueError(f"cgrad.load: malformed file: {msg}")


class _Reader:
    def __init__(self, npz, names):
        self.npz = npz
        self.names = names
        self.tensors = {}
        self.used = set()

    def array(self, node):
        key = node.get("key")
        if not isinstance(key, str) or key not in self.names or key == STRUCTURE_KEY:
            raise _malformed(f"it refers to an array {key!r} that the archive does not hold")
        dtype = node.get("dtype")
        if dtype not in _DTYPES:
            raise _malformed(f"unknown dtype {dtype!r} for array {key!r}")
        try:
            arr = self.npz[key]
        except ValueError as e:
            raise _malformed(f"array {key!r} cannot be read without pickle ({e})") from None
        shape = node.get("shape")
        if arr.dtype != np.dtype(_DTYPES[dtype]):
            raise _malformed(f"array {key!r} holds {arr.dtype}, but the description says {dtype}")
        if not isinstance(shape, list) or list(arr.shape) != shape:
            raise _malformed(f"array {key!r} has shape {list(arr.shape)}, but the description says {shape}")
        self.used.add(key)
        return arr

    def tensor(self, node):
        key = node.get("key")
        if key in self.tensors:
            return self.tensors[key]
        arr = self.array(node)
        t = _C._tensor_from_numpy_copy(arr, _dtype(node["dtype"]))
        requires_grad = node.get("requires_grad", False)
        if not isinstance(requires_grad, bool) or not isinstance(node.get("parameter", False), bool):
            raise _malformed(f"tensor {key!r} has a non-boolean requires_grad or parameter flag")
        if requires_grad and not t.dtype.is_floating_point:
            raise _malformed(f"tensor {key!r} of dtype {t.dtype.name} cannot require grad")
        if node.get("parameter", False):
            from cgrad.nn.parameter import Parameter

            t = Parameter(t, requires_grad)
        elif requires_grad:
            t.requires_grad_(True)
        self.tensors[key] = t
        return t

    def node(self, node, depth=0):
        if depth > MAX_DEPTH:
            raise _malformed(f"the description is nested more than {MAX_DEPTH} levels deep")
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise _malformed(f"expected an object with a 'type', got {type(node).__name__}")
        kind = node["type"]
        value = node.get("value")
        if kind == "none":
            return None
        if kind == "bool" and isinstance(value, bool):
            return value
        if kind == "int" and isinstance(value, str):
            try:
                return int(value)
            except ValueError:
                raise _malformed(f"bad int {value!r}") from None
        if kind == "float" and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                raise _malformed(f"bad float {value!r}") from None
        if kind == "str" and isinstance(value, str):
            return value
        if kind == "dtype" and value in _DTYPES:
            return _dtype(value)
        if kind == "tensor":
            return self.tensor(node)
        if kind == "ndarray":
            return self.array(node).copy()
        items = node.get("items")
        if kind in ("list", "tuple", "size") and isinstance(items, list):
            if kind == "size":
                if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in items):
                    raise _malformed("a size holds something other than non-negative ints")
                return _C.Size(items)
            seq = [self.node(x, depth + 1) for x in items]
            return seq if kind == "list" else tuple(seq)
        if kind == "dict" and isinstance(items, list):
            out = OrderedDict() if node.get("ordered") else {}
            for pair in items:
                if not isinstance(pair, list) or len(pair) != 2:
                    raise _malformed("a dict item is not a [key, value] pair")
                k = self.node(pair[0], depth + 1)
                try:
                    hash(k)
                except TypeError:
                    raise _malformed(f"a dict key of type {type(k).__name__} is not hashable") from None
                out[k] = self.node(pair[1], depth + 1)
            return out
        raise _malformed(f"unknown or ill-formed entry of type {kind!r}")


def _read_structure(npz, names):
    if STRUCTURE_KEY not in names:
        raise RuntimeError(f"cgrad.load: not a cgrad file: the archive has no {STRUCTURE_KEY!r} entry")
    try:
        raw = npz[STRUCTURE_KEY]
    except ValueError as e:
        raise _malformed(f"the description cannot be read without pickle ({e})") from None
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _malformed(f"the description must be a 1-D uint8 array, got {raw.dtype} of {raw.ndim} dims")
    try:
        structure = json.loads(raw.tobytes().decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise _malformed(f"the description is not valid JSON ({e})") from None
    if not isinstance(structure, dict) or structure.get("format") != FORMAT:
        raise RuntimeError("cgrad.load: not a cgrad file: its description does not name the cgrad format")
    if structure.get("version") != VERSION:
        raise RuntimeError(f"cgrad.load: unsupported format version {structure.get('version')!r} "
                           f"(this cgrad reads version {VERSION})")
    if "root" not in structure:
        raise _malformed("the description has no root object")
    return structure


def load(f, map_location=None, *, weights_only=True, **kwargs):
    """Loads an object saved by cgrad.save from f (a path or a binary file object).

    Nothing in the file is executed; a damaged or foreign file raises ValueError
    (a malformed description) or RuntimeError (not a cgrad file)."""
    if map_location not in (None, "cpu") and str(map_location) != "cpu":
        raise NotImplementedError(f"map_location={map_location!r}: cgrad tensors live on the CPU only")
    if kwargs:
        raise TypeError(f"load() got unexpected keyword arguments {sorted(kwargs)}")
    try:
        npz = np.load(f, allow_pickle=False)
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise RuntimeError(f"cgrad.load: not a cgrad file (expected an .npz archive written by cgrad.save): {e}") \
            from None
    except ValueError as e:
        raise RuntimeError(f"cgrad.load: not a cgrad file (expected an .npz archive written by cgrad.save): {e}") \
            from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise RuntimeError("cgrad.load: not a cgrad file: it holds a single .npy array, not an .npz archive")
    with npz:
        try:
            names = set(npz.files)
            structure = _read_structure(npz, names)
            reader = _Reader(npz, names)
            obj = reader.node(structure["root"])
        except (zipfile.BadZipFile, EOFError, OSError, KeyError, io.UnsupportedOperation) as e:
            raise RuntimeError(f"cgrad.load: the archive is damaged: {e}") from None
        except RecursionError:
            raise _malformed(f"the description is nested more than {MAX_DEPTH} levels deep") from None
        unused = names - reader.used - {STRUCTURE_KEY}
        if unused:
            raise _malformed(f"the archive holds arrays the description does not mention: {sorted(unused)}")
    return obj
