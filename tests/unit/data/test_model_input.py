"""anomaly_ae.data.model_input: one preprocessing for training and detection. The same pixels give
the same tensor whether the data module loads them or ``detect`` reads them from a file or an
array; colour channels first or last; sets of different shapes are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms import ToTensor

from anomaly_ae.data import ANOMALY, NORMAL, get_source
from anomaly_ae.data.model_input import InputError, to_float_images, to_model_input
from anomaly_ae.detector import Detector
from anomaly_ae.errors import ConfigError
from anomaly_ae.inputs import read_inputs
from anomaly_ae.models import AutoencoderModule
from tests.helpers import (
    COLOUR,
    TINY,
    TINY_SPLIT,
    data_module,
    make_tiny_root,
    normal_images,
    tiny_module,
    write_idx,
    write_pngs,
    write_split,
)

SHAPE = (1, 28, 28)
# every gray value 0-255, shuffled: no tiny normal image (a bright square on black) looks like it
KNOWN = np.random.default_rng(3).permutation(np.arange(28 * 28) % 256).astype(np.uint8)
KNOWN = KNOWN.reshape(28, 28)
KNOWN_AT = {"train": 11, "t10k": 7}  # where it sits in MNIST's train and test files


@pytest.fixture
def known_root(tmp_path: Path) -> Path:
    """A tiny data root whose MNIST train and test splits each hold ``KNOWN``."""
    root = make_tiny_root(tmp_path / "data")
    rng = np.random.default_rng(5)
    for prefix, n in (("train", TINY["train"]), ("t10k", TINY["test"])):
        images = normal_images(n, rng)
        images[KNOWN_AT[prefix]] = KNOWN
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        write_split(root / "MNIST" / "raw", prefix, images, labels)
    return root


@pytest.fixture
def known_files(tmp_path: Path) -> Path:
    """``KNOWN`` as a PNG, a .npy array and an IDX file, in one folder."""
    folder = tmp_path / "inputs"
    folder.mkdir()
    Image.fromarray(KNOWN).save(folder / "known.png")
    np.save(folder / "known.npy", KNOWN)
    write_idx(folder / "known-images-idx3-ubyte", KNOWN[None])
    return folder


def detect_path_tensors(folder: Path) -> dict[str, torch.Tensor]:
    """Each file's image as ``read_inputs`` (behind ``detect`` and ``detect_path``) gives it."""
    inputs, skipped = read_inputs(folder, SHAPE)
    assert not skipped
    names = [Path(name).name for name in inputs.names]
    assert names == ["known-images-idx3-ubyte[0]", "known.npy[0]", "known.png"]
    return dict(zip(names, inputs.images, strict=True))


@pytest.fixture
def spy_detector(monkeypatch: pytest.MonkeyPatch) -> tuple[Detector, list[torch.Tensor]]:
    """A detector (untrained weights) that records the tensors its model is asked to score."""
    model = AutoencoderModule(input_shape=SHAPE)
    model.threshold.value.fill_(1.0)
    model.threshold.calibration = {}
    seen: list[torch.Tensor] = []
    score_images = model.score_images

    def record(images: torch.Tensor, batch_size: int = 10_000) -> torch.Tensor:
        seen.append(images.clone())
        return score_images(images, batch_size)

    monkeypatch.setattr(model, "score_images", record)
    return Detector(model), seen


def assert_same_tensor(a: torch.Tensor, b: torch.Tensor, what: str = "") -> None:
    assert a.dtype == b.dtype == torch.float32 and a.shape == b.shape, what
    assert torch.equal(a, b), f"{what}: largest difference {float((a - b).abs().max())}"


