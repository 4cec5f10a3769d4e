"""Image-quality metrics as in NVIDIA's StyleGAN papers: FID, KID, precision/recall, IS and PPL.

:mod:`stylegan.metrics.maths` holds the arithmetic on feature vectors (independent of the network
that produced them) and :mod:`stylegan.metrics.ppl` the path sampling of perceptual path length
(independent of the perceptual distance). The feature networks and the metric runner live in
their own modules.
"""

from stylegan.metrics.maths import (
    FeatureStats,
    frechet_distance,
    inception_score,
    kernel_inception_distance,
    precision_recall,
)
from stylegan.metrics.ppl import ppl_from_samples, ppl_preprocess, ppl_samples, unit_slerp

__all__ = [
    "FeatureStats",
    "frechet_distance",
    "inception_score",
    "kernel_inception_distance",
    "ppl_from_samples",
    "ppl_preprocess",
    "ppl_samples",
    "precision_recall",
    "unit_slerp",
]
