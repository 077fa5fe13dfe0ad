"""Compare cgrad with torch, micrograd, HIPS autograd and hand-written numpy.

    python bench/compare.py [--backends cgrad,torch,micrograd,autograd,numpy]
                            [--workloads scalar_chain,...] [--repeats N] [--quick]

Each backend x workload runs in its own single-threaded process pinned to one core
(worker.py), is verified against a float64 reference, and only then timed. The
backends of a workload take turns, in rounds, so a change in the machine's load
falls on all of them alike.
Writes bench/results/<date>.json, .md and .png (<date>-quick.* for --quick) and
prints the table.
"""
import argparse
import datetime
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time

import report
from worker import THREAD_VARS, summarize
from workloads import BACKENDS, WORKLOADS, default_workloads

HERE = os.path.dirname(os.path.abspath(__file__))
UNSET_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")  # tuned for old BLAS builds
QUICK = {"repeats": 3, "min_runs": 1, "budget": 1.0, "warmup": 1, "min_sample": 0.005,
         "reuse_check": True, "rounds": 1}
FULL = {"min_runs": 3, "budget": 20.0, "warmup": 1, "min_sample": 0.02, "reuse_check": False,
        "rounds": 3}


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--backends", default=",".join(BACKENDS), help="comma-separated backends")
    p.add_argument("--workloads", default=",".join(default_workloads()),
                   help="comma-separated workloads; deep_chain_1e7 runs only when named "
                        f"(known: {', '.join(WORKLOADS)})")
    p.add_argument("--repeats", type=int, default=None, help="most timed runs per case (10)")
    p.add_argument("--quick", action="store_true", help="smoke run: few repeats, short budget")
    p.add_argument("--budget", type=float, default=None,
                   help="seconds of timed runs to aim for per case (20; quick 1)")
    p.add_argument("--rounds", type=int, default=None,
                   help="turns each backend takes per workload, sharing the budget (3; quick 1)")
    p.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)), help="core to pin to")
    p.add_argument("--out", default=os.path.join(HERE, "results"), help="output folder")
    return p.parse_args(argv)


def pick(text, known, what):
    names = [n for n in text.split(",") if n]
    unknown = [n for n in names if n not in known]
    if unknown:
        sys.exit(f"unknown {what}: {', '.join(unknown)} (known: {', '.join(known)})")
    return names


def settings(args):
    s = dict(QUICK) if args.quick else dict(FULL, repeats=10)
    if args.repeats is not None:
        s["repeats"] = args.repeats
    if args.budget is not None:
        s["budget"] = args.budget
    if args.rounds is not None:
        s["rounds"] = max(1, args.rounds)
    s["min_runs"] = min(s["min_runs"], s["repeats"])
    s["quick"] = args.quick
    return s


def worker_env():
    env = {k: v for k, v in os.environ.items() if k not in UNSET_VARS}
    env.update({var: "1" for var in THREAD_VARS})
    return env


def launch(worker_args, out_path, timeout):
    """Run worker.py; returns (its JSON result or None, the completed process)."""
    cmd = [sys.executable, os.path.join(HERE, "worker.py"), *worker_args, "--out", out_path]
    proc = subprocess.run(cmd, env=worker_env(), capture_output=True, text=True, timeout=timeout)
    if not os.path.exists(out_path):
        return None, proc
    with open(out_path) as f:
        return json.load(f), proc


def _last_words(stderr):
    """The innermost frame of a crash report, else the last line of stderr."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for i, line in enumerate(lines[:-1]):
        if line.endswith("(most recent call first):"):
            return lines[i + 1][:300]
    return lines[-1][:300] if lines else ""


def prepare(workloads, tmp, cpu):
    """Inputs and float64 references for every workload;
    {workload: {"reference": name} or {"error": why}}."""
    args = ["prepare", "--dir", tmp, "--cpu", str(cpu), "--workloads", ",".join(workloads)]
    sources, proc = launch(args, os.path.join(tmp, "prepare.json"), timeout=3600)
    if sources is None:
        sys.exit(f"preparing inputs failed:\n{proc.stderr}")
    return sources


def worker_args(backend, workload, tmp, cpu, s):
    """One round's worth: the budget and the sample counts are shared by the rounds."""
    k = s["rounds"]
    args = ["run", "--backend", backend, "--workload", workload, "--dir", tmp, "--cpu", str(cpu),
            "--repeats", str(math.ceil(s["repeats"] / k)), "--min-runs", str(math.ceil(s["min_runs"] / k)),
            "--budget", str(s["budget"] / k), "--warmup", str(s["warmup"]),
            "--min-sample", str(s["min_sample"])]
    return args + (["--reuse-check"] if s["reuse_check"] else [])


def outcome(backend, workload, status, note):
    """A result for a case that was not timed."""
    return {"backend": backend, "workload": workload, "status": status, "note": note}