def test_a_test_set_image_is_the_same_tensor_in_training_and_in_detect(
    known_root: Path, known_files: Path, spy_detector: tuple[Detector, list[torch.Tensor]]
) -> None:
    dm = tiny_module(known_root)
    dm.setup("test")
    test = dm.test_set
    loaded = test.images[test.targets == NORMAL][KNOWN_AT["t10k"]]
    assert_same_tensor(loaded, torch.from_numpy(KNOWN)[None].to(torch.float32) / 255.0)
    for name, image in detect_path_tensors(known_files).items():
        assert_same_tensor(image, loaded, name)
    detector, seen = spy_detector
    detector.score(KNOWN)
    detector.score(torch.from_numpy(KNOWN))
    detector.score(KNOWN[None, None])
    detector.detect_path(known_files)
    assert len(seen) == 4
    for images in seen[:3]:
        assert_same_tensor(images, loaded[None])
    assert_same_tensor(seen[3], loaded[None].expand(3, -1, -1, -1))


def test_a_training_image_is_the_same_tensor_in_training_and_in_detect(
    known_root: Path, known_files: Path
) -> None:
    dm = tiny_module(known_root)
    dm.setup("fit")
    loaded = torch.cat([dm.train_set.images, dm.val_set.images])
    assert len(loaded) == sum(TINY_SPLIT.values())
    detected = detect_path_tensors(known_files)["known.png"]
    matches = [i for i in range(len(loaded)) if torch.equal(loaded[i], detected)]
    assert len(matches) == 1, "the known image is in the training or validation split once"


def test_training_data_keep_their_exact_values() -> None:
    """``uint8 / 255`` in float32 (torchvision's ``ToTensor``), whatever the number of images:
    an IDX stack of three is three gray images, not one colour image."""
    images = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (3, 5, 7), np.uint8))
    before = images.clone()
    floats = to_float_images(images)
    assert floats.shape == (3, 1, 5, 7) and floats.is_contiguous()
    assert torch.equal(floats, images[:, None].to(torch.float32) / 255.0)
    assert torch.equal(images, before), "the uint8 images are left as they were"
    assert torch.equal(floats, to_model_input(images[:, None], (1, 5, 7)))


