"""cgrad.utils.dlpack: tensors to and from DLPack capsules, shared with other libraries without a copy."""
import enum

from cgrad import _C
from cgrad._C import from_dlpack

__all__ = ["DLDeviceType", "from_dlpack"]


class DLDeviceType(enum.IntEnum):
    """DLPack's device codes (cgrad's tensors are all kDLCPU)."""
    kDLCPU = 1
    kDLCUDA = 2
    kDLCUDAHost = 3
    kDLOpenCL = 4
    kDLVulkan = 7
    kDLMetal = 8
    kDLVPI = 9
    kDLROCM = 10
    kDLROCMHost = 11
    kDLExtDev = 12
    kDLCUDAManaged = 13
    kDLOneAPI = 14
    kDLWebGPU = 15
    kDLHexagon = 16
    kDLMAIA = 17


to_dlpack = _C._to_dlpack  # public, as in PyTorch, though not in __all__
