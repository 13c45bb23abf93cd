"""Gallery thumbnails of an SZ catalog: one panel per millimetre map, labelled with its frequency.

Each candidate is cut from every band map at its ``ra``, ``dec`` through the
map's WCS, on the side of the CNN's tiles (``TILE_PX`` of the catalog
header), bands from low to high frequency.  The panels are linear and
symmetric about zero on a blue–red scale, so the thermal SZ decrement
(:math:`\\Delta T/T_\\mathrm{CMB} = f(x)\\,y` with :math:`f(x) < 0` below
217 GHz) shows blue at 90 and 148 GHz and fades at 219 GHz.
"""

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from skysieve.errors import ConfigError, DataError
from skysieve.gallery import DEFAULT_SIZE_PX, open_images, thumbnails_from_images

__all__ = ["gallery_thumbnails"]


def gallery_thumbnails(rows: Any, images: tuple[Path, ...], *, size_px: int | None) -> Iterator[Any]:
    """Per-band panels of the mm maps ``images`` (``FREQ`` in each header) at each row.

    The hook :meth:`skysieve.tasks.Search.gallery_thumbnails` of the ``sz`` search.

    Raises
    ------
    ConfigError
        No maps given.
    DataError
        A map without ``FREQ`` or a celestial WCS, naming the file.
    """
    if not images:
        raise ConfigError("an SZ gallery cuts its thumbnails from the catalog's maps: give --images with one FITS map "
                          "per band (FREQ, celestial WCS), e.g. the --maps of skysieve catalog")
    side = size_px or int(rows.meta.get("TILE_PX", DEFAULT_SIZE_PX))
    with ExitStack() as stack:
        maps = open_images(images, stack)
        for m in maps:
            if m.freq_ghz is None:
                raise DataError(f"{m.path}: no FREQ in the header; an SZ gallery shows millimetre maps, one per band, "
                                "each with FREQ (GHz)")
        maps.sort(key=lambda m: m.freq_ghz)
        yield from thumbnails_from_images(rows, maps, size_px=side, signed=True)
