"""anomaly_ae.inputs: a folder of images, arrays and IDX files is read, bad files are reported
with their reason, and missing or empty inputs are errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from anomaly_ae.inputs import InputError, read_inputs
from tests.helpers import write_mixed_folder


def test_folder_reports_bad_files_and_reads_the_rest(tmp_path: Path, digits: np.ndarray) -> None:
    bad = write_mixed_folder(tmp_path / "in", digits)
    inputs, skipped = read_inputs(tmp_path / "in", (1, 28, 28))
    reasons = {Path(s.path).name: s.reason for s in skipped}
    assert set(reasons) == set(bad)
    for name, expected in bad.items():
        assert expected in reasons[name], reasons[name]
    names = [Path(n).name for n in inputs.names]
    assert names == [
        "batch.npy[0]",
        "batch.npy[1]",
        "batch.npy[2]",
        "digit.png",
        "more-images-idx3-ubyte[0]",
        "more-images-idx3-ubyte[1]",
        "more-images-idx3-ubyte[2]",
        "noise.jpg",
    ]
    torch.testing.assert_close(inputs.images[3, 0], torch.from_numpy(digits[0]).float() / 255)


def test_missing_or_empty_inputs_are_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        read_inputs(tmp_path / "nowhere", (1, 28, 28))
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty folder"):
        read_inputs(tmp_path / "empty", (1, 28, 28))
