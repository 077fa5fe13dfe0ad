"""One benchmark process: `prepare` makes inputs and float64 references, `run` measures
one backend on one workload. Started by compare.py, one process at a time.

A run first verifies the backend's loss and gradients against the reference; only a
verified case is timed. The result is written as JSON to --out.
"""
import argparse
import faulthandler
import gc
import importlib
import json
import math
import os
import resource
import statistics
import sys
import traceback

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
TOLERANCE = {"float32": 1e-3, "float64": 1e-8}  # on max|got - ref| / max|ref|, per value


def single_thread(cpu):
    """Pin to one core and one thread; must run before numpy or torch is imported."""
    for var in THREAD_VARS:
        os.environ[var] = "1"
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def rss_now_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return None


def rss_peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def version_of(name):
    from importlib import metadata
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return getattr(sys.modules.get(name), "__version__", None)


def load_backend(name):
    """make_case(workload, data, dtype) for the backend; raises ImportError if missing."""
    if name in ("torch", "cgrad"):
        T = importlib.import_module(name)
        if hasattr(T, "set_num_threads"):
            T.set_num_threads(1)
        import impl_tensor
        return lambda wl, data, dtype: impl_tensor.make_case(T, wl, data, dtype)
    return importlib.import_module(f"impl_{name}").make_case


# ---------------------------------------------------------------- prepare

def _torch_or_none():
    try:
        torch = importlib.import_module("torch")
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def reference_case(workload):
    """(inputs, the float64 case every backend is checked against, that case's name)."""
    from workloads import make_data
    data = make_data(workload.name)
    torch = _torch_or_none() if workload.reference == "torch" else None
    if torch is not None:
        import impl_tensor
        case = impl_tensor.make_case(torch, workload.name, data, "float64")
        return data, case, f"torch {torch.__version__} float64"
    import impl_numpy
    return data, impl_numpy.make_case(workload.name, data, "float64"), "numpy hand-written float64"


def prepare_one(workload, folder):
    """Save the workload's inputs and reference values; returns the reference's name."""
    import numpy as np
    data, case, source = reference_case(workload)
    np.savez(os.path.join(folder, f"{workload.name}.data.npz"), **data)
    np.savez(os.path.join(folder, f"{workload.name}.ref.npz"), **case.check())
    return source


def prepare(args):
    """Writes {workload: {"reference": name} or {"error": why}} to args.out."""
    from workloads import WORKLOADS
    sources = {}
    for name in args.workloads.split(","):
        try:
            sources[name] = {"reference": prepare_one(WORKLOADS[name], args.dir)}
        except Exception as exc:
            sources[name] = {"error": f"{type(exc).__name__}: {exc}"}
    with open(args.out, "w") as f:
        json.dump(sources, f)


# ---------------------------------------------------------------- run

def compare(got, ref, dtype):
    """(worst relative error, None) when every value matches, else (error, what is wrong)."""
    import numpy as np
    tol, worst = TOLERANCE[dtype], 0.0
    for name, r in ref.items():
        g = got.get(name)
        if g is None or g.size != r.size:
            return None, f"{name}: expected {r.size} values, got {None if g is None else g.size}"
        if not np.all(np.isfinite(g)):
            return None, f"{name} is not finite"
        err = float(np.max(np.abs(g.ravel() - r.ravel())) / max(float(np.max(np.abs(r))), 1e-30))
        if err > tol:
            return err, f"{name} off by {err:.2g} of its largest value (tolerance {tol:g})"
        worst = max(worst, err)
    return worst, None


def verify(case, workload, ref_path):
    """Run the fresh case once; returns (times of that run, result fields)."""
    import numpy as np
    times = {}
    got = case.check(times)
    with np.load(ref_path) as ref:
        err, problem = compare(got, dict(ref), workload.dtype)
    fields = {"max_err": err}
    if problem:
        fields.update(status="wrong", note=problem)
    return times, fields


def warm_up(case, runs):
    """Untimed runs; returns the fastest one's seconds (inf when there are none)."""
    fastest = float("inf")
    for _ in range(runs):
        times = {}
        case.run(times)
        fastest = min(fastest, sum(sum(t) for t in times.values()))
    return fastest


def time_samples(case, n_samples, runs_per_sample):
    """{phase: [seconds per run, averaged over each sample's runs]}."""
    gc.collect()
    samples = {}
    for _ in range(n_samples):
        times = {}
        for _ in range(runs_per_sample):
            case.run(times)
        for phase, t in times.items():
            samples.setdefault(phase, []).append(sum(t) / runs_per_sample)
    return samples


