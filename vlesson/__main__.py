"""``python -m vlesson`` runs the ``vlesson`` command."""

import sys

from vlesson.cli import main

if __name__ == "__main__":
    sys.exit(main())
