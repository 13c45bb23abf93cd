"""The error hierarchy.

Every error a user can trigger derives from :class:`SkysieveError`; its message
names the file, the key or column, the value received and the fix.  The CLI
turns these into a one-line message and exit status 2, without a traceback.
"""

__all__ = ["ConfigDeprecationWarning", "ConfigError", "DataError", "RegistryError", "SkysieveError"]


class SkysieveError(Exception):
    """Base class of every error skysieve raises on purpose."""


class ConfigError(SkysieveError):
    """A params file or command-line option is missing, unknown or out of range."""


class DataError(SkysieveError):
    """An input file (FITS map, catalog, cutout tensor) is unreadable or inconsistent."""


class RegistryError(SkysieveError):
    """A model URI, registry alias or promotion request cannot be honoured."""


class ConfigDeprecationWarning(FutureWarning):
    """A params value under an old name, still accepted; the message gives the name to write instead.

    A ``FutureWarning``, so people running the pipeline see it (Python hides
    ``DeprecationWarning`` outside ``__main__``).  :func:`skysieve.config.load_params`
    puts the params file's path in front of the message.
    """