def plan(run_seconds, args):
    """(samples, runs per sample): short runs are grouped so one sample lasts
    at least args.min_sample seconds; samples fill the budget within the bounds."""
    runs_per_sample = max(1, math.ceil(args.min_sample / max(run_seconds, 1e-9)))
    fits = int(args.budget / (run_seconds * runs_per_sample))
    return max(args.min_runs, min(args.repeats, fits)), runs_per_sample


def summarize(times):
    return {phase: {"median": statistics.median(t), "min": min(t), "max": max(t), "n": len(t),
                    "samples": list(t)}
            for phase, t in times.items()}


def timed(case, workload, args, check_times, result):
    """Seconds per run of each phase: from the verified run itself, or from new runs."""
    check_seconds = sum(sum(t) for t in check_times.values())
    if workload.single_run or (args.reuse_check and check_seconds >= args.budget):
        result["note"] = "timed: the verified run only"
        return check_times
    run_seconds = min(check_seconds, warm_up(case, args.warmup))
    n_samples, result["runs_per_sample"] = plan(run_seconds, args)
    return time_samples(case, n_samples, result["runs_per_sample"])


def measure(case, workload, args, result):
    check_times, fields = verify(case, workload, os.path.join(args.dir, f"{workload.name}.ref.npz"))
    result.update(fields)
    if result["status"] == "wrong":
        return
    result["phases"] = summarize(timed(case, workload, args, check_times, result))
    if workload.calibrate:
        from workloads import CALIBRATE
        seconds, amount = CALIBRATE[workload.calibrate]()
        result["calibration"] = {"kind": workload.calibrate, "seconds": seconds, "amount": amount}


def classify(exc):
    """Status and note for an exception raised while building or checking a case."""
    message = f"{type(exc).__name__}: {exc}".strip().splitlines()[0][:300]
    if isinstance(exc, (AttributeError, NotImplementedError, TypeError)):
        return "skipped", f"unsupported: {message}"
    return "error", message


def run_case(args, result):
    import numpy as np
    from workloads import WORKLOADS
    workload = WORKLOADS[args.workload]
    try:
        make_case = load_backend(args.backend)
    except ImportError as exc:
        missing = isinstance(exc, ModuleNotFoundError) and exc.name in (args.backend, None)
        why = "not installed" if missing else "not importable"
        result.update(status="skipped", note=f"{why}: {exc}")
        return
    result["version"] = version_of(args.backend)
    with np.load(os.path.join(args.dir, f"{workload.name}.data.npz")) as f:
        data = dict(f)
    result["rss_base_mb"] = rss_now_mb()
    try:
        case = make_case(workload.name, data, workload.dtype)
        if case is None:
            result.update(status="skipped", note="not applicable")
            return
        measure(case, workload, args, result)
    except Exception as exc:
        result["status"], result["note"] = classify(exc)
        result["traceback"] = traceback.format_exc(limit=-3)


def run(args):
    result = {"backend": args.backend, "workload": args.workload, "status": "ok", "note": ""}
    run_case(args, result)
    result["rss_peak_mb"] = rss_peak_mb()
    with open(args.out, "w") as f:
        json.dump(result, f)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("mode", choices=["prepare", "run"])
    p.add_argument("--dir", required=True, help="folder of the inputs and references")
    p.add_argument("--out", required=True, help="JSON file to write")
    p.add_argument("--cpu", type=int, default=None, help="core to pin to")
    p.add_argument("--workloads", help="prepare: comma-separated workloads")
    p.add_argument("--backend")
    p.add_argument("--workload")
    p.add_argument("--repeats", type=int, default=10, help="most timed runs")
    p.add_argument("--min-runs", type=int, default=3, help="fewest timed runs")
    p.add_argument("--budget", type=float, default=20.0, help="seconds of timed runs to aim for")
    p.add_argument("--warmup", type=int, default=1, help="untimed runs after the verified one")
    p.add_argument("--min-sample", type=float, default=0.02,
                   help="seconds one timed sample lasts at least (short runs are repeated)")
    p.add_argument("--reuse-check", action="store_true",
                   help="when the verified run alone exceeds the budget, report its time")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    faulthandler.enable()
    single_thread(args.cpu)
    if args.mode == "prepare":
        prepare(args)
    else:
        run(args)


if __name__ == "__main__":
    main()
