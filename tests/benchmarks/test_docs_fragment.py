"""``--write-docs``: a benchmark writes its results as a documentation fragment that names
the date, the machine and the exact command, and that is valid reStructuredText."""

import datetime
import re

import docutils.core
import docutils.writers.null

from conftest import ROOT, run_script


def test_write_docs_writes_a_fragment_with_date_machine_and_command(tmp_path):
    target = tmp_path / "performance" / "bench_kernels.rst"
    args = ["benchmarks/bench_kernels.py", "--n", "16", "--terms", "2", "--rounds", "1",
            "--write-docs", str(target)]
    proc = run_script([str(ROOT / args[0]), *args[1:]], tmp_path)
    assert f"documentation fragment written to {target}" in proc.stdout
    text = target.read_text()
    fields = dict(re.findall(r"^:([A-Za-z ]+): (.*)$", text, flags=re.M))
    written = datetime.datetime.strptime(fields["Date"].split(" (")[0], "%Y-%m-%d %H:%M")
    assert abs(datetime.datetime.now() - written) < datetime.timedelta(hours=1)
    assert fields["Command"] == f"``python {' '.join(args)}``"
    assert "logical cores" in fields["Machine"]
    assert "numpy" in fields["Versions"] and "scipy" in fields["Versions"]
    assert re.match(r"[\d.]+, [\d.]+, [\d.]+ before the run", fields["Load average"])
    assert "n = [16] (default: [256])" in fields["Options"]
    # the printed tables become tables: the per-term costs and the floors
    assert text.count(".. list-table::") == 2
    assert "adjoint recomputation ∥ backward (two threads)" in text
    docutils.core.publish_string(text, writer=docutils.writers.null.Writer(),
                                 settings_overrides={"report_level": 2, "halt_level": 2})


def test_without_write_docs_no_fragment_is_written(tmp_path):
    run_script([str(ROOT / "benchmarks" / "bench_kernels.py"), "--n", "16", "--terms", "2",
                "--rounds", "1"], tmp_path)
    assert not list(tmp_path.rglob("*.rst"))
