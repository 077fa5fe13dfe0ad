"""cgrad.optim: PyTorch's optimizers, each step one C call per parameter group."""
from cgrad.optim import lr_scheduler
from cgrad.optim.adagrad import Adagrad
from cgrad.optim.adam import Adam, AdamW
from cgrad.optim.optimizer import Optimizer
from cgrad.optim.rmsprop import RMSprop
from cgrad.optim.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "lr_scheduler"]
