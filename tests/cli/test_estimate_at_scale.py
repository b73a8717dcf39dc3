"""``estimate`` at scale: the parameter space, the prior, the unknowns and the sampler.

Three kinds of test: the options reach the library as asked (``run_inference`` replaced by a
recorder, no computation); every wrong option or combination is one ``error: …`` line with
exit status 2 before anything is computed; and real runs at reduced size (8 × 8 or 6 × 6
grids, 3 times, 6 sensors, 2 × 4 draws) write ``inference.npz`` with the arrays of
``docs/cli.rst`` and the figures.
"""

import numpy as np
import pytest

import advdiff_sens.inference.workflow
from advdiff_sens import Grid, cli
from advdiff_sens.cli import field_estimation, unknowns
from advdiff_sens.inference import (MAP_DECREMENT_TOL, GaussianRandomField, InferenceResult,
                                    NewtonCG, NodalStreamFunction, StreamFunctionBasis)
from advdiff_sens.problems import make_field_twin
from advdiff_sens.problems.twin import r3_initial_condition
from advdiff_sens.sampling import PCN, InfinityHMC, InfinityMALA
from conftest import run_script

# 2 chains x 4 draws cannot pass the sampler diagnostics, and a 1-start MAP on these tiny
# data may warn about its misfit: the FitWarnings are expected (tests/cli/test_cli_errors.py
# tests how they are shown).
pytestmark = [pytest.mark.timeout(300),
              pytest.mark.filterwarnings("ignore::advdiff_sens.exceptions.FitWarning")]

TIMES = np.linspace(0.1, 0.3, 3)

#: What inference.npz holds (docs/cli.rst): after the Laplace stage ...
LAPLACE_ARRAYS = {"coefficients", "misfit", "n_data", "optima_neg_log_posterior",
                  "optima_misfit", "predicted", "eigenvalues", "expected_information_gain",
                  "variance_trace_ratio"}
#: ... the fields of each unknown (MAP and Laplace sd; after sampling their mean and sd) ...
FIELDS = {"flow": ("velocity", "stream_function"), "theta0": ("theta0",),
          "kappa": ("log_kappa",)}
#: ... and after sampling.
SAMPLE_ARRAYS = {"samples", "accept_rate", "step_size", "divergences"}


def expected_arrays(unknown_names, *, fourier=False, sampled=False) -> set:
    names = set(LAPLACE_ARRAYS) | ({"wavevectors"} if fourier else set())
    for unknown in unknown_names:
        for field in FIELDS[unknown]:
            names |= {field, f"{field}_sd"}
            if sampled:
                names |= {f"{field}_mean", f"{field}_posterior_sd"}
    return names | (SAMPLE_ARRAYS if sampled else set())


