"""The ``Examples`` sections of the modules that carry them run as doctests."""

import doctest
import warnings

import pytest

from advdiff_sens import model, progress
from advdiff_sens.matrix.expm import propagator as propagate


@pytest.mark.parametrize("module", [progress, propagate, model], ids=lambda m: m.__name__)
def test_examples_in_docstrings_run(module):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
