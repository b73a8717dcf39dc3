"""Reading and writing data files: gridded snapshots as netCDF (:mod:`.snapshots`, the ``io``
extra: xarray with h5netcdf)."""

from advdiff_sens.io.snapshots import IO_EXTRA_HINT, ScalarSnapshots, read_snapshots, write_fields

__all__ = ["ScalarSnapshots", "read_snapshots", "write_fields", "IO_EXTRA_HINT"]
