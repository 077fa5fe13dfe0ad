"""Turn worker results into table rows, then JSON, a markdown table and a bar chart."""
import json
import os

from workloads import BACKENDS, WORKLOADS

COLUMNS = ("workload", "backend", "median", "min–max", "vs cgrad", "vs torch", "status",
           "peak RSS MB", "notes")


def _label(workload, phase):
    return workload if phase == "step" else f"{workload} {phase}"


def _ok_medians(results):
    """{(workload, phase, backend): median seconds} of the verified, timed results."""
    return {(r["workload"], phase, r["backend"]): s["median"]
            for r in results if r["status"] == "ok" for phase, s in r["phases"].items()}


def _rate_note(result, seconds):
    """Effective GB/s or GFLOP/s, next to numpy's same-process baseline."""
    spec = WORKLOADS[result["workload"]]
    if not spec.work:
        return ""
    amount, unit = spec.work
    note = f"{amount / seconds / 1e9:.1f} {unit}"
    cal = result.get("calibration")
    if cal:
        note += f" (numpy {cal['kind']}: {cal['amount'] / cal['seconds'] / 1e9:.1f} {unit})"
    return note


def _timed_rows(result, medians):
    spec = WORKLOADS[result["workload"]]
    rows = []
    for phase, s in result["phases"].items():
        base = {b: medians.get((result["workload"], phase, b)) for b in ("cgrad", "torch")}
        notes = [n for n in (_rate_note(result, s["median"]), result.get("note")) if n]
        rows.append({
            "workload": _label(result["workload"], phase), "backend": result["backend"],
            "unit": spec.unit, "median": s["median"] * spec.scale, "min": s["min"] * spec.scale,
            "max": s["max"] * spec.scale, "runs": s["n"],
            "vs_cgrad": s["median"] / base["cgrad"] if base["cgrad"] else None,
            "vs_torch": s["median"] / base["torch"] if base["torch"] else None,
            "status": "ok", "rss_peak_mb": result.get("rss_peak_mb"), "notes": "; ".join(notes)})
    return rows


def _untimed_row(result):
    status = f"{result['status']}: {result['note']}" if result["note"] else result["status"]
    return [{"workload": result["workload"], "backend": result["backend"],
             "unit": WORKLOADS[result["workload"]].unit, "median": None, "min": None, "max": None,
             "runs": 0, "vs_cgrad": None, "vs_torch": None, "status": status,
             "rss_peak_mb": result.get("rss_peak_mb"), "notes": ""}]


def unavailable(results):
    """{backend: why} for the backends that could not be imported at all."""
    return {r["backend"]: r["note"] for r in results
            if r["status"] == "skipped" and r["note"].startswith(("not installed", "not importable"))}


def rows(results):
    medians, missing = _ok_medians(results), unavailable(results)
    out = []
    for r in results:
        if r["backend"] not in missing:
            out += _timed_rows(r, medians) if r["status"] == "ok" else _untimed_row(r)
    return out


# ---------------------------------------------------------------- markdown

def _num(x):
    if x is None:
        return ""
    if x >= 100:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def _ratio(r):
    if r is None:
        return ""
    if 0.995 <= r <= 1.005:
        return "1.00×"
    return f"{_num(r)}× slower" if r > 1 else f"{_num(1 / r)}× faster"


def _cells(row):
    timed = row["median"] is not None
    return [row["workload"], row["backend"],
            f"{_num(row['median'])} {row['unit']}" if timed else "",
            f"{_num(row['min'])}–{_num(row['max'])}" if timed else "",
            _ratio(row["vs_cgrad"]), _ratio(row["vs_torch"]), row["status"].replace("|", "/"),
            _num(row["rss_peak_mb"]), row["notes"]]


def table(table_rows):
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(_cells(r)) + " |" for r in table_rows]
    return "\n".join(lines)


def _header(doc):
    m, v, s = doc["machine"], doc["versions"], doc["settings"]
    lines = [f"# cgrad benchmark, {doc['date']}", "",
             f"- Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, {m['system']}; "
             f"every case in its own process, pinned to core {m['pinned_cpu']}, one thread.",
             "- Versions: " + ", ".join(f"{k} {v[k] or 'unavailable'}" for k in v) + ".",
             f"- Command: `{doc['command']}` ({doc['duration_s']:.0f} s).",
             f"- Timed samples per case: up to {s['repeats']} (at least {s['min_runs']}, aiming at "
             f"{s['budget']} s; a sample is one run, or several back-to-back runs when one takes "
             f"under {s['min_sample'] * 1e3:.0f} ms), after the verification run and "
             f"{s['warmup']} warm-up run."]
    lines += [f"- Skipped backend: {b} ({why})." for b, why in unavailable(doc["results"]).items()]
    return lines + [""]


def _footer(doc):
    lines = ["", "Median and min–max over the timed samples, per run; `vs cgrad` / `vs torch` "
             "compare medians measured in this run. Peak RSS is the whole process (interpreter "
             "and imports included). Every timed result was first checked against a float64 "
             "reference:", ""]
    lines += [f"- {name}: {spec['about']}; reference: {spec.get('reference', spec.get('error'))}"
              for name, spec in doc["workloads"].items()]
    return lines


def markdown(doc):
    return "\n".join(_header(doc) + [table(doc["rows"])] + _footer(doc)) + "\n"


# ---------------------------------------------------------------- chart

def _chart_groups(table_rows):
    """{workload label: {backend: time / torch time}} for the rows that have both."""
    groups = {}
    for r in table_rows:
        if r["vs_torch"] is not None:
            groups.setdefault(r["workload"], {})[r["backend"]] = r["vs_torch"]
    return groups


def chart(doc, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    groups = _chart_groups(doc["rows"])
    if not groups:
        return False
    backends = [b for b in BACKENDS if b != "torch" and any(b in g for g in groups.values())]
    width = 0.8 / len(backends)
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(groups)), 5))
    for i, backend in enumerate(backends):
        xs = [k + (i - (len(backends) - 1) / 2) * width for k, g in enumerate(groups.values())
              if backend in g]
        ratios = [g[backend] for g in groups.values() if backend in g]
        ax.bar(xs, [r - 1 for r in ratios], width, bottom=1, label=backend)  # bars grow from 1
    ax.set_yscale("log")
    ax.axhline(1.0, color="black", linewidth=0.8, label="torch = 1")
    ax.set_xticks(range(len(groups)), list(groups), rotation=30, ha="right")
    ax.set_ylabel("time / torch time (log scale, lower is faster)")
    ax.set_title(f"cgrad benchmark {doc['date']} ({doc['machine']['cpu']}, one core)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write(doc, out_dir):
    """Write <date>.json, .md and .png (<date>-quick.* for a quick run) into out_dir;
    returns the paths written."""
    os.makedirs(out_dir, exist_ok=True)
    stem = os.path.join(out_dir, doc["date"] + ("-quick" if doc["settings"].get("quick") else ""))
    with open(stem + ".json", "w") as f:
        json.dump(doc, f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write(markdown(doc))
    written = [stem + ".json", stem + ".md"]
    if chart(doc, stem + ".png"):
        written.append(stem + ".png")
    return written


if __name__ == "__main__":
    # re-render the table and chart of an earlier run: python bench/report.py results/<date>.json
    import sys
    with open(sys.argv[1]) as f:
        document = json.load(f)
    print("\n".join(write(document, os.path.dirname(os.path.abspath(sys.argv[1])))))
