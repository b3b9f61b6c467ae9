import sys

from ml.cli import main
from ml.quantize import run

sys.exit(main("quantize", run))
