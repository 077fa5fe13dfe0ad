"""The layers of cgrad.nn."""
from cgrad.nn.modules.activation import GELU, LeakyReLU, LogSoftmax, PReLU, ReLU, Sigmoid, Softmax, Tanh
from cgrad.nn.modules.container import ModuleDict, ModuleList, Sequential
from cgrad.nn.modules.dropout import Dropout
from cgrad.nn.modules.flatten import Flatten
from cgrad.nn.modules.linear import Bilinear, Identity, Linear
from cgrad.nn.modules.loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, L1Loss, MSELoss, NLLLoss
from cgrad.nn.modules.module import Module
from cgrad.nn.modules.normalization import LayerNorm
from cgrad.nn.modules.sparse import Embedding

__all__ = [
    "Module", "Identity", "Linear", "Bilinear", "Embedding", "Sequential", "ModuleList", "ModuleDict", "ReLU",
    "LeakyReLU", "GELU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Dropout", "LayerNorm", "Flatten", "MSELoss",
    "PReLU", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "HuberLoss",
]
