import json

import pytest
from click.testing import CliRunner

from accel_model.domain import LayerShape
from search.cli import main


def run(*args, env=None):
    return CliRunner().invoke(main, list(args), env=env)


@pytest.mark.parametrize("command", [[], ["train"], ["layers"], ["space"], ["data"], ["evaluate"]])
def test_help_everywhere(command):
    result = run(*command, "--help")
    assert result.exit_code == 0 and "Usage:" in result.output


def test_layers_prints_a_layers_file():
    result = run("layers", "--arch", "default", "--input-size", "3x32x32")
    assert result.exit_code == 0
    shapes = [LayerShape.from_dict(d) for d in json.loads(result.output)]
    assert shapes[0].in_channels == 3 and shapes[0].in_hw == (32, 32)


def test_arch_from_file_and_list(tmp_path):
    ops = json.loads(run("layers").output)
    assert ops
    from nas.space import SearchSpace

    arch = SearchSpace().default_arch()
    (tmp_path / "a.json").write_text(arch.to_json())
    assert run("layers", "--arch", str(tmp_path / "a.json")).output == run("layers").output
    assert run("layers", "--arch", ",".join(arch.ops)).output == run("layers").output


@pytest.mark.parametrize(
    "args,message",
    [
        (["layers", "--arch", "mb_k3_e3"], "error: --arch: 'mb_k3_e3' is not 'default'"),
        (["layers", "--arch", "mb_k3_e3,mb_k3_e3"], "error: --arch: arch has 2 ops"),
        (["layers", "--arch", "nope.json"], "error: --arch: No such file or directory: nope.json"),
        (["train", "--data-dir", "/nonexistent/x.npz"], "error: data: /nonexistent/x.npz: no such folder"),
    ],
)
def test_bad_input_is_one_line_exit_2(args, message):
    result = run(*args)
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines() == [message + result.output.strip().split(message, 1)[1]]
    assert result.output.startswith(message)


def test_bad_json_arch(tmp_path):
    (tmp_path / "a.json").write_text("{oops")
    result = run("layers", "--arch", str(tmp_path / "a.json"))
    assert result.exit_code == 2 and "invalid JSON" in result.output


def test_unknown_option_exit_2():
    assert run("train", "--epoch-count", "3").exit_code == 2


def test_train_refuses_to_clobber_and_trains(tmp_path, make_npz):
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    npz = str(make_npz(tmp_path / "d.npz", n_train=96, n_test=32, size=28, channels=1))
    result = run("train", "--data-dir", npz, "--out", str(out), "--profile", "smoke", "--quiet")
    assert result.exit_code == 2 and "--overwrite" in result.output
    assert (out / "keep.txt").read_text() == "precious"
    result = run(
        "train", "--data-dir", npz, "--out", str(out), "--profile", "smoke", "--quiet", "--overwrite"
    )
    assert result.exit_code == 0, result.output
    assert "test accuracy" in result.output and (out / "best.pt").is_file() and (out / "arch.json").is_file()
    evaluated = run("evaluate", str(out / "best.pt"), "--data-dir", npz)
    assert evaluated.exit_code == 0 and "test accuracy" in evaluated.output


def test_data_summary(fashion_mnist):
    result = run("data")
    assert result.exit_code == 0 and "train  55000 images" in result.output


def test_layers_at_a_deployment_input_and_a_bad_one(cli):
    import json

    big = json.loads(cli("layers", "--arch", "default", "--input-size", "3x224x224").output)
    assert big[0]["in_channels"] == 3 and big[0]["in_hw"] == [224, 224]
    result = cli("layers", "--input-size", "3x224x")
    assert result.exit_code == 2 and result.output.startswith("error:") and "--input-size" in result.output
