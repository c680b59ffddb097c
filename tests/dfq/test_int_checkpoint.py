"""The compact integer checkpoint reloads to a student that computes exactly what the saved one did."""

import pytest
import torch

from dfq.api import dfq_profile, quantize
from dfq.int_checkpoint import load_integer, pack_codes, save_integer, unpack_codes
from dfq.pipeline import load_quantized, save_quantized
from dfq.quant_model import QuantSpec
from nas.train import load_checkpoint


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 8, 12, 16])
def test_codes_pack_and_unpack_exactly(bits):
    codes = torch.randint(0, 2**bits, (7, 3, 3), generator=torch.Generator().manual_seed(bits)).float()
    packed = pack_codes(codes, bits)
    assert packed.numel() == {True: 32, False: 63}[bits <= 4] and packed.element_size() == (
        2 if bits > 8 else 1
    )
    assert torch.equal(unpack_codes(packed, bits, [7, 3, 3]), codes)


@pytest.mark.parametrize("w_bits,a_bits", [(4, 4), (8, 8), (3, 5)])
def test_the_reloaded_student_computes_the_same_and_the_file_is_smaller(tmp_path, w_bits, a_bits):
    teacher, meta = load_checkpoint("results/teachers/default_child.pt")
    student, _ = quantize(teacher, QuantSpec(w_bits, a_bits), meta, "noise", "none", dfq_profile("smoke"))
    spec = QuantSpec(w_bits, a_bits)
    save_integer(tmp_path / "q.int.pt", student, spec, meta, {"method": "noise+none"})
    save_quantized(tmp_path / "q.pt", student, spec, meta, {"method": "noise+none"})
    reloaded, facts = load_integer(tmp_path / "q.int.pt")
    again, _ = load_quantized(tmp_path / "q.int.pt")  # the general loader reads it too
    x = torch.randn(16, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(student(x), reloaded(x)) and torch.equal(student(x), again(x))
    assert facts["run"]["method"] == "noise+none"
    assert (tmp_path / "q.int.pt").stat().st_size < 0.6 * (tmp_path / "q.pt").stat().st_size


def test_other_files_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a coexplore integer checkpoint"):
        load_integer("results/teachers/default_child.pt")