def _twin_arrays(twin, **extra) -> dict:
    post = twin.posterior
    return {"sensors": post.sensors, "times": post.times, "data": post.data,
            "noise_std": post.noise_std, "theta0": r3_initial_condition(post.model.grid),
            **extra}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Data files: a Fourier-flow twin (kmax 1) on 8 x 8, the same with its velocity (for runs
    that know the flow), and a nodal-flow twin on 6 x 6."""
    folder = tmp_path_factory.mktemp("data")
    fourier = make_field_twin(8, flow="fourier", kmax=1, n_sensors=6, times=TIMES, rng=0)
    nodal = make_field_twin(6, n_sensors=6, times=TIMES, rng=0)
    paths = {"fourier": folder / "fourier.npz", "known_flow": folder / "known_flow.npz",
             "nodal": folder / "nodal.npz"}
    np.savez(paths["fourier"], **_twin_arrays(fourier, kmax=1.0))
    np.savez(paths["known_flow"], **_twin_arrays(fourier, velocity=fourier.true_inputs.velocity))
    np.savez(paths["nodal"], **_twin_arrays(nodal))
    return paths





def _interrupted(capsys, path, *options, outdir) -> str:
    assert cli.main(["estimate", str(path), "--outdir", str(outdir), *options]) == 130
    out, err = capsys.readouterr()
    assert "interrupted; nothing was saved" in err
    return out


def _error(capsys, argv, *names) -> str:
    """``main(argv)`` fails with one ``error:`` line naming each of ``names``."""
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "error:" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith(("error: ", "advdiff-sens estimate: error: ")), err
    for name in names:
        assert name in lines[0], lines[0]
    return lines[0]


# ------------------------------------------------------------------ --help

def test_help_lists_the_new_options(tmp_path):
    proc = run_script(["-m", "advdiff_sens", "estimate", "--help"], tmp_path)
    for option in ("--space", "--kmax", "--spectrum-scale", "--spectrum-exponent", "--flow-std",
                   "--correlation-length", "--alpha", "--unknowns", "--theta0-std",
                   "--theta0-correlation-length", "--kappa-log-std", "--sampler", "--reference",
                   "--laplace-rank", "infinity-hmc", "infinity-mala", "pcn", "none"):
        assert option in proc.stdout, option
    assert "log(1/h)" in proc.stdout                 # why α = 3 for the stream function


# ------------------------------------------------------------------ options reach the library

def test_nodal_space_and_its_prior(capsys, tmp_path, files, recorded):
    out = _interrupted(capsys, files["nodal"], "--space", "nodal", "--flow-std", "0.07",
                       "--correlation-length", "0.25", "--alpha", "4", outdir=tmp_path)
    post = recorded["posterior"]
    assert isinstance(post.space.flow, NodalStreamFunction) and post.space.unknowns == ("flow",)
    prior = post.space.prior.blocks[0]
    assert isinstance(prior, GaussianRandomField)
    assert (prior.std, prior.correlation_length, prior.alpha) == (0.07, 0.25, 4)
    assert np.allclose(prior.pointwise_variance(), 0.07**2)       # the sd asked for
    assert post.n_params == 36 and post.gradient.__class__.__name__ == "AdjointGradient"
    # the defaults of a nodal run: newton-cg, ∞-HMC from the Laplace approximation
    # Newton-CG to the statistical stopping point |g|_C ≤ MAP_DECREMENT_TOL
    assert isinstance(recorded["optimizer"], NewtonCG) and recorded["reference"] == "laplace"
    assert recorded["optimizer"].atol == MAP_DECREMENT_TOL
    assert isinstance(recorded["sampler"], InfinityHMC)
    assert "nodal stream function, 36 coefficients" in out and "α = 4" in out


def test_nodal_prior_defaults(capsys, tmp_path, files, recorded):
    _interrupted(capsys, files["nodal"], "--space", "nodal", outdir=tmp_path)
    prior = recorded["posterior"].space.prior.blocks[0]
    assert (prior.std, prior.correlation_length, prior.alpha) == (
        unknowns.NODAL_FLOW_STD, unknowns.NODAL_CORRELATION_LENGTH, 3)


def test_fourier_kmax_and_spectrum(capsys, tmp_path, files, recorded):
    out = _interrupted(capsys, files["fourier"], "--kmax", "2", "--spectrum-scale", "0.3",
                       "--spectrum-exponent", "2", "--sampler", "none", outdir=tmp_path)
    post = recorded["posterior"]
    basis = post.space.flow
    assert isinstance(basis, StreamFunctionBasis) and basis.kmax == 2.0    # not the file's 1
    k = np.linalg.norm(basis.wavevectors, axis=1)
    assert np.allclose(post.prior.pointwise_variance(), (0.3 * k**-2.0) ** 2, rtol=1e-14)
    assert recorded["sampler"] is None and "reference" not in recorded
    assert "kmax = 2 (from --kmax): 12 stream-function coefficients, prior sd 0.3·|k|^-2" in out


def test_all_three_unknowns_and_their_priors(capsys, tmp_path, files, recorded):
    _interrupted(capsys, files["fourier"], "--unknowns", "kappa,theta0,flow", "--theta0-std",
                 "0.2", "--theta0-correlation-length", "0.15", "--kappa-log-std", "0.5",
                 outdir=tmp_path)
    post = recorded["posterior"]
    space = post.space
    assert space.unknowns == ("flow", "theta0", "log_kappa") and post.n_params == 4 + 64 + 1
    theta0_prior, kappa_prior = space.prior.blocks[1:]
    with np.load(files["fourier"]) as f:
        assert np.array_equal(theta0_prior.mean, f["theta0"].ravel())   # centred on the file's
        assert np.array_equal(kappa_prior.mean, [np.log(0.01)])         # the file's (default) κ
    assert (theta0_prior.std, theta0_prior.correlation_length, theta0_prior.alpha) == (
        0.2, 0.15, 2)
    assert kappa_prior.std.tolist() == [0.5]


def test_theta0_prior_default_sd_is_a_quarter_of_the_largest_value(capsys, tmp_path, files,
                                                                   recorded):
    _interrupted(capsys, files["known_flow"], "--unknowns", "theta0", outdir=tmp_path)
    space = recorded["posterior"].space
    with np.load(files["known_flow"]) as f:
        assert space.prior.blocks[0].std == 0.25 * np.abs(f["theta0"]).max()
        assert np.array_equal(space.velocity, f["velocity"])           # the known flow
    assert space.flow is None and space.unknowns == ("theta0",)


@pytest.mark.parametrize("options, sampler_class, reference", [
    (["--sampler", "infinity-mala", "--reference", "prior"], InfinityMALA, "prior"),
    (["--sampler", "infinity-hmc"], InfinityHMC, "laplace"),
    (["--sampler", "pcn"], PCN, None),                # pCN always proposes from the prior
])
def test_sampler_reference_and_run_options(capsys, tmp_path, files, recorded, options,
                                           sampler_class, reference):
    _interrupted(capsys, files["fourier"], "--unknowns", "flow,kappa", *options,
                 "--laplace-rank", "3", "--samples", "5", "--warmup", "7", "--optimizer",
                 "lbfgs", "--starts", "2", "--stages", "2", "--seed", "4", outdir=tmp_path)
    sampler = recorded["sampler"]
    assert type(sampler) is sampler_class and sampler.n_warmup == 7
    assert recorded.get("reference") == reference
    assert recorded["laplace_rank"] == 3 and recorded["n_draws"] == 5
    assert recorded["n_chains"] == 2 and recorded["rng"] == 4
    assert recorded["optimizer"] == "lbfgs" and recorded["n_starts"] == 2
    assert recorded["continuation"] == (2,) and recorded["progress"] == "auto"
    assert recorded["path"] == tmp_path / "inference.npz"


def test_the_sampler_options_leave_the_registered_defaults_alone(capsys, tmp_path, files,
                                                                 recorded):
    from advdiff_sens.inference import DEFAULT_FIELD_SAMPLER
    from advdiff_sens.sampling import SAMPLERS

    _interrupted(capsys, files["fourier"], "--sampler", "pcn", "--warmup", "9", outdir=tmp_path)
    assert recorded["sampler"].n_warmup == 9
    assert SAMPLERS.resolve("pcn", "sampler").n_warmup == 0 and DEFAULT_FIELD_SAMPLER.n_warmup == 50


def test_sampler_choices_are_registered_samplers():
    from advdiff_sens.sampling import SAMPLERS

    assert set(unknowns.SAMPLER_CHOICES) - {"none"} == set(SAMPLERS.names())


def test_workflow_takes_kmax_and_spectrum(capsys, tmp_path, files, monkeypatch, no_computation):
    """The default space, unknowns and sampler with a new prior option stay the HMC workflow."""
    calls = {}

    def stop(*args, **kwargs):
        calls.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(advdiff_sens.inference.workflow, "estimate_velocity", stop)
    out = _interrupted(capsys, files["fourier"], "--kmax", "2", "--spectrum-exponent", "1.5",
                       outdir=tmp_path)
    assert calls["kmax"] == 2.0 and calls["optimizer"] == "gauss-newton"
    k = np.linalg.norm(StreamFunctionBasis(Grid((8, 8)), 2).wavevectors, axis=1)
    assert np.allclose(calls["prior_std"], k**-1.5 / (2 * np.pi), rtol=1e-14)
    assert "HMC 2 chains x 60 draws after 20 warm-up" in out


def test_default_run_passes_the_file_prior_unchanged(capsys, tmp_path, files, monkeypatch,
                                                     no_computation):
    calls = {}

    def stop(*args, **kwargs):
        calls.update(kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(advdiff_sens.inference.workflow, "estimate_velocity", stop)
    _interrupted(capsys, files["fourier"], outdir=tmp_path)
    assert calls["kmax"] == 1.0 and calls["prior_std"] is None


# ------------------------------------------------------------------ bad options

@pytest.mark.parametrize("options, names", [
    (["--space", "nodal", "--kmax", "3"], ("--kmax", "--space nodal", "--space fourier")),
    (["--space", "nodal", "--spectrum-scale", "1"], ("--spectrum-scale", "--space nodal")),
    (["--space", "nodal", "--spectrum-exponent", "2"], ("--spectrum-exponent",)),
    (["--flow-std", "0.1"], ("--flow-std", "--space fourier", "--space nodal")),
    (["--correlation-length", "0.1"], ("--correlation-length", "--space nodal")),
    (["--alpha", "3"], ("--alpha", "--space nodal")),
    (["--unknowns", "theta0", "--space", "nodal"], ("--space", "--unknowns theta0")),
    (["--unknowns", "kappa", "--kmax", "2"], ("--kmax", "--unknowns kappa")),
    (["--unknowns", "theta0", "--flow-std", "1"], ("--flow-std", "add flow to --unknowns")),
    (["--theta0-std", "0.1"], ("--theta0-std", "theta0 is not in --unknowns")),
    (["--theta0-correlation-length", "0.1"], ("--theta0-correlation-length",)),
    (["--kappa-log-std", "1"], ("--kappa-log-std", "kappa is not in --unknowns")),
    (["--space", "nodal", "--sampler", "hmc"], ("--sampler", "--space nodal", "infinity-hmc")),
    (["--unknowns", "flow,theta0", "--sampler", "hmc"], ("--sampler", "flow,theta0")),
    (["--reference", "prior"], ("--reference", "hmc workflow")),
    (["--sampler", "pcn", "--reference", "laplace"], ("--reference", "pcn")),
    (["--sampler", "none", "--reference", "laplace"], ("--reference", "--sampler none")),
    (["--laplace-rank", "2"], ("--laplace-rank", "dense Laplace")),
    (["--sampler", "none", "--samples", "10"], ("--samples", "--sampler none")),
    (["--sampler", "none", "--warmup", "5"], ("--warmup", "--sampler none")),
    # argparse's checks of types and ranges
    (["--space", "spectral"], ("--space", "'fourier', 'nodal'")),
    (["--kmax", "0.5"], ("--kmax", "number >= 1")),
    (["--kmax", "nan"], ("--kmax", "number >= 1")),
    (["--spectrum-scale", "0"], ("--spectrum-scale", "number > 0")),
    (["--spectrum-exponent", "inf"], ("--spectrum-exponent", "finite number")),
    (["--flow-std", "-1"], ("--flow-std", "number > 0")),
    (["--correlation-length", "0"], ("--correlation-length", "number > 0")),
    (["--alpha", "1"], ("--alpha", "integer >= 2")),
    (["--alpha", "2.5"], ("--alpha", "integer >= 2")),
    (["--unknowns", ""], ("--unknowns", "flow, theta0, kappa")),
    (["--unknowns", "flow,u"], ("--unknowns", "flow, theta0, kappa", "'flow,u'")),
    (["--unknowns", "flow,flow"], ("--unknowns", "at most once")),
    (["--theta0-std", "0"], ("--theta0-std", "number > 0")),
    (["--theta0-correlation-length", "x"], ("--theta0-correlation-length", "number > 0")),
    (["--kappa-log-std", "-0.5"], ("--kappa-log-std", "number > 0")),
    (["--sampler", "mcmc"], ("--sampler", "'infinity-hmc', 'infinity-mala', 'pcn', 'none'")),
    (["--reference", "posterior"], ("--reference", "'laplace', 'prior'")),
    (["--laplace-rank", "0"], ("--laplace-rank", "integer >= 1")),
])
def test_bad_option_is_an_error_before_computing(capsys, tmp_path, files, no_computation,
                                                 options, names):
    _error(capsys, ["estimate", str(files["fourier"]), "--outdir", str(tmp_path / "out"),
                    *options], *names)
    assert not (tmp_path / "out").exists()                       # nothing created either


@pytest.mark.parametrize("file, options, names", [
    ("fourier", ["--unknowns", "theta0"], ("--unknowns", "lacks the array 'velocity'",
                                           "(2, 8, 8)")),
    ("known_flow", [], ("--unknowns", "holds a known flow", "'velocity'")),
    ("known_flow", ["--unknowns", "flow,theta0"], ("--unknowns", "'velocity'")),
    ("fourier", ["--space", "nodal", "--laplace-rank", "65"],
     ("--laplace-rank", "at most the number of unknown coefficients, 64, got 65")),
    ("fourier", ["--unknowns", "flow,kappa", "--laplace-rank", "6"],
     ("--laplace-rank", "coefficients, 5, got 6")),
    ("nodal", ["--unknowns", "flow,theta0", "--space", "nodal", "--sampler", "none",
               "--laplace-rank", "73"], ("--laplace-rank", "72, got 73")),
])
def test_option_that_does_not_fit_the_file(capsys, tmp_path, files, no_computation, file,
                                           options, names):
    _error(capsys, ["estimate", str(files[file]), "--outdir", str(tmp_path / "out"), *options],
           *names)
    assert not (tmp_path / "out").exists()


@pytest.fixture
def fourier_arrays(files):
    with np.load(files["fourier"]) as f:
        return {name: f[name] for name in f.files}


@pytest.mark.parametrize("change, options, names", [
    ({"prior_std": np.full(4, 0.1)}, ["--kmax", "2"],
     ("--kmax", "one prior sd per coefficient of kmax = 1", "4 values")),
    ({"prior_std": np.full(4, 0.1)}, ["--spectrum-exponent", "2"], ("--spectrum-exponent",)),
    ({"prior_std": 0.1}, ["--space", "nodal"], ("--space", "'prior_std'", "--flow-std")),
    ({"theta0": np.zeros((8, 8))}, ["--unknowns", "flow,theta0"],
     ("--theta0-std", "zero everywhere")),
    ({"velocity": np.zeros((2, 8, 7))}, ["--unknowns", "theta0"],
     ("array 'velocity'", "(2, 8, 8)")),
])
def test_file_contents_that_do_not_fit_the_options(capsys, tmp_path, no_computation,
                                                   fourier_arrays, change, options, names):
    np.savez(tmp_path / "d.npz", **{**fourier_arrays, **change})
    _error(capsys, ["estimate", str(tmp_path / "d.npz"), "--outdir", str(tmp_path / "out"),
                    *options], *names)


def test_a_scalar_file_prior_is_the_default_spectrum_scale(capsys, tmp_path, recorded,
                                                           fourier_arrays):
    np.savez(tmp_path / "d.npz", **fourier_arrays, prior_std=0.2)
    out = _interrupted(capsys, tmp_path / "d.npz", "--spectrum-exponent", "3", "--sampler",
                       "none", outdir=tmp_path)
    basis = recorded["posterior"].space.flow
    k = np.linalg.norm(basis.wavevectors, axis=1)
    assert np.allclose(recorded["posterior"].prior.pointwise_variance(), (0.2 * k**-3.0) ** 2)
    assert "prior sd 0.2·|k|^-3" in out


def test_flow_spaces_on_walled_grids_live_on_the_free_nodes():
    # a channel (walls in y): the nodal ψ is 0 on the wall rows, its unknowns the 8 × 6 others
    args = cli.build_parser().parse_args(["estimate", "d.npz", "--space", "nodal",
                                          "--laplace-rank", "48"])
    choice = unknowns.choose(args, n_draws=60, n_warmup=20)
    grid = Grid((8, 8), bc=("periodic", "neumann"))
    d = {"grid": grid, "velocity": None, "prior_std": None, "theta0": np.ones((8, 8)),
         "kmax": 2.0, "kappa": 0.01, "sensors": np.array([[0.5, 0.5], [0.25, 0.75]]),
         "times": np.array([0.1, 0.2]), "data": np.zeros((2, 2)), "noise_std": 0.1}
    unknowns.check_against_file(choice, d, "d.npz")
    post = unknowns.build_posterior(choice, d, "exponential")
    assert post.n_params == 8 * 6 and post.space.prior.blocks[0].grid.shape == (8, 6)
    too_many = cli.build_parser().parse_args(["estimate", "d.npz", "--space", "nodal",
                                              "--laplace-rank", "49"])
    with pytest.raises(ValueError, match="at most the number of unknown coefficients, 48"):
        unknowns.check_against_file(unknowns.choose(too_many, n_draws=60, n_warmup=20), d,
                                    "d.npz")


def test_module_reports_a_bad_combination_without_traceback(tmp_path, files):
    proc = run_script(["-m", "advdiff_sens", "estimate", str(files["nodal"]), "--space",
                       "nodal", "--kmax", "3"], tmp_path, returncode=2)
    assert proc.stderr.startswith("error: argument --kmax: sets the Fourier modes of --space "
                                  "fourier, but --space nodal was given")


# ------------------------------------------------------------------ real runs

def _saved(path) -> dict:
    with np.load(path) as f:
        return {name: f[name] for name in f.files}


def _check_map_and_prediction(out: dict) -> None:
    """The saved prediction is the MAP's: it gives the saved misfit."""
    residual = (out["predicted"] - out["data_"]) / out["noise_std_"]
    assert np.isclose(0.5 * np.sum(residual**2), out["misfit"], rtol=1e-10)


