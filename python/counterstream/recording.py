"""Reading counterstream recordings (docs/hdf5.md) as numpy, pandas and xarray.

Every property opens the file, reads and closes it again, without HDF5's
file locking, so a recording that another process is still writing reads as
far as it has been flushed (at least every record.flush_seconds, and at each
epoch).
"""
from __future__ import annotations

import contextlib
import os
import time

import h5py
import numpy as np

try:
    import pandas as pd
except ImportError:  # pragma: no cover - Debian's python3-pandas is installed by scripts/lib.sh
    pd = None
try:
    import xarray as xr
except ImportError:  # pragma: no cover
    xr = None


def _yaml_load(text):
    try:
        import yaml
    except ImportError:  # pragma: no cover
        return text
    return yaml.safe_load(text)


def _table(group):
    """{column: array} of a group of equal-length 1-D datasets, in its `columns` order."""
    names = list(group.attrs["columns"]) if "columns" in group.attrs else list(group.keys())
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in names]
    out = {}
    for n in names:
        d = group[n]
        out[n] = d.asstr()[...] if h5py.check_string_dtype(d.dtype) else d[...]
    # A file being written may have grown one column before the others.
    rows = min((len(v) for v in out.values()), default=0)
    return {k: v[:rows] for k, v in out.items()}


