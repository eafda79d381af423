"""graphc.optim: optimizers whose update rules run eagerly (step) or compiled (updates)."""
from . import lr_scheduler
from .lbfgs import LBFGS
from .muon import Muon
from .optimizer import Optimizer
from .optimizers import (ASGD, SGD, Adadelta, Adafactor, Adagrad, Adam, Adamax, AdamW, NAdam,
                         RAdam, RMSprop, Rprop, SparseAdam)

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW", "SparseAdam", "NAdam",
           "RAdam", "Adamax", "Rprop", "ASGD", "Adafactor", "Muon", "LBFGS", "lr_scheduler"]
