"""The layers of cgrad.nn."""
from cgrad.nn.modules.activation import (CELU, ELU, GELU, GLU, SELU, Hardshrink, Hardsigmoid, Hardswish, Hardtanh,
                                        LeakyReLU, LogSigmoid, LogSoftmax, Mish, PReLU, ReLU, ReLU6, RReLU, Sigmoid,
                                        SiLU, Softmax, Softmax2d, Softmin, Softplus, Softshrink, Softsign, Tanh,
                                        Tanhshrink, Threshold)
from cgrad.nn.modules.activation_attention import MultiheadAttention
from cgrad.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from cgrad.nn.modules.distance import CosineSimilarity, PairwiseDistance
from cgrad.nn.modules.container import ModuleDict, ModuleList, ParameterDict, ParameterList, Sequential
from cgrad.nn.modules.dropout import AlphaDropout, Dropout, Dropout1d, Dropout2d, Dropout3d, FeatureAlphaDropout
from cgrad.nn.modules.flatten import Flatten, Unflatten
from cgrad.nn.modules.linear import Bilinear, Identity, Linear
from cgrad.nn.modules.loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, HuberLoss, KLDivLoss, L1Loss, MSELoss,
                                  NLLLoss, PoissonNLLLoss, SmoothL1Loss)
from cgrad.nn.modules.loss import (CosineEmbeddingLoss, GaussianNLLLoss, HingeEmbeddingLoss, MarginRankingLoss,
                                  MultiLabelMarginLoss, MultiLabelSoftMarginLoss, MultiMarginLoss, SoftMarginLoss,
                                  TripletMarginLoss, TripletMarginWithDistanceLoss)
from cgrad.nn.modules.module import Module
from cgrad.nn.modules.instancenorm import InstanceNorm1d, InstanceNorm2d, InstanceNorm3d
from cgrad.nn.modules.normalization import GroupNorm, LayerNorm, RMSNorm
from cgrad.nn.modules.padding import (CircularPad1d, CircularPad2d, CircularPad3d, ConstantPad1d, ConstantPad2d,
                                      ConstantPad3d, ReflectionPad1d, ReflectionPad2d, ReflectionPad3d,
                                      ReplicationPad1d, ReplicationPad2d, ReplicationPad3d, ZeroPad1d, ZeroPad2d,
                                      ZeroPad3d)
from cgrad.nn.modules.pixelshuffle import ChannelShuffle, PixelShuffle, PixelUnshuffle
from cgrad.nn.modules.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveAvgPool3d, AdaptiveMaxPool1d,
                                     AdaptiveMaxPool2d, AdaptiveMaxPool3d, AvgPool1d, AvgPool2d, AvgPool3d,
                                     FractionalMaxPool2d, FractionalMaxPool3d, LPPool1d, LPPool2d, LPPool3d,
                                     MaxPool1d, MaxPool2d, MaxPool3d, MaxUnpool1d, MaxUnpool2d, MaxUnpool3d)
from cgrad.nn.modules.rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase
from cgrad.nn.modules.sparse import Embedding
from cgrad.nn.modules.transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                                          TransformerEncoder, TransformerEncoderLayer)
from cgrad.nn.modules.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

