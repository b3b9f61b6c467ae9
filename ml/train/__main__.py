import sys

from ml.cli import main
from ml.train import run

sys.exit(main("train", run))
