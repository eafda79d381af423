"""graphc.data (also graphc.utils.data): datasets, samplers, the DataLoader and its worker
processes."""
from .dataloader import (BatchSampler, DataLoader, RandomSampler, SequentialSampler,
                         default_collate)
from .dataset import (ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,
                      random_split)
from .distributed import DistributedSampler
from .samplers import SubsetRandomSampler, WeightedRandomSampler
from .workers import get_worker_info

__all__ = ["Dataset", "IterableDataset", "TensorDataset", "Subset", "ConcatDataset",
           "random_split", "DataLoader", "SequentialSampler", "RandomSampler", "BatchSampler",
           "DistributedSampler", "SubsetRandomSampler", "WeightedRandomSampler",
           "default_collate", "get_worker_info"]
