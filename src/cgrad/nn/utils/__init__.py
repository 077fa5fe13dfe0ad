"""cgrad.nn.utils: gradient clipping, parameters as a vector, padded and packed sequences (nn.utils.rnn),
parametrizations (nn.utils.parametrize), weight and spectral normalization, pruning (nn.utils.prune), batch
norms folded into the layer before them (nn.utils.fusion), functional_call (nn.utils.stateless), skip_init and
convolution weights in a memory format (nn.utils.memory_format)."""
from cgrad.nn.utils import rnn
from cgrad.nn.utils.clip_grad import (clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,
                                      get_total_norm)
from cgrad.nn.utils.convert_parameters import parameters_to_vector, vector_to_parameters
from cgrad.nn.utils import parametrize  # noqa: E402
from cgrad.nn.utils import parametrizations  # noqa: E402
from cgrad.nn.utils import prune  # noqa: E402
from cgrad.nn.utils.weight_norm import remove_weight_norm, weight_norm
from cgrad.nn.utils.spectral_norm import remove_spectral_norm, spectral_norm
from cgrad.nn.utils import fusion, stateless  # noqa: E402,F401
from cgrad.nn.utils.fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights
from cgrad.nn.utils.init import skip_init
from cgrad.nn.utils.memory_format import convert_conv2d_weight_memory_format, convert_conv3d_weight_memory_format

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "vector_to_parameters", "rnn", "parametrize", "parametrizations", "weight_norm",
           "remove_weight_norm", "spectral_norm", "remove_spectral_norm", "fuse_conv_bn_eval", "fuse_conv_bn_weights",
           "fuse_linear_bn_eval", "fuse_linear_bn_weights", "skip_init", "stateless", "prune",
           "convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]
