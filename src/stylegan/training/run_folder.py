"""Run folders and their snapshots: ``<outdir>/<NNNNN>-<description>/`` holding
``network-snapshot-<kimg>/`` folders (the newest ``keep_snapshots`` kept), found again by
``--resume latest``, a run folder or a snapshot path, with the run's saved options.

A resume never silently loses the run: ``latest`` and a run folder skip damaged snapshots (and
say so) for the newest intact one, and a training snapshot without its training state is
refused unless the networks alone are asked for (``networks_only``).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from stylegan.errors import StyleGANError
from stylegan.io.atomic import recover_interrupted_swap
from stylegan.training.config import TrainingConfig, load_training_options
from stylegan.training.state import TrainingState

SNAPSHOT_PATTERN = re.compile(r"^network-snapshot-(\d+)$")
RUN_PATTERN = re.compile(r"^(\d+)-")


def snapshot_name(cur_nimg: int) -> str:
    """``network-snapshot-<kimg:06d>``, as NVIDIA names them."""
    return f"network-snapshot-{cur_nimg // 1000:06d}"


def list_snapshots(run_dir: Path) -> list[Path]:
    """Snapshot folders of a run, oldest first (damaged ones too: see :func:`resume_problems`).

    A snapshot that a crash left moved aside in the middle of a swap is moved back first.
    """
    if not run_dir.is_dir():
        return []
    recover_interrupted_swap(run_dir)
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


@dataclass
class ResumePoint:
    """Where a resume starts: the checkpoint, the run folder to continue in (None: a new one),
    and the newer snapshots skipped as damaged, each with one line saying why."""

    snapshot: Path | str
    run_dir: Path | None
    skipped: dict[Path, str] = field(default_factory=dict)


def _resume_target(resume: str | Path, outdir: Path) -> tuple[list[Path] | Path | str, Path | None]:
    """``(candidates newest first, run folder)`` for ``latest`` or a run folder, else
    ``(the snapshot, path or URL, None)``; raises when there is nothing to resume."""
    if str(resume) == "latest":
        newest = find_latest_snapshot(outdir)
        if newest is None:
            raise StyleGANError(
                f"--resume latest: no network-snapshot-* found in {outdir} or its run folders; "
                "give --outdir of an earlier run or a snapshot path"
            )
        return list_snapshots(newest.parent)[::-1], newest.parent
    from stylegan.io.download import is_url

    if is_url(str(resume)):
        return str(resume), None  # downloaded (and cached) when loaded
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
        return snapshots[::-1], path
    return path, None


def is_training_snapshot(path: Path | str) -> bool:
    """Whether ``path`` is a snapshot a training run of ours wrote, which always holds its
    training state (exports, conversions and foreign files hold networks alone by nature)."""
    from stylegan.io.checkpoint import read_config

    if not isinstance(path, Path) or not path.is_dir():
        return False
    if SNAPSHOT_PATTERN.match(path.name):
        return True
    try:
        return "training_options" in (read_config(path).get("metadata") or {})
    except StyleGANError:  # an unreadable config.json: resume_problems reports it
        return True


def resume_problems(snapshot: Path, networks_only: bool = False) -> list[str]:
    """Why a training snapshot cannot be resumed (``[]``: it can), one line each: damaged
    files, or no training state where the whole run is to continue."""
    from stylegan.io.checkpoint import STATE_JSON_FILE, verify_checkpoint

    problems = verify_checkpoint(snapshot, training_state=not networks_only)
    if not problems and not networks_only and not (snapshot / STATE_JSON_FILE).exists():
        problems.append(f"{snapshot} has no training state ({STATE_JSON_FILE})")
    return problems


def resolve_resume(resume: str | Path, outdir: Path, networks_only: bool = False) -> ResumePoint:
    """Turn ``--resume`` into the checkpoint to load and the run folder to continue in.

    ``latest`` and run folders continue in place from the newest snapshot that
    :func:`resume_problems` passes, skipping newer damaged ones; an explicit snapshot, and any
    resume of the networks alone (``networks_only``: kimg 0, fresh optimisers), start a new run
    folder. A damaged training snapshot, or one without its training state, is refused unless
    ``networks_only`` (and its networks are intact); foreign checkpoints are fine-tuned as ever.
    """
    target, run_dir = _resume_target(resume, Path(outdir).expanduser())
    if not isinstance(target, list):
        if is_training_snapshot(target):
            _check_snapshot(target, networks_only)
        return ResumePoint(target, None)
    skipped: dict[Path, str] = {}
    for snapshot in target:
        problems = resume_problems(snapshot, networks_only)
        if not problems:
            return ResumePoint(snapshot, None if networks_only else run_dir, skipped)
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        skipped[snapshot] = f"{snapshot.name}: {problems[0]}{more}"
    lines = list(skipped.values())
    listed = "; ".join(lines[:5]) + (f"; and {len(lines) - 5} more" if len(lines) > 5 else "")
    hint = "" if networks_only else " (or --networks-only to fine-tune from intact networks)"
    raise StyleGANError(
        f"--resume: no snapshot in {run_dir} can be resumed: {listed}; restore one from a "
        f"backup or resume from another checkpoint{hint}"
    )


def set_aside(snapshot: Path) -> Path:
    """Rename a damaged snapshot to ``NAME.damaged`` (nothing is deleted): out of the run's
    snapshot names, so the resumed run writes a new one when it reaches that kimg."""
    target, number = snapshot.with_name(f"{snapshot.name}.damaged"), 1
    while target.exists() or target.is_symlink():
        target, number = snapshot.with_name(f"{snapshot.name}.damaged-{number}"), number + 1
    snapshot.rename(target)
    return target


def _check_snapshot(snapshot: Path, networks_only: bool) -> None:
    """One line when an explicitly named training snapshot cannot continue its run."""
    problems = resume_problems(snapshot, networks_only)
    if not problems:
        return
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    if networks_only or resume_problems(snapshot, networks_only=True):
        raise StyleGANError(
            f"--resume: {problems[0]}{more}; the snapshot is damaged, resume from an earlier one"
        )
    raise StyleGANError(
        f"--resume: {problems[0]}{more}, so it cannot continue its run (counters, optimisers, "
        "RNG); give an earlier snapshot, or fine-tune from its networks with --networks-only "
        "(kimg 0, fresh optimisers)"
    )


def saved_config(resume: str | Path, outdir: str | Path) -> TrainingConfig | None:
    """The options of the run that ``resume`` points at (None for foreign checkpoints)."""
    from stylegan.io.checkpoint import read_config
    from stylegan.io.formats import detect_format

    target, run_dir = _resume_target(resume, Path(outdir).expanduser())
    if run_dir is not None and (run_dir / "training_options.json").is_file():
        return load_training_options(run_dir)
    for snapshot in target if isinstance(target, list) else [target]:
        if not isinstance(snapshot, Path) or detect_format(snapshot) != "stylegan":
            return None  # a URL or another format (NVIDIA .pkl, rosinality .pt): no options
        try:
            options = read_config(snapshot).get("metadata", {}).get("training_options")
        except StyleGANError:
            if isinstance(target, list):
                continue  # a damaged snapshot of a run folder: resolve_resume skips it too
            raise
        return TrainingConfig.from_dict(options) if options else None
    return None


def save_snapshot(state: TrainingState, config: TrainingConfig, run_dir: Path) -> Path:
    """Write a resumable snapshot, then drop the oldest beyond ``keep_snapshots``."""
    path = run_dir / snapshot_name(state.cur_nimg)
    state.save(path, metadata={"run": run_dir.name, "training_options": config.to_dict()})
    for old in list_snapshots(run_dir)[: -config.keep_snapshots]:
        if old != path:
            shutil.rmtree(old, ignore_errors=True)
    return path
