"""``python -m pinws``: the pinws command line."""

import sys

from pinws._cli.main import main

if __name__ == "__main__":
    sys.exit(main())