def _with_data(out: dict, path) -> dict:
    with np.load(path) as f:
        out["data_"], out["noise_std_"] = f["data"], float(f["noise_std"])
    return out


def test_theta0_unknown_without_sampling(tmp_path, files):
    """θ0 in a known flow, MAP and Laplace only: theta0 fields, its Laplace sd below the
    prior's everywhere, no samples."""
    proc = run_script(["-m", "advdiff_sens", "estimate", str(files["known_flow"]), "--unknowns",
                       "theta0", "--theta0-std", "0.3", "--theta0-correlation-length", "0.25",
                       "--sampler", "none", "--stages", "none", "--outdir", "out"], tmp_path)
    for text in ("| optimum | Ψ | Φ | starts |", "expected N/2 = 9.0", "Laplace (low-rank)",
                 "expected information gain", "variance trace ratio", "no sampling"):
        assert text in proc.stdout, text
    out = _with_data(_saved(tmp_path / "out" / "inference.npz"), files["known_flow"])
    assert set(out) - {"data_", "noise_std_"} == expected_arrays(["theta0"])
    assert out["theta0"].shape == out["theta0_sd"].shape == (8, 8)
    assert np.array_equal(out["theta0"], out["coefficients"].reshape(8, 8))
    # Laplace: prior variance 0.3² minus a sum of non-negative terms, reduced near the sensors
    assert np.all(out["theta0_sd"] <= 0.3 * (1 + 1e-12)) and out["theta0_sd"].min() < 0.2
    assert 0 < out["variance_trace_ratio"] < 1 and out["eigenvalues"].shape == (18,)
    _check_map_and_prediction(out)
    for name in ("theta0.png", "laplace_spectrum.png", "data_fit.png"):
        assert (tmp_path / "out" / name).stat().st_size > 1000
    assert not (tmp_path / "out" / "flow.png").exists()
    assert "samples added" not in proc.stdout


