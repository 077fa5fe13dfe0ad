"""cgrad.optim: PyTorch's optimizers, each step one C call per parameter group (LBFGS's, Adafactor's and Muon's:
Python over tensor ops), the learning-rate schedulers and stochastic weight averaging (swa_utils)."""
from cgrad.optim import lr_scheduler
from cgrad.optim import swa_utils
from cgrad.optim.adadelta import Adadelta
from cgrad.optim.adafactor import Adafactor
from cgrad.optim.adagrad import Adagrad
from cgrad.optim.adam import Adam, AdamW
from cgrad.optim.adamax import Adamax
from cgrad.optim.asgd import ASGD
from cgrad.optim.lbfgs import LBFGS
from cgrad.optim.muon import Muon
from cgrad.optim.nadam import NAdam
from cgrad.optim.optimizer import Optimizer
from cgrad.optim.radam import RAdam
from cgrad.optim.rmsprop import RMSprop
from cgrad.optim.rprop import Rprop
from cgrad.optim.sgd import SGD
from cgrad.optim.sparse_adam import SparseAdam

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam", "Adadelta", "Rprop",
           "ASGD", "LBFGS", "Adafactor", "Muon", "SparseAdam",
           "lr_scheduler", "swa_utils"]
