"""Networks: shapes, the code h's range, and BatchNorm folding that changes nothing but speed."""

import pytest
import torch
from torch import nn

from ppgn.models import Classifier, ClassifierConfig, Discriminator, Evaluator, Generator, GeneratorConfig
from ppgn.models.fuse import fold_batchnorm
from ppgn.models.generator import UPSAMPLE, subpixel_equivalent, with_subpixel_upsampling


def randomise_batchnorm(model: nn.Module, gen: torch.Generator) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) * 2 - 1)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
    return model.eval()


def test_shapes_and_code_is_non_negative(gen):
    C = Classifier(ClassifierConfig(channels=(4, 8), code_dim=16)).eval()
    G = Generator(GeneratorConfig(code_dim=16, channels=(8, 4))).eval()
    x = G(torch.rand(5, 16, generator=gen))
    assert x.shape == (5, 1, 28, 28) and x.abs().max() <= 1
    h1, h = C.encode(x)
    assert h1.shape == (5, 8, 7, 7) and h.shape == (5, 16)
    # h is the post-ReLU code (the paper's fc6) and the class logits are read from it alone.
    assert torch.equal(h, C.fc(h1)) and torch.equal(h, h.clamp_min(0)) and (h == 0).any()
    assert torch.allclose(C(x), C.head(h))
    assert C(x).shape == (5, 10) and Discriminator()(x).shape == (5,) and Evaluator()(x).shape == (5, 10)


@pytest.mark.parametrize("make", [
    lambda: Classifier(ClassifierConfig(channels=(4, 8), code_dim=16)),
    lambda: Classifier(ClassifierConfig(image_size=32, image_channels=3, width=0.25, code_dim=16)),
    lambda: Generator(GeneratorConfig(code_dim=16, channels=(8, 4))),
    lambda: Generator(GeneratorConfig(code_dim=16, image_size=64, image_channels=3, width=0.5, upsample="resize")),
    lambda: Generator(GeneratorConfig(code_dim=16, image_size=32, image_channels=3, width=0.5, upsample="subpixel")),
    lambda: Evaluator(),
])
def test_folding_batchnorm_keeps_the_function_and_its_gradient(make, gen):
    model = randomise_batchnorm(make(), gen)
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    c = model.config
    x = torch.rand(3, 16, generator=gen) if isinstance(model, Generator) else torch.rand(3, c.image_channels, c.image_size, c.image_size, generator=gen) * 2 - 1
    x1, x2 = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    y1, y2 = model(x1), folded(x2)
    assert torch.allclose(y1, y2, atol=1e-5)
    y1.square().sum().backward()
    y2.square().sum().backward()
    assert torch.allclose(x1.grad, x2.grad, atol=1e-4)
    assert any(isinstance(m, nn.BatchNorm2d) for m in model.modules())  # the original is untouched


@pytest.mark.parametrize("upsample", UPSAMPLE)
@pytest.mark.parametrize("size", [28, 32, 64])
def test_every_upsampling_gives_the_image_size(upsample, size, gen):
    G = Generator(GeneratorConfig(code_dim=16, image_size=size, image_channels=3, width=0.25, upsample=upsample)).eval()
    assert G(torch.rand(2, 16, generator=gen)).shape == (2, 3, size, size)
    with pytest.raises(ValueError, match="valid: transpose, subpixel, resize"):
        GeneratorConfig(upsample="bilinear")


def test_a_transposed_convolution_and_its_subpixel_equivalent_are_one_function(gen):
    conv = nn.ConvTranspose2d(5, 3, 4, stride=2, padding=1).double()
    x = torch.randn(2, 5, 6, 7, generator=gen, dtype=torch.float64)
    assert torch.allclose(conv(x), nn.Sequential(*subpixel_equivalent(conv))(x), atol=1e-12)
    with pytest.raises(ValueError, match="4×4, stride-2"):
        subpixel_equivalent(nn.ConvTranspose2d(5, 3, 3, stride=2, padding=1))


def test_a_generator_rewritten_with_subpixel_upsampling_keeps_its_function_and_gradient(gen):
    G = fold_batchnorm(randomise_batchnorm(Generator(GeneratorConfig(code_dim=16, channels=(8, 4))), gen))
    fast = with_subpixel_upsampling(G)
    assert not any(isinstance(m, nn.ConvTranspose2d) for m in fast.modules()) and fast.config == G.config
    h1, h2 = (torch.rand(3, 16, generator=gen).requires_grad_(True) for _ in range(2))
    h2.data.copy_(h1.data)
    y1, y2 = G(h1), fast(h2)
    assert torch.allclose(y1, y2, atol=1e-5)
    y1.square().sum().backward()
    y2.square().sum().backward()
    assert torch.allclose(h1.grad, h2.grad, atol=1e-4)
    assert any(isinstance(m, nn.ConvTranspose2d) for m in G.modules())  # the original is untouched
