import pytest

from dfq.api import dfq_profile, knob_names, settings_record
from dfq.settings import SHARED_FIELDS, DFQSettings
from dfq.sources.qimera import QimeraConfig


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"batch_size": 0}, "batch_size must be > 0"),
        ({"qimera_p": 1.5}, r"qimera_p must lie in \[0, 1\]"),
        ({"act_scale_lr": -1.0}, "act_scale_lr must be >= 0"),
        ({"freeze_weight_grid": "yes"}, "freeze_weight_grid must be true or false"),
        ({"ait_threshold": 2.0}, r"ait_threshold must lie in \[0, 1\]"),
        ({"qimera_classes": 1}, "qimera_classes must be >= 2"),
        ({"pool_size": 0}, "pool_size must be > 0"),
        ({"generator_stepz": 3}, "unknown setting 'generator_stepz'"),
    ],
)
def test_bad_settings_name_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        dfq_profile("quick", **overrides)


def test_profiles_take_overrides_and_ignore_none():
    s = dfq_profile("quick", finetune_steps=None, freeze_weight_grid=True)
    assert s.finetune_steps == DFQSettings().finetune_steps and s.freeze_weight_grid
    with pytest.raises(ValueError, match="unknown profile"):
        dfq_profile("huge")


def test_a_methods_knobs_live_in_its_config_not_in_the_shared_settings():
    assert not knob_names() & set(SHARED_FIELDS)
    assert {"pool_size", "generator_steps", "qimera_p", "ait_threshold"} <= knob_names()
    s = dfq_profile("smoke", qimera_p=0.7)
    assert s.config(QimeraConfig).qimera_p == 0.7 and s.config(QimeraConfig).generator_steps == 5
    assert "qimera_p" not in s.to_dict()
    record = settings_record(s)  # flat: the shared settings and every method's knobs
    assert record["qimera_p"] == 0.7 and record["batch_size"] == 16 and record["pool_size"] == 32
