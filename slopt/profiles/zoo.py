"""Profiles of real architectures by name: ``available()`` and ``make(name)``.

The convolutional networks are written here with plain ``torch.nn`` modules (torchvision does not
import beside the local torch wheel) and follow the reference definitions layer for layer:

* ``vgg11`` - VGG-11 for CIFAR-10 (Simonyan & Zisserman 2015, configuration "A"; the CIFAR
  variant: 3x32x32 input, 3x3 convolutions with padding 1, no batch normalisation, one 512 -> 10
  classifier; 9,225,610 parameters; ``docs/profiles.md``). Vertices: conv+ReLU, max-pool and the
  classifier (14 layers); blocks: the five conv stages and the classifier.
* ``resnet18`` / ``resnet50`` - He et al. 2016 with the torchvision layout (stride on the 3x3
  convolution of the bottleneck, "v1.5"); 11,689,512 / 25,557,032 parameters; 224x224 input.
* ``googlenet`` - Inception-v1 (Szegedy et al. 2015, Table 1; true 5x5 branch convolutions,
  batch normalisation after every convolution as in torchvision, no auxiliary classifiers).
* ``densenet121`` - Huang et al. 2017, DenseNet-BC-121 (growth 32, blocks 6/12/24/16, bottleneck
  width 4k, compression 0.5); 7,978,856 parameters.
* ``vit-b16``, ``gpt2``, ``gpt2-medium``, ``llama2-7b`` - Hugging Face ``transformers`` classes
  built from a config with random weights on the ``meta`` device (nothing is downloaded or
  allocated), 16-bit weights and activations, profiled with :func:`from_torch` at module level.
  ``<name>-analytic`` gives the analytic chain of :func:`slopt.profiles.transformer.transformer`.

Every profile is measured by :func:`slopt.profiles.from_torch` (forward and backward FLOP counted
by ``FlopCounterMode``, multiply-add = 2 FLOP; per sample) on the ``meta`` device, and carries its
provenance (tool, versions, input shape).
"""

from __future__ import annotations

from typing import Any

from slopt.errors import ValidationError
from slopt.profiles.graph import ModelGraph

__all__ = ["available", "make", "build_module", "MODELS"]

#: name -> (description, default input)
MODELS: dict[str, str] = {
    "vgg11": "VGG-11 for CIFAR-10, 3x32x32, fp32, chain of 14 layers",
    "resnet18": "ResNet-18, 3x224x224, fp32, leaf-module DAG, blocks layer1.0 ... layer4.1",
    "resnet50": "ResNet-50, 3x224x224, fp32, leaf-module DAG, blocks layer1.0 ... layer4.2",
    "googlenet": "Inception-v1 (GoogLeNet-style), 3x224x224, fp32, blocks = inception modules",
    "densenet121": "DenseNet-121, 3x224x224, fp32, blocks = dense blocks and transitions",
    "vit-b16": "ViT-B/16, 3x224x224, 16-bit, module DAG, blocks = encoder layers",
    "gpt2": "GPT-2 small, 1024 tokens, 16-bit, module DAG, blocks = transformer.h.*",
    "gpt2-medium": "GPT-2 medium, 1024 tokens, 16-bit, module DAG, blocks = transformer.h.*",
    "llama2-7b": "LLaMA-2-7B, 512 tokens, 16-bit, module DAG (meta device), blocks = model.layers.*",
    "vit-b16-analytic": "ViT-B/16 analytic chain (slopt.profiles.transformer), 16-bit",
    "gpt2-analytic": "GPT-2 small analytic chain, 1024 tokens, 16-bit",
    "gpt2-medium-analytic": "GPT-2 medium analytic chain, 1024 tokens, 16-bit",
    "llama2-7b-analytic": "LLaMA-2-7B analytic chain, 512 tokens, 16-bit",
}

#: Sequence length of the shipped language-model profiles (reconstructed default: GPT-2's full
#: context n_ctx = 1024; 512 tokens for LLaMA-2-7B, a common fine-tuning length).
SEQ_LEN = {"gpt2": 1024, "gpt2-medium": 1024, "llama2-7b": 512}


