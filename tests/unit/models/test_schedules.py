"""anomaly_ae.models.schedules and the module's preprocessing setting: bad schedules and
preprocessing are refused in one line."""

from __future__ import annotations

import pytest

from anomaly_ae.errors import ConfigError
from anomaly_ae.models import AutoencoderModule


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"scheduler": "multistep", "lr_milestones": [0]}, "strictly increasing positive"),
        ({"scheduler": "multistep", "lr_milestones": [5, 5]}, "strictly increasing positive"),
        ({"scheduler": "multistep", "lr_milestones": [250, 100]}, "strictly increasing"),
        ({"scheduler": "multistep", "lr_milestones": []}, "strictly increasing positive"),
        ({"scheduler": "multistep", "lr_milestones": [2.5]}, "strictly increasing positive"),
        ({"scheduler": "multistep"}, "scheduler=multistep needs model.lr_milestones"),
        ({"lr_milestones": [250]}, "are for model.scheduler=multistep, not None"),
        ({"scheduler": "cosine", "lr_milestones": [250]}, "multistep, not cosine"),
        ({"scheduler": "multistep", "lr_milestones": [9], "lr_gamma": 0}, "model.lr_gamma=0.0"),
        ({"scheduler": "step"}, "model.scheduler=step is unknown"),
        ({"preprocess": "zca"}, r"model\.preprocess=zca is unknown; choose null or gcn_minmax"),
    ],
)
def test_bad_schedules_and_preprocessing_are_refused(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as err:
        AutoencoderModule(**settings)
    assert "\n" not in str(err.value)
