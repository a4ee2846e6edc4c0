import sys

from fastact.cli import run

sys.exit(run())
