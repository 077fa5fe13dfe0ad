"""cgrad.compile against eager cgrad and eager torch, on whole training steps.

    python bench/compile.py [--cases linreg,moons,rnn] [--samples 15] [--callgrind]

Each case is one training step (forward, backward, parameter update) run three
ways: the step compiled with cgrad.compile, the same step in eager cgrad, and in
eager torch. Every (case, way) runs in its own process, pinned to one core with
one thread (OPENBLAS_NUM_THREADS=1, torch.set_num_threads(1), OPENBLAS_CORETYPE
and OPENBLAS_L2_SIZE removed), one after the other; the ways of a case take
turns, --rounds times, each timing a share of the samples, and the samples of
all rounds are pooled (the machine's load changes from minute to minute). A process first checks its
losses against the eager cgrad twin (compiled: bit for bit; torch: to 1e-5
relative), then times samples of back-to-back steps lasting at least 20 ms and
reports the median and range per step.

With --callgrind, the compiled replays also run under valgrind's callgrind,
collecting only inside cg_tape_replay: instructions per replay, per tape entry,
and how many of them are the arithmetic itself (the inner loops of the kernels
and BLAS) rather than the replay's own work.

Writes bench/results/compile-<date>.json and .md and prints the table.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
UNSET_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
WAYS = ("compiled", "cgrad", "torch")
CASES = {
    "linreg": "the seed's linear regression: X (3x1) @ w + b, MSE, backward, w -= lr * w.grad, grad.zero_(); float32",
    "moons": "micrograd's moons MLP 2-16-16-1 (ReLU), batch 100, SVM loss relu(1 - y*score).mean() "
             "+ 1e-4 * sum(p*p), grads set to None, backward, p -= lr * p.grad with a decaying lr; float64",
    "rnn": "tanh RNN h = tanh(x_t @ Wx + h @ Wh + b), input 32, hidden 64, batch 16, 100 steps, MSE of the "
           "last h against a target, backward, optim.SGD step; float32",
    "rnn_b1": "the same RNN step with batch 1 (one sequence per step)",
}


# ---- the steps, written once against a torch-shaped module T ------------------------------

def tensor(T, a, requires_grad=False):
    import numpy as np
    dtype = T.float64 if a.dtype == np.float64 else T.float32
    return T.tensor(a, dtype=dtype, requires_grad=requires_grad)


def linreg(T):
    from workloads import seed_linreg_data
    d = seed_linreg_data()
    X, y = tensor(T, d["X"]), tensor(T, d["y"])
    w, b = tensor(T, d["w"], True), tensor(T, d["b"].reshape(1), True)
    lr = float(d["lr"])

    def step(X, y):
        loss = ((X @ w + b - y) ** 2).mean()
        loss.backward()
        with T.no_grad():
            w.sub_(lr * w.grad)
            b.sub_(lr * b.grad)
            w.grad.zero_()
            b.grad.zero_()
        return loss

    return step, lambda k: (X, y)


def moons(T):
    from workloads import moons_data
    d = moons_data()
    X, y = tensor(T, d["X"]), tensor(T, d["y"])
    P = [tensor(T, d[n], True) for n in ("W1", "b1", "W2", "b2", "W3", "b3")]
    alpha = float(d["alpha"])
    lrs = [T.tensor(1.0 - 0.9 * k / 100, dtype=T.float64) for k in range(100)]

    def step(X, y, lr):
        W1, b1, W2, b2, W3, b3 = P
        scores = ((X @ W1 + b1).relu() @ W2 + b2).relu() @ W3 + b3
        loss = (1 - y * scores).relu().mean() + alpha * sum((p * p).sum() for p in P)
        for p in P:
            p.grad = None
        loss.backward()
        with T.no_grad():
            for p in P:
                p.sub_(lr * p.grad)
        return loss

    return step, lambda k: (X, y, lrs[k % 100])


def rnn(T, batch=16):
    import numpy as np
    from workloads import rnn_data
    d = rnn_data()
    xs = tensor(T, np.ascontiguousarray(d["x"][:, :batch]))
    target = np.random.default_rng(6).standard_normal((16, 64)).astype(np.float32) * 0.5
    target = tensor(T, target[:batch])
    Wx, Wh, b = tensor(T, d["Wx"], True), tensor(T, d["Wh"], True), tensor(T, d["b"], True)
    h0 = tensor(T, np.ascontiguousarray(d["h0"][:batch]))
    opt = T.optim.SGD([Wx, Wh, b], lr=0.01)

    def step(xs, target):
        opt.zero_grad()
        h = h0
        for t in range(xs.shape[0]):
            h = (xs[t] @ Wx + h @ Wh + b).tanh()
        loss = ((h - target) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    return step, lambda k: (xs, target)


STEPS = {"linreg": linreg, "moons": moons, "rnn": rnn, "rnn_b1": lambda T: rnn(T, batch=1)}


# ---- one process: one case, one way ---------------------------------------------------------

def single_thread(cpu):
    for var in THREAD_VARS:
        os.environ[var] = "1"
    for var in UNSET_VARS:
        os.environ.pop(var, None)
    os.sched_setaffinity(0, {cpu})


def build(case, way):
    if way == "torch":
        import torch
        torch.set_num_threads(1)
        return STEPS[case](torch)
    import cgrad
    step, args = STEPS[case](cgrad)
    return (cgrad.compile(step) if way == "compiled" else step), args


def check(case, way, n=6):
    """The first n losses, next to those of an eager cgrad twin."""
    step, args = build(case, way)
    got = [float(step(*args(k))) for k in range(n)]
    ref_step, ref_args = build(case, "cgrad")
    ref = [float(ref_step(*ref_args(k))) for k in range(n)]
    if way == "compiled":
        return got == ref, step
    return all(abs(g - r) <= 1e-5 * max(abs(r), 1e-3) for g, r in zip(got, ref)), step


def measure(case, way, samples, min_sample):
    ok, _ = check(case, way)
    step, args = build(case, way)
    for k in range(5):  # warm-up: the compiled step records here
        step(*args(k))
    times, k = [], 5
    while len(times) < samples:
        n, t0 = 0, time.perf_counter()
        while True:
            step(*args(k))
            k, n = k + 1, n + 1
            elapsed = time.perf_counter() - t0
            if elapsed >= min_sample:
                break
        times.append(elapsed / n)
    out = {"case": case, "way": way, "verified": ok, "median_s": statistics.median(times),
           "min_s": min(times), "max_s": max(times), "samples": len(times), "times": times}
    if way == "compiled":
        compiled = step._cgrad_step
        out["tape_entries"] = [len(e.replayer.tape) for e in compiled.cache.values() if e.replayer is not None]
        out["tape_memory"] = [e.replayer.tape.memory for e in compiled.cache.values() if e.replayer is not None]
        out["replays"] = compiled.replays
        out["fallback"] = compiled.cause
    return out


def replay_only(case, n):
    """The compiled step, recorded, then replayed n times (for callgrind)."""
    step, args = build(case, "compiled")
    for k in range(5):
        step(*args(k))
    for k in range(n):
        step(*args(k))
    print(json.dumps({"entries": [len(e.replayer.tape) for e in step._cgrad_step.cache.values()
                                  if e.replayer is not None]}))


# ---- callgrind --------------------------------------------------------------------------------

# a kernel's name, or its clone's for one instruction set (add_f64.avx2)
ARITHMETIC = re.compile(r"(_f32|_f64|_i64|_b8)(\.\w+)?$|gemm|HASWELL|SKYLAKE|ZEN|_k$|^cg_v(exp|log|tanh|sigmoid)|"
                        r"pairwise|^softmax|^nll|^layer_norm|^memset|^memcpy|^__mem")


def callgrind(case, cpu, n=200):
    """Instructions inside cg_tape_replay: total per replay, per entry, and the share of the kernels' loops."""
    if not shutil.which("valgrind"):
        return {"error": "valgrind not found"}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "cg.out")
        cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--toggle-collect=cg_tape_replay",
               sys.executable, __file__, "--replay-only", case, "--n", str(n), "--cpu", str(cpu)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=worker_env(), timeout=3600)
        entries = json.loads(proc.stdout.strip().splitlines()[-1])["entries"][0]
        ann = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True).stdout
    total, arith = 0, 0
    for line in ann.splitlines():
        m = re.match(r"\s*([\d,]+) \([^)]*\)\s+(\S+?):(\S+)", line)
        if not m:
            continue
        count, fn = int(m.group(1).replace(",", "")), m.group(3).split()[0]
        if "PROGRAM" in line:
            continue
        total += count
        if ARITHMETIC.search(fn):
            arith += count
    m = re.search(r"([\d,]+) \([^)]*\)\s+PROGRAM TOTALS", ann)
    total = int(m.group(1).replace(",", "")) if m else total
    replays = n + 2  # the two replays of the warm-up calls count too
    return {"instructions_per_replay": total / replays, "entries": entries,
            "instructions_per_entry": total / replays / entries, "arithmetic_share": arith / total if total else None}


