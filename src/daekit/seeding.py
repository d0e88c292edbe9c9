"""Seeds: one number from the user; independent random streams derived from it, all named here.

``derive_seed(seed, ..., STREAM)`` mixes integer keys into a well-spread 63-bit seed (numpy's
SeedSequence), so streams keyed by different numbers draw independent values, and a stream keyed by
(seed, epoch) needs no saved generator state to resume. The numbers below are part of every result
daekit has written: changing one changes the outputs of the same seed, so new streams take new numbers.
"""
from __future__ import annotations

import numpy as np

# streams of derive_seed (and of derive_rng)
SHUFFLE = 1  # train: the order of the training batches, keyed by (seed, epoch)
CORRUPT = 2  # train: the corruption of the training batches, keyed by (seed, epoch)
VALIDATION = 3  # train: the fixed corruption of the validation images
TEST = 4  # api.Denoiser.corrupt: the fixed corruption of test sets, keyed by the evaluation's seed
PATCHES = 5  # data.folder: which patches each batch cuts, keyed by (seed, epoch, PATCHES, batch)
PRETRAIN, FINETUNE = 6, 7  # stack: layer-wise pretraining and fine-tuning (order and corruption)
CLEAN, CLEAN_TRAIN = 8, 9  # stack_cleaning: the corrupted test images, the corrupted training images
NOISY_ONCE = 10  # data: data.noisy_once, each image's one corruption, keyed by (seed, its file name or index)
PRECISE_BN = 11  # train.precise_batchnorm: the patches and the noise its statistics are measured on, keyed by (seed, PRECISE_BN)

# offsets added to a seed before it is used (not streams: they pick another seed of the same stream)
COMPARE_VALIDATION_OFFSET = 5  # compare: the validation images' corruption, Denoiser.corrupt(seed + 5)
DEMO_PHOTO_OFFSET = 1  # demo: the photo's tuning corruption, Denoiser.corrupt(seed + 1)


def copy_seeds(copies: int, *key: int) -> list[int]:
    """Seeds of `copies` independent draws keyed by `key` (data.noisy_copies): the first is the seed a single
    draw has, ``derive_seed(*key)``, so one copy of many is the one copy a run without copies gets."""
    return [derive_seed(*key)] + [derive_seed(*key, k) for k in range(1, copies)]


def derive_seed(*keys: int) -> int:
    """A well-mixed 63-bit seed from integer keys, e.g. (seed, epoch, stream)."""
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)[0] >> np.uint64(1))


def derive_rng(*keys: int) -> np.random.Generator:
    """A numpy generator seeded by integer keys (the same mixing as ``derive_seed``)."""
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in keys]))
