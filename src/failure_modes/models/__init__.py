"""Layer 3, models and training: architectures, training loops, evaluation, the denoiser's noise
model and PSNR, and the shipped reference checkpoint.

``failure_modes.models`` keeps the architectures' names (``DenseModel``, ``SmallCNN``, ``UNet``)
and ``load_reference_model``.
"""

from failure_modes.models.nets import DenseModel, SmallCNN, UNet, count_parameters
from failure_modes.models.reference import load_reference_model

__all__ = ["DenseModel", "SmallCNN", "UNet", "count_parameters", "load_reference_model"]