# ---- the driver ---------------------------------------------------------------------------------

def worker_env():
    env = {k: v for k, v in os.environ.items() if k not in UNSET_VARS}
    env.update({var: "1" for var in THREAD_VARS})
    env["PYTHONPATH"] = os.pathsep.join(p for p in (HERE, env.get("PYTHONPATH")) if p)
    return env


def merge(rounds):
    """One result from the rounds of a (case, way): samples pooled, replays summed."""
    failed = next((r for r in rounds if "error" in r), None)
    if failed is not None or len(rounds) == 1:
        return failed or rounds[0]
    times = [t for r in rounds for t in r["times"]]
    out = dict(rounds[0], verified=all(r["verified"] for r in rounds), median_s=statistics.median(times),
               min_s=min(times), max_s=max(times), samples=len(times), times=times, rounds=len(rounds))
    if "replays" in out:
        out["replays"] = sum(r["replays"] for r in rounds)
    return out


def run_all(cases, args):
    """The ways of each case in turn, args.rounds times over."""
    results = []
    for case in cases:
        rounds = {way: [] for way in WAYS}
        for _ in range(args.rounds):
            for way in WAYS:
                if not rounds[way] or "error" not in rounds[way][-1]:
                    rounds[way].append(run_worker(case, way, args))
        results += [merge(rounds[way]) for way in WAYS]
    return results


