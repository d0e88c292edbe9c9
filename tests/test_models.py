import pytest
import torch

from daekit.errors import DaekitError
from daekit.models import MODELS, count_parameters, create_model, list_models
from daekit.registry import Registry

CONV = [n for n in list_models() if n not in ("dense", "deep-dense")]


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("channels", [1, 3])
def test_shape_and_finite_at_training_size(name, channels):
    torch.manual_seed(0)
    m = create_model(name, in_channels=channels, image_size=(12, 12))
    x = torch.rand(2, channels, 12, 12)
    y = m(x)
    assert y.shape == x.shape
    assert torch.isfinite(y).all()
    y.mean().backward()  # gradients flow to every parameter
    assert all(p.grad is not None for p in m.parameters())


@pytest.mark.parametrize("name", CONV)
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(13, 11), (29, 31), (7, 64)])
def test_convolutional_models_take_any_size(name, channels, size):
    m = create_model(name, in_channels=channels)
    x = torch.rand(1, channels, *size)
    y = m(x)
    assert y.shape == x.shape and torch.isfinite(y).all()


@pytest.mark.parametrize("name", ["unet", "residual"])
@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [(13, 11), (29, 31)])
def test_unshuffled_models_take_any_size(name, channels, size):
    torch.manual_seed(0)
    m = create_model(name, in_channels=channels, unshuffle=2)
    assert m.geometry.multiple == (2 * 2**m.levels if name == "unet" else 2)
    x = torch.rand(2, channels, *size)
    y = m(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert torch.allclose(m(x[1:]), y[1:], atol=1e-5)  # no mixing between images of a batch


def test_keras_example_is_the_conv_default():
    # keras.io "Convolutional autoencoder for image denoising": 28,353 parameters
    assert count_parameters(create_model("conv", in_channels=1)) == 28_353


@pytest.mark.parametrize("name", ["dense", "deep-dense", "conv"])
def test_encode_decode_compose_to_forward(name):
    m = create_model(name, image_size=(16, 16))
    x = torch.rand(3, 1, 16, 16)
    z = m.encode(x)
    assert z.shape[0] == 3 and z.numel() < x.numel() * 32
    torch.testing.assert_close(m.decode(z) if name != "conv" else m.decode(z, (16, 16)), m(x))


def test_tied_dense_shares_weights():
    tied, free = create_model("dense", image_size=(8, 8), hidden=20), create_model("dense", image_size=(8, 8), hidden=20, tied=False)
    assert count_parameters(free) - count_parameters(tied) == 64 * 20
    z = tied.encode(torch.rand(2, 1, 8, 8))
    assert z.min() >= 0 and z.max() <= 1  # sigmoid code units


def test_residual_starts_as_identity():
    m = create_model("residual", depth=4, width=8)
    x = torch.rand(1, 1, 9, 9)
    assert torch.equal(m(x), x)


def test_dense_refuses_wrong_size():
    m = create_model("dense", image_size=(28, 28))
    with pytest.raises(DaekitError, match="expects 28x28 images, got 32x32"):
        m(torch.rand(1, 1, 32, 32))


def test_wrong_channels_refused():
    with pytest.raises(DaekitError, match="expects 3 channel"):
        create_model("unet", in_channels=3)(torch.rand(1, 1, 8, 8))


def test_unknown_model_and_argument():
    with pytest.raises(DaekitError, match="unknown model 'resnet'"):
        create_model("resnet")
    with pytest.raises(DaekitError, match="has no argument 'widht'"):
        create_model("residual", widht=3)
    with pytest.raises(DaekitError, match="positive integer"):
        create_model("conv", channels=[0, 4])


def test_registry_refuses_duplicates():
    r: Registry = Registry("thing")
    r.register("a")(object)
    with pytest.raises(ValueError, match="already registered"):
        r.register("a")(object)
    with pytest.raises(ValueError):
        MODELS.register("conv")(object)


def test_spec_rebuilds_the_same_architecture():
    m = create_model("unet", in_channels=3, levels=3, width=8)
    spec = dict(m.spec)
    m2 = create_model(spec.pop("name"), **spec)
    assert count_parameters(m2) == count_parameters(m)


@pytest.mark.parametrize("unshuffle, dilation", [(1, None), (1, [1, 2, 3, 1]), (2, [2, 1, 3, 1])])
def test_residual_receptive_field_is_exact(unshuffle, dilation):
    # the declared receptive field is what one output pixel sees: a change just inside it moves that pixel,
    # one just outside does not (tiling's halo is sized from it)
    torch.manual_seed(0)
    m = create_model("residual", 1, depth=4, width=8, unshuffle=unshuffle, dilation=dilation).double().eval()
    for c in m.body:
        if isinstance(c, torch.nn.Conv2d):
            torch.nn.init.uniform_(c.weight, 0.05, 0.2)  # positive weights: no cancellation by chance
    rf = m.geometry.receptive_field
    x = torch.rand(1, 1, 96, 96, dtype=torch.float64)
    centre = 48  # an even row and column: on the unshuffle grid
    seen = []
    for dx in range(0, rf + 4):
        z = x.clone()
        z[0, 0, centre, centre - dx] += 1.0
        seen.append(bool((m(z) - m(x))[0, 0, centre, centre].abs() > 0))
    furthest = max(i for i, s in enumerate(seen) if s)
    assert furthest <= rf // 2  # never beyond the declared field
    if unshuffle == 1:
        assert furthest == rf // 2  # and, at full resolution, exactly to its edge


def test_residual_dilation_is_checked_and_keeps_the_weights():
    with pytest.raises(DaekitError, match="one entry per conv layer"):
        create_model("residual", 1, depth=4, dilation=[1, 2])
    with pytest.raises(DaekitError, match="positive integer"):
        create_model("residual", 1, depth=3, dilation=[1, 0, 1])
    with pytest.raises(DaekitError, match="out of range"):
        create_model("residual", 1, depth=2, dilation=[1, 1000])
    plain = create_model("residual", 3, depth=5, width=8)
    dilated = create_model("residual", 3, depth=5, width=8, dilation=[1, 2, 3, 2, 1])
    assert dilated.geometry.receptive_field == 2 * (9 + 1) - 1 and plain.geometry.receptive_field == 11
    dilated.load_state_dict(plain.state_dict())  # dilation holds no weights: the same state dict


def test_batchnorm_folded_for_inference_gives_the_same_output():
    import torch
    from torch import nn

    from daekit.api import Denoiser
    from daekit.models import create_model
    from daekit.models.blocks import fold_batchnorm

    torch.manual_seed(0)
    m = create_model("residual", in_channels=3, image_size=(32, 32), depth=5, width=16, batch_norm=True)
    for bn in (x for x in m.modules() if isinstance(x, nn.BatchNorm2d)):  # statistics and scales a training leaves
        bn.running_mean.uniform_(-0.5, 0.5), bn.running_var.uniform_(0.5, 2), bn.weight.data.uniform_(0.5, 1.5)
    for p in m.body[-1].parameters():
        p.data.normal_(0, 0.1)  # (the last layer starts at zero)
    m.eval()
    x = torch.rand(2, 3, 40, 36)
    with torch.no_grad():
        before = m(x)
        n = len(m.body)
        after = fold_batchnorm(m)(x)
    assert not any(isinstance(x, nn.BatchNorm2d) for x in m.modules()) and len(m.body) == n
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-5)
    assert not torch.equal(after, x)
    # a shipped model loaded for fp32 inference has it folded; for bf16 it keeps its layers (and their rounding)
    has_bn = lambda den: any(isinstance(x, nn.BatchNorm2d) for x in den.model.modules())  # noqa: E731
    folded = Denoiser.load("photo-real", device="cpu", precision="fp32")
    assert not has_bn(folded)
    assert all(c.weight.is_contiguous(memory_format=torch.channels_last)  # the layout the rest of the model has
               for c in folded.model.modules() if isinstance(c, nn.Conv2d) and c.kernel_size == (3, 3))
    assert has_bn(Denoiser.load("photo-real", device="cpu", precision="bf16"))
