"""Code generation: graphs (after the passes) to Python source for Numba."""
from .program import GeneratedProgram, Options, lower_program

__all__ = ["GeneratedProgram", "Options", "lower_program"]