def run_worker(case, way, args):
    samples = -(-args.samples // args.rounds)  # this round's share, rounded up
    cmd = [sys.executable, __file__, "--worker", case, way, "--samples", str(samples),
           "--min-sample", str(args.min_sample), "--cpu", str(args.cpu)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=worker_env(), timeout=3600)
    if proc.returncode != 0:
        return {"case": case, "way": way, "error": (proc.stderr or proc.stdout).strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def fmt_time(s):
    return f"{s * 1e6:,.1f} µs" if s < 1e-3 else f"{s * 1e3:,.2f} ms"


def fmt_bytes(n):
    return f"{n / 1e3:,.0f} KB" if n < 1e6 else f"{n / 1e6:,.1f} MB"


def table(results, grind):
    lines = ["| case | way | median per step | min–max | compiled speed-up | verified | notes |",
             "|---|---|---|---|---|---|---|"]
    for case in CASES:
        rows = {r["way"]: r for r in results if r["case"] == case}
        comp = rows.get("compiled", {}).get("median_s")
        for way in WAYS:
            r = rows.get(way)
            if r is None:
                continue
            if "error" in r:
                lines.append(f"| {case} | {way} |  |  |  |  | error: {r['error']} |")
                continue
            speed = "1×" if way == "compiled" else (f"{r['median_s'] / comp:.1f}×" if comp else "")
            notes = ""
            if way == "compiled":
                notes = f"{r['tape_entries']} tape entries, {r['replays']} replays"
                for alone, shared in r.get("tape_memory", []):
                    if alone:
                        notes += f"; intermediates {fmt_bytes(alone)}, sharing {fmt_bytes(shared)}"
                if r.get("fallback"):
                    notes += f"; fell back: {r['fallback']}"
                g = grind.get(case)
                if g and "error" not in g:
                    notes += (f"; {g['instructions_per_replay']:,.0f} instructions per replay, "
                              f"{g['instructions_per_entry']:,.0f} per entry, "
                              f"{100 * g['arithmetic_share']:.0f}% in the kernels' loops")
            lines.append(f"| {case} | {way} | {fmt_time(r['median_s'])} | {fmt_time(r['min_s'])}–"
                         f"{fmt_time(r['max_s'])} | {speed} | {'yes' if r['verified'] else 'NO'} | {notes} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--cases", default=",".join(CASES))
    p.add_argument("--samples", type=int, default=15)
    p.add_argument("--rounds", type=int, default=3, help="turns each way takes per case (default 3)")
    p.add_argument("--min-sample", type=float, default=0.02, help="seconds per sample (default 0.02)")
    p.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)))
    p.add_argument("--callgrind", action="store_true")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    p.add_argument("--worker", nargs=2, metavar=("CASE", "WAY"), help=argparse.SUPPRESS)
    p.add_argument("--replay-only", metavar="CASE", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=200, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker or args.replay_only:
        single_thread(args.cpu)
        if args.worker:
            print(json.dumps(measure(*args.worker, args.samples, args.min_sample)))
        else:
            replay_only(args.replay_only, args.n)
        return
    cases = [c for c in args.cases.split(",") if c]
    started = time.time()
    args.rounds = max(1, args.rounds)
    results = run_all(cases, args)
    grind = {case: callgrind(case, args.cpu) for case in cases} if args.callgrind else {}
    import cgrad
    import numpy
    try:
        import torch
        torch_version = torch.__version__
    except ImportError:
        torch_version = "missing"
    date = datetime.date.today().isoformat()
    meta = {"date": date, "machine": platform.processor() or platform.machine(), "python": platform.python_version(),
            "numpy": numpy.__version__, "torch": torch_version, "cgrad": cgrad.__version__, "cpu": args.cpu,
            "command": "python bench/compile.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "seconds": round(time.time() - started)}
    text = table(results, grind)
    md = [f"# cgrad.compile benchmark, {date}", "",
          f"- Python {meta['python']}, numpy {meta['numpy']}, torch {meta['torch']}, cgrad {meta['cgrad']}; "
          f"every case and way in its own process, pinned to core {args.cpu}, one thread.",
          f"- Command: `{meta['command']}` ({meta['seconds']} s).",
          "- Median and range of the time per training step over the samples; `compiled speed-up` is the "
          "way's median divided by the compiled step's, measured in the same run.", "", text, "",
          "Cases:", ""] + [f"- {c}: {CASES[c]}" for c in cases]
    os.makedirs(args.out, exist_ok=True)
    base = os.path.join(args.out, f"compile-{date}")
    with open(base + ".json", "w") as f:
        json.dump({"meta": meta, "results": results, "callgrind": grind}, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