def run_case(backend, workload, tmp, cpu, s, source):
    spec = WORKLOADS[workload]
    if backend not in spec.backends:
        return outcome(backend, workload, "skipped", "not applicable")
    if "error" in source:
        return outcome(backend, workload, "skipped", f"no inputs: {source['error']}")
    out_path = os.path.join(tmp, f"{workload}.{backend}.json")
    try:
        result, proc = launch(worker_args(backend, workload, tmp, cpu, s), out_path, spec.timeout)
    except subprocess.TimeoutExpired:
        return outcome(backend, workload, "error", f"timed out after {spec.timeout:.0f} s")
    if result is None:
        code = proc.returncode
        how = f"crashed ({signal.Signals(-code).name})" if code < 0 else f"exited with code {code}"
        note = f"process {how}: {_last_words(proc.stderr)}"
        return outcome(backend, workload, "error", note)
    return result


def progress(result):
    spec = WORKLOADS[result["workload"]]
    times = ", ".join(f"{p} {v['median'] * spec.scale:.4g} {spec.unit}"
                      for p, v in result.get("phases", {}).items())
    print(f"  {result['workload']:16} {result['backend']:10} {result['status']:8} "
          f"{times or result['note']}", file=sys.stderr, flush=True)


def merge(rounds):
    """One result from a case's rounds: their samples pooled, the largest peak RSS.
    A round that did not time (wrong, error, skipped) stands for the case."""
    first = rounds[0]
    failed = next((r for r in rounds if r["status"] != "ok" or "phases" not in r), None)
    if failed is not None or len(rounds) == 1:
        return failed or first
    merged = dict(first, rounds=len(rounds), rss_peak_mb=max(r["rss_peak_mb"] for r in rounds),
                  max_err=max(r["max_err"] for r in rounds))
    merged["phases"] = summarize({phase: [x for r in rounds for x in r["phases"][phase]["samples"]]
                                  for phase in first["phases"]})
    return merged


def run_all(backends, workloads, tmp, cpu, s, sources):
    """Each workload's backends in turn, s["rounds"] times over (one round for a
    workload timed by its verified run alone, and none more for a backend that
    did not time)."""
    results, missing = [], {}
    for workload in workloads:
        rounds = {b: [] for b in backends}
        for k in range(1 if WORKLOADS[workload].single_run else s["rounds"]):
            for backend in backends:
                done = rounds[backend] and rounds[backend][-1]["status"] != "ok"
                if backend in missing or done:
                    continue
                result = run_case(backend, workload, tmp, cpu, s, sources[workload])
                if result["note"].startswith(("not installed", "not importable")):
                    missing[backend] = result["note"]
                rounds[backend].append(result)
        for backend in backends:
            if rounds[backend]:
                result = merge(rounds[backend])
            else:
                result = outcome(backend, workload, "skipped", missing[backend])
            progress(result)
            results.append(result)
    return results


def machine(cpu):
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    with open("/proc/meminfo") as f:
        mem_kb = int(next(ln.split()[1] for ln in f if ln.startswith("MemTotal")))
    return {"cpu": model, "cores": os.cpu_count(), "memory_gb": round(mem_kb / 2**20, 1),
            "pinned_cpu": cpu, "system": f"{platform.system()} {platform.release()}"}


def versions(results):
    """Versions the workers imported, else the installed distributions' versions."""
    from importlib import metadata
    out = {"python": platform.python_version()}
    for name in ("numpy", "torch", "cgrad", "micrograd", "autograd"):
        seen = [r["version"] for r in results if r["backend"] == name and r.get("version")]
        try:
            out[name] = seen[0] if seen else metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    for name in report.unavailable(results):
        out[name] = None
    return out


def document(args, workloads, sources, results, s, started):
    specs = {w: dict(WORKLOADS[w].as_dict(), **sources[w]) for w in workloads}
    doc = {"date": datetime.date.today().isoformat(), "command": " ".join(["python bench/compare.py"]
                                                                          + sys.argv[1:]),
           "duration_s": time.time() - started, "machine": machine(args.cpu),
           "versions": versions(results), "settings": s, "workloads": specs, "results": results}
    doc["rows"] = report.rows(results)
    return doc


def main(argv=None):
    args = parse_args(argv)
    backends = pick(args.backends, BACKENDS, "backends")
    workloads = pick(args.workloads, list(WORKLOADS), "workloads")
    s, started = settings(args), time.time()
    with tempfile.TemporaryDirectory(prefix="cgrad-bench-") as tmp:
        print(f"preparing inputs and float64 references for {len(workloads)} workloads",
              file=sys.stderr, flush=True)
        sources = prepare(workloads, tmp, args.cpu)
        results = run_all(backends, workloads, tmp, args.cpu, s, sources)
    doc = document(args, workloads, sources, results, s, started)
    written = report.write(doc, args.out)
    print(report.markdown(doc))
    print("wrote " + ", ".join(os.path.relpath(p) for p in written), file=sys.stderr)


if __name__ == "__main__":
    main()
