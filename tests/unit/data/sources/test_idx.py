"""anomaly_ae.data.sources.idx: reading IDX files, fetching only what is missing, and one clear
line for missing, corrupt or unreachable data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_ae.data import get_source
from anomaly_ae.errors import CorruptDataError, DataNotFoundError
from tests.helpers import TINY, tiny_module, write_idx


def test_source_reads_idx_files_written_in_the_real_format(tiny_root: Path) -> None:
    train = get_source("mnist", "data.normal").load(tiny_root, "train")
    assert train.images.shape == (TINY["train"], 28, 28)
    assert train.images.dtype == torch.uint8
    assert train.labels.shape == (TINY["train"],)
    kmnist = get_source("kmnist", "data.anomaly").load(tiny_root, "test")
    assert kmnist.images.shape == (TINY["anomaly"], 28, 28)


def test_anomaly_set_needs_only_its_test_split(tiny_root: Path) -> None:
    kmnist_raw = tiny_root / "KMNIST" / "raw"
    assert not list(kmnist_raw.glob("train-*")), "the fixture must not hold KMNIST train files"
    assert get_source("kmnist", "data.anomaly").missing_files(tiny_root, "test") == []


def test_missing_files_with_download_off_name_folder_and_files(tmp_path: Path) -> None:
    dm = tiny_module(tmp_path)
    with pytest.raises(DataNotFoundError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert str(tmp_path / "MNIST" / "raw") in message
    assert "train-images-idx3-ubyte, train-labels-idx1-ubyte" in message
    assert "ANOMALY_AE_DATA" in message and "download is off" in message


def test_missing_anomaly_set_without_network_says_how_to_go_on(
    fresh_root: Path, no_network: None
) -> None:
    for f in (fresh_root / "KMNIST" / "raw").iterdir():
        f.unlink()
    dm = tiny_module(fresh_root, download=True)
    with pytest.raises(DataNotFoundError) as err:
        dm.prepare_data()
    message = str(err.value)
    assert "KMNIST test files are missing" in message
    assert "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte" in message
    assert "download failed" in message and "name resolution" in message
    assert "data.anomaly=null" in message
    assert "\n" not in message


def test_download_fetches_only_missing_split_files(
    fresh_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (fresh_root / "KMNIST" / "raw" / "t10k-labels-idx1-ubyte").unlink()
    fetched: list[str] = []

    def fake_download(url: str, download_root: str, filename: str, md5: str) -> None:
        fetched.append(filename)
        labels = np.zeros(TINY["anomaly"], dtype=np.uint8)
        write_idx(Path(download_root) / filename.removesuffix(".gz"), labels)

    monkeypatch.setattr("anomaly_ae.data.sources.idx.download_and_extract_archive", fake_download)
    tiny_module(fresh_root, download=True).prepare_data()
    assert fetched == ["t10k-labels-idx1-ubyte.gz"]


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:1000])


def _bad_magic(path: Path) -> None:
    path.write_bytes(b"\x12\x34\x56\x78" + path.read_bytes()[4:])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _bad_magic, _empty])
def test_corrupt_file_gives_one_clear_line(fresh_root: Path, damage) -> None:
    path = fresh_root / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    damage(path)
    dm = tiny_module(fresh_root)
    with pytest.raises(CorruptDataError) as err:
        dm.setup("test")
    message = str(err.value)
    assert str(path) in message and "corrupt or truncated" in message
    assert "\n" not in message


def test_images_and_labels_of_different_lengths_are_corrupt(fresh_root: Path) -> None:
    write_idx(fresh_root / "MNIST" / "raw" / "t10k-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(CorruptDataError, match=r"holds 60 images but .* 5 labels"):
        tiny_module(fresh_root).setup("test")


def test_failed_download_leaves_no_new_folders(tmp_path: Path, no_network: None) -> None:
    root = tmp_path / "data"
    root.mkdir()
    with pytest.raises(DataNotFoundError, match="download failed"):
        tiny_module(root, download=True).prepare_data()
    assert list(root.iterdir()) == []


def test_read_only_data_folder_is_never_written(fresh_root: Path, no_network: None) -> None:
    kmnist = fresh_root / "KMNIST"
    for f in (kmnist / "raw").iterdir():
        f.unlink()
    (kmnist / "raw").rmdir()
    kmnist.rmdir()
    fresh_root.chmod(0o555)
    try:
        with pytest.raises(DataNotFoundError, match="is read-only, so nothing is downloaded"):
            tiny_module(fresh_root, download=True).prepare_data()
        assert not kmnist.exists()
    finally:
        fresh_root.chmod(0o755)
