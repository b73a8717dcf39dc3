"""The input file of ``estimate``: an ``.npz`` archive of named arrays, read without unpickling
anything and checked array by array before any computation.

Required arrays (:data:`NPZ_REQUIRED`): sensors (m, 2), or (k, m, 2) for moving sensors (a
position per time: drifters), times (k,), data (k, m), theta0 (N0, N1), noise_std ();
optional (:data:`NPZ_OPTIONAL`, with their defaults): kappa, kmax, extent (a scalar is used
for both axes), prior_std (a number or one sd per coefficient), velocity (2, N0, N1), the
known flow when ``estimate --unknowns`` leaves the flow out.
Every error is a ``ValueError`` or ``TypeError`` that names the file and the array.
"""

from __future__ import annotations

import difflib
import zipfile
import zlib
from pathlib import Path

import numpy as np

from advdiff_sens.discretisation.grid import MIN_NODES, Grid
from advdiff_sens.inference import StreamFunctionBasis
from advdiff_sens.validation import as_real_array, as_times, check_positive_scalar

__all__ = ["load_data_file", "read_npz_arrays", "check_arrays", "data_summary", "NPZ_REQUIRED",
           "NPZ_OPTIONAL"]

#: Arrays an ``estimate`` input file must hold: sensors (m, 2) or (k, m, 2) (moving), times
#: (k,), data (k, m), theta0 (N0, N1), noise_std ().
NPZ_REQUIRED = ("sensors", "times", "data", "theta0", "noise_std")
#: Optional scalars/arrays with their defaults (a scalar ``extent`` is used for both axes;
#: ``velocity`` (2, N0, N1) is the known flow of a run that does not infer it).
NPZ_OPTIONAL = {"kappa": 0.01, "kmax": 2.0, "extent": (1.0, 1.0), "prior_std": None,
                "velocity": None}


_SAVEZ_HINT = "expected an .npz archive of named arrays written with numpy.savez"


def _read_member(archive: zipfile.ZipFile, member: str, path: str, key: str) -> np.ndarray:
    """One array of an .npz archive, refusing (and naming) object arrays without unpickling."""
    headers = {(1, 0): np.lib.format.read_array_header_1_0,
               (2, 0): np.lib.format.read_array_header_2_0}
    with archive.open(member) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version not in headers:
                raise ValueError(f"unsupported .npy format version {version}")
            dtype = headers[version](f)[2]
        except ValueError as exc:
            raise ValueError(f"{path}: array {key!r} is not a readable numpy array ({exc}); "
                             f"{_SAVEZ_HINT}") from None
    if dtype.hasobject:
        raise ValueError(f"{path}: array {key!r} holds a Python object (e.g. None); store a "
                         "number or leave the array out")
    with archive.open(member) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def read_npz_arrays(path: str) -> dict[str, np.ndarray]:
    """The arrays of the .npz file ``path``, read without unpickling anything; an empty, text,
    ``.npy``, corrupt or truncated file is a ``ValueError`` naming the file."""
    file = Path(path)
    if not file.is_file():
        what = "is not a file" if file.exists() else "no such file"
        raise ValueError(f"{path}: {what}; {_SAVEZ_HINT}")
    with open(file, "rb") as f:
        head = f.read(6)
    if not head:
        raise ValueError(f"{path}: the file is empty; {_SAVEZ_HINT}")
    if head == b"\x93NUMPY":
        raise ValueError(f"{path}: holds a single unnamed array (a .npy file, numpy.save); "
                         f"{_SAVEZ_HINT}, e.g. numpy.savez(path, sensors=..., times=..., ...)")
    if head[:4] not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ValueError(f"{path}: is not an .npz archive (text or a corrupt file); {_SAVEZ_HINT}")
    try:
        with zipfile.ZipFile(file) as archive:
            arrays = {}
            for member in archive.namelist():
                key = member.removesuffix(".npy")
                if key == member:
                    raise ValueError(f"{path}: holds {member!r}, which is not a numpy array; "
                                     f"{_SAVEZ_HINT}")
                arrays[key] = _read_member(archive, member, path, key)
    except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
        raise ValueError(f"{path}: the archive is corrupt or truncated ({exc}); "
                         f"{_SAVEZ_HINT}") from None
    return arrays


