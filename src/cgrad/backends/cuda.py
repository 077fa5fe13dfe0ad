"""cgrad.backends.cuda: no CUDA; the matmul precision flags are kept and change nothing."""


class _MatmulFlags:
    """backends.cuda.matmul: TF32 and reduced-precision reduction switches for CUDA products."""

    def __init__(self):
        self.allow_tf32 = False
        self.allow_fp16_reduced_precision_reduction = True
        self.allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built():
    return False
