"""The layers of cgrad.nn."""
from cgrad.nn.modules.activation import (CELU, ELU, GELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh,
                                        LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, Sigmoid, SiLU,
                                        Softmax, Softmin, Softplus, Softshrink, Softsign, Tanh, Tanhshrink, Threshold)
from cgrad.nn.modules.distance import CosineSimilarity, PairwiseDistance
from cgrad.nn.modules.container import ModuleDict, ModuleList, Sequential
from cgrad.nn.modules.dropout import Dropout
from cgrad.nn.modules.flatten import Flatten
from cgrad.nn.modules.linear import Bilinear, Identity, Linear
from cgrad.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
                                  NLLLoss, PoissonNLLLoss, SmoothL1Loss)
from cgrad.nn.modules.module import Module
from cgrad.nn.modules.normalization import LayerNorm
from cgrad.nn.modules.sparse import Embedding

__all__ = [
    "Module", "Identity", "Linear", "Bilinear", "Embedding", "Sequential", "ModuleList", "ModuleDict", "ReLU",
    "LeakyReLU", "GELU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Dropout", "LayerNorm", "Flatten", "MSELoss",
    "PReLU", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "HuberLoss",
    "SiLU", "ELU", "SELU", "CELU", "Softplus", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish", "LogSigmoid",
    "Softsign", "Tanhshrink", "Softshrink", "Hardshrink", "Mish", "Threshold", "Softmin", "GLU", "CosineSimilarity",
    "PairwiseDistance", "SmoothL1Loss", "KLDivLoss", "PoissonNLLLoss",
]

from cgrad.nn.modules.conv import Conv1d, Conv2d  # noqa: E402

__all__ += ["Conv1d", "Conv2d"]
