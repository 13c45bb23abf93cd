"""The tune → train hand-over: this process's trials' fold models, the best moved to the train checkpoint."""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from skysieve.train import TrainingCheckpoint

__all__ = ["TRIALS_SUFFIX"]

#: ``<handoff_dir>.trials`` holds the trials' finished folds until the best one is handed over.
TRIALS_SUFFIX = ".trials"


class _TrialModels:
    """The fold models of this process's trials under ``<handoff>.trials/<study>/trial-<n>``.

    Only the best complete trial of this process keeps its directory; a
    pruned or failed trial's, and a worse one's, go as soon as it ends, so
    the disk holds at most two trials' models. :meth:`hand_over` moves the
    kept one to the train checkpoint if it is the study's best.
    """

    def __init__(self, root: Path, study_name: str):
        self.directory = root / study_name
        self.kept: tuple[int, float] | None = None

    def checkpoint(self, trial_number: int, *, key: str, info: Mapping[str, Any]) -> TrainingCheckpoint:
        return TrainingCheckpoint.open(self.directory / f"trial-{trial_number}", key=key, resume=False,
                                       every_epoch=False, info=info)

    def _drop(self, trial_number: int) -> None:
        import shutil

        shutil.rmtree(self.directory / f"trial-{trial_number}", ignore_errors=True)

    def ended(self, trial_number: int, value: float | None) -> None:
        """Keep the trial's models if it completed better than the one kept so far; drop the loser."""
        if value is None or (self.kept is not None and not value > self.kept[1]):
            self._drop(trial_number)
            return
        if self.kept is not None:
            self._drop(self.kept[0])
        self.kept = (trial_number, float(value))

    def hand_over(self, best: int, *, target: Path, n_folds: int) -> Path | None:
        """Move the kept trial to ``target`` if it is trial ``best`` with every fold finished; clean up.

        Returns ``target`` if moved, else None.
        """
        import shutil

        handed = None
        if self.kept is not None and self.kept[0] == best:
            source = self.directory / f"trial-{best}"
            if len(TrainingCheckpoint(source, key="").finished_folds()) == n_folds:
                try:
                    if target.exists():
                        shutil.rmtree(target)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(source, target)
                    handed = target
                except OSError:
                    handed = None  # another process holds the target; training then trains anew
        self.close()
        return handed

    def close(self) -> None:
        """Drop the kept trial (if still here) and the directories, unless other workers' trials are in them."""
        if self.kept is not None:
            self._drop(self.kept[0])
            self.kept = None
        for directory in (self.directory, self.directory.parent):
            try:
                directory.rmdir()
            except OSError:
                break

