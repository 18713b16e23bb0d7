"""training.data_manifest: the one writer and reader of a bundle's data_manifest.csv. A file name with a comma, a
quote or a line break comes back whole; rows without them are byte for byte what the earlier unquoted writer made
(so manifest hashes and --resume fingerprints stay); manifests of that writer still read, commas included."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from inference.errors import BundleError
from training.data_manifest import (MANIFEST_FILE, ManifestRow, manifest_bytes, parse_manifest, paths_by_split,
                                    read_manifest)

SHA = "ab" * 32


def _old_unquoted_writer(rows: list[tuple[str, str, str, str]]) -> bytes:
    """What training/export.py wrote before (a plain ",".join per row)."""
    lines = ["split,label,relpath,sha256"] + [",".join(r) for r in sorted(rows)]
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_names_with_commas_quotes_and_line_breaks_round_trip():
    rows = [ManifestRow("train", "NORMAL", "NORMAL/IM-0001, copy.jpeg", SHA),
            ManifestRow("test", "PNEUMONIA", 'PNEUMONIA/say "ah".png', SHA),
            ManifestRow("val", "NORMAL", "NORMAL/two\nlines.png", SHA),
            ManifestRow("val", "NORMAL", "NORMAL/plain.png", SHA)]
    data = manifest_bytes(rows)
    assert b'"NORMAL/IM-0001, copy.jpeg"' in data and b'"PNEUMONIA/say ""ah"".png"' in data
    assert parse_manifest(data, "m.csv") == sorted(rows)


def test_plain_rows_are_written_exactly_as_before():
    rows = [("val", "PNEUMONIA", "PNEUMONIA/person1_virus_6.jpeg", SHA), ("train", "NORMAL", "NORMAL/IM-0115-0001.jpeg", SHA),
            ("test", "NORMAL", "/elsewhere/test/NORMAL/x.png", SHA)]
    assert manifest_bytes(ManifestRow(*r) for r in rows) == _old_unquoted_writer(rows)


def test_an_old_unquoted_manifest_with_a_comma_in_a_name_still_reads(tmp_path):
    old = _old_unquoted_writer([("test", "NORMAL", "NORMAL/a, b,c.jpeg", SHA), ("train", "NORMAL", "NORMAL/d.jpeg", SHA)])
    (tmp_path / MANIFEST_FILE).write_bytes(old)
    rows = read_manifest(tmp_path)
    assert rows == [ManifestRow("test", "NORMAL", "NORMAL/a, b,c.jpeg", SHA), ManifestRow("train", "NORMAL", "NORMAL/d.jpeg", SHA)]
    assert paths_by_split(rows, tmp_path / "data") == {"test": [tmp_path / "data" / "NORMAL" / "a, b,c.jpeg"],
                                                      "train": [tmp_path / "data" / "NORMAL" / "d.jpeg"]}


def test_a_missing_or_foreign_manifest_is_a_bundle_error_naming_the_file(tmp_path):
    with pytest.raises(BundleError, match="data_manifest.csv: missing; the bundle does not record its training splits"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST_FILE).write_bytes(b"path,label\nx.png,NORMAL\n")
    with pytest.raises(BundleError, match="not a data manifest: the first line must be split,label,relpath,sha256"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST_FILE).write_bytes(b"split,label,relpath,sha256\ntrain,NORMAL\n")
    with pytest.raises(BundleError, match="line 2 of the data manifest has 2 fields"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST_FILE).write_bytes(b"split,label,relpath,sha256\n\xff\n")
    with pytest.raises(BundleError, match="not UTF-8"):
        read_manifest(tmp_path)


def test_a_training_data_file_named_with_a_comma_comes_back_from_the_manifest(shared_data, tmp_path):
    """prepare_data writes the manifest of a real folder whose file names hold commas; every row names a file
    that exists (before, the reader split the name at the comma)."""
    from training.stages.prepare import DataOptions, prepare_data, input_spec_for

    source = shared_data / "chest-xray-pneumonia" / "train"
    root = tmp_path / "data"
    for label in ("NORMAL", "PNEUMONIA"):
        (root / label).mkdir(parents=True)
        for i, path in enumerate(sorted((source / label).iterdir())[:12]):
            name = f"{path.stem}, copy {i}{path.suffix}" if i % 3 == 0 else path.name
            os.symlink(path, root / label / name)
    options = DataOptions(data=root, img_size=32)
    prepared = prepare_data(options, input_spec_for(options, pretrained=False), seed=0)
    rows = parse_manifest(prepared.manifest, "prepared")
    assert len(rows) == 24 and sum(", copy " in row.relpath for row in rows) == 8
    assert all(row.path(root).is_file() for row in rows)
    by_split = paths_by_split(rows, root)
    assert {split: len(paths) for split, paths in by_split.items()} == \
        {split: len(files) for split, files in prepared.split_files.items()}
    for split, files in prepared.split_files.items():
        assert sorted(by_split[split]) == sorted(Path(f.path) for f in files)
