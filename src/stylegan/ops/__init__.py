"""Pure-PyTorch kernels with NVIDIA's semantics; each fast op has a slow reference beside it.

Modules: :mod:`upfirdn2d` (FIR resampling), :mod:`bias_act` (bias + activation + gain + clamp),
:mod:`conv2d_resample` (conv fused with resampling), :mod:`modulated_conv` (StyleGAN2's
modulated convolution). They run on CPU, CUDA and MPS without compiling anything.
"""

from stylegan.ops import bias_act, conv2d_resample, modulated_conv, upfirdn2d
from stylegan.ops.modulated_conv import modulated_conv2d

__all__ = ["bias_act", "conv2d_resample", "modulated_conv", "modulated_conv2d", "upfirdn2d"]