def available() -> list[str]:
    """Names ``make`` knows."""
    return list(MODELS)


# ---------------------------------------------------------------------------- CNN definitions
def _nets() -> Any:
    """The CNN classes (defined on first use so that ``import slopt`` needs no torch)."""
    import torch
    from torch import nn

    class ConvReLU(nn.Sequential):
        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__(nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True))

    class Classifier(nn.Module):
        def __init__(self, c_in: int, n: int) -> None:
            super().__init__()
            self.fc = nn.Linear(c_in, n)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.flatten(x, 1))

    class VGG11(nn.Module):
        """VGG-11 ("A") for 32x32 inputs: 8 conv 3x3 + ReLU, 5 max-pools, one linear layer."""

        def __init__(self, n_classes: int = 10) -> None:
            super().__init__()
            spec = [[64], [128], [256, 256], [512, 512], [512, 512]]
            c, k = 3, 0
            for s, widths in enumerate(spec, start=1):
                stage = nn.Module()
                for w in widths:
                    k += 1
                    stage.add_module(f"conv{k}", ConvReLU(c, w))
                    c = w
                stage.add_module(f"pool{s}", nn.MaxPool2d(2, 2))
                self.add_module(f"stage{s}", stage)
            self.classifier = Classifier(512, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for s in range(1, 6):
                for m in getattr(self, f"stage{s}").children():
                    x = m(x)
            return self.classifier(x)

    class BasicBlock(nn.Module):
        expansion = 1

        def __init__(self, c_in: int, c: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(c, c, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.downsample = None
            if stride != 1 or c_in != c:
                self.downsample = nn.Sequential(nn.Conv2d(c_in, c, 1, stride, bias=False),
                                                nn.BatchNorm2d(c))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            idt = x if self.downsample is None else self.downsample(x)
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return self.relu(y + idt)

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, c_in: int, c: int, stride: int = 1) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(c_in, c, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(c)
            self.conv2 = nn.Conv2d(c, c, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(c)
            self.conv3 = nn.Conv2d(c, 4 * c, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(4 * c)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or c_in != 4 * c:
                self.downsample = nn.Sequential(nn.Conv2d(c_in, 4 * c, 1, stride, bias=False),
                                                nn.BatchNorm2d(4 * c))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            idt = x if self.downsample is None else self.downsample(x)
            y = self.relu(self.bn1(self.conv1(x)))
            y = self.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return self.relu(y + idt)

    class ResNet(nn.Module):
        def __init__(self, block: type, layers: list[int], n_classes: int = 1000) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            c = 64
            for i, (n, w) in enumerate(zip(layers, (64, 128, 256, 512)), start=1):
                blocks = []
                for j in range(n):
                    blocks.append(block(c, w, 2 if (j == 0 and i > 1) else 1))
                    c = w * block.expansion
                self.add_module(f"layer{i}", nn.Sequential(*blocks))
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(c, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    class BasicConv(nn.Module):
        def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, padding: int = 0) -> None:
            super().__init__()
            self.conv = nn.Conv2d(c_in, c_out, k, stride, padding, bias=False)
            self.bn = nn.BatchNorm2d(c_out, eps=0.001)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(self.bn(self.conv(x)))

    class Inception(nn.Module):
        def __init__(self, c_in: int, c1: int, c3r: int, c3: int, c5r: int, c5: int, cp: int) -> None:
            super().__init__()
            self.branch1 = BasicConv(c_in, c1, 1)
            self.branch2 = nn.Sequential(BasicConv(c_in, c3r, 1), BasicConv(c3r, c3, 3, padding=1))
            self.branch3 = nn.Sequential(BasicConv(c_in, c5r, 1), BasicConv(c5r, c5, 5, padding=2))
            self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1, ceil_mode=True), BasicConv(c_in, cp, 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)

    class GoogLeNet(nn.Module):
        """Inception-v1, Szegedy et al. 2015, Table 1 (no auxiliary classifiers, no dropout)."""

        def __init__(self, n_classes: int = 1000) -> None:
            super().__init__()
            self.conv1 = BasicConv(3, 64, 7, 2, 3)
            self.maxpool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.conv2 = BasicConv(64, 64, 1)
            self.conv3 = BasicConv(64, 192, 3, padding=1)
            self.maxpool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.inception3a = Inception(192, 64, 96, 128, 16, 32, 32)
            self.inception3b = Inception(256, 128, 128, 192, 32, 96, 64)
            self.maxpool3 = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.inception4a = Inception(480, 192, 96, 208, 16, 48, 64)
            self.inception4b = Inception(512, 160, 112, 224, 24, 64, 64)
            self.inception4c = Inception(512, 128, 128, 256, 24, 64, 64)
            self.inception4d = Inception(512, 112, 144, 288, 32, 64, 64)
            self.inception4e = Inception(528, 256, 160, 320, 32, 128, 128)
            self.maxpool4 = nn.MaxPool2d(2, 2, ceil_mode=True)
            self.inception5a = Inception(832, 256, 160, 320, 32, 128, 128)
            self.inception5b = Inception(832, 384, 192, 384, 48, 128, 128)
            self.avgpool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(1024, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for m in list(self.children())[:-1]:
                x = m(x)
            return self.fc(torch.flatten(x, 1))

    class DenseLayer(nn.Module):
        def __init__(self, c_in: int, growth: int, bn_size: int) -> None:
            super().__init__()
            self.norm1 = nn.BatchNorm2d(c_in)
            self.conv1 = nn.Conv2d(c_in, bn_size * growth, 1, bias=False)
            self.norm2 = nn.BatchNorm2d(bn_size * growth)
            self.conv2 = nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False)

        def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
            x = torch.cat(feats, 1)
            return self.conv2(torch.relu(self.norm2(self.conv1(torch.relu(self.norm1(x))))))

    class DenseBlock(nn.ModuleDict):
        def __init__(self, n: int, c_in: int, growth: int, bn_size: int) -> None:
            super().__init__()
            for i in range(n):
                self[f"denselayer{i + 1}"] = DenseLayer(c_in + i * growth, growth, bn_size)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            feats = [x]
            for layer in self.values():
                feats.append(layer(feats))
            return torch.cat(feats, 1)

    class Transition(nn.Sequential):
        def __init__(self, c_in: int, c_out: int) -> None:
            super().__init__()
            self.norm = nn.BatchNorm2d(c_in)
            self.relu = nn.ReLU(inplace=True)
            self.conv = nn.Conv2d(c_in, c_out, 1, bias=False)
            self.pool = nn.AvgPool2d(2, 2)

    class DenseNet(nn.Module):
        """DenseNet-BC (Huang et al. 2017); 121 layers with blocks (6, 12, 24, 16)."""

        def __init__(self, blocks: tuple[int, ...] = (6, 12, 24, 16), growth: int = 32,
                     init: int = 64, bn_size: int = 4, n_classes: int = 1000) -> None:
            super().__init__()
            self.conv0 = nn.Conv2d(3, init, 7, 2, 3, bias=False)
            self.norm0 = nn.BatchNorm2d(init)
            self.relu0 = nn.ReLU(inplace=True)
            self.pool0 = nn.MaxPool2d(3, 2, 1)
            c = init
            for i, n in enumerate(blocks, start=1):
                self.add_module(f"denseblock{i}", DenseBlock(n, c, growth, bn_size))
                c += n * growth
                if i < len(blocks):
                    self.add_module(f"transition{i}", Transition(c, c // 2))
                    c //= 2
            self.norm5 = nn.BatchNorm2d(c)
            self.classifier = nn.Linear(c, n_classes)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            for m in list(self.children())[:-1]:
                x = m(x)
            x = torch.flatten(torch.nn.functional.adaptive_avg_pool2d(torch.relu(x), 1), 1)
            return self.classifier(x)

    return {"VGG11": VGG11, "ResNet": ResNet, "BasicBlock": BasicBlock, "Bottleneck": Bottleneck,
            "GoogLeNet": GoogLeNet, "DenseNet": DenseNet}


def build_module(name: str, device: str = "meta", dtype: Any = None) -> tuple[Any, Any, dict]:
    """The ``torch.nn.Module`` of a zoo CNN or transformer, an example input and kwargs.

    Built on ``device`` (default ``meta``: no memory, no download) with random weights.
    """
    import torch

    name = _canonical(name)
    _check(name)
    base = name.removesuffix("-analytic")
    with torch.device(device):
        if base in ("vgg11", "resnet18", "resnet50", "googlenet", "densenet121"):
            nets = _nets()
            if base == "vgg11":
                m, x = nets["VGG11"](10), torch.zeros(1, 3, 32, 32)
            elif base == "resnet18":
                m, x = nets["ResNet"](nets["BasicBlock"], [2, 2, 2, 2]), torch.zeros(1, 3, 224, 224)
            elif base == "resnet50":
                m, x = nets["ResNet"](nets["Bottleneck"], [3, 4, 6, 3]), torch.zeros(1, 3, 224, 224)
            elif base == "googlenet":
                m, x = nets["GoogLeNet"](), torch.zeros(1, 3, 224, 224)
            else:
                m, x = nets["DenseNet"](), torch.zeros(1, 3, 224, 224)
            return m.train(), x, {}
        import transformers as tf

        from slopt.profiles.transformer import hf_config

        dt = dtype or torch.float16
        if base == "vit-b16":
            m = tf.ViTForImageClassification(hf_config(base)).to(dt)
            return m.train(), torch.zeros(1, 3, 224, 224, dtype=dt), {}
        cls = tf.GPT2LMHeadModel if base.startswith("gpt2") else tf.LlamaForCausalLM
        m = cls(hf_config(base, use_cache=False)).to(dt)
        ids = torch.zeros(1, SEQ_LEN[base], dtype=torch.long)
        return m.train(), ids, {"labels": ids}


def _canonical(name: str) -> str:
    """Zoo names use hyphens; the shipped file stems use underscores (``vit_b16``)."""
    return str(name).replace("_", "-")


def _check(name: str) -> None:
    if name not in MODELS:
        raise ValidationError(f"unknown model {name!r}; known models: {', '.join(MODELS)}", "model")


def _vgg_key(path: str) -> str:
    return "classifier" if path.startswith("classifier") else ".".join(path.split(".")[:2])


#: from_torch options per model: vertex granularity and block labels.
_OPTIONS: dict[str, dict[str, Any]] = {
    "vgg11": {"granularity": _vgg_key, "block": 1},
    "resnet18": {"granularity": "module", "block": None},
    "resnet50": {"granularity": "module", "block": None},
    "googlenet": {"granularity": "module", "block": 1},
    "densenet121": {"granularity": "module", "block": 1},
    "vit-b16": {"granularity": "module", "block": None},
    "gpt2": {"granularity": "module", "block": None},
    "gpt2-medium": {"granularity": "module", "block": None},
    "llama2-7b": {"granularity": "module", "block": None},
}


def make(name: str, **options: Any) -> ModelGraph:
    """Build the profile of a known architecture (see :data:`MODELS`).

    Keyword options are passed to :func:`slopt.profiles.from_torch` (e.g. ``granularity="op"``)
    or, for ``*-analytic``, to :func:`slopt.profiles.transformer.transformer`.

    Raises
    ------
    ValidationError
        For an unknown name (listing the known ones).
    """
    name = _canonical(name)
    _check(name)
    if name.endswith("-analytic"):
        from slopt.profiles.transformer import transformer

        base = name.removesuffix("-analytic")
        kw: dict[str, Any] = {"seq_len": SEQ_LEN.get(base), "dtype_bytes": 2, "name": name}
        kw.update(options)
        return transformer(base, **kw)
    from slopt.profiles.torch_loader import from_torch

    m, x, kwargs = build_module(name)
    opts: dict[str, Any] = dict(_OPTIONS[name])
    opts.update(options)
    gran = opts["granularity"]
    opts["provenance"] = {"zoo_model": name, "description": MODELS[name], "weights": "random (meta)",
                          "granularity": gran if not callable(gran) else "conv+ReLU / pool / classifier",
                          **opts.get("provenance", {})}
    return from_torch(m, x, kwargs, name=name, **opts)
