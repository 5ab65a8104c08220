"""Top-k recommendations and the `hybridrec recommend` command."""

import os
import subprocess
import sys

import pytest

from hybridrec.errors import UserError
from hybridrec.graph import load_inputs
from hybridrec.paths import Paths
from hybridrec.recommend import rated_by_user, recommend
from hybridrec import checkpoint


@pytest.fixture(scope="module")
def trained(tiny_project):
    root, p = tiny_project
    old = os.getcwd()
    os.chdir(root)
    inputs = load_inputs(Paths(p.data.name), p.train.features)
    runner = checkpoint.restore(checkpoint.load(Paths(p.data.name).paper_model), inputs, "cpu")
    yield root, p, inputs, runner
    os.chdir(old)


def test_recommendations_exclude_rated_anime(trained):
    _, p, inputs, runner = trained
    rated = rated_by_user(inputs)
    users = inputs.users["user_id"].head(10).tolist()
    recs = recommend(runner, inputs, users, k=15)
    id_of = inputs.anime.set_index("anime_id")["anime_idx"]
    for u in users:
        uidx = int(inputs.users.loc[inputs.users.user_id == u, "user_idx"].iat[0])
        got = set(id_of.loc[recs[u]["anime_id"]].tolist())
        assert got and not (got & rated[uidx])
        assert len(recs[u]) == min(15, inputs.n_anime - len(rated[uidx]))
        assert recs[u]["score"].is_monotonic_decreasing


def test_unknown_user_is_a_clear_error(trained):
    _, p, inputs, runner = trained
    with pytest.raises(UserError, match="unknown user 123456"):
        recommend(runner, inputs, [123456], k=5)


def test_recommend_command(trained):
    root, p, inputs, _ = trained
    user = int(inputs.users["user_id"].iat[0])
    cmd = [sys.executable, "-m", "hybridrec.cli", "recommend", "--user", str(user), "-k", "4"]
    out = subprocess.run(cmd, cwd=root, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"Top-4 unseen anime for user {user}" in out.stdout and len(out.stdout.strip().splitlines()) == 7
    bad = subprocess.run(cmd[:5] + ["999999"], cwd=root, capture_output=True, text=True)
    assert bad.returncode == 2 and "error: unknown user 999999" in bad.stderr and "Traceback" not in bad.stderr
    helped = subprocess.run(cmd[:4] + ["--help"], cwd=root, capture_output=True, text=True)
    assert helped.returncode == 0 and "--user" in helped.stdout