def _attribute(value):
    """An attribute's value with bytes decoded and arrays of strings as lists of str."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU":
        return [v.decode() if isinstance(v, bytes) else v for v in value.tolist()]
    return value


def _frame(columns, index=None):
    if pd is None:
        return columns
    df = pd.DataFrame(columns)
    if index is not None and index in df:
        df = df.set_index(index)
    return df


def _tree(group):
    out = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _tree(item)
        else:
            out[key] = item.asstr()[()] if h5py.check_string_dtype(item.dtype) else item[()]
    for key, value in group.attrs.items():
        out.setdefault("@" + key, value)
    return out


def _open(path):
    """The file, read-only and unlocked; a file caught mid-flush by its writer is tried again."""
    for attempt in range(5):
        try:
            return h5py.File(path, "r", locking=False)
        except OSError:
            if attempt == 4 or not os.path.exists(path):
                raise
            time.sleep(0.05)


class Recording:
    """A run's recording, or one point of a sweep (`root` = "/points/<i>"), or a sweep or benchmark file."""

    def __init__(self, path, root="/", outcome=None):
        self.path = os.fspath(path)
        self.root = root
        #: what the run that wrote it returned (run(), resume()): exit_code, epochs, diverged, ...
        self.outcome = outcome

    def __repr__(self):
        where = "" if self.root == "/" else f", root={self.root!r}"
        return f"counterstream.Recording({self.path!r}{where})"

    @contextlib.contextmanager
    def _file(self):
        with _open(self.path) as f:
            yield f if self.root == "/" else f[self.root]

    @property
    def format(self):
        """'counterstream-run', '-sweep' or '-benchmark'."""
        with _open(self.path) as f:
            value = f.attrs.get("format", "")
        return value.decode() if isinstance(value, bytes) else str(value)

    @property
    def attrs(self):
        with self._file() as f:
            return {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}

    def attributes(self, path=""):
        """The HDF5 attributes of a group or dataset of the recording, `path` relative to its root
        (e.g. 'analysis/gram/W2/first', whose 'step' is the snapshot's; 'sweep/table', whose
        'parameters' are the swept paths), strings decoded and string arrays as lists of str."""
        with self._file() as f:
            item = f[path] if path else f
            return {k: _attribute(v) for k, v in item.attrs.items()}

    @property
    def config(self):
        """{'circuit': ..., 'protocol': ...}: the expanded circuit and the protocol, as dicts."""
        with self._file() as f:
            return {k: _yaml_load(f["config"][k].asstr()[()]) for k in f["config"]}

    @property
    def metrics(self):
        """One row per record, indexed by step (a pandas DataFrame; a dict of arrays without pandas)."""
        with self._file() as f:
            columns = _table(f["metrics"])
        order = ["step", "epoch", "train_loss", "train_accuracy", "test_loss", "test_accuracy"]
        columns = {k: columns[k] for k in order + sorted(columns) if k in columns}
        if "step" in columns:
            columns["step"] = columns["step"].astype(np.int64)
        return _frame(dict(columns), "step")

    @property
    def groups(self):
        """The groups with weight snapshots."""
        with self._file() as f:
            return list(f["weights"].keys()) if "weights" in f else []

    @property
    def populations(self):
        """The populations with SONATA reports."""
        with self._file() as f:
            return list(f["report"].keys()) if "report" in f else []

    def weights(self, group, as_xarray=True):
        """Snapshots of a group's weights: an xarray DataArray (step x post x pre, with time_ms in
        continuous runs), or with as_xarray=False (or without xarray) a tuple (data, steps)."""
        with self._file() as f:
            if "weights" not in f or group not in f["weights"]:
                raise KeyError(f"{self.path}: no weight snapshots of group '{group}' (stored: {', '.join(self.groups)})")
            g = f["weights"][group]
            data, steps = g["data"][...], g["step"][...]
            time = g["time_ms"][...] if "time_ms" in g else None
        n = min(len(steps), data.shape[0], len(time) if time is not None else len(steps))
        data, steps = data[:n], steps[:n]
        time = time[:n] if time is not None else None
        if not as_xarray or xr is None:
            return data, steps
        coords = {"step": steps}
        if time is not None:
            coords["time_ms"] = ("step", time)
        return xr.DataArray(data, dims=("step", "post", "pre"), coords=coords, name=group)

    def report(self, population, as_xarray=True):
        """A SONATA rate report: an xarray DataArray (time x neuron, time in ms, neuron = node id),
        or a tuple (data, time_ms, node_ids)."""
        with self._file() as f:
            if "report" not in f or population not in f["report"]:
                raise KeyError(f"{self.path}: no report of population '{population}' (reported: {', '.join(self.populations)})")
            r = f["report"][population]
            data = r["data"][...]
            time = r["time_ms"][...]
            nodes = r["mapping/node_ids"][...]
        n = min(len(time), data.shape[0])  # a file being written may hold a frame more of one than the other
        data, time = data[:n], time[:n]
        if not as_xarray or xr is None:
            return data, time, nodes
        return xr.DataArray(data, dims=("time", "neuron"), coords={"time": time, "neuron": nodes},
                            name=population, attrs={"units": "ms"})

    @property
    def analysis(self):
        """What `counterstream analyze` wrote: nested dicts of arrays (empty before it ran)."""
        with self._file() as f:
            return _tree(f["analysis"]) if "analysis" in f else {}

    # ---- sweeps and benchmarks

    @property
    def points(self):
        """A sweep's or benchmark's points, each a Recording."""
        with _open(self.path) as f:
            if "points" not in f:
                return []
            keys = sorted(f["points"].keys(), key=int)
        return [Recording(self.path, f"/points/{k}") for k in keys]

    @property
    def table(self):
        """A sweep's table (one row per point) or a benchmark's (one row per method and dataset)."""
        with _open(self.path) as f:
            for name in ("sweep", "benchmark"):
                if name in f and "table" in f[name]:
                    return _frame(_table(f[name]["table"]), "point" if name == "sweep" else None)
        raise KeyError(f"{self.path}: not a sweep or benchmark file (format {self.format!r})")

    @property
    def runs(self):
        """A benchmark's runs (one row per method, dataset and seed)."""
        with _open(self.path) as f:
            return _frame(_table(f["benchmark"]["runs"]))


def open(path):  # noqa: A001 - counterstream.open is the interface
    """Opens a recording, a sweep or a benchmark file."""
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path}: no such recording")
    return Recording(path)
