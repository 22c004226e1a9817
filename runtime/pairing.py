"""Which Sentinel-1 file goes with which cloudy Sentinel-2 file, and which worker runs which scene.

Naming rule for a folder: `<name>_s1.tif` pairs with `<name>_s2.tif` in the same folder (top level
only; `.tif` or `.tiff`; the `_s1`/`_s2` and the extension in any case; `<name>` exactly). A
manifest CSV instead lists `s1,s2[,name]` per row, paths relative to the CSV. Files that cannot be
paired are returned as problems, so the caller can report each one and still run the others; a
scene file that is no regular file (a link to nothing, a link loop, a named pipe) is named as such.
"""

from __future__ import annotations

import csv
import errno
import os
import re
import stat
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ibhfn.errors import InputError
from ibhfn.runtime.remote import input_path, is_remote

_SCENE_FILE = re.compile(r"^(?P<name>.+)_(?P<sensor>s[12])\.tiff?$", re.IGNORECASE)
RASTER_SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True, order=True)
class ScenePair:
    """One scene: its name (which names the output) and its two input files."""

    name: str
    s1: Path
    s2: Path


@dataclass(frozen=True)
class PairingProblem:
    """A file that cannot be run, and why; `scene` places it in the name order that shards follow."""

    path: Path
    message: str
    scene: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class Pairing:
    """The scenes found, sorted by name, and the files that could not be paired."""

    pairs: list[ScenePair] = field(default_factory=list)
    problems: list[PairingProblem] = field(default_factory=list)


def scene_name(s2: Path) -> str:
    """The scene name of an S2 file: its stem without a trailing `_s2`."""
    match = _SCENE_FILE.match(s2.name)
    return match["name"] if match else s2.stem


def not_a_file(path: Path) -> str | None:
    """Why `path` cannot be read as an input (missing, a link to nothing or in a loop, a pipe, a folder), or None.

    A remote input (a URL, a /vsi path) is judged when it is opened.
    """
    if is_remote(path):
        return None
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "is a symbolic link in a loop (it leads back to itself), not a file; replace it with the file"
        if os.path.islink(path):
            return (
                f"is a symbolic link to {os.readlink(path)}, which does not exist; copy the file here or "
                "point the link at it"
            )
        if exc.errno == errno.ENOENT:
            return "no such file"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a folder, not a file; move it out of the way"
    kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket or device"
    return f"is {kind}, not a file; give the scene as a regular file"


