"""Accelerator exports: ZigZag's own loader reads the files back to the cached numbers exactly, and the
Timeloop spec has the format's documented structure."""

import re

import pytest
import yaml

from accel_model.area import accelerator_area
from accel_model.domain import Accelerator
from accel_model.export import FORMATS, export_accelerator
from accel_model.export.timeloop_spec import DIMS
from accel_model.export.zigzag_files import simulate_files
from accel_model.simulators import make_simulator
from accel_model.technology import psum_bits, rf_split_bits
from nas.model import child_layer_shapes
from nas.space import SearchSpace

WS = Accelerator(pe_rows=14, pe_cols=12, rf_bytes=64, glb_kib=108, dataflow="WS", bits=8, clock_mhz=200)
RS4 = Accelerator(pe_rows=32, pe_cols=8, rf_bytes=16, glb_kib=32, dataflow="RS", bits=4, clock_mhz=200)


@pytest.mark.parametrize("accel", [WS, RS4], ids=["ws8", "rs4"])
def test_zigzag_files_simulate_to_the_backends_numbers_exactly(tmp_path, accel):
    layers = child_layer_shapes(SearchSpace().default_arch(), 28)[:3]  # stem, a 1x1 and a depthwise conv
    export_accelerator("zigzag", accel, layers, tmp_path / "zz")
    from_files = simulate_files(tmp_path / "zz", dump_folder=tmp_path / "dump")
    backend = make_simulator("zigzag")  # the cache's settings: lpf_limit 4, EDP, even
    for layer, cost in zip(layers, from_files, strict=True):
        expected = backend.simulate(layer, accel)
        assert (cost.latency_cycles, cost.energy_pj) == (expected.latency_cycles, expected.energy_pj)
        assert cost.area_mm2 == accelerator_area(accel) and cost.clock_mhz == accel.clock_mhz


def _leaves(node):
    yield from node.get("local", [])
    for child in node.get("subtree", []):
        yield from _leaves(child)


@pytest.mark.parametrize("accel", [WS, RS4], ids=["ws8", "rs4"])
def test_timeloop_spec_has_the_documented_structure(tmp_path, accel):
    (path,) = export_accelerator("timeloop", accel, [], tmp_path)
    spec = yaml.safe_load(path.read_text())
    assert set(spec) == {"architecture", "architecture_constraints"}
    arch = spec["architecture"]
    assert arch["version"] == 0.3 and [n["name"] for n in arch["subtree"]] == ["system"]
    chip = arch["subtree"][0]["subtree"][0]
    (pes,) = chip["subtree"]
    first, last = map(int, re.fullmatch(r"PE\[(\d+)\.\.(\d+)\]", pes["name"]).groups())
    assert (first, last + 1) == (0, accel.pe_rows * accel.pe_cols)
    leaves = {leaf["name"]: leaf for leaf in _leaves(arch["subtree"][0])}
    assert set(leaves) == {"DRAM", "shared_glb", "ifmap_spad", "weights_spad", "psum_spad", "mac"}
    for name, leaf in leaves.items():
        assert set(leaf) == {"name", "class", "attributes"}
        if name != "mac":
            attrs = leaf["attributes"]
            assert all(
                isinstance(attrs[k], int) and attrs[k] > 0 for k in ("width", "datawidth", "word-bits")
            )
    split = rf_split_bits(accel.rf_bytes, accel.bits)
    assert leaves["weights_spad"]["attributes"]["depth"] * accel.bits == split["W"]
    assert leaves["psum_spad"]["attributes"]["datawidth"] == psum_bits(accel.bits)
    glb = leaves["shared_glb"]["attributes"]
    assert glb["depth"] * glb["width"] == accel.glb_kib * 1024 * 8 and glb["datawidth"] == accel.bits
    assert all(leaf["attributes"]["meshX"] == accel.pe_cols for leaf in pes["local"])
    targets = spec["architecture_constraints"]["targets"]
    assert {t["type"] for t in targets} == {"bypass", "spatial"}
    for t in targets:
        assert t["target"] in leaves
        if t["type"] == "bypass":
            assert set(t["keep"]) | set(t["bypass"]) <= {"Inputs", "Weights", "Outputs"}
    (spatial,) = [t for t in targets if t["type"] == "spatial"]
    assert sorted(spatial["permutation"]) == sorted(DIMS) and 0 < spatial["split"] < len(DIMS)
    assert float(path.read_text().split("coexplore_area_mm2: ")[1].split()[0]) == accelerator_area(accel)


def test_the_dataflow_decides_what_the_array_unrolls(tmp_path):
    unrolled = {}
    for accel in (WS, RS4):
        (path,) = export_accelerator("timeloop", accel, [], tmp_path / accel.dataflow)
        (spatial,) = [t for t in yaml.safe_load(path.read_text())["architecture_constraints"]["targets"]
                      if t["type"] == "spatial"]  # fmt: skip
        unrolled[accel.dataflow] = {d for d in DIMS if f"{d}=1" not in spatial["factors"]}
    assert unrolled == {"WS": {"M", "C", "S", "R"}, "RS": {"R", "M", "P", "N"}}


def test_the_formats_are_a_registry_and_the_command_refuses_bad_input(tmp_path, cli):
    assert FORMATS.names() == ["timeloop", "zigzag"]
    hw = tmp_path / "hw.json"
    hw.write_text('{"pe_rows":14,"pe_cols":12,"rf_bytes":64,"glb_kib":108,"dataflow":"WS","bits":8}')
    ok = cli("export", "accelerator", hw, "--format", "timeloop", "--out", tmp_path / "t")
    assert ok.exit_code == 0, ok.output
    assert (tmp_path / "t" / "accelerator.timeloop.yaml").is_file()
    bad = cli("export", "accelerator", hw, "--format", "scalesim", "--out", tmp_path / "s")
    assert bad.exit_code == 2 and not (tmp_path / "s").exists()
    empty = tmp_path / "run"
    empty.mkdir()
    missing = cli("export", "accelerator", empty, "--format", "zigzag", "--out", tmp_path / "z")
    assert missing.exit_code == 2 and "accelerator.json" in missing.output and not (tmp_path / "z").exists()
