import os
import sys

# shared test helpers (tests/op_table.py, tests/helpers.py) import by plain name
sys.path.insert(0, os.path.dirname(__file__))
