"""`data_manifest.csv`, the bundle's record of the images a model saw: one row per image, `split,label,relpath,sha256`
(paths relative to the training data root, sorted). The one writer and the one reader; every tool that needs a
bundle's splits (OOD guard, heatmap check, operating point, the wizard) reads it here.

Written with the csv module: a field holding a comma, a quote or a line break is quoted, and every other row is
byte for byte what the earlier unquoted writer produced, so the manifest hash of an existing data set (the card's
`training_data[].manifest_sha256`, and the run fingerprint `--resume` checks) does not change. Manifests written
before quoting still read: a row of more than four fields is an unquoted one whose file name held commas (split
and label never do), put back together."""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from inference.errors import BundleError

MANIFEST_FILE = "data_manifest.csv"
COLUMNS = ("split", "label", "relpath", "sha256")


@dataclass(frozen=True, order=True)
class ManifestRow:
    split: str
    label: str
    relpath: str  # POSIX path relative to the data root (absolute for a folder outside it)
    sha256: str

    def path(self, data_root: str | Path) -> Path:
        return Path(data_root) / self.relpath


def relative_path(path: Path, data_root: Path) -> str:
    """How a file is named in the manifest: relative to the data root when inside it, else as given."""
    try:
        return path.relative_to(data_root).as_posix()
    except ValueError:
        return path.as_posix()


def manifest_bytes(rows: Iterable[ManifestRow]) -> bytes:
    """The manifest file's content: the header, then the rows sorted (split, label, relpath, sha256)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    writer.writerows((row.split, row.label, row.relpath, row.sha256) for row in sorted(rows))
    return buffer.getvalue().encode("utf-8")


def parse_manifest(data: bytes, where: str | Path) -> list[ManifestRow]:
    """The rows of a manifest's bytes (quoted or from the earlier unquoted writer); BundleError naming `where`
    when it is not a data manifest."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BundleError(where, "the data manifest is not UTF-8 text") from None
    records = list(csv.reader(io.StringIO(text, newline="")))
    if not records or tuple(records[0]) != COLUMNS:
        raise BundleError(where, f"not a data manifest: the first line must be {','.join(COLUMNS)}")
    if all(len(record) == len(COLUMNS) for record in records[1:]):
        return [ManifestRow(*record) for record in records[1:]]
    return _parse_unquoted(text, where)


def _parse_unquoted(text: str, where: str | Path) -> list[ManifestRow]:
    rows = []
    for number, line in enumerate(text.split("\n")[1:], start=2):
        if not line:
            continue
        parts = line.split(",")
        if len(parts) < len(COLUMNS):
            raise BundleError(where, f"line {number} of the data manifest has {len(parts)} fields, not "
                                     f"{len(COLUMNS)} ({','.join(COLUMNS)})")
        rows.append(ManifestRow(parts[0], parts[1], ",".join(parts[2:-1]), parts[-1]))
    return rows


def read_manifest(bundle_dir: str | Path) -> list[ManifestRow]:
    """The rows of `bundle_dir/data_manifest.csv`; BundleError when it is missing or unreadable."""
    path = Path(bundle_dir) / MANIFEST_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise BundleError(path, "missing; the bundle does not record its training splits") from None
    except OSError as exc:
        raise BundleError(path, f"cannot read the data manifest ({exc.strerror or exc})") from None
    return parse_manifest(data, path)


def paths_by_split(rows: Iterable[ManifestRow], data_root: str | Path) -> dict[str, list[Path]]:
    """split -> the files of that split under `data_root`, in manifest order (splits in order of appearance)."""
    splits: dict[str, list[Path]] = {}
    for row in rows:
        splits.setdefault(row.split, []).append(row.path(data_root))
    return splits
