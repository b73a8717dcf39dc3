r"""The table of cases of a sweep and the seed of each case.

A sweep maps one task over the rows of a :class:`CaseTable`: each row is a case id and its
parameters (names → numbers or strings, e.g. ``{"amplitude": 0.5, "kappa": 0.02}``). The
random stream of case :math:`i` is child :math:`i` of ``SeedSequence(seed).spawn(n_cases)``
(:func:`case_seeds`), fixed by the case's place in the table: a case draws the same numbers
whichever executor runs it, in whatever order, and on a rerun.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from advdiff_sens.validation import check_integer

__all__ = ["Case", "CaseTable", "case_seeds"]

#: What a case id may contain (it names the case's result file).
CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def _parameter(name: str, value):
    """A case parameter as a plain Python number or string (JSON- and TOML-safe)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"case parameter {name!r} must be a number or a string, got a boolean")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"case parameter {name!r} must be finite, got {value}")
        return value
    if isinstance(value, str):
        return value
    raise TypeError(f"case parameter {name!r} must be a number or a string, got "
                    f"{type(value).__name__}")


@dataclass(frozen=True)
class Case:
    """One row of a :class:`CaseTable`: its id, its place in the table and its parameters.

    Attributes
    ----------
    id : str
        The case id (letters, digits, ``_ . -``; it names the result file).
    index : int
        The row number (it picks the case's seed, :func:`case_seeds`).
    parameters : dict
        Parameter name → number or string.

    Examples
    --------
    >>> from advdiff_sens.ensemble import Case
    >>> case = Case("a", 0, {"kappa": 0.02})
    >>> case.get("kappa"), case.get("amplitude", 1.0)
    (0.02, 1.0)
    """

    id: str
    index: int
    parameters: dict

    def get(self, name: str, default=None):
        """The parameter ``name``, or ``default`` when the case does not set it."""
        return self.parameters.get(name, default)


class CaseTable:
    """Case id → parameters, in a fixed order.

    Parameters
    ----------
    rows : sequence of mappings
        The parameters of each case (names → numbers or strings).
    ids : sequence of str, optional
        Case ids (unique; letters, digits, ``_ . -``). Default: the row numbers with four
        digits, ``"0000"``, ``"0001"``, …

    Examples
    --------
    >>> from advdiff_sens.ensemble import CaseTable
    >>> table = CaseTable.product(amplitude=[0.5, 1.0], kappa=[0.01, 0.02])
    >>> len(table), table.ids[:2], table["0001"].parameters
    (4, ('0000', '0001'), {'amplitude': 0.5, 'kappa': 0.02})
    >>> CaseTable.zip(kappa=[0.01, 0.02], seed_offset=[3, 4])[1].parameters
    {'kappa': 0.02, 'seed_offset': 4}
    """

    def __init__(self, rows: Sequence[Mapping], ids: Sequence[str] | None = None) -> None:
        rows = list(rows)
        if not rows:
            raise ValueError("a case table needs at least one case")
        if ids is None:
            ids = [f"{i:04d}" for i in range(len(rows))]
        ids = [str(i) for i in ids]
        if len(ids) != len(rows):
            raise ValueError(f"{len(ids)} case ids for {len(rows)} cases")
        for case_id in ids:
            if not CASE_ID.match(case_id):
                raise ValueError(f"case id {case_id!r}: use letters, digits and _ . - only "
                                 "(it names the result file), starting with a letter or digit")
        if len(set(ids)) != len(ids):
            duplicate = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"case id {duplicate!r} appears twice")
        self._cases = tuple(
            Case(case_id, index, {str(k): _parameter(str(k), v) for k, v in dict(row).items()})
            for index, (case_id, row) in enumerate(zip(ids, rows)))
        self._by_id = {case.id: case for case in self._cases}

    @classmethod
    def product(cls, **columns) -> CaseTable:
        """Every combination of the values of each parameter (the last varies fastest)."""
        names, values = cls._columns(columns)
        return cls([dict(zip(names, combo)) for combo in itertools.product(*values)])

    @classmethod
    def zip(cls, **columns) -> CaseTable:
        """Row ``i`` takes value ``i`` of each parameter (equal lengths)."""
        names, values = cls._columns(columns)
        lengths = {len(v) for v in values}
        if len(lengths) > 1:
            raise ValueError("zipped case parameters need lists of one length, got "
                             + ", ".join(f"{n}: {len(v)}" for n, v in zip(names, values)))
        return cls([dict(zip(names, combo)) for combo in zip(*values)])

    @staticmethod
    def _columns(columns: Mapping) -> tuple[list[str], list[list]]:
        if not columns:
            raise ValueError("a case table needs at least one parameter")
        names, values = [], []
        for name, column in columns.items():
            column = list(column) if isinstance(column, (list, tuple, np.ndarray)) else [column]
            if not column:
                raise ValueError(f"case parameter {name!r} has no values")
            names.append(name)
            values.append(column)
        return names, values

    @property
    def ids(self) -> tuple[str, ...]:
        """The case ids, in table order."""
        return tuple(case.id for case in self._cases)

    def __len__(self) -> int:
        return len(self._cases)

    def __iter__(self):
        return iter(self._cases)

    def __getitem__(self, key: int | str) -> Case:
        if isinstance(key, str):
            if key not in self._by_id:
                raise KeyError(f"no case {key!r}")
            return self._by_id[key]
        return self._cases[key]

    def as_records(self) -> list[dict]:
        """``[{"id": …, "parameters": {…}}, …]`` (what the manifest stores)."""
        return [{"id": case.id, "parameters": dict(case.parameters)} for case in self._cases]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CaseTable) and self.as_records() == other.as_records()

    def __repr__(self) -> str:
        return f"CaseTable({len(self)} cases)"


def case_seeds(seed, n_cases: int) -> list[np.random.SeedSequence]:
    """The seed of each case: ``SeedSequence(seed).spawn(n_cases)``.

    Parameters
    ----------
    seed : int or None
        The sweep's seed (None: fresh entropy, so a rerun draws differently — give a seed
        for reproducible sweeps).
    n_cases : int

    Returns
    -------
    list of SeedSequence
        Child ``i`` for the case at row ``i``.

    Examples
    --------
    >>> import numpy as np
    >>> from advdiff_sens.ensemble import case_seeds
    >>> a, b = case_seeds(7, 3), case_seeds(7, 3)
    >>> float(np.random.default_rng(a[2]).random()) == float(np.random.default_rng(b[2]).random())
    True
    """
    n_cases = check_integer(n_cases, "n_cases", minimum=1)
    if seed is not None:
        seed = check_integer(seed, "seed", minimum=0)
    return np.random.SeedSequence(seed).spawn(n_cases)