def pair_folder(folder: Path) -> Pairing:
    """Pair the `<name>_s1` and `<name>_s2` GeoTIFFs at the top level of `folder`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: {'not a folder' if folder.exists() else 'no such folder'}")
    found: dict[str, dict[str, list[Path]]] = defaultdict(lambda: {"s1": [], "s2": []})
    unreadable: dict[str, list[PairingProblem]] = defaultdict(list)  # scene files that are no regular file
    others = 0
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in RASTER_SUFFIXES:
            continue
        match = _SCENE_FILE.match(path.name)
        reason = not_a_file(path)
        if match is None:
            others += reason is None
        elif reason is not None:
            unreadable[match["name"]].append(PairingProblem(path, reason, match["name"]))
        else:
            found[match["name"]][match["sensor"].lower()].append(path)
    if not found and not unreadable:
        raise InputError(
            f"{folder}: no scene files named <name>_s1.tif and <name>_s2.tif"
            + (f" ({others} other GeoTIFFs do not follow this naming rule)" if others else "")
        )
    pairing = Pairing()
    for name in sorted(found.keys() | unreadable.keys()):
        if name in unreadable:  # its partner is there: "no partner" would mislead
            pairing.problems += unreadable[name]
        else:
            _add_pair(pairing, name, found[name]["s1"], found[name]["s2"])
    return pairing


def _add_pair(pairing: Pairing, name: str, s1: list[Path], s2: list[Path]) -> None:
    for sensor, files, partner in (("S1", s1, s2), ("S2", s2, s1)):
        if len(files) > 1:
            listed = ", ".join(f.name for f in files)
            pairing.problems.append(
                PairingProblem(files[0], f"scene {name!r} has {len(files)} {sensor} files: {listed}", name)
            )
            return
        if files and not partner:
            other = "S2" if sensor == "S1" else "S1"
            pairing.problems.append(
                PairingProblem(files[0], f"no {other} partner ({name}_{other.lower()}.tif) beside it", name)
            )
            return
    pairing.pairs.append(ScenePair(name, s1[0], s2[0]))


def read_manifest(manifest: Path) -> Pairing:
    """Read scene pairs from a CSV with columns s1, s2 and optionally name (any case; Excel's BOM is fine)."""
    manifest = Path(manifest)
    try:
        with manifest.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            reader.fieldnames = [column.strip().lower() for column in reader.fieldnames or ()]
            columns = set(reader.fieldnames)
            rows = [(reader.line_num, row) for row in reader]  # blank lines are skipped: count the file's own
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{manifest}: cannot read the manifest ({exc})") from None
    if not {"s1", "s2"} <= columns:
        raise InputError(f"{manifest}: a manifest needs the columns s1,s2[,name]; found {sorted(columns)}")
    if not rows:
        raise InputError(f"{manifest}: lists no scenes (only its header)")
    pairing = Pairing()
    names: set[str] = set()
    for line, row in rows:
        cells = {column: (row.get(column) or "").strip() for column in ("s1", "s2", "name")}
        s1, s2 = (input_path(cells[column], manifest.parent) for column in ("s1", "s2"))
        name = cells["name"] or scene_name(s2)
        empty = [column for column in ("s1", "s2") if not cells[column]]
        missing = [(p, reason) for p in (s1, s2) if (reason := not_a_file(p)) is not None]
        if empty:
            pairing.problems.append(PairingProblem(manifest, f"line {line} has no {' and no '.join(empty)} file", name))
        elif not plain_name(name):
            pairing.problems.append(
                PairingProblem(
                    manifest,
                    f"line {line} names its scene {name!r}: a scene name is a file name on one line, without "
                    "folders, newlines or other control characters",
                    name,
                )
            )
        elif missing:
            pairing.problems.extend(
                PairingProblem(
                    p,
                    f"listed on line {line} of {manifest.name} but "
                    + ("not found" if reason == "no such file" else reason),
                    name,
                )
                for p, reason in missing
            )
        elif name in names:
            pairing.problems.append(PairingProblem(s2, f"scene name {name!r} appears twice in {manifest.name}", name))
        else:
            names.add(name)
            pairing.pairs.append(ScenePair(name, s1, s2))
    pairing.pairs.sort()
    return pairing


def plain_name(name: str) -> bool:
    """Whether a scene name makes an output file inside OUT (not a path that leaves it) named on one line."""
    return bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and name.isprintable()


def single_pair(s1: Path, s2: Path) -> Pairing:
    """One scene given as its two files; a missing file becomes a problem."""
    s1, s2 = input_path(str(s1)), input_path(str(s2))
    name = scene_name(s2)
    problems = [PairingProblem(p, reason, name) for p in (s1, s2) if (reason := not_a_file(p)) is not None]
    pairs = [] if problems else [ScenePair(name, s1, s2)]
    return Pairing(pairs, problems)


def refuse_overwriting_inputs(pairing: Pairing, outputs: Callable[[ScenePair], Iterable[Path]]) -> None:
    """Stop a batch, with one line, where a file a scene writes (`outputs`) is an input of any of its scenes.

    Paths are compared once links are resolved, and existing files by identity too (hard links).
    """
    by_path: dict[str, tuple[Path, str]] = {}
    by_identity: dict[tuple[int, int], tuple[Path, str]] = {}
    for pair in pairing.pairs:
        for given in (pair.s1, pair.s2):
            by_path.setdefault(os.path.realpath(given), (given, pair.name))
            if (identity := _identity(given)) is not None:
                by_identity.setdefault(identity, (given, pair.name))
    for pair in pairing.pairs:
        for output in outputs(pair):
            identity = _identity(output)
            clash = by_path.get(os.path.realpath(output)) or (identity and by_identity.get(identity))
            if clash is not None:
                given, owner = clash
                whose = "its own input" if owner == pair.name else f"an input of scene {owner!r}"
                raise InputError(
                    f"{output}: scene {pair.name!r} would write this over {given}, {whose}; choose another OUT"
                )


def _identity(path: Path) -> tuple[int, int] | None:
    """The device and inode of the file at `path`, or None where there is none."""
    try:
        status = os.stat(path)
    except OSError:
        return None
    return status.st_dev, status.st_ino


def shard(pairing: Pairing, index: int, count: int) -> Pairing:
    """Worker `index` of `count` (0-based) takes every count-th scene in name order, problems included.

    The split depends only on the scene names, so every worker computes the same one independently.
    """
    if count < 1 or not 0 <= index < count:
        raise InputError(f"shard {index}/{count} is not valid; use i/n with 0 <= i < n")
    names = sorted({pair.name for pair in pairing.pairs} | {problem.scene for problem in pairing.problems})
    mine = set(names[index::count])
    return Pairing(
        sorted(pair for pair in pairing.pairs if pair.name in mine),
        [problem for problem in pairing.problems if problem.scene in mine],
    )
