import os
from pathlib import Path

import pytest

from ibhfn.errors import InputError
from ibhfn.runtime.pairing import (
    Pairing,
    ScenePair,
    pair_folder,
    read_manifest,
    refuse_overwriting_inputs,
    shard,
    single_pair,
)


def touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(b"x")


def test_folder_pairs_by_name_in_any_case_and_reports_unpaired(tmp_path):
    touch(
        tmp_path,
        "b_s1.tif",
        "b_S2.TIFF",
        "a_s1.TIF",
        "a_s2.tif",
        "lonely_s1.tif",
        "orphan_s2.tif",
        "notes.txt",
        "quicklook.tif",
        "truth/a_s2.tif",
        "truth/c_s1.tif",
    )
    pairing = pair_folder(tmp_path)
    assert pairing.pairs == [
        ScenePair("a", tmp_path / "a_s1.TIF", tmp_path / "a_s2.tif"),
        ScenePair("b", tmp_path / "b_s1.tif", tmp_path / "b_S2.TIFF"),
    ]
    messages = [str(p) for p in pairing.problems]
    assert messages == [
        f"{tmp_path / 'lonely_s1.tif'}: no S2 partner (lonely_s2.tif) beside it",
        f"{tmp_path / 'orphan_s2.tif'}: no S1 partner (orphan_s1.tif) beside it",
    ]


def test_names_match_exactly_not_by_substring(tmp_path):
    touch(tmp_path, "s_1_s1.tif", "s_10_s2.tif")
    pairing = pair_folder(tmp_path)
    assert pairing.pairs == [] and len(pairing.problems) == 2


def test_two_files_for_one_sensor_is_a_problem(tmp_path):
    touch(tmp_path, "a_s1.tif", "a_s1.tiff", "a_s2.tif")
    pairing = pair_folder(tmp_path)
    assert pairing.pairs == []
    assert "2 S1 files" in str(pairing.problems[0])


def test_folder_without_scene_files_explains_the_rule(tmp_path):
    touch(tmp_path, "scene_vv.tif")
    with pytest.raises(InputError, match=r"<name>_s1.tif.*1 other GeoTIFFs"):
        pair_folder(tmp_path)
    with pytest.raises(InputError, match="no such folder"):
        pair_folder(tmp_path / "missing")


def test_manifest_paths_are_relative_to_it(tmp_path):
    touch(tmp_path, "in/x1.tif", "in/x2.tif", "in/y_s1.tif", "in/y_s2.tif")
    manifest = tmp_path / "scenes.csv"
    manifest.write_text("s1,s2,name\nin/x1.tif,in/x2.tif,first\nin/y_s1.tif,in/y_s2.tif,\nin/z1.tif,in/y_s2.tif,z\n")
    pairing = read_manifest(manifest)
    assert [(p.name, p.s1.name) for p in pairing.pairs] == [("first", "x1.tif"), ("y", "y_s1.tif")]
    assert len(pairing.problems) == 1
    assert "z1.tif: listed on line 4 of scenes.csv but not found" in str(pairing.problems[0])


def test_manifest_needs_its_columns(tmp_path):
    manifest = tmp_path / "scenes.csv"
    manifest.write_text("sar,optical\na,b\n")
    with pytest.raises(InputError, match="s1,s2"):
        read_manifest(manifest)


def test_manifest_headers_in_any_case_after_an_excel_bom(tmp_path):
    touch(tmp_path, "a1.tif", "a2.tif")
    manifest = tmp_path / "scenes.csv"
    manifest.write_bytes("S1, S2 ,Name\r\na1.tif,a2.tif,first\r\n".encode("utf-8-sig"))
    assert [(p.name, p.s1.name, p.s2.name) for p in read_manifest(manifest).pairs] == [("first", "a1.tif", "a2.tif")]


def test_a_manifest_of_only_its_header_is_refused(tmp_path):
    manifest = tmp_path / "scenes.csv"
    manifest.write_text("s1,s2\n")
    with pytest.raises(InputError, match=r"scenes.csv: lists no scenes \(only its header\)$"):
        read_manifest(manifest)


@pytest.mark.parametrize("name", ["../../escaped", "/tmp/elsewhere", "sub/deep", "..", ".", "a\\b"])
def test_a_scene_name_that_would_leave_out_is_refused(tmp_path, name):
    touch(tmp_path, "a1.tif", "a2.tif")
    manifest = tmp_path / "scenes.csv"
    manifest.write_text(f"s1,s2,name\na1.tif,a2.tif,{name}\n")
    pairing = read_manifest(manifest)
    assert pairing.pairs == []
    assert [str(problem) for problem in pairing.problems] == [
        f"{manifest}: line 2 names its scene {name!r}: a scene name is a file name on one line, without folders, "
        "newlines or other control characters"
    ]


def test_an_empty_cell_is_named_with_its_line(tmp_path):
    touch(tmp_path, "a1.tif")
    manifest = tmp_path / "scenes.csv"
    manifest.write_text("s1,s2,name\na1.tif,,a\n\n,\n")  # the blank line 3 is skipped, and counted
    assert [str(problem) for problem in read_manifest(manifest).problems] == [
        f"{manifest}: line 2 has no s2 file",
        f"{manifest}: line 4 has no s1 and no s2 file",
    ]


