"""The generated blocks of README.md and docs/ are what `make docs` would write now.

A params schema, a settings default, an endpoint or a benchmark result changed without `make docs`
leaves a stale page, and this test names it."""
from tools.gendocs.__main__ import stale
from tools.gendocs.blocks import ROOT, names, pages


def test_every_generated_block_is_up_to_date():
    pending = [str(p.relative_to(ROOT)) for p in stale()]
    assert not pending, f"stale pages (run `make docs` and commit them): {', '.join(pending)}"


def test_each_kind_page_has_its_params_table_and_the_benchmarks_page_every_result_file():
    blocks = {what for page in pages() for what in names(page.read_text())}
    from jobs.registry import KINDS

    assert {f"params {k}" for k in KINDS} <= blocks
    results = {p.stem for p in (ROOT / "bench" / "results").glob("*.json")}
    assert {f"bench {r}" for r in results} <= blocks, "a results file without a table in docs/benchmarks.md"


def test_every_opening_marker_has_its_closing_one():
    import re

    for page in pages():
        text = page.read_text()
        opened = len(re.findall(r"^<!-- generated:", text, re.M))
        assert opened == len(names(text)), f"{page.relative_to(ROOT)}: a generated block without <!-- /generated -->"
