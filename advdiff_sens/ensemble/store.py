r"""Results of a sweep on disk: one ``.npz`` per finished case, a manifest, a failure report.

Layout of an output folder::

    manifest.json        what the sweep is: task, context recipe, seed, table of cases
    cases/<id>.npz       the arrays of one finished case (and ``__meta__``: worker, attempt)
    failures.json        case id → error text of the cases that failed (after retries)

Each case file is written to a temporary name in ``cases/`` and renamed into place
(``os.replace``, atomic on POSIX and Windows), so a file under its final name is complete:
a crash loses only the cases still running, and a rerun of the same sweep recomputes
exactly the cases without a file. A rerun with a different task, recipe, seed or table in
the same folder is refused (results of two sweeps never mix).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

__all__ = ["ResultStore"]

#: The manifest's format version.
FORMAT = 1
#: The npz key of a case's metadata (JSON text).
META_KEY = "__meta__"


class ResultStore:
    """The output folder of a sweep.

    Parameters
    ----------
    folder : str or Path
        Created when missing.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from advdiff_sens.ensemble import ResultStore
    >>> store = ResultStore(tempfile.mkdtemp())
    >>> store.open({"task": "solve"})
    >>> _ = store.save("0000", {"theta": np.ones(3)}, {"pid": 1})
    >>> store.done(), store.load("0000")["theta"].tolist(), store.meta("0000")
    ({'0000'}, [1.0, 1.0, 1.0], {'pid': 1})
    """

    def __init__(self, folder) -> None:
        self.folder = Path(folder)
        self.cases_dir = self.folder / "cases"
        self.manifest_path = self.folder / "manifest.json"
        self.failures_path = self.folder / "failures.json"

    def open(self, manifest: dict) -> None:
        """Create the folder and write ``manifest``, or check that the one already there
        describes the same sweep.

        Raises
        ------
        ValueError
            The folder holds another sweep (the message names the entries that differ).
        """
        self.cases_dir.mkdir(parents=True, exist_ok=True)
        manifest = {"format": FORMAT, **manifest}
        existing = self.manifest()
        if existing is not None:
            differ = sorted(k for k in set(existing) | set(manifest)
                            if existing.get(k) != _json_round_trip(manifest.get(k)))
            if differ:
                raise ValueError(f"{self.folder} holds the results of another sweep (its "
                                 f"{', '.join(differ)} differ); use another output folder")
        else:
            _atomic_write_text(self.manifest_path, json.dumps(manifest, indent=1))
        for stale in self.cases_dir.glob("*.tmp"):       # an interrupted write
            stale.unlink(missing_ok=True)

    def manifest(self) -> dict | None:
        """The manifest in the folder, or None."""
        if not self.manifest_path.is_file():
            return None
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError:
            raise ValueError(f"{self.manifest_path}: not a sweep manifest (not JSON)") from None

    def path(self, case_id: str) -> Path:
        """The result file of ``case_id``."""
        return self.cases_dir / f"{case_id}.npz"

    def done(self) -> set[str]:
        """The ids of the cases with a result file."""
        return {p.stem for p in self.cases_dir.glob("*.npz")}

    def save(self, case_id: str, values: dict, meta: dict) -> Path:
        """Write the arrays of ``case_id`` (atomically) and return the file."""
        if META_KEY in values:
            raise ValueError(f"a task result may not be called {META_KEY!r}")
        final = self.path(case_id)
        temporary = final.with_name(f"{final.name}.{os.getpid()}.tmp")
        with open(temporary, "wb") as handle:
            np.savez(handle, **values, **{META_KEY: np.array(json.dumps(meta))})
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, final)
        return final

    def load(self, case_id: str) -> dict[str, np.ndarray]:
        """The arrays of ``case_id``."""
        with np.load(self.path(case_id)) as data:
            return {k: data[k] for k in data.files if k != META_KEY}

    def meta(self, case_id: str) -> dict:
        """The metadata of ``case_id`` (worker process, attempt)."""
        with np.load(self.path(case_id)) as data:
            return json.loads(str(data[META_KEY]))

    def write_failures(self, failures: dict[str, str]) -> Path | None:
        """Write (or, with none, remove) ``failures.json``; return it when written."""
        if not failures:
            self.failures_path.unlink(missing_ok=True)
            return None
        _atomic_write_text(self.failures_path, json.dumps(failures, indent=1))
        return self.failures_path

    def failures(self) -> dict[str, str]:
        """The failure report left by the last run (empty when none failed)."""
        if not self.failures_path.is_file():
            return {}
        return json.loads(self.failures_path.read_text(encoding="utf-8"))


def _json_round_trip(value):
    return json.loads(json.dumps(value))


def _atomic_write_text(path: Path, text: str) -> None:
    temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
