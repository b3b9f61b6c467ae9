"""frontend/compare.py: the Compare page's choice of jobs and its params/results tables."""
from types import SimpleNamespace

from frontend.compare import compare_rows, flatten, parse_ids


def test_parse_ids_accepts_repeated_and_comma_separated_ids_in_order():
    assert parse_ids(["3,1", "2", "1"]) == ([3, 1, 2], None)
    assert parse_ids([]) == ([], None)


def test_parse_ids_refuses_too_few_too_many_and_garbage():
    assert parse_ids(["1"])[1] == "Choose 2 to 16 jobs (got 1)."
    assert parse_ids([",".join(str(i) for i in range(1, 18))])[1] == "Choose 2 to 16 jobs (got 17)."
    assert parse_ids(["1,x"]) == ([], "Not a job id: 'x'.")


def test_flatten_names_nested_params_by_dotted_path_and_keeps_lists():
    assert flatten({"model": {"type": "gmm", "means": [[0, 1]]}, "nfe": 5, "opt": {}}) == {
        "model.type": "gmm", "model.means": [[0, 1]], "nfe": 5, "opt": {}}


def test_differing_params_come_first_and_results_line_up():
    a = SimpleNamespace(params={"nfe": 5, "sampler": "ddim", "seed": 0}, result={"w2": 0.1})
    b = SimpleNamespace(params={"nfe": 10, "sampler": "ddim", "seed": 0, "extra": 1}, result=None)
    params, results = compare_rows([a, b])
    assert [(r["key"], r["differs"]) for r in params] == [
        ("nfe", True), ("extra", True), ("sampler", False), ("seed", False)]
    assert params[1]["values"] == [None, 1]
    assert results == [{"key": "w2", "values": [0.1, None], "differs": True}]
