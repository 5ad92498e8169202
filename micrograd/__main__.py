"""`python -m micrograd`: see micrograd/cli.py."""
import sys

from .cli import main

sys.exit(main())
