"""skysieve: an MLOps platform for deep-learning searches in astronomical images.

The subpackages follow the flow of data: ``config`` → ``sim`` → ``data`` → ``mf``
→ ``nets`` → ``train`` → ``tune`` → ``evaluate`` → ``ensemble`` → ``registry``
→ ``catalog``; ``cli`` is the thin command-line edge over all of them.
"""

from importlib.metadata import PackageNotFoundError, version

from skysieve.errors import ConfigError, DataError, RegistryError, SkysieveError

try:
    __version__ = version("skysieve")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = ["ConfigError", "DataError", "RegistryError", "SkysieveError", "__version__"]