def test_kappa_unknown_with_pcn(tmp_path, files):
    proc = run_script(["-m", "advdiff_sens", "estimate", str(files["known_flow"]), "--unknowns",
                       "kappa", "--kappa-log-std", "0.5", "--sampler", "pcn", "--samples", "4",
                       "--warmup", "2", "--stages", "none", "--outdir", "out"], tmp_path)
    for text in ("MAP κ =", "Laplace (dense): rank 1 of p = 1", "log κ =", "pcn: 2 chains x 4 "
                 "draws, β", "acceptance", "min ESS", "max R-hat", "divergences",
                 "samples added to"):
        assert text in proc.stdout, text
    out = _saved(tmp_path / "out" / "inference.npz")
    assert set(out) == expected_arrays(["kappa"], sampled=True)
    assert out["samples"].shape == (2, 4, 1)
    assert 0 < out["log_kappa_sd"][0] < 0.5          # the data shrink the prior's sd 0.5
    assert np.isclose(out["log_kappa_mean"][0], out["samples"].mean())


def test_fourier_flow_and_kappa_with_infinity_hmc_from_the_prior(tmp_path, files):
    proc = run_script(["-m", "advdiff_sens", "estimate", str(files["fourier"]), "--unknowns",
                       "flow,kappa", "--kmax", "1", "--spectrum-scale", "0.2",
                       "--spectrum-exponent", "1.5", "--sampler", "infinity-hmc",
                       "--reference", "prior", "--samples", "4", "--warmup", "2", "--stages",
                       "none", "--outdir", "out"], tmp_path)
    assert "preconditioned by the prior" in proc.stdout and "infinity-hmc: 2 chains" in proc.stdout
    out = _with_data(_saved(tmp_path / "out" / "inference.npz"), files["fourier"])
    assert set(out) - {"data_", "noise_std_"} == expected_arrays(["flow", "kappa"], fourier=True,
                                                                 sampled=True)
    basis = StreamFunctionBasis(Grid((8, 8)), 1)
    assert np.array_equal(out["wavevectors"], basis.wavevectors)
    assert np.allclose(out["velocity"], basis.to_velocity(out["coefficients"][:4]), rtol=1e-13)
    draws = out["samples"].reshape(-1, 5)
    velocities = np.stack([basis.to_velocity(c[:4]) for c in draws])
    assert np.allclose(out["velocity_posterior_sd"], velocities.std(axis=0, ddof=1))
    _check_map_and_prediction(out)
    for name in ("flow.png", "posterior_sd.png", "posterior_sd_samples.png",
                 "laplace_spectrum.png", "data_fit.png"):
        assert (tmp_path / "out" / name).stat().st_size > 1000


