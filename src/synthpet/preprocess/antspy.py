"""antspyx, imported without the subpackages this package never calls.

``import ants`` imports every subpackage, and with them statsmodels, scikit-learn and matplotlib's
pyplot (its plotting, machine-learning and quantile-regression helpers): about 2 of the 3 s that the
import takes (tests/benchmarks/bench_imports.py), paid by each of the six ANTs jobs of every scan.
Here those subpackages are left out while ``ants`` loads; registration, transforms, resampling and
image I/O, all that synthpet uses, are untouched. A left-out function raises and says so. An
``ants`` that is already imported is used as it is.

    from synthpet.preprocess.antspy import ants
"""

from __future__ import annotations

import sys
import types

# subpackages whose names ants/__init__.py star-imports and that synthpet never calls
LEFT_OUT = ("ants.learn", "ants.plotting", "ants.deeplearn", "ants.contrib")
# ants.math names its quantile helpers one by one (they import statsmodels)
QUANTILE = "ants.math.quantile"
QUANTILE_NAMES = (
    "ilr",
    "rank_intensity",
    "quantile",
    "regress_poly",
    "regress_components",
    "get_average_of_timeseries",
    "compcor",
    "bandpass_filter_matrix",
)


def _left_out(name: str):
    def call(*args, **kwargs):
        raise RuntimeError(
            f"ants.{name} was left out by synthpet.preprocess.antspy; use 'import ants' in a fresh process"
        )

    return call


def _import_lean():
    if "ants" in sys.modules:
        return sys.modules["ants"]
    stubs = {name: types.ModuleType(name, "left out by synthpet.preprocess.antspy") for name in LEFT_OUT}
    stubs[QUANTILE] = types.ModuleType(QUANTILE, "left out by synthpet.preprocess.antspy")
    for name in QUANTILE_NAMES:
        setattr(stubs[QUANTILE], name, _left_out(name))
    sys.modules.update(stubs)
    try:
        import ants
    finally:
        # a later explicit import of a left-out subpackage loads the real one
        for name in stubs:
            sys.modules.pop(name, None)
    return ants


ants = _import_lean()
