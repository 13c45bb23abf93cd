"""Models-from-code entry for MLflow: the file MLflow stores and runs to build the CNN model.

Not imported by skysieve; :func:`skysieve.registry.log_cnn_model` passes this
file's path to ``mlflow.pyfunc.log_model`` so no pickled object enters the
registry.
"""

from mlflow.models import set_model

from skysieve.registry._cnn import CnnModel

set_model(CnnModel())
