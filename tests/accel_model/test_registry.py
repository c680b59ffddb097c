import pytest

from accel_model.networks import NETWORKS
from accel_model.registry import Registry
from accel_model.simulators import BACKENDS
from dfq.finetunes import FINETUNES
from dfq.sources import SOURCES
from nas.ops import OPS
from nas.zoo import ZOO
from search.baselines import BASELINES

ALL = {"backend": BACKENDS, "network": NETWORKS, "model": ZOO, "op": OPS, "source": SOURCES,
       "fine-tuning": FINETUNES, "baseline": BASELINES}  # fmt: skip


def test_register_get_names_and_mapping_reads():
    r: Registry[int] = Registry("thing")
    r.register("b")(2)
    r.add("a", 1)
    assert r.names() == ["a", "b"] and list(r) == ["a", "b"] and len(r) == 2
    assert r.get("a") == 1 and r["b"] == 2 and "a" in r and "c" not in r


def test_unknown_names_list_the_known_ones_and_duplicates_are_refused():
    r: Registry[int] = Registry("thing")
    r.add("a", 1)
    with pytest.raises(ValueError, match=r"unknown thing 'z'; allowed: a"):
        r.get("z")
    with pytest.raises(ValueError, match="registered twice"):
        r.add("a", 3)
    with pytest.raises(ValueError, match="non-empty name"):
        r.add("", 3)


def test_a_loader_registers_the_built_ins_on_first_lookup():
    calls = []
    r: Registry[int] = Registry("thing", loader=lambda: calls.append(r.add("built-in", 0)))
    assert not calls and r.names() == ["built-in"] and r.names() == ["built-in"] and len(calls) == 1


@pytest.mark.parametrize("kind", sorted(ALL))
def test_every_project_registry_is_one_and_knows_its_built_ins(kind):
    registry = ALL[kind]
    assert isinstance(registry, Registry) and len(registry) >= 1
    name = registry.names()[0]
    with pytest.raises(ValueError, match="registered twice"):
        registry.add(name, registry[name])
    with pytest.raises(ValueError, match=f"allowed: .*{name}"):
        registry.get("no such " + kind)
