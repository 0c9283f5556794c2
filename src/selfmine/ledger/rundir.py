"""A run's directory: the one place that knows how a run is held, cached and resumed.

`selfmine run` (pipeline), `selfmine study` and `selfmine mine` keep their stages in the run dir's ledger
through this class, so all three follow one set of rules:
- one process at a time holds the dir (`hold`);
- a stage is recorded with the settings that decided it (`record`), and a rerun reuses or continues it only
  when it asks for the same ones (`check`), apart from keys the stage says may grow (more mining rounds
  extend mining); a stage computed on another kind of machine (`numerics.*`) is refused as well;
- the config of the latest run is kept beside the ledger (`snapshot`);
- output a stage writes is started afresh (`fresh`): a folder left by an interrupted attempt is removed;
- a dir made by a selfmine whose run-dir layout differs (LAYOUT) is refused in one line, not resumed with
  other meanings (an older dir recorded its settings elsewhere)."""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from ..config import first_difference
from ..errors import UserError
from .store import Ledger, run_dir_lock

LAYOUT = 2  # 2: settings recorded with each stage, machine class included, one seed scheme (seeds.py)


class RunDirError(UserError):
    """A run dir that cannot be resumed by this run: its message names why and what to do."""


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)

    @contextmanager
    def ledger(self) -> Iterator[Ledger]:
        self.path.mkdir(parents=True, exist_ok=True)
        ledger = Ledger.in_run_dir(self.path)
        try:
            yield ledger
        finally:
            ledger.close()

    @contextmanager
    def hold(self) -> Iterator[RunDir]:
        """The dir for this process alone (a second process gets one line), its layout checked."""
        with run_dir_lock(self.path):
            self._check_layout()
            yield self

    def _check_layout(self) -> None:
        with self.ledger() as ledger:
            layout = ledger.get_meta("layout")
            if layout == LAYOUT:
                return
            if layout is None and not ledger.stages() and ledger.get_meta("config") is None:
                ledger.set_meta("layout", LAYOUT)  # a new run dir
                return
        made = "an older selfmine" if layout is None else f"run-dir layout {layout}"
        raise RunDirError(
            f"run dir {self.path} was made by {made}; this selfmine reads layout {LAYOUT} and would resume it "
            "differently: use a new --run-dir, or finish it with the selfmine version that started it"
        )

    # -- stages -----------------------------------------------------------------------------------------
    def status(self, name: str) -> str | None:
        with self.ledger() as ledger:
            return ledger.stage(name)

    def info(self, name: str) -> dict:
        with self.ledger() as ledger:
            return ledger.stage_info(name)

    def finished(self, name: str) -> dict | None:
        """The stage's recorded info when it is done, else None."""
        with self.ledger() as ledger:
            return ledger.stage_info(name) if ledger.stage(name) == "done" else None

    def record(self, name: str, status: str = "done", **info) -> None:
        with self.ledger() as ledger:
            ledger.set_stage(name, status, **info)

    def check(self, name: str, settings: dict, *, may_grow: Iterable[str] = ()) -> None:
        """The one rule for what a rerun may change: a recorded stage (done or interrupted) keeps the
        settings it was made with; a skipped one computed nothing and may be tried with others. Raises
        RunDirError naming the first key that differs."""
        with self.ledger() as ledger:
            status, old = ledger.stage(name), ledger.stage_info(name).get("settings")
        if old is None or status == "skipped":
            return
        grow = set(may_grow)
        diff = first_difference(
            {k: v for k, v in old.items() if k not in grow}, {k: v for k, v in settings.items() if k not in grow}
        )
        if diff is None:
            return
        key, was, now = diff
        if key == "numerics.vendor" and was is None:
            raise RunDirError(
                f"run dir {self.path}: stage {name!r} was recorded by an older selfmine that did not note the CPU "
                "vendor; resume it with the code it started with (scripts/evidence.sh does), or use a new --run-dir"
            )
        if key.startswith("numerics."):
            raise RunDirError(
                f"run dir {self.path}: stage {name!r} was computed on {was!r}, this machine is {now!r}: a "
                "paired comparison must not mix machines; resume it on its own kind of machine, or use a new --run-dir"
            )
        raise RunDirError(
            f"run dir {self.path}: stage {name!r} was done with {key}={was!r}, this run asks for {now!r}; use a "
            f"new --run-dir, or set {key} back to resume"
        )

    # -- files ------------------------------------------------------------------------------------------
    def snapshot(self, config: dict) -> None:
        """config.yaml: the configuration of the latest run on this dir, as run."""
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))

    def fresh(self, *parts: str) -> Path:
        """An output folder started afresh: what an interrupted earlier attempt left there is removed."""
        out = self.path.joinpath(*parts)
        if out.exists():
            shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        return out
