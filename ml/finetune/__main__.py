import sys

from ml.cli import main
from ml.finetune import run

sys.exit(main("finetune", run))
