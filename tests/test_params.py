import pytest

from hybridrec import params
from hybridrec.errors import ParamsError
from tests.conftest import REPO, raw_params


def test_repository_params_load():
    p = params.load(REPO / "params.yaml")
    assert p.train.hidden == 32 and p.train.lr == 0.01 and p.train.epochs == 300 and p.train.weighted_loss
    assert p.subset.n_users == 800


def test_unknown_key_is_named():
    raw = raw_params(train={"hiden": 64})
    with pytest.raises(ParamsError, match="unknown key train.hiden"):
        params.parse(raw)


def test_wrong_type_is_named():
    with pytest.raises(ParamsError, match=r"train.epochs = 'many': must be an integer"):
        params.parse(raw_params(train={"epochs": "many"}))
    with pytest.raises(ParamsError, match="train.weighted_loss"):
        params.parse(raw_params(train={"weighted_loss": 1}))


def test_missing_key_is_named():
    raw = raw_params()
    del raw["split"]["seed"]
    with pytest.raises(ParamsError, match="missing key split.seed"):
        params.parse(raw)


def test_choice_and_range_checks():
    with pytest.raises(ParamsError, match="subset.strategy"):
        params.parse(raw_params(subset={"strategy": "best"}))
    with pytest.raises(ParamsError, match="subset.n_users = 0"):
        params.parse(raw_params(subset={"n_users": 0}))
    with pytest.raises(ParamsError, match="train.features"):
        params.parse(raw_params(train={"features": ["plot"]}))
    assert params.parse(raw_params(subset={"n_users": "all"})).subset.n_users == "all"


def test_bad_yaml_file(tmp_path):
    f = tmp_path / "params.yaml"
    f.write_text("train: [unclosed")
    with pytest.raises(ParamsError, match="not valid YAML"):
        params.load(f)
