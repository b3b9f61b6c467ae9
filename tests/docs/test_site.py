"""`make docs-site`: MkDocs builds docs/ with --strict (a page missing from disk, a broken link between
pages or a nav entry without its page fails the build)."""
import subprocess
import sys
from pathlib import Path

from tools.gendocs.blocks import ROOT


def test_mkdocs_builds_the_site_strictly(tmp_path):
    mkdocs = Path(sys.executable).with_name("mkdocs")
    run = subprocess.run([str(mkdocs), "build", "--strict", "-q", "-d", str(tmp_path / "site")], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (tmp_path / "site" / "kinds" / "train" / "index.html").exists()
