"""Run folders and their snapshots: ``<outdir>/<NNNNN>-<description>/`` holding
``network-snapshot-<kimg>/`` folders (the newest ``keep_snapshots`` kept), found again by
``--resume latest``, a run folder or a snapshot path, with the run's saved options."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from stylegan.errors import StyleGANError
from stylegan.training.config import TrainingConfig, load_training_options
from stylegan.training.state import TrainingState

SNAPSHOT_PATTERN = re.compile(r"^network-snapshot-(\d+)$")
RUN_PATTERN = re.compile(r"^(\d+)-")


def snapshot_name(cur_nimg: int) -> str:
    """``network-snapshot-<kimg:06d>``, as NVIDIA names them."""
    return f"network-snapshot-{cur_nimg // 1000:06d}"


def list_snapshots(run_dir: Path) -> list[Path]:
    """Snapshot folders of a run, oldest first."""
    if not run_dir.is_dir():
        return []
    found = [
        (int(m.group(1)), p.stat().st_mtime, p)
        for p in run_dir.iterdir()
        if p.is_dir() and (m := SNAPSHOT_PATTERN.match(p.name))
    ]
    return [p for *_, p in sorted(found)]


def find_latest_snapshot(outdir: str | Path) -> Path | None:
    """The newest snapshot in ``outdir`` itself (a run folder) or else in its newest run folder."""
    outdir = Path(outdir)
    own = list_snapshots(outdir)
    if own:
        return own[-1]
    if not outdir.is_dir():
        return None
    runs = sorted(
        (int(m.group(1)), p)
        for p in outdir.iterdir()
        if p.is_dir() and (m := RUN_PATTERN.match(p.name))
    )
    for _, run in reversed(runs):
        snapshots = list_snapshots(run)
        if snapshots:
            return snapshots[-1]
    return None


def new_run_dir(outdir: Path, description: str) -> Path:
    """``outdir/<NNNNN>-<description>`` with the next free number."""
    outdir.mkdir(parents=True, exist_ok=True)
    ids = [int(m.group(1)) for p in outdir.iterdir() if (m := RUN_PATTERN.match(p.name))]
    run_dir = outdir / f"{max(ids, default=-1) + 1:05d}-{description}"
    run_dir.mkdir()
    return run_dir


def run_description(config: TrainingConfig, dataset_name: str) -> str:
    """``<dataset>-<cfg>[-cond][-mirror]-batch<B>-gamma<g>``."""
    parts = [dataset_name, config.preset]
    parts += ["cond"] if config.cond else []
    parts += ["mirror"] if config.mirror else []
    parts += [f"batch{config.batch_size}", f"gamma{config.r1_gamma:g}"]
    return re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts))


def resolve_resume(resume: str | Path, outdir: Path) -> tuple[Path | str, Path | None]:
    """Turn ``--resume`` into ``(snapshot, run folder to continue in or None for a new one)``.

    ``latest`` and run folders continue in place; an explicit snapshot starts a new run folder.
    """
    if str(resume) == "latest":
        snapshot = find_latest_snapshot(outdir)
        if snapshot is None:
            raise StyleGANError(
                f"--resume latest: no network-snapshot-* found in {outdir} or its run folders; "
                "give --outdir of an earlier run or a snapshot path"
            )
        return snapshot, snapshot.parent
    from stylegan.io.download import is_url

    if is_url(str(resume)):
        return resume, None  # downloaded (and cached) when loaded
    path = Path(resume).expanduser()
    if not path.exists():
        raise StyleGANError(
            f"--resume: {path} does not exist; give a network-snapshot-* folder, a run folder "
            "or 'latest'"
        )
    if path.is_dir() and (path / "training_options.json").is_file():
        snapshots = list_snapshots(path)
        if not snapshots:
            raise StyleGANError(f"--resume: run folder {path} has no network-snapshot-* yet")
        return snapshots[-1], path
    return path, None


def saved_config(resume: str | Path, outdir: str | Path) -> TrainingConfig | None:
    """The options of the run that ``resume`` points at (None for foreign checkpoints)."""
    from stylegan.io.checkpoint import read_config
    from stylegan.io.formats import detect_format

    snapshot, run_dir = resolve_resume(resume, Path(outdir).expanduser())
    if run_dir is not None and (run_dir / "training_options.json").is_file():
        return load_training_options(run_dir)
    if not isinstance(snapshot, Path) or detect_format(snapshot) != "stylegan":
        return None  # a URL or another format (NVIDIA .pkl, rosinality .pt): no options
    options = read_config(snapshot).get("metadata", {}).get("training_options")
    return TrainingConfig.from_dict(options) if options else None


def save_snapshot(state: TrainingState, config: TrainingConfig, run_dir: Path) -> Path:
    """Write a resumable snapshot, then drop the oldest beyond ``keep_snapshots``."""
    path = run_dir / snapshot_name(state.cur_nimg)
    state.save(path, metadata={"run": run_dir.name, "training_options": config.to_dict()})
    for old in list_snapshots(run_dir)[: -config.keep_snapshots]:
        if old != path:
            shutil.rmtree(old, ignore_errors=True)
    return path
