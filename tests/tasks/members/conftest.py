"""Tiny seeded members fixtures: three clusters, the five `mixed` bands, 32-px cutouts."""

import pytest

from skysieve.config import CosmologyParams
from skysieve.tasks import TASKS_ENV, get_search, reset_searches
from skysieve.tasks.members.params import BAND_CONFIGS, SimulateMembersParams


def tiny_members_cfg(**overrides) -> SimulateMembersParams:
    """Three clusters, the `mixed` bands (F140W missing for ~12 %), 32-px cutouts, ~40 sources."""
    base = SimulateMembersParams()
    bands = tuple(b for b in base.bands if b.name in BAND_CONFIGS["mixed"])
    clusters = tuple(c for c in base.clusters if c.name in ("A383", "M0416", "M1149"))
    kw = {"bands": bands, "clusters": clusters, "size_px": 32, "sample_scale": 0.07, "neighbours_per_cutout": 0.3,
          "seed": 3}
    kw.update(overrides)
    return SimulateMembersParams(**kw)


@pytest.fixture(scope="session")
def members_cfg() -> SimulateMembersParams:
    return tiny_members_cfg()


@pytest.fixture(scope="session")
def members_sim(tmp_path_factory, members_cfg):
    """A tiny simulation on disk: (directory, truth table)."""
    from skysieve.tasks.members.sim import write_members_simulation

    out = tmp_path_factory.mktemp("members") / "sim"
    truth = write_members_simulation(members_cfg, CosmologyParams(), out, workers=1)
    return out, truth


@pytest.fixture
def members(monkeypatch):
    """The members search registered through the environment (whether or not its entry point is installed)."""
    monkeypatch.setenv(TASKS_ENV, "skysieve.tasks.members:search")
    reset_searches()
    yield get_search("members")
    monkeypatch.delenv(TASKS_ENV)
    reset_searches()
