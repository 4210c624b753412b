"""``ModelGraph``: a neural network as a DAG of layers with per-layer cost figures.

Units (project-wide, see ``docs/conventions.md``):

* FLOP counts a multiply-add as **two** FLOP (what ``torch.utils.flop_counter`` reports).
* ``forward_flop`` and ``backward_flop`` are per sample; ``activation_bytes`` is the size of the
  vertex's output tensor per sample, in bytes; ``param_bytes`` / ``trainable_param_bytes`` are
  bytes of the layer's weights (all / those that receive a gradient).

The graph is stored as numpy arrays (structure of arrays) so that a 10^6-vertex profile loads in
well under a second: vertex columns of length ``n`` and an edge list ``src -> dst`` of vertex
indices. An edge ``u -> w`` means that the output of ``u`` is an input of ``w``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from slopt.errors import ValidationError
from slopt.validate import as_float_array, check_array

__all__ = ["ModelGraph", "COLUMNS", "UNITS"]

#: Required per-vertex numeric columns, in order.
COLUMNS: tuple[str, ...] = (
    "forward_flop",
    "backward_flop",
    "param_bytes",
    "trainable_param_bytes",
    "activation_bytes",
)

#: Unit of every known column (required and optional ones).
UNITS: dict[str, str] = {
    "forward_flop": "FLOP per sample (multiply-add = 2 FLOP)",
    "backward_flop": "FLOP per sample (multiply-add = 2 FLOP)",
    "param_bytes": "bytes",
    "trainable_param_bytes": "bytes",
    "activation_bytes": "bytes per sample (output tensor)",
    "gradient_bytes": "bytes per sample (gradient w.r.t. the output; defaults to activation_bytes)",
    "optimizer_bytes": "bytes (optimiser state of the layer's trainable parameters)",
    "device_time_s": "seconds per sample, measured forward+backward on the device",
    "server_time_s": "seconds per sample, measured forward+backward on the server",
}


@dataclass(frozen=True)
class _Edges:
    src: np.ndarray
    dst: np.ndarray


class ModelGraph:
    """A model as a directed acyclic graph of layers (vertices) with per-layer figures.

    Parameters
    ----------
    forward_flop, backward_flop : array-like of float, length n
        Forward / backward computation of each vertex per sample, FLOP (multiply-add = 2 FLOP).
    param_bytes : array-like of float
        Bytes of the vertex's parameters.
    activation_bytes : array-like of float
        Bytes of the vertex's output tensor per sample.
    trainable_param_bytes : array-like of float, optional
        Bytes of parameters that receive a gradient (default: ``param_bytes``, full training).
    src, dst : array-like of int, optional
        Edge list as vertex indices (``src[i] -> dst[i]``). Empty for an edgeless graph.
    names : sequence of str, optional
        Unique vertex names (default ``"v0", "v1", ...``, generated on first use).
    block : sequence of str, optional
        Block label of each vertex (e.g. ``"layer1.0"``); used by block-wise algorithms.
    extra : mapping of str to array-like, optional
        Optional numeric columns (see :data:`UNITS`), e.g. ``gradient_bytes`` or measured
        ``device_time_s``; each must be finite and non-negative.
    name : str
        Name of the model.
    provenance : mapping
        How the profile was produced (tool, versions, input shape...).
    validate : bool
        Run the sanity checks (default True). Turn off only for data you validated already.

    Raises
    ------
    ValidationError
        Naming the field, the vertex and the value: an empty graph, a negative / NaN / infinite
        figure, duplicate names, a self-loop, an edge to an unknown vertex, or a cycle (one
        cycle is shown).

    Examples
    --------
    >>> g = ModelGraph.chain(forward_flop=[2e6, 4e6], backward_flop=[4e6, 8e6],
    ...                      param_bytes=[1e3, 2e3], activation_bytes=[4e3, 1e2])
    >>> g.n, g.m, list(g.names)
    (2, 1, ['v0', 'v1'])
    """

    def __init__(
        self,
        *,
        forward_flop: Any,
        backward_flop: Any,
        param_bytes: Any,
        activation_bytes: Any,
        trainable_param_bytes: Any = None,
        src: Any = (),
        dst: Any = (),
        names: Sequence[str] | None = None,
        block: Sequence[Any] | None = None,
        extra: Mapping[str, Any] | None = None,
        name: str = "",
        provenance: Mapping[str, Any] | None = None,
        validate: bool = True,
    ) -> None:
        ff = as_float_array("forward_flop", forward_flop)
        n = ff.shape[0]
        if n == 0:
            raise ValidationError("the graph is empty: forward_flop has no vertex", "forward_flop")
        cols = {
            "forward_flop": ff,
            "backward_flop": as_float_array("backward_flop", backward_flop, n, "forward_flop"),
            "param_bytes": as_float_array("param_bytes", param_bytes, n, "forward_flop"),
            "activation_bytes": as_float_array("activation_bytes", activation_bytes, n, "forward_flop"),
        }
        cols["trainable_param_bytes"] = (
            cols["param_bytes"].copy()
            if trainable_param_bytes is None
            else as_float_array("trainable_param_bytes", trainable_param_bytes, n, "forward_flop")
        )
        self._cols = {k: cols[k] for k in COLUMNS}
        self.extra: dict[str, np.ndarray] = {
            str(k): as_float_array(str(k), v, n, "forward_flop") for k, v in (extra or {}).items()
        }
        if names is not None:
            if isinstance(names, (str, bytes)) or not isinstance(names, (Sequence, np.ndarray, pd.Index)):
                raise ValidationError(f"names = {names!r:.60}: a list of vertex names is required", "names")
            names = list(map(str, names))
            if len(names) != n:
                raise ValidationError(f"names: expected {n} names, got {len(names)}", "names")
        self._names = names
        if block is not None:
            if isinstance(block, (str, bytes)) or not isinstance(block, (Sequence, np.ndarray, pd.Index)):
                raise ValidationError(f"block = {block!r:.60}: a list of block labels is required", "block")
            arr = np.asarray(block, dtype=object)
            block = np.where(pd.isna(arr), None, arr.astype(str)).astype(object)  # vectorised
            if block.shape[0] != n:
                raise ValidationError(f"block: expected {n} labels, got {block.shape[0]}", "block")
        self.block: np.ndarray | None = block
        try:
            s_raw, d_raw = np.asarray(src).reshape(-1), np.asarray(dst).reshape(-1)
            for raw, end in ((s_raw, "src"), (d_raw, "dst")):
                if raw.dtype.kind not in "iuf" and raw.size:
                    raise ValidationError(f"edges: {end} = {raw.tolist()!r:.60}: integer vertex indices are "
                                          "required", "edges")
                if raw.dtype.kind == "f" and not np.isfinite(raw).all():
                    i = int(np.flatnonzero(~np.isfinite(raw))[0])
                    raise ValidationError(f"edges: {end} of edge {i} is {float(raw[i])!r}, not a vertex index",
                                          "edges")
            s, d = s_raw.astype(np.int64), d_raw.astype(np.int64)
        except (TypeError, ValueError, OverflowError) as exc:
            raise ValidationError(f"src/dst: edges must be vertex indices ({exc})", "edges") from exc
        for raw, ints, end in ((s_raw, s, "src"), (d_raw, d, "dst")):
            if raw.dtype.kind == "f" and raw.size and not np.array_equal(raw, ints):
                i = int(np.flatnonzero(raw != ints)[0])
                raise ValidationError(f"edges: {end} of edge {i} is {float(raw[i])!r}, not a vertex index", "edges")
        if s.shape != d.shape:
            raise ValidationError(f"edges: src has {s.size} entries but dst has {d.size}", "edges")
        self._edges = _Edges(s, d)
        self.name = str(name)
        self.provenance: dict[str, Any] = dict(provenance or {})
        if validate:
            self.validate()
        for arr in (*self._cols.values(), *self.extra.values(), s, d):
            arr.flags.writeable = False

    # ------------------------------------------------------------------ construction
    @classmethod
    def chain(cls, **columns: Any) -> "ModelGraph":
        """A chain ``v0 -> v1 -> ... -> v_{n-1}``; takes the same keywords as the constructor."""
        n = len(np.asarray(columns["forward_flop"]).reshape(-1))
        idx = np.arange(n - 1, dtype=np.int64)
        return cls(src=idx, dst=idx + 1, **columns)

    @classmethod
    def from_networkx(cls, G: Any, **kwargs: Any) -> "ModelGraph":
        """Build from a ``networkx.DiGraph`` whose nodes carry the columns as attributes.

        Missing ``backward_flop`` defaults to 0 only if absent on every node; a column present on
        some nodes but not others is an error naming the node.
        """
        nodes = list(G.nodes)
        pos = {v: i for i, v in enumerate(nodes)}
        data = dict(G.nodes(data=True))

        def column(key: str, default: float | None) -> np.ndarray | None:
            have = [key in data[v] for v in nodes]
            if not any(have):
                return None if default is None else np.full(len(nodes), default)
            if not all(have):
                v = nodes[have.index(False)]
                raise ValidationError(f"{key} missing on vertex {v!r}", key)
            return as_float_array(key, [data[v][key] for v in nodes])

        cols = {}
        for key in COLUMNS:  # trainable_param_bytes defaults to param_bytes; the others are required
            c = column(key, None)
            if c is None and key != "trainable_param_bytes":
                raise ValidationError(f"{key} missing on every vertex (node attribute {key!r})", key)
            if c is not None:
                cols[key] = c
        extra = {k: column(k, None) for k in UNITS if k not in COLUMNS}
        extra = {k: v for k, v in extra.items() if v is not None}
        blocks = [data[v].get("block") for v in nodes]
        edges = np.array([(pos[u], pos[w]) for u, w in G.edges], dtype=np.int64).reshape(-1, 2)
        return cls(
            src=edges[:, 0], dst=edges[:, 1], names=[str(v) for v in nodes],
            block=blocks if any(b is not None for b in blocks) else None,
            extra=extra or None, **cols, **kwargs,
        )

    @classmethod
    def from_frames(cls, vertices: pd.DataFrame, edges: pd.DataFrame, **kwargs: Any) -> "ModelGraph":
        """Build from a vertex table (column ``name`` plus the figures) and an edge table
        (``src``, ``dst`` as vertex names or indices) -- the CSV form."""
        for frame, what, need in ((vertices, "vertices", [k for k in COLUMNS if k != "trainable_param_bytes"]),
                                  (edges, "edges", ["src", "dst"])):
            if not isinstance(frame, pd.DataFrame):
                raise ValidationError(f"{what} = {type(frame).__name__}: a pandas DataFrame is required", what)
            missing = [k for k in need if k not in frame.columns]
            if missing:
                raise ValidationError(f"{what} frame: missing column {missing[0]!r} (columns: "
                                      f"{', '.join(map(str, frame.columns)) or 'none'})", f"{what}.{missing[0]}")
        names = vertices["name"].astype(str).tolist() if "name" in vertices else None
        cols = {k: vertices[k].to_numpy() for k in COLUMNS if k in vertices}
        extra = {k: vertices[k].to_numpy() for k in vertices.columns
                 if k not in COLUMNS and k not in ("name", "block")}
        src, dst = edges["src"].to_numpy(), edges["dst"].to_numpy()
        if names is not None and (src.dtype == object or dst.dtype == object):
            src, dst = _names_to_index(names, src, "src"), _names_to_index(names, dst, "dst")
        block = vertices["block"].tolist() if "block" in vertices else None
        return cls(src=src, dst=dst, names=names, block=block, extra=extra or None, **cols, **kwargs)

    def replace(self, **changes: Any) -> "ModelGraph":
        """A copy with some columns / attributes replaced (keywords of the constructor)."""
        kw: dict[str, Any] = dict(self._cols)
        kw.update(src=self.src, dst=self.dst, names=self._names, block=self.block,
                  extra=dict(self.extra), name=self.name, provenance=self.provenance)
        kw.update(changes)
        return ModelGraph(**kw)

    # ------------------------------------------------------------------ validation
    def validate(self) -> None:
        """Run every sanity check; raise :class:`ValidationError` on the first problem."""
        n = self.n
        names = self._names
        for key, arr in (*self._cols.items(), *self.extra.items()):
            if not (np.isfinite(arr).all() and (arr >= 0).all()):
                check_array(key, arr, self.names, unit=UNITS.get(key, ""))
        tp, pb = self._cols["trainable_param_bytes"], self._cols["param_bytes"]
        over = tp > pb * (1 + 1e-12)
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise ValidationError(
                f"trainable_param_bytes of vertex {self.names[i]!r} ({tp[i]!r} bytes) exceeds its "
                f"param_bytes ({pb[i]!r} bytes)", "trainable_param_bytes")
        if names is not None and len(set(names)) != n:
            dup = pd.Index(names)[pd.Index(names).duplicated()][0]
            raise ValidationError(f"names: duplicate vertex name {dup!r}", "names")
        s, d = self._edges.src, self._edges.dst
        if s.size:
            bad = (s < 0) | (s >= n)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValidationError(f"edges: edge {i} starts at unknown vertex index {int(s[i])} "
                                      f"(graph has {n} vertices)", "edges")
            bad = (d < 0) | (d >= n)
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise ValidationError(f"edges: edge {i} ends at unknown vertex index {int(d[i])} "
                                      f"(graph has {n} vertices)", "edges")
            loop = s == d
            if loop.any():
                i = int(np.flatnonzero(loop)[0])
                raise ValidationError(f"edges: self-loop on vertex {self.names[int(s[i])]!r}", "edges")
            srt = np.sort(s * n + d)
            if (np.diff(srt) == 0).any():
                k = int(srt[np.flatnonzero(np.diff(srt) == 0)[0]])
                raise ValidationError(f"edges: duplicate edge {self.names[k // n]!r} -> {self.names[k % n]!r}",
                                      "edges")
            if not (s < d).all():
                cycle = self._find_cycle()
                if cycle is not None:
                    shown = " -> ".join(repr(self.names[v]) for v in [*cycle, cycle[0]])
                    raise ValidationError(f"edges: the graph has a cycle: {shown}", "edges")

    def _find_cycle(self) -> list[int] | None:
        """One cycle as a vertex list, or None when the graph is acyclic (O(n + m), compiled)."""
        n_comp, labels = connected_components(self.adjacency, directed=True, connection="strong")
        if n_comp == self.n:
            return None
        counts = np.bincount(labels)
        comp = int(np.flatnonzero(counts > 1)[0])
        members = np.flatnonzero(labels == comp)
        import networkx as nx

        sub = nx.DiGraph()
        inside = np.isin(self.src, members) & np.isin(self.dst, members)
        sub.add_edges_from(zip(self.src[inside].tolist(), self.dst[inside].tolist()))
        return [u for u, _ in nx.find_cycle(sub)]

    # ------------------------------------------------------------------ basic accessors
    @property
    def n(self) -> int:
        """Number of vertices (layers)."""
        return int(self._cols["forward_flop"].shape[0])

    @property
    def m(self) -> int:
        """Number of edges."""
        return int(self._edges.src.shape[0])

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return (f"ModelGraph({self.name!r}, n={self.n}, m={self.m}, "
                f"forward={self.forward_flop.sum():.3g} FLOP/sample, "
                f"params={self.param_bytes.sum():.3g} B)")

    @property
    def src(self) -> np.ndarray:
        return self._edges.src

    @property
    def dst(self) -> np.ndarray:
        return self._edges.dst

    @property
    def forward_flop(self) -> np.ndarray:
        return self._cols["forward_flop"]

    @property
    def backward_flop(self) -> np.ndarray:
        return self._cols["backward_flop"]

    @property
    def param_bytes(self) -> np.ndarray:
        return self._cols["param_bytes"]

    @property
    def trainable_param_bytes(self) -> np.ndarray:
        return self._cols["trainable_param_bytes"]

    @property
    def activation_bytes(self) -> np.ndarray:
        return self._cols["activation_bytes"]

    @property
    def gradient_bytes(self) -> np.ndarray:
        """Gradient w.r.t. each output per sample, bytes (``extra['gradient_bytes']`` or the activation size)."""
        return self.extra.get("gradient_bytes", self.activation_bytes)

    @property
    def train_flop(self) -> np.ndarray:
        """Forward + backward FLOP per sample of each vertex."""
        return self.forward_flop + self.backward_flop

    @cached_property
    def names(self) -> list[str]:
        """Vertex names (generated as ``v0, v1, ...`` when none were given)."""
        if self._names is not None:
            return self._names
        return [f"v{i}" for i in range(self.n)]

    @cached_property
    def _index(self) -> dict[str, int]:
        return {v: i for i, v in enumerate(self.names)}

    def index(self, name: str | int) -> int:
        """Index of a vertex given by name (or an index, checked)."""
        if isinstance(name, (int, np.integer)):
            if not 0 <= int(name) < self.n:
                raise ValidationError(f"vertex index {name} out of range 0..{self.n - 1}", "vertex")
            return int(name)
        try:
            return self._index[str(name)]
        except KeyError:
            raise ValidationError(f"unknown vertex {name!r}", "vertex") from None

    def column(self, key: str) -> np.ndarray:
        """Any column by name (required or extra)."""
        if key in self._cols:
            return self._cols[key]
        if key == "gradient_bytes":
            return self.gradient_bytes
        if key in self.extra:
            return self.extra[key]
        raise ValidationError(f"profile {self.name!r} has no column {key!r}", key)

    # ------------------------------------------------------------------ structure
    @cached_property
    def adjacency(self) -> sp.csr_matrix:
        """Sparse n x n adjacency matrix (CSR), entry (u, w) = 1 for edge u -> w."""
        data = np.ones(self.m, dtype=np.int8)
        return sp.csr_matrix((data, (self.src, self.dst)), shape=(self.n, self.n))

    @cached_property
    def in_degree(self) -> np.ndarray:
        return np.bincount(self.dst, minlength=self.n)

    @cached_property
    def out_degree(self) -> np.ndarray:
        return np.bincount(self.src, minlength=self.n)

    @property
    def inputs(self) -> np.ndarray:
        """Indices of input vertices (no predecessors): V_in."""
        return np.flatnonzero(self.in_degree == 0)

    @property
    def outputs(self) -> np.ndarray:
        """Indices of output vertices (no successors): V_out."""
        return np.flatnonzero(self.out_degree == 0)

    def successors(self, v: int | str) -> np.ndarray:
        i = self.index(v)
        a = self.adjacency
        return a.indices[a.indptr[i]:a.indptr[i + 1]]

    def predecessors(self, v: int | str) -> np.ndarray:
        i = self.index(v)
        return self.src[self.dst == i]

    @cached_property
    def topological_order(self) -> np.ndarray:
        """A topological order of the vertices (identity when every edge goes to a higher index)."""
        if self.m == 0 or bool((self.src < self.dst).all()):
            return np.arange(self.n)
        a = self.adjacency
        indptr, indices = a.indptr.tolist(), a.indices.tolist()
        indeg = self.in_degree.tolist()
        stack = [v for v in range(self.n) if indeg[v] == 0]
        order: list[int] = []
        while stack:
            u = stack.pop()
            order.append(u)
            for w in indices[indptr[u]:indptr[u + 1]]:
                indeg[w] -= 1
                if indeg[w] == 0:
                    stack.append(w)
        return np.asarray(order, dtype=np.int64)

    @property
    def is_chain(self) -> bool:
        """True when the graph is a simple path v_{o0} -> v_{o1} -> ... in topological order."""
        if self.m != self.n - 1:
            return False
        o = self.topological_order
        pos = np.empty(self.n, dtype=np.int64)
        pos[o] = np.arange(self.n)
        return bool((pos[self.dst] - pos[self.src] == 1).all()) and len(np.unique(self.src)) == self.m

    @cached_property
    def block_codes(self) -> tuple[np.ndarray, list[str]]:
        """Integer block id of each vertex and the block names (first-appearance order).

        Vertices without a label get their own singleton block named after the vertex.
        """
        if self.block is None:
            return np.arange(self.n), list(self.names)
        labels = np.array([b if b is not None else f"__{nm}" for b, nm in zip(self.block, self.names)],
                          dtype=object) if any(b is None for b in self.block) else self.block
        codes, uniques = pd.factorize(labels)
        return codes.astype(np.int64), [str(u) for u in uniques]

    # ------------------------------------------------------------------ conversions
    def to_networkx(self) -> Any:
        """A ``networkx.DiGraph`` with the columns as node attributes (vertex names as nodes)."""
        import networkx as nx

        G = nx.DiGraph(name=self.name)
        names = self.names
        frame = self.to_frame()
        for i, row in enumerate(frame.to_dict("records")):
            G.add_node(names[i], **{k: v for k, v in row.items() if k != "name"})
        G.add_edges_from((names[u], names[w]) for u, w in zip(self.src.tolist(), self.dst.tolist()))
        return G

    def to_frame(self) -> pd.DataFrame:
        """The vertex table: one row per vertex, columns ``name``, the figures, ``block``."""
        data: dict[str, Any] = {"name": self.names, **self._cols, **self.extra}
        if self.block is not None:
            data["block"] = self.block
        return pd.DataFrame(data)

    def edges_frame(self) -> pd.DataFrame:
        """The edge table with vertex indices and names."""
        names = np.asarray(self.names, dtype=object)
        return pd.DataFrame({"src": self.src, "dst": self.dst,
                             "src_name": names[self.src], "dst_name": names[self.dst]})

    def summary(self) -> dict[str, Any]:
        """Totals for a profile (FLOP per sample, bytes), used by ``slopt profile show``."""
        return {
            "name": self.name,
            "vertices": self.n,
            "edges": self.m,
            "blocks": len(self.block_codes[1]) if self.block is not None else None,
            "inputs": int(self.inputs.size),
            "outputs": int(self.outputs.size),
            "is_chain": self.is_chain,
            "forward_flop_per_sample": float(self.forward_flop.sum()),
            "backward_flop_per_sample": float(self.backward_flop.sum()),
            "param_bytes": float(self.param_bytes.sum()),
            "trainable_param_bytes": float(self.trainable_param_bytes.sum()),
            "max_activation_bytes_per_sample": float(self.activation_bytes.max()),
        }


def _names_to_index(names: list[str], values: Iterable[Any], field: str) -> np.ndarray:
    pos = {v: i for i, v in enumerate(names)}
    out = []
    for k, v in enumerate(values):
        if isinstance(v, (bool, np.bool_)):
            raise ValidationError(f"edges: edge {k} {field} is {v!r}, not a vertex index or name", "edges")
        if isinstance(v, (int, np.integer)):
            if not -2**62 < int(v) < 2**62:
                raise ValidationError(f"edges: edge {k} {field} is {int(v)}, not a vertex index", "edges")
            out.append(int(v))
            continue
        try:
            out.append(pos[str(v)])
        except KeyError:
            raise ValidationError(f"edges: edge {k} {field} names unknown vertex {v!r}", "edges") from None
    return np.asarray(out, dtype=np.int64)
