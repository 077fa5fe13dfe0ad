"""nn.utils.memory_format: the weights of 2-d or 3-d convolutions (and their transposes) laid out in a
memory format, as torch.nn.utils.memory_format. Values and gradients do not change."""
import cgrad

__all__ = ["convert_conv2d_weight_memory_format", "convert_conv3d_weight_memory_format"]


def _convert_weights(module, memory_format, kinds):
    for m in module.modules():
        if isinstance(m, kinds):
            with cgrad.no_grad():
                weight = m.weight.detach().clone(memory_format=memory_format)
            if memory_format is cgrad.preserve_format:  # as resize_ refuses it
                raise RuntimeError("Unsupported memory formatPreserve")
            m.weight.data = weight
    return module


def convert_conv2d_weight_memory_format(module, memory_format):
    """module, with the weight of each Conv2d and ConvTranspose2d in it (itself included) in memory_format."""
    from cgrad.nn import Conv2d, ConvTranspose2d
    return _convert_weights(module, memory_format, (Conv2d, ConvTranspose2d))


def convert_conv3d_weight_memory_format(module, memory_format):
    """module, with the weight of each Conv3d and ConvTranspose3d in it (itself included) in memory_format."""
    from cgrad.nn import Conv3d, ConvTranspose3d
    return _convert_weights(module, memory_format, (Conv3d, ConvTranspose3d))
