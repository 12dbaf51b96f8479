"""counterstream from Python: run circuits, step them by hand, read recordings.

    import counterstream as cs
    rec = cs.run("models/circuits/sal.yaml", set={"protocol.epochs": 1}, output="runs/sal.h5")
    rec.metrics["test_accuracy"]

Documents are paths, YAML strings or dicts; `set` is a dict of dotted paths
(the command line's --set). Every call runs the C++ engine (_core); nothing
is reimplemented here. Bad input raises InputError with the command line's
one-line message.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings

from . import _core
from ._core import InputError
from .recording import Recording, open  # noqa: A004 - counterstream.open is the interface

__all__ = ["run", "resume", "sweep", "benchmark", "analyze", "expand", "dataset", "open", "Simulation",
           "Recording", "InputError"]
__version__ = _core.version


def _document(document):
    """(file, text) for _core: a path is read there; a dict or a YAML string is given as text."""
    if isinstance(document, os.PathLike):
        return os.fspath(document), None
    if isinstance(document, dict):
        try:
            import yaml
            text = yaml.safe_dump(document, sort_keys=False, default_flow_style=False)
        except ImportError:  # pragma: no cover
            text = json.dumps(document, indent=1)
        return "<dict>", text
    if isinstance(document, str):
        if "\n" in document or ":" in document and not os.path.exists(document):
            return "<string>", document
        return document, None
    raise TypeError(f"a document is a path, a YAML string or a dict, not {type(document).__name__}")


def _sets(set, backend=None):
    """--set options from a dict {dotted.path: value} (values as JSON, so types survive) or a list of 'k=v'."""
    out = []
    if isinstance(set, dict):
        out = [f"{k}={json.dumps(v)}" for k, v in set.items()]
    elif set:
        out = [str(s) for s in set]
    if backend:
        out.append(f"protocol.backend={backend}")
    return out


def _progress(progress):
    """(terminal bar, callback) for a progress argument: None (epoch lines only), True (a tqdm bar when
    tqdm is installed, else the terminal's), or a callable given a dict per update."""
    if progress is None or progress is False:
        return False, None
    if callable(progress):
        return False, progress
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return True, None
    bar = {"tqdm": None}

    def update(u):
        if bar["tqdm"] is None or bar["epoch"] != u["epoch"]:
            if bar["tqdm"] is not None:
                bar["tqdm"].close()
            bar["tqdm"] = tqdm(total=u["total"], desc=f"epoch {u['epoch']}/{u['epochs']}", unit="sample")
            bar["epoch"] = u["epoch"]
        bar["tqdm"].n = u["done"]
        bar["tqdm"].refresh()
        if u["finished"] is not None:
            bar["tqdm"].close()
            bar["tqdm"] = None

    return False, update


def _finish(outcome):
    rec = Recording(outcome["output"], outcome=outcome)
    if outcome["interrupted"]:
        raise KeyboardInterrupt(f"{outcome['output']}: interrupted; a checkpoint was written: "
                                f"counterstream.resume({outcome['output']!r}) continues it")
    if outcome["diverged"]:
        warnings.warn(f"{outcome['output']}: the run diverged at {outcome['diverged_at']}", RuntimeWarning,
                      stacklevel=3)
    return rec


def _overwrite_hint(e):
    text = str(e).replace("(pass --overwrite to replace it)", "(pass overwrite=True to replace it)")
    return InputError(text)


def run(document, set=None, output=None, threads=0, backend=None, progress=None, overwrite=False):
    """Trains a run document as `counterstream run` does; returns its Recording.

    output defaults to runs/<file stem>.h5 (runs/document.h5 for a dict or string). Ctrl-C (SIGINT)
    stops the run at a checkpoint and raises KeyboardInterrupt; resume(path) continues it."""
    file, text = _document(document)
    if output is None and text is not None:
        output = "runs/document.h5"
    bar, callback = _progress(progress)
    try:
        outcome = _core.run(file, text, _sets(set, backend), os.fspath(output or ""), int(threads), bool(overwrite),
                            bar, callback)
    except InputError as e:
        raise _overwrite_hint(e) from None
    return _finish(outcome)


def resume(path, threads=0, progress=None):
    """Continues a stopped or killed run (or sweep, or benchmark) from its checkpoint."""
    bar, callback = _progress(progress)
    outcome = _core.resume(os.fspath(path), int(threads), callback)
    return _finish(outcome)


def _with_file(document, call):
    """Sweeps and benchmarks read a file: a dict or string is written to a temporary one in the
    current folder (paths inside it are relative to that folder)."""
    file, text = _document(document)
    if text is None:
        return call(file)
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix=".counterstream-", dir=".", delete=False) as f:
        f.write(text)
    try:
        return call(f.name)
    finally:
        os.unlink(f.name)