@pytest.mark.slow
def test_nodal_flow_with_infinity_mala_and_a_low_rank_laplace(tmp_path, files):
    proc = run_script(["-m", "advdiff_sens", "estimate", str(files["nodal"]), "--space", "nodal",
                       "--flow-std", "0.06", "--correlation-length", "0.4", "--alpha", "4",
                       "--sampler", "infinity-mala", "--laplace-rank", "5", "--samples", "4",
                       "--warmup", "2", "--stages", "none", "--outdir", "out"], tmp_path)
    assert "Laplace (low-rank): rank 5 of p = 36" in proc.stdout
    out = _with_data(_saved(tmp_path / "out" / "inference.npz"), files["nodal"])
    assert set(out) - {"data_", "noise_std_"} == expected_arrays(["flow"], sampled=True)
    assert out["eigenvalues"].shape == (5,) and out["samples"].shape == (2, 4, 36)
    flow = NodalStreamFunction(Grid((6, 6)))
    assert np.allclose(out["velocity"], flow.to_velocity(out["coefficients"]), rtol=1e-13)
    assert np.array_equal(out["stream_function"], out["coefficients"].reshape(6, 6))
    assert np.all(out["stream_function_sd"] <= 0.06 * (1 + 1e-12))
    _check_map_and_prediction(out)
    assert (tmp_path / "out" / "posterior_sd_samples.png").stat().st_size > 1000


