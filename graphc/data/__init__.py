"""graphc.data (also graphc.utils.data): datasets, samplers and the DataLoader."""
from .dataloader import (BatchSampler, DataLoader, RandomSampler, SequentialSampler,
                         default_collate)
from .dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from .distributed import DistributedSampler

__all__ = ["Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split", "DataLoader",
           "SequentialSampler", "RandomSampler", "BatchSampler", "DistributedSampler",
           "default_collate"]
