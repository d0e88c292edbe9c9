import gzip
import shutil
import struct

import numpy as np
import pytest
import torch

from daekit.data import InMemoryLoader, load_dataset, resolve_data_dir, to_tensor
from daekit.data.idx import download_idx_set, read_idx
from daekit.errors import DaekitError


def write_idx(path, arr, gz=True):
    codes = {np.dtype(np.uint8): 0x08}
    header = bytes([0, 0, codes[arr.dtype], arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    data = header + arr.tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def fake_mnist(root, n_train=50, n_test=20, size=28, gz=True):
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    ext = ".gz" if gz else ""
    write_idx(root / f"train-images-idx3-ubyte{ext}", rng.integers(0, 256, (n_train, size, size), dtype=np.uint8), gz)
    write_idx(root / f"train-labels-idx1-ubyte{ext}", rng.integers(0, 10, n_train, dtype=np.uint8), gz)
    write_idx(root / f"t10k-images-idx3-ubyte{ext}", rng.integers(0, 256, (n_test, size, size), dtype=np.uint8), gz)
    write_idx(root / f"t10k-labels-idx1-ubyte{ext}", rng.integers(0, 10, n_test, dtype=np.uint8), gz)
    return root


def test_digits_embedded_and_split_fixed_by_seed():
    a, b, c = load_dataset("digits", seed=1), load_dataset("digits", seed=1), load_dataset("digits", seed=2)
    assert a.train.shape[1:] == (1, 8, 8) and a.train.dtype == torch.float32
    assert len(a.train) + len(a.val) == 1500 and len(a.test) == 297
    assert 0 <= a.train.min() and a.train.max() <= 1
    assert torch.equal(a.val, b.val) and not torch.equal(a.val, c.val)
    assert torch.equal(a.test, c.test)  # the test split never depends on the run seed
    assert set(a.train_labels.tolist()) == set(range(10))


def test_resize_and_limit():
    d = load_dataset("digits", resize=16, limit=100, val_fraction=0.2)
    assert d.train.shape == (80, 1, 16, 16) and d.val.shape == (20, 1, 16, 16)


def test_mnist_from_shared_files(shared_data):
    d = load_dataset("mnist", shared_data / "mnist", val_fraction=0.1, seed=0)
    assert d.train.shape == (54000, 1, 28, 28) and d.val.shape == (6000, 1, 28, 28) and d.test.shape == (10000, 1, 28, 28)
    assert set(d.test_labels.unique().tolist()) == set(range(10))
    assert abs(d.test.mean().item() - 0.1325) < 0.002  # MNIST's well-known mean intensity


def test_fashion_mnist_from_shared_files(shared_data):
    d = load_dataset("fashion-mnist", shared_data / "fashion-mnist", val_fraction=0.0 + 0.05)
    assert d.test.shape == (10000, 1, 28, 28) and len(d.train) + len(d.val) == 60000


def test_daekit_data_env_var(tmp_path, monkeypatch):
    fake_mnist(tmp_path / "mnist")
    monkeypatch.setenv("DAEKIT_DATA", str(tmp_path))
    assert resolve_data_dir("mnist", None) == tmp_path / "mnist"
    assert load_dataset("mnist").test.shape == (20, 1, 28, 28)
    monkeypatch.delenv("DAEKIT_DATA")
    with pytest.raises(DaekitError, match="pass --data-dir DIR or set DAEKIT_DATA"):
        resolve_data_dir("mnist", None)


def test_uncompressed_idx_files_are_read(tmp_path):
    fake_mnist(tmp_path, gz=False)
    assert load_dataset("mnist", tmp_path).test.shape == (20, 1, 28, 28)


def test_missing_file_names_file_and_folder(tmp_path):
    fake_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DaekitError) as e:
        load_dataset("mnist", tmp_path)
    assert "t10k-labels-idx1-ubyte.gz" in str(e.value) and str(tmp_path) in str(e.value)


def test_missing_directory(tmp_path):
    with pytest.raises(DaekitError, match="data directory for 'mnist' not found"):
        load_dataset("mnist", tmp_path / "nope")


def test_truncated_and_corrupt_idx(tmp_path):
    fake_mnist(tmp_path)
    f = tmp_path / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(f.read_bytes())
    f.write_bytes(gzip.compress(raw[: len(raw) // 2]))
    with pytest.raises(DaekitError, match="corrupt or truncated IDX file .*header says"):
        load_dataset("mnist", tmp_path)
    f.write_bytes(f.read_bytes()[:100])  # cut inside the gzip stream
    with pytest.raises(DaekitError, match="corrupt or truncated IDX file"):
        read_idx(f)
    f.write_bytes(b"not an idx file at all")
    with pytest.raises(DaekitError, match="bad magic number"):
        read_idx(f)


def test_unknown_dataset():
    with pytest.raises(DaekitError, match="unknown data set 'mnsit' .did you mean 'mnist'"):
        load_dataset("mnsit")


def test_download_from_local_mirror(tmp_path):
    mirror = fake_mnist(tmp_path / "mirror")
    dest = tmp_path / "dl"
    download_idx_set("mnist", dest, base_url=mirror.as_uri())
    assert load_dataset("mnist", dest).train.shape[1:] == (1, 28, 28)
    assert not list(dest.glob("*.part"))
    # a broken file on the mirror is refused and leaves nothing behind
    dest2 = tmp_path / "dl2"
    (mirror / "t10k-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b garbage")
    with pytest.raises(DaekitError):
        download_idx_set("mnist", dest2, base_url=mirror.as_uri())
    assert not (dest2 / "t10k-images-idx3-ubyte.gz").exists()
    shutil.rmtree(dest2)


def test_emnist_is_transposed(tmp_path):
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, (5, 28, 28), dtype=np.uint8)
    for split, n in (("train", 5), ("t10k", 5)):
        write_idx(tmp_path / f"emnist-digits-{split}-images-idx3-ubyte.gz", imgs)
        write_idx(tmp_path / f"emnist-digits-{split}-labels-idx1-ubyte.gz", np.zeros(n, np.uint8))
    d = load_dataset("emnist-digits", tmp_path, val_fraction=0.2)
    np.testing.assert_allclose(d.test[0, 0].numpy(), imgs[0].T / 255.0, atol=1e-6)


def test_loader_serves_every_item_once_in_seeded_order():
    x = torch.arange(10.0).view(10, 1, 1, 1)
    loader = InMemoryLoader(x, 4, shuffle=True, generator=torch.Generator().manual_seed(0))
    batches = list(loader)
    assert len(loader) == 3 and [len(b) for b in batches] == [4, 4, 2]
    assert sorted(torch.cat(batches).flatten().tolist()) == list(range(10))
    loader.generator = torch.Generator().manual_seed(0)
    assert torch.equal(torch.cat(list(loader)), torch.cat(batches))
    assert len(InMemoryLoader(x, 4, drop_last=True)) == 2


def test_nan_images_refused():
    a = np.zeros((2, 4, 4), np.float32)
    a[0, 1, 1] = np.nan
    with pytest.raises(DaekitError, match="NaN"):
        to_tensor(a)
