"""Models-from-code entry for MLflow: the file MLflow stores and runs to build the ensemble model.

Not imported by skysieve; :func:`skysieve.registry.register_ensemble` passes
this file's path to ``mlflow.pyfunc.log_model`` so no pickled object enters
the registry.
"""

from mlflow.models import set_model

from skysieve.registry._pyfunc import EnsembleModel

set_model(EnsembleModel())
