"""hybridrec stability: verdict transitions counted on constructed comparisons, and the report section."""

from hybridrec import stability


def t(delta, significant):
    return {"delta": delta, "significant": significant}


def test_verdict_transitions():
    old = {"a": t(-0.1, True), "b": t(0.1, True), "c": t(-0.01, False), "d": t(-0.1, True), "e": t(0.2, True),
           "gone": t(0.1, False)}
    new = {"a": t(-0.09, True), "b": t(0.01, False), "c": t(-0.05, True), "d": t(0.1, True), "e": t(0.3, True),
           "new": t(0.0, False)}
    c = stability.compare_verdicts(old, new)
    assert (c["tests"], c["same"], c["to_or_from_ns"], c["opposite"], c["only_one"]) == (5, 2, 2, 1, 2)
    assert [ch["test"] for ch in c["changes"] if ch["kind"] == "opposite"] == ["d"]
    assert stability.verdict_class(t(0.1, False)) == "not significant"  # a sign without significance is no verdict


def test_section_replaced_and_others_kept(tmp_path):
    path = tmp_path / "stability.md"
    base = {"rev": "HEAD", "reference_dir": None, "command": "", "gate": {"gated": 3, "failed": [], "same_platform":
            False, "widened": 1}, "platforms": {"reference": "A", "now": "B"}}
    one = {**base, "dataset": "one", "protocols": {"random": stability.compare_verdicts({"x": t(-1, True)},
                                                                                        {"x": t(-1, True)})}}
    two = {**base, "dataset": "two", "protocols": {"random": stability.compare_verdicts({"x": t(-1, True)},
                                                                                        {"x": t(1, True)})}}
    stability.write_section(path, one)
    stability.write_section(path, two)
    one["gate"] = {**base["gate"], "gated": 7}
    stability.write_section(path, one)  # replaced, not appended
    text = path.read_text()
    assert text.count("## `one`") == 1 and text.count("## `two`") == 1 and "7 metrics gated" in text
    assert "| **all** | 1 | 0 | 0 | 1 |" in text  # two: the opposite verdict counted
