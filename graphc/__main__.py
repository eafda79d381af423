"""`python -m graphc ...` runs the graphc command line."""
import sys

from .cli import main

sys.exit(main())
