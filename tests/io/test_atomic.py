"""Writing checkpoints loses nothing: refused destinations, crash-safe swaps, stale temporaries
of dead processes, a full disk."""

import errno
import os
import shutil
import subprocess
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from file_tree import tree_digest
from safetensors import SafetensorError

import stylegan
from stylegan import files
from stylegan.errors import StyleGANError, format_bytes
from stylegan.io import atomic
from stylegan.io import checkpoint as ckpt
from stylegan.networks.stylegan2 import Generator
from stylegan.networks.stylegan2_discriminator import Discriminator

TINY_G = dict(
    z_dim=8, c_dim=0, w_dim=8, img_resolution=8, img_channels=3, channel_base=64, channel_max=8,
    mapping_kwargs=dict(num_layers=1),
)  # fmt: skip
TINY_D = dict(c_dim=0, img_resolution=8, img_channels=3, channel_base=64, channel_max=8)


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return {"G": Generator(**TINY_G), "D": Discriminator(**TINY_D)}


def dead_pid() -> int:
    """The id of a process that has just exited."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def networks_in(path) -> set[str]:
    return set(ckpt.load_checkpoint(path).networks)


# ---- refusing destinations ---------------------------------------------------------------------


def test_existing_folder_with_user_files_is_refused_and_left_unchanged(tmp_path, nets):
    photos = tmp_path / "photos"
    photos.mkdir()
    (photos / "holiday.jpg").write_bytes(b"\xff\xd8 not ours")
    (photos / "config.json").write_text('{"mine": true}')
    before = tree_digest(tmp_path)
    with pytest.raises(StyleGANError, match="already exists.*--overwrite"):
        stylegan.save(photos, G_ema=nets["G"])
    with pytest.raises(StyleGANError, match="is not a stylegan checkpoint.*even with --overwrite"):
        stylegan.save(photos, overwrite=True, G_ema=nets["G"])
    assert tree_digest(tmp_path) == before


def test_overwrite_replaces_only_our_own_checkpoints(tmp_path, nets):
    folder = stylegan.save(tmp_path / "net", G=nets["G"])
    stylegan.save(folder, overwrite=True, D=nets["D"])
    assert networks_in(folder) == {"D"}
    single = stylegan.save(tmp_path / "net.safetensors", G=nets["G"])
    stylegan.save(single, overwrite=True, D=nets["D"])
    assert networks_in(single) == {"D"}

    # Our checkpoint with a user's file added, a foreign .safetensors, a folder where a file
    # was asked for: refused even with overwrite, untouched.
    (folder / "notes.txt").write_text("my notes")
    from safetensors.torch import save_file

    save_file({"w": torch.ones(2)}, str(tmp_path / "foreign.safetensors"))
    stylegan.save(tmp_path / "dir.safetensors", D=nets["D"])  # a folder named like a file
    before = tree_digest(tmp_path)
    for dest in (folder, tmp_path / "foreign.safetensors"):
        with pytest.raises(StyleGANError, match="refusing to replace"):
            stylegan.save(dest, overwrite=True, G=nets["G"])
    assert tree_digest(tmp_path) == before


def test_new_file_appearing_during_the_write_is_not_replaced(tmp_path, nets, monkeypatch):
    dest = tmp_path / "g.safetensors"
    real = ckpt.save_file

    def racing(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)
        dest.write_text("written meanwhile by someone else")

    monkeypatch.setattr(ckpt, "save_file", racing)
    with pytest.raises(StyleGANError, match="appeared while it was being written"):
        stylegan.save(dest, G=nets["G"])
    assert dest.read_text() == "written meanwhile by someone else"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.safetensors"]


# ---- a crash at every instant of the swap -------------------------------------------------------


def _replace_in_dying_child(path, nets, step: int, use_exchange: bool) -> tuple[int, int]:
    """Replace checkpoint ``path`` in a forked child that dies (``os._exit``, like ``kill -9``)
    at the ``step``-th filesystem operation of the commit; ``(exit code, child pid)``."""
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        code = 1
        try:
            calls = {"n": 0, "armed": False}

            def dying(real):
                def wrapper(*args, **kwargs):
                    if calls["armed"]:
                        calls["n"] += 1
                        if calls["n"] == step:
                            os._exit(3)
                    return real(*args, **kwargs)

                return wrapper

            real_commit = atomic.commit

            def armed_commit(*args, **kwargs):
                calls["armed"] = True
                return real_commit(*args, **kwargs)

            atomic.commit = armed_commit
            # The swap lives in stylegan.files; the writer's own clean-up in io.atomic.
            files.exchange = dying(files.exchange) if use_exchange else (lambda a, b: False)
            files.remove_path = atomic.remove_path = dying(files.remove_path)
            os.rename = dying(os.rename)
            os.replace = dying(os.replace)
            ckpt.save_checkpoint(path, {"D": nets["D"]}, overwrite=True)
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), pid


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork to simulate a crash")
@pytest.mark.parametrize("use_exchange", [True, False], ids=["renameat2", "two-renames"])
def test_a_crash_at_any_instant_of_the_swap_keeps_a_loadable_snapshot(tmp_path, nets, use_exchange):
    if use_exchange and not atomic.exchange(tmp_path, tmp_path):
        pytest.skip("no renameat2(RENAME_EXCHANGE) here")
    run = tmp_path / "run"
    snap = run / "network-snapshot-000000"
    outcomes = []
    for step in range(1, 20):
        ckpt.save_checkpoint(snap, {"G": nets["G"]}, overwrite=True)  # the old snapshot
        code, pid = _replace_in_dying_child(snap, nets, step, use_exchange)
        moved_aside = run / f".{snap.name}.old-{pid}"
        # At that instant a complete snapshot exists under its name or, recoverably, aside.
        assert networks_in(snap if snap.exists() else moved_aside) in ({"G"}, {"D"}), step
        named = snap.exists()
        assert atomic.recover_interrupted_swap(run) == ([] if named else [snap]), step
        atomic.clean_stale_temporaries(run)
        found = networks_in(snap)
        assert found == {"D"} if code == 0 else found in ({"G"}, {"D"}), step
        assert [p.name for p in run.iterdir()] == [snap.name], step  # nothing left over
        outcomes.append((code, named, "".join(sorted(found))))
        if code == 0:
            break
        assert code == 3, step
    # Every step of the commit was interrupted once: before the swap (old kept), after it
    # (new kept) and, without an atomic exchange, between the two renames (old moved back).
    assert outcomes[-1][0] == 0 and (3, True, "G") in outcomes and (3, True, "D") in outcomes
    assert ((3, False, "G") in outcomes) == (not use_exchange), outcomes


def test_recover_interrupted_swap_moves_back_or_drops_the_old_folder(tmp_path, nets):
    snap = tmp_path / "network-snapshot-000004"
    ckpt.save_checkpoint(snap, {"G": nets["G"]})
    aside = tmp_path / f".{snap.name}.old-{dead_pid()}"
    os.rename(snap, aside)  # died between the two renames: no snapshot under its name
    assert atomic.recover_interrupted_swap(tmp_path) == [snap]
    assert networks_in(snap) == {"G"} and not aside.exists()

    ckpt.save_checkpoint(aside, {"D": nets["D"]})  # died after the new one arrived
    assert atomic.recover_interrupted_swap(tmp_path) == []
    assert networks_in(snap) == {"G"} and not aside.exists()

    live = tmp_path / f".{snap.name}.old-{os.getpid()}"  # a live writer mid-swap: left alone
    os.rename(snap, live)
    assert atomic.recover_interrupted_swap(tmp_path) == [] and live.is_dir()


# ---- temporaries of dead processes --------------------------------------------------------------


def test_stale_temporaries_of_dead_processes_are_removed_at_the_next_write(tmp_path, nets):
    dead = tmp_path / f".network-snapshot-000008.tmp-{dead_pid()}"
    ckpt.save_checkpoint(dead, {"G": nets["G"]})  # a whole snapshot left by kill -9
    live = tmp_path / f".network-snapshot-000012.tmp-{os.getpid()}"
    live.mkdir()
    mine = tmp_path / ".notes.tmp-draft"  # not one of ours: the pid part is not a number
    mine.write_text("keep")
    alike = tmp_path / f".draft.txt.tmp-{dead_pid()}"  # another program's, named alike
    alike.write_text("someone's unsaved text")
    other = tmp_path / f".photos.tmp-{dead_pid()}"
    other.mkdir()
    (other / "a.jpg").write_bytes(b"\xff\xd8")
    ckpt.save_checkpoint(tmp_path / "network-snapshot-000016", {"G": nets["G"]})
    names = sorted(p.name for p in tmp_path.iterdir())
    kept = [live.name, mine.name, alike.name, other.name]
    assert names == sorted([*kept, "network-snapshot-000016"])
    assert atomic.clean_stale_temporaries(tmp_path) == []


def test_partial_temporaries_of_every_writer_are_recognised(tmp_path, nets, monkeypatch):
    from stylegan.io import formats

    def dies_midway(real):
        def write(obj, path, *args, **kwargs):
            real(obj, path, *args, **kwargs)
            data = Path(path).read_bytes()
            Path(path).write_bytes(data[: len(data) // 3])  # cut short, as by kill -9
            raise KeyboardInterrupt

        return write

    # Pretend each writer ran in a process that has died since: its temporary is stale.
    monkeypatch.setattr(atomic, "temporary_path", lambda path, kind="tmp": path.with_name(
        f".{path.name}.{kind}-{dead_pid()}"))  # fmt: skip
    monkeypatch.setattr(atomic, "remove_path", lambda path: None)  # the dead leave it behind
    monkeypatch.setattr(ckpt, "save_file", dies_midway(ckpt.save_file))
    monkeypatch.setattr(formats.torch, "save", dies_midway(formats.torch.save))
    writes = [
        lambda: ckpt.save_checkpoint(tmp_path / "net", nets),
        lambda: ckpt.save_checkpoint(tmp_path / "net.safetensors", nets),
        lambda: formats.save_as(tmp_path / "net.pt", nets, to="official"),
    ]
    for write in writes:
        with pytest.raises(KeyboardInterrupt):
            write()
    assert len(list(tmp_path.iterdir())) == 3
    monkeypatch.undo()
    assert len(atomic.clean_stale_temporaries(tmp_path)) == 3
    assert list(tmp_path.iterdir()) == []


# ---- a full disk --------------------------------------------------------------------------------


def _needed_bytes(networks, state) -> int:
    tensors = [t for net in networks.values() for t in net.state_dict().values()]
    tensors += [t for t in state.values() if isinstance(t, torch.Tensor)]
    return sum(t.nbytes for t in tensors)


@pytest.mark.parametrize(
    "failure",
    [
        OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)),
        SafetensorError(
            'Error while serializing: IoError(Os { code: 28, kind: StorageFull, message: "'
            + os.strerror(errno.ENOSPC)
            + '" })'
        ),
    ],
    ids=["oserror", "safetensors"],
)
def test_disk_full_midway_keeps_the_previous_snapshot(tmp_path, nets, monkeypatch, failure):
    snap = ckpt.save_checkpoint(tmp_path / "network-snapshot-000000", {"G": nets["G"]})
    before = tree_digest(tmp_path)
    real = ckpt.save_file

    def fills_the_disk(tensors, filename, metadata=None):
        real(tensors, filename, metadata=metadata)  # model.safetensors lands, then no space
        raise failure

    monkeypatch.setattr(ckpt, "save_file", fills_the_disk)
    state = {"moments": torch.zeros(1000)}
    with pytest.raises(StyleGANError) as caught:
        ckpt.save_checkpoint(snap, nets, training_state=state, overwrite=True)
    message = str(caught.value)
    needed = _needed_bytes(nets, state)
    assert "\n" not in message and str(snap) in message
    assert f"needs about {format_bytes(needed)}" in message and "free" in message
    assert tree_digest(tmp_path) == before  # previous snapshot intact, no temporary left


def test_too_little_free_space_is_refused_before_writing(tmp_path, nets, monkeypatch):
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**9, 10**9, 1000))
    monkeypatch.setattr(ckpt, "save_file", lambda *a, **k: pytest.fail("wrote despite no space"))
    with pytest.raises(StyleGANError, match=r"not enough disk space .*1\.0 KiB free"):
        stylegan.save(tmp_path / "net", G=nets["G"])
    assert list(tmp_path.iterdir()) == []


def test_disk_full_during_a_pt_export_is_one_line(tmp_path, nets, monkeypatch):
    from stylegan.io import formats

    previous = formats.save_as(tmp_path / "g.pt", {"G": nets["G"]}, to="official")
    before = tree_digest(tmp_path)
    free = iter([10**12])  # enough at the check before writing, then the disk is full
    monkeypatch.setattr(atomic, "free_bytes", lambda folder: next(free, 0))

    def torch_save_on_a_full_disk(obj, path):
        path.write_bytes(b"PK\x03\x04 partial")
        # what torch.save raises: no errno, no "No space left on device"
        raise RuntimeError("[enforce fail] PytorchStreamWriter failed writing file data/3")

    monkeypatch.setattr(formats.torch, "save", torch_save_on_a_full_disk)
    with pytest.raises(StyleGANError, match=r"^not enough disk space to write .*g\.pt: it needs"):
        formats.save_as(previous, nets, to="official", overwrite=True)
    assert tree_digest(tmp_path) == before


def test_recovery_racing_another_process_neither_fails_nor_loses(tmp_path, nets, monkeypatch):
    snap = tmp_path / "network-snapshot-000004"
    aside = ckpt.save_checkpoint(tmp_path / f".{snap.name}.old-{dead_pid()}", {"G": nets["G"]})
    real_rename = os.rename

    def another_rank_was_first(src, dest):
        real_rename(src, dest)  # the other rank moves it back just before us
        raise FileNotFoundError(src)

    monkeypatch.setattr(os, "rename", another_rank_was_first)
    assert atomic.recover_interrupted_swap(tmp_path) == []
    assert networks_in(snap) == {"G"} and not aside.exists()