def _sweep_like(benchmark, document, set, output, threads, backend, ensemble, overwrite):
    out = os.fspath(output) if output else ""

    def call(file):
        target = out or os.path.join("runs", os.path.splitext(os.path.basename(file))[0].lstrip(".") + ".h5")
        try:
            code = _core.sweep_or_benchmark(benchmark, file, _sets(set, backend), target, int(threads),
                                            int(ensemble), bool(overwrite))
        except InputError as e:
            raise _overwrite_hint(e) from None
        if code == 130:
            raise KeyboardInterrupt(f"{target}: interrupted; counterstream.resume({target!r}) continues it")
        return Recording(target)

    return _with_file(document, call)


def sweep(document, set=None, output=None, threads=0, backend=None, ensemble=0, overwrite=False):
    """Runs a sweep document as `counterstream sweep` does; returns the sweep file's Recording."""
    return _sweep_like(False, document, set, output, threads, backend, ensemble, overwrite)


def benchmark(document, set=None, output=None, threads=0, backend=None, ensemble=0, overwrite=False):
    """Runs a benchmark document as `counterstream benchmark` does; returns its Recording."""
    return _sweep_like(True, document, set, output, threads, backend, ensemble, overwrite)


def analyze(path, point=None, output=None, theorem1=True, probe_batch=256):
    """Writes /analysis (docs/hdf5.md) into the recording (or `output`); returns the Recording."""
    path = os.fspath(path)
    _core.analyze(path, os.fspath(output or ""), -1 if point is None else int(point), bool(theorem1),
                  int(probe_batch))
    target = os.fspath(output) if output else path
    return Recording(target, f"/points/{point}" if point is not None and not output else "/")


def expand(document, set=None):
    """The explicit circuit of a document (what `counterstream expand` prints), as a dict."""
    file, text = _document(document)
    out = _core.expand(file, text, _sets(set))
    try:
        import yaml
        return yaml.safe_load(out)
    except ImportError:  # pragma: no cover
        return out


def dataset(document, set=None):
    """The run's dataset as its protocol loads it: {'train': (x, y), 'test': (x, y), 'validation': (x, y),
    'classes', 'name'}, x float32 (samples, features), y int32."""
    file, text = _document(document)
    return _core.dataset(file, text, _sets(set))


class Simulation:
    """A circuit assembled from a run document without its protocol loop, stepped by hand.

    Discrete mode: step(x, labels) (forward and plasticity) and present(x, labels=None) (forward only);
    continuous mode: advance(ms, x=None, labels=None, learning=True). x is (batch, inputs) float32.
    rates(name), currents(name, compartment) and weights(group) are numpy views of the engine's
    buffers (no copies; they change as the simulation runs); set_weights(group, array) writes one.
    The network is built as the trainer builds it (same seed, same initial weights), so stepping the
    run's batches reproduces the command line's run bit for bit (at the same thread count)."""

    def __init__(self, document, set=None, batch=0, seed=None, threads=1):
        file, text = _document(document)
        self._core = _core.Simulation(file, text, _sets(set), int(batch), seed, int(threads))

    def __getattr__(self, name):
        return getattr(self._core, name)

    def __repr__(self):
        return (f"counterstream.Simulation({self._core.mode}, batch {self._core.batch}, "
                f"populations {self._core.populations})")
