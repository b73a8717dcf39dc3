"""DualAveraging: the recursion of Hoffman & Gelman (2014, §3.2.1) written out by hand, the
direction of its steps, convergence to the target on a toy acceptance curve, its checks, and
HMC's use of it (HMC's draws are those of the version before it was factored out:
test_same_draws_as_before.py)."""

import doctest

import numpy as np
import pytest

from advdiff_sens.sampling import DualAveraging
from advdiff_sens.sampling import adaptation


def test_updates_follow_the_published_recursion():
    step0, target, accepts = 0.4, 0.7, [0.9, 0.2, 0.65, 1.0, 0.0]
    adapt = DualAveraging(step0, target)
    mu, h_bar, log_bar = np.log(10 * step0), 0.0, np.log(step0)
    for k, a in enumerate(accepts, start=1):
        h_bar = (1 - 1 / (k + 10)) * h_bar + (target - a) / (k + 10)
        log_step = mu - np.sqrt(k) / 0.05 * h_bar
        log_bar = k**-0.75 * log_step + (1 - k**-0.75) * log_bar
        assert adapt.update(a) == pytest.approx(np.exp(log_step), rel=1e-14)
        assert adapt.final == pytest.approx(np.exp(log_bar), rel=1e-14)


def test_acceptance_above_the_target_grows_the_step_below_shrinks_it():
    # relative to μ = log(10 ε₀), the point the iterates are drawn to (so the first step after
    # a rejection, 5 e^{-0.8/11/0.05} ≈ 1.17, still exceeds ε₀ = 0.5)
    grown, shrunk = DualAveraging(0.5, 0.8).update(1.0), DualAveraging(0.5, 0.8).update(0.0)
    assert shrunk < 5.0 < grown
    assert shrunk == pytest.approx(5 * np.exp(-0.8 / 11 / 0.05), rel=1e-14)


@pytest.mark.parametrize("target", [0.6, 0.8, 0.9])
def test_converges_where_the_acceptance_is_the_target(target):
    """A toy acceptance e^{-ε}: the averaged step tends to −log(target) (measured within 4 %
    after 2000 updates)."""
    adapt, step = DualAveraging(1.0, target), 1.0
    for _ in range(2000):
        step = adapt.update(np.exp(-step))
    assert adapt.final == pytest.approx(-np.log(target), rel=0.05)


@pytest.mark.parametrize("args, error, match", [
    ((0.0, 0.8), ValueError, "step"), ((-1.0, 0.8), ValueError, "step"),
    ((0.5, 1.0), ValueError, "target"), ((0.5, 0.0), ValueError, "target"),
    ((0.5, "high"), TypeError, "target"),
])
def test_arguments_are_checked(args, error, match):
    with pytest.raises(error, match=match):
        DualAveraging(*args)


def test_examples_in_docstrings_run():
    outcome = doctest.testmod(adaptation, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted > 0 and outcome.failed == 0