def test_a_colour_png_made_gray_is_pil_luma_applied_once(tmp_path: Path) -> None:
    rgb = np.random.default_rng(1).integers(0, 256, (28, 28, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "colour-alpha.png")
    inputs, skipped = read_inputs(tmp_path, SHAPE, grayscale=True)
    assert not skipped and inputs.images.shape == (2, *SHAPE)
    assert torch.equal(inputs.images[0], inputs.images[1]), "alpha is dropped"
    gray = inputs.images[0, 0]
    assert torch.equal(gray, to_model_input(rgb, SHAPE, grayscale=True)[0, 0])
    # ITU-R 601-2 luma of the [0, 1] values, once
    once = torch.from_numpy(rgb).to(torch.float32).div(255.0) @ torch.tensor([0.299, 0.587, 0.114])
    torch.testing.assert_close(gray, once, rtol=0, atol=1e-6)
    # PIL's convert("L") rounds the same sum to whole 0-255 steps
    pil = torch.from_numpy(np.array(Image.fromarray(rgb).convert("L"))).to(torch.float32) / 255.0
    assert float((gray - pil).abs().max()) <= 0.51 / 255
    assert float((gray - pil).abs().max()) > 0, "not rounded: the float luma is kept"


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("alpha", [False, True])
def test_channels_first_and_channels_last_colour_give_the_same_tensor(
    dtype: type, alpha: bool
) -> None:
    rng = np.random.default_rng(2)
    last = rng.integers(0, 256, (5, 28, 28, 4 if alpha else 3), dtype=np.uint8)
    if dtype is not np.uint8:
        last = (last / 255.0).astype(dtype)
    first = np.ascontiguousarray(np.moveaxis(last, -1, 1))
    expected = to_model_input(first, SHAPE, grayscale=True)
    assert expected.shape == (5, *SHAPE)
    forms = {
        "(N, H, W, C)": last,
        "(N, H, W, C) view of (N, C, H, W)": np.moveaxis(first, 1, -1),
        "(N, C, H, W) view of (N, H, W, C)": np.moveaxis(last, -1, 1),
        "tensor (N, H, W, C)": torch.from_numpy(last),
        "tensor view (N, C, H, W)": torch.from_numpy(last).movedim(-1, 1),
    }
    for form, images in forms.items():
        assert torch.equal(to_model_input(images, SHAPE, grayscale=True), expected), form
    # one image: (H, W, C), and (3, H, W) (a (4, H, W) array is four gray images)
    one = to_model_input(last[0], SHAPE, grayscale=True)
    assert torch.equal(one, expected[:1])
    if not alpha:
        assert torch.equal(to_model_input(first[0], SHAPE, grayscale=True), one)


def test_colour_channels_last_in_more_than_four_dimensions_are_refused() -> None:
    """Never guessed (nor made gray twice): ``(N, 3, H, W, 3)`` is no layout of images."""
    images = np.zeros((2, 3, 28, 28, 3), dtype=np.uint8)
    with pytest.raises(InputError, match=r"expected \(H, W\), \(N, H, W\) or \(N, C, H, W\)"):
        to_model_input(images, SHAPE, grayscale=True)
    with pytest.raises(InputError, match="pass grayscale=true to make them gray"):
        to_model_input(images, SHAPE)


def test_pixels_are_scaled_exactly_like_torchvision_to_tensor(tiny_root: Path) -> None:
    dm = tiny_module(tiny_root)
    dm.setup("test")
    raw = get_source("mnist", "data.normal").load(tiny_root, "test").images
    normal = dm.test_set.images[dm.test_set.targets == NORMAL]  # in their file's order
    for i in (0, 7, len(raw) - 1):
        expected = ToTensor()(Image.fromarray(raw[i].numpy(), mode="L"))
        torch.testing.assert_close(normal[i], expected, rtol=0, atol=0)


def test_sets_of_different_shapes_are_refused_naming_both_and_the_fix(tiny_root: Path) -> None:
    gray_anomalies = data_module(
        tiny_root, normal=COLOUR, anomaly="kmnist", val_size=5, test_size=5
    )
    with pytest.raises(ConfigError) as err:
        gray_anomalies.setup("fit")
    assert str(err.value).startswith(
        "data.anomaly (KMNIST) images are (1, 28, 28) but data.normal (FakeData) images are "
        "(3, 32, 32): 1-channel images cannot become 3-channel ones"
    )
    colour_anomalies = data_module(tiny_root, anomaly=COLOUR, **TINY_SPLIT)
    with pytest.raises(ConfigError) as err:
        colour_anomalies.setup("fit")
    assert str(err.value) == (
        "data.anomaly (FakeData) images are (3, 32, 32) but data.normal (MNIST) images are "
        "(1, 28, 28); pass data.grayscale=true to make them gray and data.resize=true to "
        "resize them"
    )
    made_fit = data_module(tiny_root, anomaly=COLOUR, grayscale=True, resize=True, **TINY_SPLIT)
    made_fit.setup()
    assert int((made_fit.test_set.targets == ANOMALY).sum()) == 40


# ---------------------------------------------------------------------- colour in preprocessing
def test_a_colour_model_takes_colour_channels_first_or_last(tmp_path: Path) -> None:
    rgb = np.random.default_rng(6).integers(0, 256, (2, 8, 8, 3), dtype=np.uint8)
    expected = torch.from_numpy(rgb).permute(0, 3, 1, 2).to(torch.float32) / 255.0
    assert torch.equal(to_model_input(rgb, (3, 8, 8)), expected)
    assert torch.equal(to_model_input(np.moveaxis(rgb, -1, 1), (3, 8, 8)), expected)
    rgba = np.concatenate([rgb, np.full((2, 8, 8, 1), 255, np.uint8)], axis=-1)
    assert torch.equal(to_model_input(rgba, (3, 8, 8)), expected), "alpha is dropped"
    with pytest.raises(InputError, match="pass grayscale=true"):
        to_model_input(rgb, (1, 8, 8))
    inputs, skipped = read_inputs(write_pngs(tmp_path / "colour", rgb), (3, 8, 8))
    assert not skipped and torch.equal(inputs.images, expected)
