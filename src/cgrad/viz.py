"""Pictures of the autograd graph: cgrad.viz.to_dot(tensor) gives Graphviz DOT text.

    g = cgrad.viz.to_dot(loss, params=dict(model.named_parameters()))
    print(g.source)          # DOT text, for any Graphviz viewer
    g.render("graph.svg")    # needs Graphviz's `dot` program

Boxes: the output tensors (green), the leaves that require grad (blue, with
their name when `params` gives one), what each op saved for backward (orange,
dashed edge); ellipses are op nodes (their grad_fn names). Edges follow the
data: from an op's inputs to the op. The graph is walked with an explicit
stack, so graphs of any depth work.
"""
import os
import shutil
import subprocess

from cgrad import _C
from cgrad.autograd.graph import walk

__all__ = ["to_dot", "Graph", "GraphvizNotFound"]

_INSTALL = ("Install Graphviz (Debian/Ubuntu: `apt-get install graphviz`; Fedora: `dnf install graphviz`; "
            "macOS: `brew install graphviz`; conda: `conda install -c conda-forge graphviz`; Windows and "
            "others: https://graphviz.org/download/) and make sure `dot` is on PATH, or open the DOT text "
            "(`.source`) with any Graphviz viewer.")


class GraphvizNotFound(RuntimeError):
    """Rendering needs Graphviz's `dot` program, which is not installed."""


class Graph:
    """A graph as DOT text (`source`, also `str(graph)`), renderable with Graphviz."""

    def __init__(self, source):
        self.source = source

    def __str__(self):
        return self.source

    def __repr__(self):
        return f"<cgrad.viz.Graph: {self.source.count(chr(10))} lines of DOT>"

    def render(self, path, format=None):
        """Writes the picture to path (format: 'svg', 'png', 'pdf', ...; by
        default the path's extension, else svg). Returns the path."""
        path = os.fspath(path)
        if format is None:
            ext = os.path.splitext(path)[1].lstrip(".").lower()
            format = ext or "svg"
        dot = shutil.which("dot")
        if dot is None:
            raise GraphvizNotFound(f"Rendering to {format} needs Graphviz's `dot` program, which was not found. "
                                   + _INSTALL)
        done = subprocess.run([dot, f"-T{format}", "-o", path], input=self.source.encode(),
                              capture_output=True)
        if done.returncode != 0:
            raise RuntimeError(f"`dot -T{format}` failed (exit status {done.returncode}): "
                               f"{done.stderr.decode(errors='replace').strip()}")
        return path


def _quote(text):
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _describe(shape, dtype):
    return f"({', '.join(str(s) for s in shape)})\n{str(dtype).rsplit('.', 1)[-1]}"


def to_dot(tensors, params=None, show_saved=True):
    """The graph behind `tensors` (a tensor or a sequence of them) as a Graph.
    params maps names to tensors (e.g. dict(model.named_parameters())) to
    label the leaves."""
    roots = [tensors] if isinstance(tensors, _C.Tensor) else list(tensors)
    names = {id(t): name for name, t in (params or {}).items()}
    lines = ["digraph {", '    graph [rankdir=BT size="12,12"]',
             '    node [shape=box style=filled align=left fontsize=10 ranksep=0.1 height=0.2 fontname=monospace]']
    ids = {}

    def node_id(key):
        """A DOT name for key (an object's id, or a tuple naming a saved slot)."""
        if key not in ids:
            ids[key] = f"n{len(ids)}"
        return ids[key]

    def add(obj, label, color):
        lines.append(f"    {node_id(id(obj))} [label={_quote(label)} fillcolor={color}]")

    nodes = walk([t.grad_fn for t in roots if t.grad_fn is not None])
    for node in nodes:
        _add_node(node, add, node_id, names, lines, show_saved)
    for t in roots:
        add(t, _describe(t.shape, t.dtype), "darkolivegreen1")
        source = t.grad_fn if t.grad_fn is not None else None
        if source is not None:
            lines.append(f"    {node_id(id(source))} -> {node_id(id(t))}")
    lines.append("}")
    return Graph("\n".join(lines) + "\n")


def _add_node(node, add, node_id, names, lines, show_saved):
    if type(node).__name__ == "AccumulateGrad":
        leaf = node.variable
        label = _describe(leaf.shape, leaf.dtype)
        name = names.get(id(leaf))
        add(node, f"{name}\n{label}" if name else label, "lightblue")
    else:
        add(node, type(node).__name__, "lightgrey")
        if show_saved:
            for i, meta in enumerate(node._saved_meta()):
                if meta is None:
                    continue
                key = ("saved", id(node), i)
                lines.append(f"    {node_id(key)} [label={_quote('saved ' + str(i) + chr(10) + _describe(*meta))} "
                             "fillcolor=orange]")
                lines.append(f"    {node_id(key)} -> {node_id(id(node))} [style=dashed]")
    for nxt, _ in node.next_functions:
        if nxt is not None:
            lines.append(f"    {node_id(id(nxt))} -> {node_id(id(node))}")
