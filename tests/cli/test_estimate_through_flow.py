"""``estimate --through-flow-std``: the net flux of a channel as one more unknown of the nodal
stream function (ψ = Q on the far wall), from the command line and the configuration file,
and refused on a grid that is not a channel with no-flux walls, before any computation."""

import numpy as np
import pytest

from advdiff_sens import Grid, cli
from advdiff_sens.inference import BlockGaussian, NodalStreamFunction
from advdiff_sens.io import write_fields

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def dye(tmp_path_factory):
    images = np.random.default_rng(1).random((3, 10, 10))
    return write_fields(tmp_path_factory.mktemp("dye") / "dye.nc", Grid((10, 10)),
                        {"theta": images}, times=[0.0, 0.1, 0.2], cell_centred=True,
                        attrs={"kappa": 0.01, "noise_std": 0.05})


def test_the_flux_is_one_more_coefficient_with_its_prior(capsys, tmp_path, dye, recorded):
    assert cli.main(["estimate", str(dye), "--space", "nodal", "--bc", "channel", "--nodes",
                     "12", "--through-flow-std", "0.2", "--outdir", str(tmp_path)]) == 130
    out = capsys.readouterr().out
    assert "net flux Q" in out and "N(0, 0.2²)" in out
    space = recorded["posterior"].space
    flow = space.flow
    assert isinstance(flow, NodalStreamFunction) and flow.through_flow
    assert space.n_params == NodalStreamFunction(flow.grid).n_params + 1
    prior = space.prior.blocks[0]
    assert isinstance(prior, BlockGaussian)
    assert prior.pointwise_variance()[-1] == pytest.approx(0.04, rel=1e-14)


def test_the_configuration_file_takes_it(capsys, tmp_path, dye, recorded):
    config = tmp_path / "run.toml"
    config.write_text('[domain]\nbc = "channel"\nnodes = 12\n[space]\nspace = "nodal"\n'
                      'through-flow-std = 0.1\n')
    assert cli.main(["estimate", str(dye), "--config", str(config), "--outdir",
                     str(tmp_path)]) == 130
    assert recorded["posterior"].space.flow.through_flow


@pytest.mark.parametrize("argv, names", [
    (["--space", "nodal", "--bc", "box", "--through-flow-std", "0.2"],
     ["argument --through-flow-std", "needs a channel"]),
    (["--space", "nodal", "--through-flow-std", "0.2"],          # periodic square
     ["argument --through-flow-std", "needs a channel"]),
    (["--space", "fourier", "--bc", "channel", "--through-flow-std", "0.2"],
     ["--through-flow-std", "--space nodal"]),
    (["--space", "nodal", "--bc", "channel", "--through-flow-std", "0"],
     ["--through-flow-std"]),
])
def test_refused_before_any_computation(capsys, tmp_path, dye, no_computation, argv, names):
    assert cli.main(["estimate", str(dye), *argv, "--outdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    line = [x for x in err.splitlines() if "error" in x][0]
    for name in names:
        assert name in line, line