__all__ = [
    "Module", "Identity", "Linear", "Bilinear", "Embedding", "Sequential", "ModuleList", "ModuleDict", "ReLU",
    "LeakyReLU", "GELU", "Tanh", "Sigmoid", "Softmax", "LogSoftmax", "Dropout", "LayerNorm", "Flatten", "MSELoss",
    "PReLU", "L1Loss", "CrossEntropyLoss", "NLLLoss", "BCELoss", "BCEWithLogitsLoss", "HuberLoss",
    "SiLU", "ELU", "SELU", "CELU", "Softplus", "Hardtanh", "ReLU6", "Hardsigmoid", "Hardswish", "LogSigmoid",
    "Softsign", "Tanhshrink", "Softshrink", "Hardshrink", "Mish", "Threshold", "Softmin", "GLU", "CosineSimilarity",
    "PairwiseDistance", "SmoothL1Loss", "KLDivLoss", "PoissonNLLLoss",
    "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d", "ZeroPad1d",
    "ZeroPad2d", "ZeroPad3d", "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d",
    "ReplicationPad2d", "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d", "InstanceNorm1d",
    "InstanceNorm2d", "InstanceNorm3d", "GroupNorm", "RMSNorm", "ParameterList", "ParameterDict", "RReLU",
    "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle", "ChannelShuffle",
    "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout", "Unflatten", "Softmax2d",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool1d", "AdaptiveAvgPool2d",
    "AdaptiveMaxPool1d", "AdaptiveMaxPool2d",
    "MaxPool3d", "AvgPool3d", "AdaptiveAvgPool3d", "AdaptiveMaxPool3d", "MaxUnpool1d", "MaxUnpool2d", "MaxUnpool3d",
    "LPPool1d", "LPPool2d", "LPPool3d", "FractionalMaxPool2d", "FractionalMaxPool3d",
    "MultiheadAttention", "Transformer", "TransformerEncoder",
    "TransformerDecoder", "TransformerEncoderLayer", "TransformerDecoderLayer", "MarginRankingLoss",
    "HingeEmbeddingLoss", "SoftMarginLoss", "CosineEmbeddingLoss", "MultiLabelSoftMarginLoss", "TripletMarginLoss",
    "TripletMarginWithDistanceLoss", "GaussianNLLLoss", "MultiMarginLoss", "MultiLabelMarginLoss",
]

from cgrad.nn.modules.conv import Conv1d, Conv2d  # noqa: E402

__all__ += ["Conv1d", "Conv2d"]

from cgrad.nn.modules.conv import Conv3d, ConvTranspose1d, ConvTranspose2d, ConvTranspose3d  # noqa: E402
from cgrad.nn.modules.fold import Fold, Unfold  # noqa: E402

__all__ += ["Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Fold", "Unfold"]

from cgrad.nn.modules.conv_lazy import LazyConv1d, LazyConv2d  # noqa: E402
from cgrad.nn.modules.lazy import LazyModuleMixin  # noqa: E402
from cgrad.nn.modules.linear import LazyLinear  # noqa: E402
from cgrad.nn.modules.loss import CTCLoss  # noqa: E402
from cgrad.nn.modules.normalization import LocalResponseNorm  # noqa: E402
from cgrad.nn.modules.sparse import EmbeddingBag  # noqa: E402

__all__ += ["EmbeddingBag", "CTCLoss", "LocalResponseNorm", "LazyModuleMixin", "LazyLinear", "LazyConv1d",
            "LazyConv2d"]

from cgrad.nn.modules.conv_lazy import LazyConv3d, LazyConvTranspose1d, LazyConvTranspose2d  # noqa: E402
from cgrad.nn.modules.conv_lazy import LazyConvTranspose3d  # noqa: E402
from cgrad.nn.modules.norm_lazy import LazyBatchNorm1d, LazyBatchNorm2d, LazyBatchNorm3d  # noqa: E402
from cgrad.nn.modules.norm_lazy import LazyInstanceNorm1d, LazyInstanceNorm2d, LazyInstanceNorm3d  # noqa: E402

__all__ += ["LazyConv3d", "LazyConvTranspose1d", "LazyConvTranspose2d", "LazyConvTranspose3d", "LazyBatchNorm1d",
            "LazyBatchNorm2d", "LazyBatchNorm3d", "LazyInstanceNorm1d", "LazyInstanceNorm2d", "LazyInstanceNorm3d"]

from cgrad.nn.modules.adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: E402
from cgrad.nn.modules.legacy import Container, CrossMapLRN2d, NLLLoss2d  # noqa: E402

__all__ += ["AdaptiveLogSoftmaxWithLoss", "Container", "CrossMapLRN2d", "NLLLoss2d"]

from cgrad.nn.modules.linear_cross_entropy import LinearCrossEntropyLoss, LinearCrossEntropyOptions  # noqa: E402

__all__ += ["LinearCrossEntropyLoss", "LinearCrossEntropyOptions"]
