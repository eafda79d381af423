"""graphc.optim: optimizers whose update rules run eagerly (step) or compiled (updates)."""
from . import lr_scheduler
from .optimizer import Optimizer
from .optimizers import SGD, Adadelta, Adagrad, Adam, AdamW, RMSprop

__all__ = ["Optimizer", "SGD", "Adagrad", "Adadelta", "RMSprop", "Adam", "AdamW",
           "lr_scheduler"]
