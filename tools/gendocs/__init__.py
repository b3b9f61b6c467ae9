"""Docs from their sources: the generated blocks of README.md and docs/ (`make docs`).

A page holds hand-written prose and generated blocks between markers:

    <!-- generated:params train -->     a kind's params tables, from its pydantic schema
    <!-- generated:bench quantize -->   a benchmark's table, from bench/results/quantize.json
    <!-- generated:api -->              the REST endpoints, from the app's OpenAPI schema
    ...
    <!-- /generated -->

`python -m tools.gendocs` rewrites every block; `--check` only says which pages differ (the test
tests/docs/test_docs_fresh.py fails on the same).
"""
