"""Every relative link in README.md and docs/ points at a file that exists, and an anchor at a heading."""
import re

import pytest

from tools.gendocs.blocks import ROOT, pages

LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE = re.compile(r"```.*?```|`[^`\n]*`", re.S)


def slug(heading: str) -> str:
    # the anchor GitHub and MkDocs' toc both give a plain heading
    text = re.sub(r"[`*]", "", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    return {slug(m) for m in re.findall(r"^#+ (.+)$", CODE.sub("", path.read_text()), re.M)}


def links():
    for page in pages():
        for target in LINK.findall(CODE.sub("", page.read_text())):
            if not re.match(r"[a-z]+:", target):
                yield page, target


def _id(value):
    return str(value.relative_to(ROOT)) if hasattr(value, "relative_to") else value


@pytest.mark.parametrize("page,target", list(links()), ids=_id)
def test_relative_link_resolves(page, target):
    file, _, anchor = target.partition("#")
    path = (page.parent / file).resolve() if file else page
    assert path.exists(), f"{page.relative_to(ROOT)} links to {target}, which does not exist"
    if anchor and path.suffix == ".md":
        assert anchor in anchors(path), \
            f"{page.relative_to(ROOT)} links to #{anchor}, no such heading in {file or 'itself'}"


def test_the_link_check_sees_the_pages_links():
    found = {(p.name, t) for p, t in links()}
    assert ("README.md", "docs/api.md") in found and ("sample.md", "../benchmarks.md#sample") in found