@pytest.mark.slow
def test_all_three_unknowns_in_a_nodal_space(tmp_path, files):
    proc = run_script(["-m", "advdiff_sens", "estimate", str(files["nodal"]), "--space", "nodal",
                       "--unknowns", "flow,theta0,kappa", "--samples", "4", "--warmup", "2",
                       "--stages", "none", "--outdir", "out"], tmp_path)
    assert "73 coefficients in all" in proc.stdout
    out = _saved(tmp_path / "out" / "inference.npz")
    assert set(out) == expected_arrays(["flow", "theta0", "kappa"], sampled=True)
    assert out["samples"].shape == (2, 4, 73)
    for name in ("flow.png", "theta0.png", "theta0_samples.png", "posterior_sd_samples.png"):
        assert (tmp_path / "out" / name).stat().st_size > 1000


# ------------------------------------------------------------------ finished work is kept

def test_laplace_results_and_figures_are_saved_before_sampling(capsys, tmp_path, files,
                                                               monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(PCN, "sample", interrupted)
    argv = ["estimate", str(files["known_flow"]), "--unknowns", "kappa", "--sampler", "pcn",
            "--stages", "none", "--outdir", str(tmp_path)]
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert "interrupted; saved before stopping: " in err
    for name in ("inference.npz", "laplace_spectrum.png", "data_fit.png"):
        assert str((tmp_path / name).resolve()) in err, name
    loaded = InferenceResult.load(tmp_path / "inference.npz")
    assert set(loaded.arrays) == expected_arrays(["kappa"])
    assert not list(tmp_path.glob("*.part"))


def test_figure_failure_keeps_the_saved_inference(capsys, tmp_path, files, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(field_estimation, "save_laplace_figures", disk_full)
    argv = ["estimate", str(files["known_flow"]), "--unknowns", "kappa", "--sampler", "none",
            "--stages", "none", "--outdir", str(tmp_path)]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error: [Errno 28] No space left on device" in err
    assert f"saved before stopping: {(tmp_path / 'inference.npz').resolve()}" in err
    assert set(_saved(tmp_path / "inference.npz")) == expected_arrays(["kappa"])
