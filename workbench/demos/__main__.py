"""``python -m workbench.demos [--port N] [--host H] [--model TASK=ID_OR_PATH ...] [--share]``."""

import sys

from .app import main

if __name__ == "__main__":
    sys.exit(main())