def test_single_pair_reports_a_missing_file(tmp_path):
    touch(tmp_path, "a_s2.tif")
    pairing = single_pair(tmp_path / "a_s1.tif", tmp_path / "a_s2.tif")
    assert pairing.pairs == [] and "no such file" in str(pairing.problems[0])


def test_shards_partition_the_scenes_deterministically(tmp_path):
    pairs = [ScenePair(f"scene{i:02d}", tmp_path / f"{i}_s1.tif", tmp_path / f"{i}_s2.tif") for i in range(10)]
    pairing = Pairing(list(reversed(pairs)), [])
    shards = [shard(pairing, index, 3) for index in range(3)]
    names = [p.name for part in shards for p in part.pairs]
    assert sorted(names) == [p.name for p in pairs] and len(set(names)) == 10
    assert [p.name for p in shards[1].pairs] == ["scene01", "scene04", "scene07"]
    assert shard(pairing, 1, 3) == shards[1]
    with pytest.raises(InputError, match="3/3"):
        shard(pairing, 3, 3)


def test_scene_files_that_are_no_regular_files_are_named_and_not_their_partners(tmp_path):
    touch(tmp_path, "a_s1.tif", "a_s2.tif", "b_s2.tif", "c_s2.tif", "d_s1.tif", "e_s2.tif", "f_s1.tif")
    (tmp_path / "b_s1.tif").symlink_to(tmp_path / "gone.tif")
    (tmp_path / "c_s1.tif").symlink_to("c_s1.tif")
    os.mkfifo(tmp_path / "d_s2.tif")
    (tmp_path / "e_s1.tif").mkdir()
    (tmp_path / "f_s2.tif").symlink_to(tmp_path / "a_s2.tif")  # a link to a file is that file
    (tmp_path / "stray.tif").symlink_to(tmp_path / "gone.tif")  # not a scene file: left alone
    pairing = pair_folder(tmp_path)
    assert [pair.name for pair in pairing.pairs] == ["a", "f"]
    assert [str(problem) for problem in pairing.problems] == [
        f"{tmp_path / 'b_s1.tif'}: is a symbolic link to {tmp_path / 'gone.tif'}, which does not exist; copy the "
        "file here or point the link at it",
        f"{tmp_path / 'c_s1.tif'}: is a symbolic link in a loop (it leads back to itself), not a file; replace it "
        "with the file",
        f"{tmp_path / 'd_s2.tif'}: is a named pipe (FIFO), not a file; give the scene as a regular file",
        f"{tmp_path / 'e_s1.tif'}: is a folder, not a file; move it out of the way",
    ]


def test_a_folder_of_only_broken_scene_files_names_them(tmp_path):
    (tmp_path / "a_s1.tif").symlink_to("a_s1.tif")
    assert [problem.scene for problem in pair_folder(tmp_path).problems] == ["a"]


def test_a_manifest_or_a_single_pair_names_what_is_no_regular_file(tmp_path):
    touch(tmp_path, "a_s2.tif")
    os.mkfifo(tmp_path / "a_s1.tif")
    (tmp_path / "scenes.csv").write_text("s1,s2\na_s1.tif,a_s2.tif\n")
    pipe = f"{tmp_path / 'a_s1.tif'}: is a named pipe (FIFO), not a file; give the scene as a regular file"
    assert [str(p) for p in read_manifest(tmp_path / "scenes.csv").problems] == [
        pipe.replace("is a named", "listed on line 2 of scenes.csv but is a named")
    ]
    assert [str(p) for p in single_pair(tmp_path / "a_s1.tif", tmp_path / "a_s2.tif").problems] == [pipe]


def outputs_in(out_dir):
    return lambda pair: [out_dir / f"{pair.name}.tif", out_dir / f"{pair.name}.tif.json"]


def test_an_output_over_any_input_of_the_batch_stops_it(tmp_path):
    touch(tmp_path, "x_s1.tif", "x_s2.tif", "x_s2_s1.tif", "x_s2_s2.tif")
    pairing = pair_folder(tmp_path)
    with pytest.raises(
        InputError,
        match=rf"^{tmp_path / 'x_s2.tif'}: scene 'x_s2' would write this over "
        rf"{tmp_path / 'x_s2.tif'}, an input of scene 'x'; choose another OUT$",
    ):
        refuse_overwriting_inputs(pairing, outputs_in(tmp_path))
    refuse_overwriting_inputs(pairing, outputs_in(tmp_path / "out"))  # elsewhere: nothing to say
    refuse_overwriting_inputs(Pairing(pairing.pairs[:1]), outputs_in(tmp_path))  # scene x alone: x.tif is no input


@pytest.mark.parametrize("link", ["symbolic", "hard"])
def test_an_output_linked_to_an_input_counts_as_that_input(tmp_path, link):
    touch(tmp_path, "in/a_s1.tif", "in/a_s2.tif")
    (tmp_path / "out").mkdir()
    if link == "symbolic":
        (tmp_path / "out" / "a.tif").symlink_to(tmp_path / "in" / "a_s2.tif")
    else:
        os.link(tmp_path / "in" / "a_s2.tif", tmp_path / "out" / "a.tif")
    with pytest.raises(
        InputError,
        match=rf"^{tmp_path / 'out' / 'a.tif'}: scene 'a' would write this over "
        rf"{tmp_path / 'in' / 'a_s2.tif'}, its own input; choose another OUT$",
    ):
        refuse_overwriting_inputs(pair_folder(tmp_path / "in"), outputs_in(tmp_path / "out"))
