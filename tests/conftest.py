import os
import sys

# shared test helpers (tests/op_table.py, tests/helpers.py) import by plain name
sys.path.insert(0, os.path.dirname(__file__))

# every pass's result is verified (graphc/ir/verify.py): a pass that breaks the IR fails here,
# naming itself, instead of producing a wrong answer later
os.environ.setdefault("GRAPHC_VERIFY", "1")
