"""Datasets in NVIDIA's layout (zip or folder + ``dataset.json``) and the tool that makes them."""

from stylegan.data.dataset import (
    ImageDataset,
    InfiniteSampler,
    infinite_loader,
    sample_dataset_path,
)
from stylegan.data.dataset_tool import ConversionReport, convert_dataset

__all__ = [
    "ConversionReport",
    "ImageDataset",
    "InfiniteSampler",
    "convert_dataset",
    "infinite_loader",
    "sample_dataset_path",
]
