"""``python -m palimpsest.cli``: the command line."""

import sys

from .commands import main

main(sys.argv[1:])
