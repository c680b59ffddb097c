from accel_model.training_tables import DEFAULT_DATASET
from search.heldout import dataset_accelerators, heldout_setup


def test_held_out_accelerators_skip_every_excluded_one_and_keep_the_draw_before_it():
    networks, drawn = heldout_setup(str(DEFAULT_DATASET), 15, 1, seed=1)
    assert {"resnet18#224px", "mobilenet_v2#224px", "resnet20#32px", "search_space#0"} == set(networks)
    assert not set(drawn) & dataset_accelerators(str(DEFAULT_DATASET))
    _, again = heldout_setup(str(DEFAULT_DATASET), 15, 1, seed=1, exclude={drawn[12]})
    assert again[:12] == drawn[:12] and drawn[12] not in again and len(set(again)) == 15


def test_extensions_reserve_the_30_accelerator_report_and_no_table_holds_them():
    from accel_model.training_tables import HELDOUT_ACCELS, RESERVED_ACCELS, TRAINING_TABLES
    from search.heldout import reserved_accelerators, tables_accelerators

    reserved, excluded = reserved_accelerators()
    trained = tables_accelerators([path for path in TRAINING_TABLES if path.exists()])
    assert len(set(reserved)) == RESERVED_ACCELS and not set(reserved) & trained
    _, default = heldout_setup(str(DEFAULT_DATASET), HELDOUT_ACCELS, 1, seed=1, exclude=trained)
    assert reserved[:HELDOUT_ACCELS] == default and f"--accels {RESERVED_ACCELS}" in excluded
