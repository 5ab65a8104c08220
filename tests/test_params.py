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


@pytest.mark.parametrize("section,override,message", [
    ("hybrid", {"dim": 0}, r"hybrid.dim = 0: must be >= 1"),
    ("hybrid", {"cold_dropout": 1.0}, r"hybrid.cold_dropout = 1.0: must be >= 0 and < 1"),
    ("hybrid", {"lr": 0.0}, r"hybrid.lr = 0.0: must be > 0"),
    ("hybrid", {"content_hidden": -1}, r"hybrid.content_hidden = -1: must be >= 0"),
    ("train", {"dropout": 1.0}, r"train.dropout = 1.0: must be >= 0 and < 1"),
])
def test_section_values_in_range(section, override, message):
    with pytest.raises(ParamsError, match=message):
        params.parse(raw_params(**{section: override}))


def _with_model(name, spec):
    raw = raw_params()
    raw["compare"]["models"][name] = spec
    return raw


@pytest.mark.parametrize("spec,message", [
    ({"kind": "hybrid", "options": {"dim": 0}}, r"compare.models.m.options.dim holds 0: must be >= 1"),
    ({"kind": "hybrid", "search": {"dim": [0, 16]}}, r"compare.models.m.search.dim holds 0: must be >= 1"),
    ({"kind": "gnn", "search": {"lr": {"low": 0.0, "high": 0.1}}}, r"compare.models.m.search.lr holds 0.0: must be > 0"),
    ({"kind": "gnn", "options": {"epochs": 0}}, r"compare.models.m.options.epochs holds 0"),
    ({"kind": "surprise", "algo": "KNNBaseline", "options": {"bsl_optionz": 1}},
     r"'bsl_optionz' is not a bsl_options key of KNNBaseline"),
    ({"kind": "surprise", "algo": "KNNBaseline", "options": {"sim_nam": "cosine"}},
     r"'sim_nam' is not a sim_options key of KNNBaseline"),
    ({"kind": "surprise", "algo": "SVD", "options": {"sim_name": "cosine"}}, r"SVD takes no sim_options"),
])
def test_model_entries_values_checked_when_params_load(spec, message):
    with pytest.raises(ParamsError, match=message):
        params.parse(_with_model("m", spec))


def test_comparison_budget_checks():
    with pytest.raises(ParamsError, match="compare.tuning_trials = 0: at least 1"):
        params.parse(raw_params(compare={"tuning_trials": 0, "tuning_confirm": 0}))
    with pytest.raises(ParamsError, match="compare.tuning_confirm = 10"):
        params.parse(raw_params(compare={"tuning_confirm": 10}))
    with pytest.raises(ParamsError, match="compare.replicates = 0"):
        params.parse(raw_params(compare={"replicates": 0}))
    with pytest.raises(ParamsError, match=r"compare.seeds = \[0, 0\]: distinct seeds"):
        params.parse(raw_params(compare={"seeds": [0, 0]}))
    with pytest.raises(ParamsError, match="compare.tuning_pruner"):
        params.parse(raw_params(compare={"tuning_pruner": "hyperband"}))


def test_roles_default_by_family_and_can_be_set():
    p = params.parse(raw_params())
    roles = {n: s.role for n, s in p.compare.models.items()}
    assert roles["sage_paper"] == "paper" and roles["svd"] == "baseline" and roles["hybrid"] == "candidate"
    assert roles["hybrid_no_content"] == "ablation" and roles["sage_tuned"] == "candidate"
    raw = _with_model("mine", {"kind": "surprise", "algo": "SVD", "role": "candidate"})  # in baselines/, a candidate
    assert params.parse(raw).compare.models["mine"].role == "candidate"
    with pytest.raises(ParamsError, match=r"compare.models.m.role = 'best': must be one of paper, baseline"):
        params.parse(_with_model("m", {"kind": "surprise", "algo": "SVD", "role": "best"}))
    with pytest.raises(ParamsError, match="only compare.reference"):
        params.parse(_with_model("m", {"kind": "surprise", "algo": "SVD", "role": "paper"}))


def test_a_model_lists_its_own_protocols():
    raw = _with_model("mine", {"kind": "surprise", "algo": "SVD", "role": "candidate", "protocols": ["cold_items"]})
    p = params.parse(raw)
    assert "mine" in params.protocol_models(p, "cold_items") and "mine" not in params.protocol_models(p, "random")
    with pytest.raises(ParamsError, match="protocols names 'temporal'"):
        params.parse(_with_model("m", {"kind": "surprise", "algo": "SVD", "protocols": ["temporal"]}))
