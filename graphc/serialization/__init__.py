"""graphc.save / graphc.load: tensors and state dicts in a safe, documented format.

The file is a ZIP archive (stored, uncompressed) holding:

- `manifest.json`: {"format": "graphc.save", "version": 1, "root": ENCODED}, where ENCODED
  is the saved object with every value written as JSON:
    null / true / false / a number / a string      -> itself
    a list                                          -> a JSON list of encoded items
    {"tuple": [...]}                                -> a tuple
    {"dict": [[key, value], ...]}                   -> a dict (keys: str, int, float, bool,
                                                        None, tuple, encoded like values)
    {"tensor": "arrays/N.npy", "requires_grad": b}  -> a graphc.Tensor
    {"ndarray": "arrays/N.npy"}                     -> a numpy.ndarray
    {"float": "nan" | "inf" | "-inf"}               -> a non-finite float
- `arrays/N.npy`: one array each in NumPy's .npy format (numeric and bool dtypes only).

Whole modules (`graphc.save(model, path)`, PyTorch's `torch.save(model)`) need a few more
entries; a file that holds any of them is version 2:
    {"parameter": "arrays/N.npy", "requires_grad": b}  -> a graphc.nn.Parameter
    {"uninitialized_parameter": "float32", "requires_grad": b}
                                     -> a lazy module's UninitializedParameter (no elements
                                        yet: its dtype only), so a saved lazy module loads
                                        still lazy, as PyTorch's
    tensors may also carry "persistent": true (a module's buffer, a graph variable)
    {"object": "module:QualName", "state": {"dict": ...}}
                                     -> an instance rebuilt without calling its __init__ (as
                                        pickle does): object.__new__(cls), then
                                        cls._load_state(state) if it defines one, else its
                                        __dict__ updated; saved from obj._save_state() or
                                        its __dict__ (Module drops its symbolic records)
    {"global": "module:QualName"}                   -> a class or function, by name
    {"op": "relu"}                                  -> a graphc op (an `activation=`)
    {"dtype": "float32"}, {"device": "cpu"}          -> graphc.float32, graphc.device("cpu")
    {"odict": [...]}, {"set": [...]}, {"frozenset": [...]}   (inside objects)
    {"ref": N}                        -> the object, tensor or dict written with "id": N
                                         earlier (shared parameters, tied weights, cycles)
Which classes and functions a load may rebuild is decided by safe_globals.py (graphc's
own, those the user allow-listed with add_safe_globals / safe_globals, and with
weights_only=False the Module subclasses of already imported modules): loading never imports a
module named by the file and never calls code it names, except the `_load_state` of a class
it was allowed to rebuild.

Loading reads JSON and .npy headers and checks them (known tags only, no object dtypes,
sizes that match the stored bytes); it never imports or executes anything from the file, so a
malformed or hostile file is a GraphFormatError, not code execution. Saving writes to a
temporary file next to the target and renames it into place, so a crash never leaves a
half-written checkpoint.

The package: format.py (the format's names), save.py (the encoder), load.py (the checks and
the decoder), safe_globals.py (the allow-list).
"""
from __future__ import annotations

from .format import TENSOR_CLASSES
from .load import load
from .safe_globals import (UnsafeGlobalError, add_safe_globals, clear_safe_globals,
                           get_safe_globals, safe_globals)
from .save import save

__all__ = ["save", "load", "add_safe_globals", "safe_globals", "get_safe_globals",
           "clear_safe_globals", "UnsafeGlobalError", "TENSOR_CLASSES"]
