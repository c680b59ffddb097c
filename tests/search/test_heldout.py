from search.cli_dataset import DEFAULT_DATASET
from search.heldout import dataset_accelerators, heldout_setup


def test_held_out_accelerators_skip_every_excluded_one_and_keep_the_draw_before_it():
    networks, drawn = heldout_setup(str(DEFAULT_DATASET), 15, 1, seed=1)
    assert {"resnet18#224px", "mobilenet_v2#224px", "resnet20#32px", "search_space#0"} == set(networks)
    assert not set(drawn) & dataset_accelerators(str(DEFAULT_DATASET))
    _, again = heldout_setup(str(DEFAULT_DATASET), 15, 1, seed=1, exclude={drawn[12]})
    assert again[:12] == drawn[:12] and drawn[12] not in again and len(set(again)) == 15
