"""``python -m skysieve``: the same command line as the ``skysieve`` console script.

MLflow Projects run their entry points through ``bin/skysieve``, which calls
this with the interpreter of the environment it finds, so no activated
virtualenv and no ``skysieve`` on ``PATH`` are needed.
"""

from skysieve.cli import main

if __name__ == "__main__":
    main(prog_name="skysieve")
