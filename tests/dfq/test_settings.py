import pytest

from dfq.settings import DFQSettings, dfq_profile


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"batch_size": 0}, "batch_size must be > 0"),
        ({"qimera_p": 1.5}, r"qimera_p must lie in \[0, 1\]"),
        ({"act_scale_lr": -1.0}, "act_scale_lr must be >= 0"),
        ({"freeze_weight_grid": "yes"}, "freeze_weight_grid must be true or false"),
    ],
)
def test_bad_settings_name_the_field(overrides, message):
    with pytest.raises(ValueError, match=message):
        DFQSettings(**overrides)


def test_profiles_take_overrides_and_ignore_none():
    s = dfq_profile("quick", finetune_steps=None, freeze_weight_grid=True)
    assert s.finetune_steps == DFQSettings().finetune_steps and s.freeze_weight_grid
    with pytest.raises(ValueError, match="unknown profile"):
        dfq_profile("huge")