def _positive_number(value, key: str) -> float:
    """A number > 0 stored as a 0-d array (the array is named in the errors)."""
    arr = np.asarray(value)
    if arr.ndim != 0:
        raise ValueError(f"array {key!r} must be a single number (shape ()), got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.number) and np.isrealobj(arr)):
        raise TypeError(f"array {key!r} must be a real number, got dtype {arr.dtype}")
    return check_positive_scalar(arr, f"array {key!r}")


def _sensors(value, k: int, extent: np.ndarray) -> np.ndarray:
    """The array 'sensors': fixed (m, 2), or moving (k, m, 2) (a position per observation
    time), finite and inside the domain [0, extent]."""
    sensors = as_real_array(value, "array 'sensors' (m, 2) or (k, m, 2)")
    if sensors.ndim not in (2, 3) or sensors.shape[-1] != 2 or sensors.shape[-2] == 0:
        raise ValueError(f"array 'sensors' must have shape (m, 2) (fixed sensors) or (k, m, 2) "
                         f"(moving sensors, a position per time) with m >= 1, got "
                         f"{sensors.shape}")
    if sensors.ndim == 3 and sensors.shape[0] != k:
        raise ValueError(f"array 'sensors' of moving sensors must have one position per time: "
                         f"shape (k, m, 2) with k = {k} (array 'times'), got {sensors.shape}")
    outside = np.argwhere(np.any((sensors < 0) | (sensors > extent), axis=-1))
    if outside.size:
        first = tuple(outside[0])
        if sensors.ndim == 2:
            which = f"sensor(s) {outside[:10, 0].tolist()} lie"
        else:
            which = (f"{len(outside)} position(s) lie (first: sensor {first[1]} at time index "
                     f"{first[0]})")
        raise ValueError(f"array 'sensors': {which} outside the domain [0, {extent[0]:g}] x "
                         f"[0, {extent[1]:g}] (first one at {sensors[first].tolist()})")
    return sensors


def check_arrays(d: dict) -> dict:
    """Check every array of an ``estimate`` input (defaults filled in); return the values to
    use and the grid and the number of coefficients they imply."""
    theta0 = as_real_array(d["theta0"], "array 'theta0' (N0, N1)", ndim=2)
    if min(theta0.shape) < MIN_NODES:
        raise ValueError(f"array 'theta0' must have at least {MIN_NODES} nodes on each axis, "
                         f"got shape {theta0.shape}")
    extent = as_real_array(d["extent"], "array 'extent'")
    if extent.ndim == 0:
        extent = np.full(2, extent)
    if extent.shape != (2,) or np.any(extent <= 0):
        raise ValueError("array 'extent' must be two domain lengths > 0 (or one, used for both "
                         f"axes), got {extent.tolist()}")
    times = as_times(as_real_array(d["times"], "array 'times' (k,)", ndim=1), "array 'times'")[0]
    if times[0] <= 0:
        raise ValueError(f"array 'times' must be > 0, got first time {times[0]:g}")
    sensors = _sensors(d["sensors"], times.size, extent)
    m = sensors.shape[-2]
    data = as_real_array(d["data"], "array 'data' (k, m)", ndim=2)
    if data.shape != (times.size, m):
        raise ValueError(f"array 'data' must have shape (k, m) = ({times.size}, {m}) (one row "
                         f"per time, one column per sensor), got {data.shape}")
    kmax = _positive_number(d["kmax"], "kmax")
    if kmax < 1:
        raise ValueError(f"array 'kmax' must be >= 1 (at least one stream-function mode), got "
                         f"{kmax:g}")
    grid = Grid(theta0.shape, tuple(extent), "periodic")
    n_params = StreamFunctionBasis(grid, kmax).n_params
    prior_std = d["prior_std"]
    if prior_std is not None:
        prior_std = as_real_array(prior_std, "array 'prior_std'")
        if prior_std.ndim == 0:
            prior_std = _positive_number(prior_std, "prior_std")
        elif prior_std.shape != (n_params,) or np.any(prior_std <= 0):
            raise ValueError(f"array 'prior_std' must be a number > 0 or one sd > 0 per "
                             f"coefficient, shape ({n_params},), got shape {prior_std.shape}")
    velocity = d["velocity"]
    if velocity is not None:
        velocity = as_real_array(velocity, "array 'velocity' (2, N0, N1)",
                                 shape=(2, *theta0.shape))
    return {"grid": grid, "theta0": theta0, "sensors": sensors, "times": times, "data": data,
            "noise_std": _positive_number(d["noise_std"], "noise_std"),
            "kappa": _positive_number(d["kappa"], "kappa"), "kmax": kmax, "n_params": n_params,
            "prior_std": prior_std, "velocity": velocity}


def load_data_file(path: str) -> dict:
    """Read and check an ``estimate`` input file (see :data:`NPZ_REQUIRED`,
    :data:`NPZ_OPTIONAL`): the file, the names, and every array's type, shape and values.
    Every error names the file and the array."""
    raw = read_npz_arrays(path)
    accepted = (*NPZ_REQUIRED, *NPZ_OPTIONAL)
    unknown = [key for key in raw if key not in accepted]
    if unknown:
        hints = "".join(f" ({key!r}: did you mean {match[0]!r}?)" for key in unknown
                        if (match := difflib.get_close_matches(key, accepted, n=1)))
        raise ValueError(f"{path}: unknown array(s) {unknown}{hints}; accepted names: "
                         f"{', '.join(NPZ_REQUIRED)} (required), {', '.join(NPZ_OPTIONAL)} "
                         "(optional)")
    missing = [key for key in NPZ_REQUIRED if key not in raw]
    if missing:
        raise ValueError(f"{path} lacks the array(s) {missing}; required: {list(NPZ_REQUIRED)}, "
                         f"optional: {list(NPZ_OPTIONAL)}")
    try:
        return check_arrays({**NPZ_OPTIONAL, **raw})
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{path}: {exc}") from None


def data_summary(path: str, d: dict) -> str:
    """What ``estimate`` read, printed before it starts (the unknowns and their prior follow
    in :func:`advdiff_sens.cli.unknowns.unknowns_summary`)."""
    grid, times, prior = d["grid"], d["times"], d["prior_std"]
    extras = []
    if prior is not None:
        extras.append(f"prior_std {prior:g}" if np.ndim(prior) == 0 else
                      f"prior_std one per coefficient, {prior.min():g} to {prior.max():g}")
    if d["velocity"] is not None:
        extras.append(f"a velocity (max speed {np.hypot(*d['velocity']).max():.3g})")
    return "\n".join([
        f"read {path}:",
        (f"  grid {grid.shape[0]} x {grid.shape[1]}, bc periodic on both axes, extent "
         f"{grid.extent[0]:g} x {grid.extent[1]:g}"),
        f"  κ = {d['kappa']:g}, kmax = {d['kmax']:g}" + "".join(f", {e}" for e in extras),
        (f"  {times.size} times in [{times[0]:g}, {times[-1]:g}], {d['data'].shape[1]} "
         f"{'moving sensors (a position per time)' if d['sensors'].ndim == 3 else 'sensors'}, "
         f"{d['data'].size} data, noise sd {d['noise_std']:g}")])
