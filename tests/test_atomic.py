import os
import stat

import pytest

import ibhfn.atomic
from ibhfn.atomic import PARTIAL, atomic_path, check_writable, final_path, new_file, refuse_overwriting, remove_partials
from ibhfn.errors import InputError


def test_the_file_appears_under_its_final_name_only_when_complete(tmp_path):
    final = tmp_path / "sub" / "scene.tif"
    with atomic_path(final) as tmp:
        tmp.write_text("whole")
        assert tmp.parent == final.parent and not final.exists()
    assert final.read_text() == "whole" and list(final.parent.iterdir()) == [final]


def test_a_failure_leaves_nothing(tmp_path):
    final = tmp_path / "scene.tif"
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(final) as tmp:
            tmp.write_text("half")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_a_killed_process_s_partial_files_are_removed_and_no_other_s(tmp_path):
    pid = os.getpid() + 1  # as if another process had written them
    left = [
        tmp_path / f".a.tif.partial-{pid}",
        tmp_path / f".a.tif.partial-{pid}.strips",
        tmp_path / f".a.tif.json.partial-{pid}",
        tmp_path / f".a.tif.partial-{pid}.0a1b2c3d",
        tmp_path / f".a.tif.partial-{pid}.0a1b2c3d.strips.4e5f6a7b",
    ]
    kept = [tmp_path / f".b.tif.partial-{pid}0", tmp_path / "a.tif", tmp_path / f"c.partial-{pid}"]
    for path in left + kept:
        path.write_text("")
    assert remove_partials(tmp_path, pid) == sorted(left)
    assert sorted(tmp_path.iterdir()) == sorted(kept)


def test_a_file_where_the_folder_should_be_is_one_line(tmp_path):
    (tmp_path / "out").write_text("")
    with pytest.raises(InputError, match=rf"^{tmp_path / 'out'}: cannot create the folder \("):
        with atomic_path(tmp_path / "out" / "scene.tif"):
            pass


def test_a_folder_under_the_final_name_is_one_line(tmp_path):
    with pytest.raises(InputError, match=rf"^{tmp_path}: is a folder, not a file$"):
        with atomic_path(tmp_path):
            pass


def test_a_place_that_cannot_be_written_is_one_line_before_any_work(tmp_path):
    work = []
    with pytest.raises(InputError, match=r"^/proc/self/out.onnx: cannot be written \("):
        with atomic_path("/proc/self/out.onnx"):
            work.append("done")
    assert work == []


def test_an_output_over_an_input_is_refused(tmp_path):
    model = tmp_path / "model.onnx"
    refuse_overwriting(tmp_path / "other.onnx", model)
    with pytest.raises(InputError, match=r"model.onnx: is also an input \(.*\); write the output elsewhere"):
        refuse_overwriting(tmp_path / "sub" / ".." / "model.onnx", model)


def test_an_output_that_is_a_hard_link_to_an_input_is_refused(tmp_path):
    model = tmp_path / "model.onnx"
    model.write_bytes(b"onnx")
    os.link(model, tmp_path / "link.onnx")
    refuse_overwriting(tmp_path / "new.onnx", model, tmp_path / "missing.pt")  # outputs and inputs yet to exist
    with pytest.raises(InputError, match=r"link.onnx: is also an input"):
        refuse_overwriting(tmp_path / "link.onnx", model)


def test_a_destination_is_checked_without_a_file_left_behind(tmp_path):
    check_writable(tmp_path / "sub" / "model.onnx")
    assert list((tmp_path / "sub").iterdir()) == []
    (tmp_path / "model.onnx").mkdir()
    with pytest.raises(InputError, match=r"model.onnx: is a folder, not a file$"):
        check_writable(tmp_path / "model.onnx")


def test_temporary_names_carry_the_final_name_and_the_process(tmp_path):
    final = tmp_path / "scene.tif"
    with atomic_path(final) as tmp:
        assert tmp.name.startswith(f".scene.tif{PARTIAL}{os.getpid()}.") and final_path(tmp) == final
        beside = new_file(tmp.with_name(tmp.name + ".strips"))  # what a writer keeps beside its temporary file
        assert beside.name.startswith(tmp.name + ".strips.") and final_path(beside) == beside
    assert final_path(final) == final
    assert remove_partials(tmp_path, os.getpid()) == [beside] and list(tmp_path.iterdir()) == [final]


def test_a_link_at_the_temporary_name_is_never_written_through(tmp_path, monkeypatch):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    planted = [f"{number:08x}" for number in range(3)]
    for suffix in planted:
        (out / f".scene.tif{PARTIAL}{os.getpid()}.{suffix}").symlink_to(victim)
    names = iter([*planted, "0000000a"])
    monkeypatch.setattr(ibhfn.atomic.secrets, "token_hex", lambda size: next(names))  # the planted names come first
    with atomic_path(out / "scene.tif") as tmp:
        assert tmp.name.endswith(".0000000a") and not tmp.is_symlink()
        tmp.write_text("restored")
    assert victim.read_text() == "precious" and (out / "scene.tif").read_text() == "restored"
    assert sorted(path.name for path in out.iterdir() if path.is_symlink()) == sorted(
        f".scene.tif{PARTIAL}{os.getpid()}.{suffix}" for suffix in planted
    )


def test_a_temporary_file_swapped_for_a_link_is_not_renamed_into_place(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    final = tmp_path / "out" / "scene.tif"
    with pytest.raises(InputError, match=r"scene.tif: its temporary file .* was replaced while being written"):
        with atomic_path(final) as tmp:
            tmp.unlink()
            tmp.symlink_to(victim)
    assert victim.read_text() == "precious" and list(final.parent.iterdir()) == []


def test_the_output_replaces_a_link_at_its_final_name_and_takes_the_usual_mode(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("precious")
    final = tmp_path / "scene.tif"
    final.symlink_to(victim)
    umask = os.umask(0o022)
    try:
        with atomic_path(final) as tmp:
            tmp.write_text("restored")
    finally:
        os.umask(umask)
    assert victim.read_text() == "precious" and final.read_text() == "restored"
    assert stat.S_ISREG(os.lstat(final).st_mode) and stat.S_IMODE(os.lstat(final).st_mode) == 0o644
