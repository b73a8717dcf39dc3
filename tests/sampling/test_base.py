"""What every sampler shares: choice by name or object, the callback hook, progress meters,
and the docstring examples of the sampling modules."""

import doctest
import io
import warnings

import numpy as np
import pytest

import advdiff_sens.progress
from advdiff_sens.progress import Progress
from advdiff_sens.sampling import HMC, PCN, SAMPLERS, Draw, Sampler
from advdiff_sens.sampling import base, diagnostics, hmc, pcn, result


def std_normal_log_density(x):
    return -0.5 * float(x @ x)


def std_normal_gradient(x):
    return -x


def test_registry_names_and_defaults():
    assert SAMPLERS.names() == ("hmc", "pcn", "infinity-hmc", "infinity-mala")
    assert isinstance(SAMPLERS.resolve("hmc", "sampler"), HMC)
    assert isinstance(SAMPLERS.resolve("pcn", "sampler"), PCN)
    sampler = HMC(step_size=0.2)
    assert SAMPLERS.resolve(sampler, "sampler") is sampler
    assert issubclass(HMC, Sampler) and issubclass(PCN, Sampler)
    with pytest.raises(ValueError, match=r"sampler must be one of \('hmc', 'pcn', .*'hmc'"):
        SAMPLERS.resolve("hmcc", "sampler")


def test_by_name_and_by_object_give_identical_draws():
    args = (std_normal_log_density, std_normal_gradient, np.zeros(2), 30)
    by_name = SAMPLERS.resolve("hmc", "sampler").sample(*args, n_chains=2, rng=3)
    by_object = HMC().sample(*args, n_chains=2, rng=3)
    np.testing.assert_array_equal(by_name.samples, by_object.samples)
    np.testing.assert_array_equal(by_name.log_density, by_object.log_density)
    args = (lambda x: -0.5 * float(x @ x), np.ones(2), np.zeros(2), 30)
    by_name = SAMPLERS.resolve("pcn", "sampler").sample(*args, rng=4)
    by_object = PCN().sample(*args, rng=4)
    np.testing.assert_array_equal(by_name.samples, by_object.samples)
    assert np.any(by_object.samples != 0.0)          # the chains moved: the check has teeth


@pytest.mark.parametrize("sampler, target", [
    (HMC(step_size=0.8, n_leapfrog=3, n_warmup=5), (std_normal_log_density, std_normal_gradient)),
    (PCN(beta=0.5, n_warmup=5), (lambda x: -0.5 * float(x @ x), np.ones(2))),
], ids=["hmc", "pcn"])
def test_callback_is_called_once_per_draw(sampler, target):
    seen = []
    res = sampler.sample(*target, np.zeros(2), 12, n_chains=2, rng=5, callback=seen.append)
    assert len(seen) == 2 * (5 + 12)
    assert all(isinstance(d, Draw) for d in seen)
    assert [(d.chain, d.iteration) for d in seen] == [(c, i) for c in range(2) for i in range(17)]
    assert [d.warmup for d in seen[:17]] == [True] * 5 + [False] * 12
    kept = np.array([d.x for d in seen if not d.warmup]).reshape(res.samples.shape)
    np.testing.assert_array_equal(kept, res.samples)
    accepts = np.array([d.accept for d in seen if not d.warmup]).reshape(2, 12)
    np.testing.assert_allclose(accepts.mean(axis=1), res.accept_rate, rtol=1e-15)
    seen[-1].x[:] = 99.0                              # a copy: the result is untouched
    assert not np.any(res.samples == 99.0)


def test_callback_does_not_change_the_draws():
    args = (std_normal_log_density, std_normal_gradient, np.zeros(2), 20)
    quiet = HMC(n_warmup=5).sample(*args, rng=6)
    watched = HMC(n_warmup=5).sample(*args, rng=6, callback=lambda draw: None)
    np.testing.assert_array_equal(quiet.samples, watched.samples)


def test_auto_progress_line_names_the_chain(capsys, monkeypatch):
    monkeypatch.setitem(advdiff_sens.progress.as_progress.__kwdefaults__, "delay", 0.0)
    HMC(step_size=0.5, n_leapfrog=2, n_warmup=4).sample(
        std_normal_log_density, std_normal_gradient, np.zeros(2), 6, n_chains=2, rng=10,
        progress="auto")
    err = capsys.readouterr().err
    assert "HMC chain 1/2  draw  1/10  (warm-up) acc" in err
    assert "HMC chain 1/2  draw  10/10  acc" in err
    assert "HMC chain 2/2  draw  10/10  acc" in err


def test_no_progress_by_default(capsys, monkeypatch):
    monkeypatch.setitem(advdiff_sens.progress.as_progress.__kwdefaults__, "delay", 0.0)
    PCN().sample(lambda x: 0.0, np.ones(2), np.zeros(2), 6, rng=0)
    assert capsys.readouterr().err == ""


def test_shared_meter_counts_all_chains():
    out = io.StringIO()
    meter = Progress(2 * 10, "sampling", stream=out)
    PCN(n_warmup=4).sample(lambda x: 0.0, np.ones(2), np.zeros(2), 6, n_chains=2, rng=11,
                           progress=meter)
    last = out.getvalue().rstrip().split("\r")[-1]
    assert last.startswith("sampling  20/20  chain 2/2 acc")


@pytest.mark.parametrize("progress, error", [(True, ValueError), (False, ValueError),
                                             ("sometimes", ValueError), (3.0, TypeError)])
def test_progress_is_none_auto_or_a_meter(progress, error):
    with pytest.raises(error, match="progress must be"):
        HMC().sample(std_normal_log_density, std_normal_gradient, np.zeros(2), 10,
                     progress=progress)


@pytest.mark.parametrize("module", [base, hmc, pcn, result, diagnostics],
                         ids=lambda m: m.__name__)
def test_examples_in_docstrings_run(module):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outcome = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted > 0 and outcome.failed == 0
