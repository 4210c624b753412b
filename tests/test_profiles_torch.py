"""from_torch: measured forward/backward FLOP, shapes, parameters, blocks, frozen layers, errors."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from slopt.errors import ValidationError  # noqa: E402
from slopt.profiles import from_torch  # noqa: E402


class Block(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.layer1 = nn.Sequential(Block(8), Block(8))
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.layer1(torch.relu(self.stem(x)))
        return self.fc(x.mean((2, 3)))


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return Net().train()


@pytest.fixture(scope="module")
def profile(net):
    return from_torch(net, torch.randn(4, 3, 16, 16))


def test_measured_flop_match_whole_model_run(profile):
    c = profile.provenance["check"]
    assert c["sum_forward_flop"] == c["whole_model_forward_flop"] > 0
    assert c["sum_backward_flop"] == c["whole_model_backward_flop"] > 0
    # per sample: stem conv 3->8 on 16x16 = 2 * 27 * 8 * 256 FLOP; its input is data, so the
    # backward is the weight gradient only
    stem = profile.index("stem")
    assert profile.forward_flop[stem] == 2 * 27 * 8 * 256
    assert profile.backward_flop[stem] == profile.forward_flop[stem]
    conv = profile.index("layer1.0.conv1")
    assert profile.forward_flop[conv] == 2 * 72 * 8 * 256
    assert profile.backward_flop[conv] == 2 * profile.forward_flop[conv]     # input + weight grad


def test_shapes_params_blocks(profile, net):
    assert profile.activation_bytes[profile.index("stem")] == 8 * 16 * 16 * 4   # fp32, per sample
    assert profile.activation_bytes[profile.index("fc")] == 10 * 4
    assert profile.param_bytes.sum() == 4 * sum(p.numel() for p in net.parameters())
    assert np.array_equal(profile.param_bytes, profile.trainable_param_bytes)
    blocks = dict(zip(profile.names, profile.block))
    assert blocks["layer1.0.conv1"] == blocks["layer1.0.bn2"] == "layer1.0"
    assert blocks["layer1.1.conv2"] == "layer1.1"
    assert len(profile.inputs) == 1 and len(profile.outputs) == 1
    assert profile.provenance["input_shapes"] == [[4, 3, 16, 16]]
    assert profile.provenance["versions"]["torch"] == torch.__version__


@pytest.mark.parametrize("granularity", ["op", "module", 1, 2])
def test_granularities_keep_totals(net, profile, granularity):
    g = from_torch(net, torch.randn(4, 3, 16, 16), granularity=granularity, check=False)
    assert g.forward_flop.sum() == profile.forward_flop.sum()
    assert g.backward_flop.sum() == profile.backward_flop.sum()
    assert g.param_bytes.sum() == profile.param_bytes.sum()
    if granularity == 2:
        assert "layer1.0" in g.names and "layer1.1" in g.names


def test_frozen_parameters_have_no_weight_gradient():
    torch.manual_seed(0)
    m = Net().train()
    for p in [*m.stem.parameters(), *m.layer1[0].parameters()]:
        p.requires_grad_(False)
    g = from_torch(m, torch.randn(2, 3, 16, 16))
    assert g.backward_flop[g.index("stem")] == 0
    # layer1.0: the input needs no gradient and the weights are frozen: nothing to compute
    assert g.backward_flop[g.index("layer1.0.conv1")] == 0
    assert g.trainable_param_bytes[g.index("layer1.0.conv1")] == 0
    c = g.provenance["check"]
    assert c["sum_backward_flop"] == c["whole_model_backward_flop"]
    # layer1.1.conv1: input gradient is not needed either (nothing trainable upstream)
    i = g.index("layer1.1.conv1")
    assert g.backward_flop[i] == g.forward_flop[i]


def test_meta_device_gives_the_same_figures(profile):
    with torch.device("meta"):
        m = Net().train()
    g = from_torch(m, torch.zeros(4, 3, 16, 16, device="meta"))
    assert np.array_equal(g.forward_flop, profile.forward_flop)
    assert np.array_equal(g.backward_flop, profile.backward_flop)
    assert np.array_equal(g.activation_bytes, profile.activation_bytes)


def test_half_precision_halves_bytes(profile):
    torch.manual_seed(0)
    m = Net().train().to(torch.bfloat16)
    g = from_torch(m, torch.randn(4, 3, 16, 16, dtype=torch.bfloat16), check=False)
    assert np.array_equal(2 * g.activation_bytes, profile.activation_bytes)
    assert np.array_equal(2 * g.param_bytes, profile.param_bytes)


def test_grouped_convolution_backward_is_counted_once():
    m = nn.Sequential(nn.Conv2d(4, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1, groups=4))
    g = from_torch(m, torch.randn(1, 4, 8, 8))
    i = g.index("1")
    assert g.backward_flop[i] == 2 * g.forward_flop[i]


def test_buffers_are_restored(net):
    before = net.layer1[0].bn1.running_mean.clone()
    from_torch(net, torch.randn(2, 3, 16, 16))
    assert torch.equal(before, net.layer1[0].bn1.running_mean)


class Branchy(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        y = self.fc(x)
        if y.sum() > 0:                      # data-dependent control flow: not traceable
            return y * 2
        return y


class Numpy(nn.Module):
    def forward(self, x):
        return torch.from_numpy(x.numpy() * 2)


def test_untraceable_module_names_the_operator():
    with pytest.raises(ValidationError, match=r"Branchy.*failing operator.*__bool__.*if y\.sum\(\) > 0"):
        from_torch(Branchy(), torch.randn(2, 4), fallback=False)
    with pytest.raises(ValidationError, match=r"Numpy: failing operator Tensor\.numpy at .*x\.numpy"):
        from_torch(Numpy(), torch.randn(2, 4))


def test_bad_arguments():
    with pytest.raises(ValidationError, match="module"):
        from_torch(lambda x: x, torch.randn(2, 4))
    with pytest.raises(ValidationError, match="granularity"):
        from_torch(nn.Linear(4, 4), torch.randn(2, 4), granularity="layer")


class Attention(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.qkv = nn.Linear(32, 96)

    def forward(self, x):
        b, s, _ = x.shape
        q, k, v = self.qkv(x).view(b, s, 3, 4, 8).permute(2, 0, 3, 1, 4)
        return torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)


def test_cpu_sdpa_kernel_is_counted():
    g = from_torch(Attention(), torch.randn(2, 16, 32))
    attn = 2 * 2 * 4 * 16 * 16 * 8                       # Q K^T and P V per sample: 2 * 2 s^2 d
    assert g.forward_flop.sum() == 2 * 16 * 32 * 96 + attn
    c = g.provenance["check"]
    assert c["sum_backward_flop"] == c["whole_model_backward_flop"]
    assert g.backward_flop.sum() == 2 * 16 * 32 * 96 + 2.5 * attn   # torch's SDPA backward formula


def test_input_that_requires_grad_gets_its_gradient():
    """A server-side part receives activations whose gradient it must return."""
    m = nn.Sequential(nn.Linear(8, 8), nn.Linear(8, 4))
    plain = from_torch(m, torch.randn(2, 8))
    server = from_torch(m, torch.randn(2, 8, requires_grad=True))
    assert plain.backward_flop[0] == plain.forward_flop[0]               # weight gradient only
    assert server.backward_flop[0] == 2 * server.forward_flop[0]         # + input gradient
    c = server.provenance["check"]
    assert c["sum_backward_flop"] == c["whole_model_backward_flop"]


class Kw(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 3)

    def forward(self, x, flag=True, n=3, y=None):
        return self.fc(x * n if flag else x + y)


def test_keyword_and_constant_inputs():
    g = from_torch(Kw(), (torch.randn(2, 3),), {"y": torch.randn(2, 3), "n": 2, "flag": False})
    assert g.forward_flop.sum() == 2 * 9
    assert g.provenance["check"]["whole_model_forward_flop"] == 2 * 9
