import sys

from ml.cli import main
from ml.sample import run

sys.exit(main("sample", run))
