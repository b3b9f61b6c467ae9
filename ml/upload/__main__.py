import sys

from ml.cli import main
from ml.upload import run

sys.exit(main("upload", run))
