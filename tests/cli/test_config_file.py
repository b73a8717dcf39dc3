"""``estimate --config FILE``: a TOML file of the command's options (advdiff_sens.cli.config).

The file's options reach the library exactly as the same options on the command line do
(``run_inference`` replaced by a recorder, no computation); the command line wins over the
file; and every bad file — missing, not TOML, unknown section or key, a key in the wrong
section, a bad value — is one ``error: …`` line naming the file and the key, exit status 2,
before anything is computed.
"""

import numpy as np
import pytest

from advdiff_sens import cli
from advdiff_sens.cli import field_estimation
from advdiff_sens.cli.config import SECTIONS
from advdiff_sens.inference import GaussianRandomField, NodalStreamFunction
from advdiff_sens.problems import make_field_twin
from advdiff_sens.problems.twin import r3_initial_condition

pytestmark = pytest.mark.timeout(120)

TIMES = np.linspace(0.1, 0.3, 3)

CONFIG = """
[unknowns]
unknowns = ["flow", "theta0"]
theta0-std = 0.2

[space]
space = "nodal"
flow_std = 0.07
correlation-length = 0.25
alpha = 4

[optimiser]
optimizer = "newton-cg"
starts = 2
stages = [2, 3]

[sampler]
sampler = "infinity-mala"
reference = "prior"
samples = 8
warmup = 4
seed = 3
"""


@pytest.fixture(scope="module")
def data_file(tmp_path_factory):
    twin = make_field_twin(6, n_sensors=6, times=TIMES, rng=0)
    post = twin.posterior
    path = tmp_path_factory.mktemp("data") / "nodal.npz"
    np.savez(path, sensors=post.sensors, times=post.times, data=post.data,
             noise_std=post.noise_std, theta0=r3_initial_condition(post.model.grid))
    return path




def _run(capsys, data_file, config, tmp_path, *options) -> int:
    path = tmp_path / "run.toml"
    path.write_text(config)
    return cli.main(["estimate", str(data_file), "--config", str(path),
                     "--outdir", str(tmp_path / "out"), *options])


def test_the_file_reaches_the_library(capsys, tmp_path, data_file, recorded):
    assert _run(capsys, data_file, CONFIG, tmp_path) == 130
    post = recorded["posterior"]
    assert isinstance(post.space.flow, NodalStreamFunction)
    assert post.space.unknowns == ("flow", "theta0")
    flow_prior, theta0_prior = post.space.prior.blocks
    assert isinstance(flow_prior, GaussianRandomField)
    assert (flow_prior.std, flow_prior.correlation_length, flow_prior.alpha) == (0.07, 0.25, 4)
    assert theta0_prior.std == 0.2
    assert recorded["n_starts"] == 2 and recorded["continuation"] == (2, 3)
    assert type(recorded["sampler"]).__name__ == "InfinityMALA"
    assert (recorded["n_draws"], recorded["sampler"].n_warmup) == (8, 4)
    assert recorded["rng"] == 3
    assert "2 start(s), continuation stages 2,3" in capsys.readouterr().out


def test_the_same_options_on_the_command_line_give_the_same_run(capsys, tmp_path, data_file,
                                                                 monkeypatch):
    runs = []

    def record(posterior, **kwargs):
        runs.append((posterior.space.unknowns, posterior.space.prior.blocks[0].alpha,
                     kwargs["n_starts"], kwargs["continuation"], kwargs.get("n_draws"), kwargs["rng"]))
        raise KeyboardInterrupt

    monkeypatch.setattr(field_estimation, "run_inference", record)
    assert _run(capsys, data_file, CONFIG, tmp_path) == 130
    argv = ["estimate", str(data_file), "--outdir", str(tmp_path / "out2"), "--unknowns",
            "flow,theta0", "--theta0-std", "0.2", "--space", "nodal", "--flow-std", "0.07",
            "--correlation-length", "0.25", "--alpha", "4", "--optimizer", "newton-cg",
            "--starts", "2", "--stages", "2,3", "--sampler", "infinity-mala", "--reference",
            "prior", "--samples", "8", "--warmup", "4", "--seed", "3"]
    assert cli.main(argv) == 130
    assert runs[0] == runs[1]


def test_the_command_line_wins(capsys, tmp_path, data_file, recorded):
    assert _run(capsys, data_file, CONFIG, tmp_path, "--alpha", "2", "--starts", "1") == 130
    assert recorded["posterior"].space.prior.blocks[0].alpha == 2
    assert recorded["n_starts"] == 1
    assert recorded["posterior"].space.prior.blocks[0].std == 0.07     # the file's, kept


