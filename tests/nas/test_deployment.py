import pytest

from nas.cost_template import cost_template
from nas.deployment import InputSize, deployed_layers
from nas.space import SearchSpace


def test_input_sizes_parse_in_every_spelling_and_refuse_nonsense():
    assert InputSize.parse("224", 3) == InputSize(3, 224, 224)
    assert InputSize.parse("224x160", 1) == InputSize(1, 224, 160)
    assert InputSize.parse("3x224x224", 1) == InputSize(3, 224, 224)
    assert InputSize.parse("3x224x224", 1).label() == "3x224x224"
    assert InputSize.from_dict(InputSize(3, 64, 32).to_dict()) == InputSize(3, 64, 32)
    for bad in ("", "big", "3x224x224x2", "0", "1x-4x4", "99999"):
        with pytest.raises(ValueError, match="input"):
            InputSize.parse(bad, 1)


def test_the_deployment_input_sets_what_the_accelerator_runs():
    space = SearchSpace()
    arch = space.default_arch()
    small = deployed_layers(space, arch, InputSize(1, 28, 28), 10)
    large = deployed_layers(space, arch, InputSize(3, 224, 224), 10)
    assert len(small) == len(large)
    assert large[0].in_channels == 3 and small[0].in_channels == 1
    macs = lambda layers: sum(layer.macs for layer in layers)  # noqa: E731
    assert macs(large) > 50 * macs(small)  # (224/28)^2 = 64 times the pixels
    template = cost_template(space, (224, 224), 3)
    weights = template.layer_weights(template.one_hot([arch.ops]))[0]
    priced = {layer for layer, w in zip(template.unique_layers, weights, strict=True) if w > 0}
    assert priced == set(large)
