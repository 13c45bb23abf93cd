"""Binary-classification metrics, as evaluation names them: :mod:`skysieve.metrics`, re-exported.

The functions live in :mod:`skysieve.metrics`, below both ``skysieve.train``
(which reports them per epoch and fold) and ``skysieve.evaluate``; this
module keeps ``skysieve.evaluate.metrics`` importable with the same names.
"""

from skysieve.metrics import *  # noqa: F403 - the same objects under the old name
from skysieve.metrics import __all__  # noqa: F401
