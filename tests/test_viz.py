"""cgrad.viz.to_dot: the graph as Graphviz DOT text, and rendering through `dot`."""
import os
import re
import stat
import sys
import time

import pytest

import cgrad
from cgrad import viz


def small_graph():
    x = cgrad.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    w = cgrad.tensor([[0.5], [0.1], [-0.2]], dtype=cgrad.float32, requires_grad=True)
    c = cgrad.tensor([2.0])  # does not require grad: not drawn
    y = ((x @ w).tanh() * c).sum()
    return x, w, y


def labels(source):
    return re.findall(r'label="([^"]*)"', source)


def edges(source):
    return re.findall(r"^\s*(n\d+) -> (n\d+)", source, re.M)


def test_dot_text_names_ops_leaves_and_root():
    x, w, y = small_graph()
    g = viz.to_dot(y)
    src = g.source
    assert str(g) == src
    assert src.startswith("digraph {") and src.rstrip().endswith("}")
    names = labels(src)
    for op in ("SumBackward0", "MulBackward0", "TanhBackward0", "MmBackward0"):
        assert op in names
    assert "(1, 3)\\nfloat32" in names and "(3, 1)\\nfloat32" in names  # the two leaves
    assert "()\\nfloat32" in names  # the output
    assert src.count("fillcolor=lightblue") == 2
    assert src.count("fillcolor=darkolivegreen1") == 1


def test_saved_tensors_are_drawn():
    x, w, y = small_graph()
    src = viz.to_dot(y).source
    saved = [lab for lab in labels(src) if lab.startswith("saved")]
    assert "saved 2\\n(1, 1)\\nfloat32" in saved  # tanh saves its output
    assert src.count("[style=dashed]") == len(saved)
    assert "saved" not in viz.to_dot(y, show_saved=False).source


def test_edges_follow_the_data():
    x = cgrad.tensor([1.0], requires_grad=True)
    y = (x * 2).exp().sum()
    src = viz.to_dot(y, show_saved=False).source
    ids = {lab: n for n, lab in re.findall(r'(n\d+) \[label="([^"]*)"', src)}
    pairs = set(edges(src))
    assert (ids["(1)\\nfloat32"], ids["MulBackward0"]) in pairs
    assert (ids["MulBackward0"], ids["ExpBackward0"]) in pairs
    assert (ids["ExpBackward0"], ids["SumBackward0"]) in pairs
    assert (ids["SumBackward0"], ids["()\\nfloat32"]) in pairs
    assert len(pairs) == 4  # leaf -> mul -> exp -> sum -> output


def test_shared_nodes_appear_once():
    x = cgrad.tensor([1.0], requires_grad=True)
    h = x.tanh()
    y = h * h + h
    src = viz.to_dot(y, show_saved=False).source
    assert labels(src).count("TanhBackward0") == 1
    assert labels(src).count("(1)\\nfloat32") == 2  # the leaf and the output


def test_params_name_the_leaves():
    x, w, y = small_graph()
    src = viz.to_dot(y, params={"input": x, "weight": w}).source
    assert "weight\\n(3, 1)\\nfloat32" in labels(src)
    assert "input\\n(1, 3)\\nfloat32" in labels(src)


def test_several_roots_and_custom_function():
    class Twice(cgrad.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            ctx.save_for_backward(a)
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = cgrad.tensor([1.0, 2.0], dtype=cgrad.float64, requires_grad=True)
    a, b = Twice.apply(x), x.exp()
    src = viz.to_dot([a, b]).source
    assert "TwiceBackward" in labels(src) and "ExpBackward0" in labels(src)
    assert "saved 0\\n(2)\\nfloat64" in labels(src)
    assert src.count("fillcolor=darkolivegreen1") == 2
    assert src.count("fillcolor=lightblue") == 1


def test_tensor_without_graph():
    src = viz.to_dot(cgrad.ones(2, 3)).source
    assert labels(src) == ["(2, 3)\\nfloat32"]


def test_labels_are_quoted():
    assert viz._quote('a "b"\nc\\') == '"a \\"b\\"\\nc\\\\"'


def test_graph_of_a_hundred_thousand_nodes():
    x = cgrad.tensor([1.0], requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    start = time.perf_counter()
    src = viz.to_dot(y, show_saved=False).source
    elapsed = time.perf_counter() - start
    assert labels(src).count("MulBackward0") == 100_000
    assert len(edges(src)) == 100_001
    assert elapsed < 60


# ---- rendering --------------------------------------------------------------------

def fake_dot(tmp_path, script):
    """A `dot` program on PATH that runs a small Python script."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    exe = bindir / "dot"
    exe.write_text(f"#!{sys.executable}\n{script}")
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return str(bindir)


RECORDING_DOT = """
import sys
args = sys.argv[1:]
out = args[args.index("-o") + 1]
with open(out, "w") as f:
    f.write(" ".join(args[:1]) + "\\n" + sys.stdin.read())
"""


def test_render_runs_dot_with_the_source(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_dot(tmp_path, RECORDING_DOT))
    x, w, y = small_graph()
    g = viz.to_dot(y)
    path = tmp_path / "graph.svg"
    assert g.render(path) == str(path)
    first, rest = path.read_text().split("\n", 1)
    assert first == "-Tsvg" and rest == g.source
    g.render(tmp_path / "graph.png")
    assert (tmp_path / "graph.png").read_text().startswith("-Tpng\n")
    g.render(tmp_path / "noext", format="pdf")
    assert (tmp_path / "noext").read_text().startswith("-Tpdf\n")


def test_render_without_graphviz_says_how_to_install_it(tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    x, w, y = small_graph()
    with pytest.raises(viz.GraphvizNotFound) as info:
        viz.to_dot(y).render(tmp_path / "g.svg")
    assert isinstance(info.value, RuntimeError)
    message = str(info.value)
    assert "`dot` program, which was not found" in message
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert not (tmp_path / "g.svg").exists()


def test_render_reports_a_failing_dot(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_dot(tmp_path, "import sys\nsys.stderr.write('syntax error')\nsys.exit(3)\n"))
    x, w, y = small_graph()
    with pytest.raises(RuntimeError, match="`dot -Tsvg` failed \\(exit status 3\\): syntax error"):
        viz.to_dot(y).render(os.path.join(tmp_path, "g.svg"))