@pytest.mark.parametrize("config, names", [
    ("[space]\nkmax = 0\n", ["run.toml", "space.kmax", "expected a number >= 1"]),
    ("[space]\nstarts = 2\n", ["run.toml", "space.starts", "belongs in section [optimiser]"]),
    ("[spaces]\nspace = 'nodal'\n", ["run.toml", "[spaces]", "did you mean 'space'"]),
    ("[sampler]\nsampler = 'metropolis'\n", ["sampler.sampler", "expected one of"]),
    ("flow-sd = 0.1\n", ["'flow-sd'", "no such option", "did you mean 'flow_std'"]),
    ("data = 'other.npz'\n", ["'data'", "given on the command line"]),
    ("[optimiser]\nstages = [3, 2]\n", ["optimiser.stages", "increasing positive integers"]),
    ("[optimiser]\nstarts = true\n", ["optimiser.starts", "boolean"]),
    ("[optimiser]\nstarts = {a = 1}\n", ["optimiser.starts", "sections do not nest"]),
    ("[sampler]\nsamples = [4, 5]\n", ["sampler.samples", "expected an integer >= 4"]),
    ("flow-std = 0.1\n[space]\nflow_std = 0.2\n", ["space.flow_std", "given twice"]),
    ("[space\nspace = 'nodal'\n", ["run.toml", "not valid TOML"]),
])
def test_bad_files_are_one_error_line_before_any_computation(capsys, tmp_path, data_file,
                                                             no_computation, config, names):
    assert _run(capsys, data_file, config, tmp_path) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for name in names:
        assert name in lines[0], lines[0]
    assert not (tmp_path / "out").exists()                  # nothing was prepared


def test_a_missing_file(capsys, tmp_path, data_file):
    assert cli.main(["estimate", str(data_file), "--config", str(tmp_path / "absent.toml")]) == 2
    assert "no such configuration file" in capsys.readouterr().err


def test_every_section_key_is_an_option_of_estimate():
    parser = cli.build_parser().commands["estimate"]
    options = {dest for dest, action in parser.arguments.items() if action.option_strings}
    grouped = set().union(*SECTIONS.values())
    assert grouped <= options
    # every option but --help and --config itself has a section
    assert options - grouped == {"help", "config"}


def test_the_example_of_the_cli_page_is_a_valid_configuration(tmp_path):
    from pathlib import Path

    from advdiff_sens.cli.config import read_config

    page = (Path(__file__).parents[2] / "docs" / "cli.rst").read_text()
    block = page.split(".. code-block:: toml\n", 1)[1].split("\n.. ", 1)[0]
    path = tmp_path / "field_all.toml"
    path.write_text("\n".join(line[3:] for line in block.splitlines()))
    options = read_config(path, cli.build_parser().commands["estimate"])
    assert options == {"unknowns": ("flow", "theta0", "kappa"), "theta0_std": 0.25,
                       "kappa_log_std": 0.5, "space": "nodal", "sampler": "none",
                       "outdir": "field_all"}


NEWTON_CONFIG = CONFIG.replace('stages = [2, 3]\n',
                               'stages = [2, 3]\nnewton-max-iter = 80\ncg-max-iter = 700\n')


def test_the_newton_cg_limits_reach_the_optimiser(capsys, tmp_path, data_file, recorded):
    from advdiff_sens.inference import MAP_DECREMENT_TOL, NewtonCG

    assert _run(capsys, data_file, NEWTON_CONFIG, tmp_path) == 130
    optimizer = recorded["optimizer"]
    assert isinstance(optimizer, NewtonCG)
    assert (optimizer.max_iter, optimizer.cg_max_iter, optimizer.atol) == (
        80, 700, MAP_DECREMENT_TOL)
    assert ("Newton-CG limits 80 iterations per stage and 700 CG iterations per Newton "
            "iteration") in capsys.readouterr().out
    # the command line wins, and without either option NewtonCG keeps its defaults
    assert _run(capsys, data_file, NEWTON_CONFIG, tmp_path, "--cg-max-iter", "50") == 130
    assert (recorded["optimizer"].max_iter, recorded["optimizer"].cg_max_iter) == (80, 50)
    assert _run(capsys, data_file, CONFIG, tmp_path) == 130
    default = NewtonCG()
    assert (recorded["optimizer"].max_iter, recorded["optimizer"].cg_max_iter) == (
        default.max_iter, default.cg_max_iter)


@pytest.mark.parametrize("config, names", [
    ("[optimiser]\ncg-max-iter = 0\n", ["run.toml", "optimiser.cg-max-iter",
                                        "expected an integer >= 1, got '0'"]),
    ("[optimiser]\nnewton_max_iter = 2.5\n", ["optimiser.newton_max_iter",
                                              "expected an integer >= 1"]),
    ("[sampler]\ncg-max-iter = 100\n", ["sampler.cg-max-iter",
                                        "belongs in section [optimiser]"]),
    ("[space]\nspace = 'nodal'\n[optimiser]\noptimizer = 'lbfgs'\ncg-max-iter = 100\n",
     ["argument --cg-max-iter", "not to lbfgs", "drop --cg-max-iter"]),
    ("[optimiser]\nnewton-max-iter = 100\n",            # the default Fourier-flow workflow
     ["argument --newton-max-iter", "not to the hmc workflow", "--space nodal"]),
])
def test_bad_newton_cg_limits_are_one_error_line_before_any_computation(
        capsys, tmp_path, data_file, no_computation, config, names):
    assert _run(capsys, data_file, config, tmp_path) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    for name in names:
        assert name in lines[0], lines[0]
    assert not (tmp_path / "out").exists()                  # nothing was prepared
