"""The probe's kit: tiny fakes (a model, images, labels, maps, datasets) and bad values by role.

Shared by the recipe modules (``probe_recipes_*``) and the probe itself (``test_probe``).
"""

from __future__ import annotations

import importlib
import math
import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import TensorDataset

import failure_modes

PACKAGE = Path(failure_modes.__file__).parent
N, SIDE, CLASSES = 6, 8, 3
TIMEOUT_S = 10
FIELDS = {"inputs", "targets", "images", "labels", "dataset", "model", "device"}
"""What a message may name besides the parameter: the parts of a dataset or pair."""


def _model() -> nn.Sequential:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * SIDE * SIDE, CLASSES)
    )
    return model.train()


def _images() -> torch.Tensor:
    return torch.rand(N, 1, SIDE, SIDE, generator=torch.Generator().manual_seed(1))


def _labels() -> torch.Tensor:
    return torch.arange(N) % CLASSES


def _maps() -> torch.Tensor:
    return torch.rand(N, SIDE, SIDE, generator=torch.Generator().manual_seed(2))


def _logits() -> torch.Tensor:
    return torch.randn(N, CLASSES, generator=torch.Generator().manual_seed(3))


def _scores() -> torch.Tensor:
    return torch.rand(N, generator=torch.Generator().manual_seed(4))


def _flags() -> torch.Tensor:
    return torch.arange(N) % 2 == 0


def _mask() -> torch.Tensor:
    mask = torch.zeros(SIDE, SIDE, dtype=torch.bool)
    mask[:2, :2] = True
    return mask


class _Mnistish(TensorDataset):
    def __init__(self, n_images=N, n_targets=N):
        super().__init__(torch.zeros(n_images))
        self.data = torch.randint(0, 256, (n_images, SIDE, SIDE), dtype=torch.uint8)
        self.targets = torch.arange(n_targets) % CLASSES
        self.transform = None


# Bad values by the role of a parameter.
def _nan(x):
    x = x.clone()
    x.view(-1)[0] = math.nan
    return x


def _inf(x):
    x = x.clone()
    x.view(-1)[-1] = math.inf
    return x


UNAVAILABLE = "cuda:7"
TMP = Path(tempfile.mkdtemp(prefix="probe-"))  # the file recipes' folder
BAD = {
    "images": {
        "nan": lambda: _nan(_images()),
        "inf": lambda: _inf(_images()),
        "none": lambda: None,
        "uint8": lambda: (_images() * 255).to(torch.uint8),
        "wrong_shape": lambda: torch.rand(SIDE),
        "empty": lambda: torch.zeros(0, 1, SIDE, SIDE),
        "hw": lambda: torch.rand(SIDE, SIDE),  # one image without batch and channel axes
        "nhw": lambda: torch.rand(N, SIDE, SIDE),  # a batch without its channel axis
    },
    "unit_images": {
        "nan": lambda: _nan(_images()),
        "none": lambda: None,
        "uint8": lambda: (_images() * 255).to(torch.uint8),
        "normalised": lambda: _images() * 4 - 2,
        "empty": lambda: torch.zeros(0, 1, SIDE, SIDE),
        "nhw": lambda: torch.rand(N, SIDE, SIDE),
    },
    "maps": {
        "nan": lambda: _nan(_maps()),
        "inf": lambda: _inf(_maps()),
        "none": lambda: None,
        "wrong_shape": lambda: torch.rand(SIDE),
    },
    "labels": {
        "float": lambda: _labels().double() + 0.5,
        "negative": lambda: -torch.ones(N, dtype=torch.long),
        "too_large": lambda: torch.full((N,), 99),
        "none": lambda: None,
        "mismatched": lambda: _labels()[:2],
    },
    "target": {
        "float": lambda: 1.5,
        "negative": lambda: -1,
        "too_large": lambda: 99,
        "none": lambda: None,
    },
    "pair": {
        "nan": lambda: (_nan(_images()), _labels()),
        "float_labels": lambda: (_images(), _labels().double() + 0.5),
        "negative_labels": lambda: (_images(), -torch.ones(N, dtype=torch.long)),
        "mismatched": lambda: (_images(), _labels()[:2]),
        "empty": lambda: (torch.zeros(0, 1, SIDE, SIDE), torch.zeros(0, dtype=torch.long)),
        "none": lambda: None,
        "uint8": lambda: ((_images() * 255).to(torch.uint8), _labels()),
        "nhw": lambda: (torch.rand(N, SIDE, SIDE), _labels()),
    },
    # A pair a model is run on: labels it has no output for are refused too.
    "model_pair": {
        "nan": lambda: (_nan(_images()), _labels()),
        "float_labels": lambda: (_images(), _labels().double() + 0.5),
        "negative_labels": lambda: (_images(), -torch.ones(N, dtype=torch.long)),
        "too_large_labels": lambda: (_images(), torch.full((N,), 99)),
        "mismatched": lambda: (_images(), _labels()[:2]),
        "empty": lambda: (torch.zeros(0, 1, SIDE, SIDE), torch.zeros(0, dtype=torch.long)),
        "none": lambda: None,
        "uint8": lambda: ((_images() * 255).to(torch.uint8), _labels()),
        "nhw": lambda: (torch.rand(N, SIDE, SIDE), _labels()),
    },
    "dataset": {
        "none": lambda: None,
        "mismatched": lambda: _Mnistish(N, 2),
        "tensor": lambda: _images(),
        "list": lambda: [(_images()[0], 0)],
    },
    "model": {"none": lambda: None},
    # Without num_classes, 99 is a label like any other; empty batches are legitimate where
    # the result is empty too (elementwise noise, a label the MODE pool has run out of).
    "labels_any": {
        "float": lambda: _labels().double() + 0.5,
        "negative": lambda: -torch.ones(N, dtype=torch.long),
        "none": lambda: None,
        "mismatched": lambda: _labels()[:2],
    },
    "unit_elementwise": {
        "nan": lambda: _nan(_images()),
        "none": lambda: None,
        "uint8": lambda: (_images() * 255).to(torch.uint8),
        "normalised": lambda: _images() * 4 - 2,
    },
    "pair_or_empty": {
        "nan": lambda: (_nan(_images()), _labels()),
        "float_labels": lambda: (_images(), _labels().double() + 0.5),
        "negative_labels": lambda: (_images(), -torch.ones(N, dtype=torch.long)),
        "mismatched": lambda: (_images(), _labels()[:2]),
        "none": lambda: None,
        "uint8": lambda: ((_images() * 255).to(torch.uint8), _labels()),
    },
    "layer_count": {"negative": lambda: -1, "too_large": lambda: 99, "float": lambda: 1.5},
    "target_or_predicted": {  # None means "the predicted class"
        "float": lambda: 1.5,
        "negative": lambda: -1,
        "too_large": lambda: 99,
    },  # fmt: skip
    "images_or_empty": {
        "nan": lambda: _nan(_images()),
        "inf": lambda: _inf(_images()),
        "none": lambda: None,
        "uint8": lambda: (_images() * 255).to(torch.uint8),
        "wrong_shape": lambda: torch.rand(SIDE),
    },
    "uint8_images": {
        "float": lambda: _images()[:, 0],
        "none": lambda: None,
        "wrong_shape": lambda: torch.zeros(SIDE, SIDE, dtype=torch.uint8),
    },
    "grey": {
        "negative": lambda: -1,
        "too_large": lambda: 256,
        "float": lambda: 2.5,
        "none": lambda: None,
    },  # fmt: skip
    "amplitude": {"zero": lambda: 0, "nan": lambda: math.nan, "none": lambda: None},
    "transform_of": {"none": lambda: None, "tensor": lambda: _images()},
    "count_or_default": {"zero": lambda: 0, "negative": lambda: -4, "float": lambda: 2.5},
    "mask_or_empty": {"none": lambda: None, "float": lambda: _mask().float()},
    "device": {"unavailable": lambda: UNAVAILABLE, "wrong_type": lambda: 3.5},
    "count": {
        "zero": lambda: 0,
        "negative": lambda: -4,
        "float": lambda: 2.5,
        "none": lambda: None,
    },
    "mask": {
        "none": lambda: None,
        "float": lambda: _mask().float(),
        "empty": lambda: _mask() & False,
    },
    "logits": {
        "nan": lambda: _nan(_logits()),
        "inf": lambda: _inf(_logits()),
        "none": lambda: None,
        "wrong_shape": lambda: torch.rand(SIDE),
    },
    "scores": {
        "nan": lambda: _nan(_scores()),
        "inf": lambda: _inf(_scores()),
        "none": lambda: None,
        "mismatched": lambda: _scores()[:2],
    },
    "step_options": {  # steps, samples or copies per image: counts
        "negative": lambda: -4,
        "zero": lambda: 0,
        "float": lambda: 2.5,
        "text": lambda: "8",
    },
    "flags": {
        "float": lambda: torch.full((N,), 0.5),
        "none": lambda: None,
        "mismatched": lambda: _flags()[:2],
    },
    "map_dict": {
        "nan": lambda: {"saliency": _nan(_maps())},
        "none": lambda: None,
        "empty": lambda: {},
    },
    "images_2d": {
        "nan": lambda: _nan(_images()),
        "inf": lambda: _inf(_images()),
        "none": lambda: None,
        "wrong_shape": lambda: torch.rand(SIDE),
        "empty": lambda: torch.zeros(0, 1, SIDE, SIDE),
    },
    "rates": {  # a ROC curve's or a coverage curve's points, in [0, 1]
        "nan": lambda: _nan(_scores()),
        "none": lambda: None,
        "mismatched": lambda: _scores()[:2],
        "too_large": lambda: _scores() + 1.0,
        "negative": lambda: _scores() - 1.0,
    },
    "limit": {"negative": lambda: -1.0, "zero": lambda: 0.0, "nan": lambda: math.nan},
    "alpha": {"nan": lambda: math.nan, "negative": lambda: -0.5, "too_large": lambda: 2.0},
    # A NaN loss is refused: a diverged run is diagnosed, not drawn as a gap.
    "histories": {
        "none": lambda: None,
        "empty": lambda: {},
        "nan": lambda: {"a": [1.0, math.nan, 0.5]},
    },
    "values": {"nan": lambda: _nan(_maps()), "inf": lambda: _inf(_maps()), "none": lambda: None},
    # NaN is a label no data reached (label_accuracy's result): it is not buggy, not an error.
    "per_label": {
        "none": lambda: None,
        "wrong_shape": lambda: torch.rand(2, 3),
        "text": lambda: ["a", "b", "c"],
        "too_large": lambda: [1.5, 2.0, 3.0],
    },
    "labels_alone": {
        "float": lambda: _labels().double() + 0.5,
        "negative": lambda: -torch.ones(N, dtype=torch.long),
        "none": lambda: None,
    },
    "series": {
        "nan": lambda: [0.5, math.nan, 0.7],
        "none": lambda: None,
        "mismatched": lambda: [0.5],
        "text": lambda: ["a", "b", "c"],
        "empty": lambda: [],
    },
    "method": {"unknown": lambda: "nope", "none": lambda: None},
    "results": {
        "none": lambda: None,
        "empty": lambda: {},
        "negative": lambda: {"a": (-torch.ones(N, dtype=torch.long), _labels())},
    },
    "domains": {
        "none": lambda: None,
        "empty": lambda: {},
        "nan": lambda: {"a": (_nan(_images()), _images(), _images())},
        "mismatched": lambda: {"a": (_images(), _images()[:2], _images())},
    },
    "shape": {"negative": lambda: (-1, 3), "none": lambda: None, "float": lambda: (2.5, 3)},
    # torch takes negative seeds down to -2**63 and positive ones below 2**64.
    "seed": {
        "none": lambda: None,
        "float": lambda: 2.5,
        "too_large": lambda: 2**64,
        "text": lambda: "0",
    },
    "seed_or_none": {"float": lambda: 2.5, "too_large": lambda: 2**64, "text": lambda: "0"},
    # None: the dataset's own targets.
    "labels_opt": {
        "float": lambda: _labels().double() + 0.5,
        "negative": lambda: -torch.ones(N, dtype=torch.long),
        "mismatched": lambda: _labels()[:2],
    },
    # No num_classes here: a label no image has gives no index, like any other absent label.
    "label": {"float": lambda: 1.5, "negative": lambda: -1, "none": lambda: None},
    "label_in_range": {  # a label an array of per-label values is indexed with
        "float": lambda: 1.5,
        "negative": lambda: -1,
        "too_large": lambda: 99,
        "none": lambda: None,
    },
    "label_indices": {
        "none": lambda: None,
        "float": lambda: [1.5],
        "negative": lambda: [-1],
        "too_large": lambda: [99],
    },
    "threshold": {
        "nan": lambda: math.nan,
        "none": lambda: None,
        "text": lambda: "0.5",
        "inf": lambda: math.inf,
    },
    "accuracies": {  # per-label accuracies of labels that are diagnosed: NaN has no gap
        "none": lambda: None,
        "wrong_shape": lambda: torch.rand(2, 3),
        "nan": lambda: [math.nan, math.nan, math.nan],
        "text": lambda: ["a", "b", "c"],
        "too_large": lambda: [1.5, 2.0, 3.0],
    },
    "diagnoses": {
        "none": lambda: None,
        "unknown": lambda: {1: "nope"},
        "negative": lambda: {-1: "underfitting"},
        "float": lambda: {1.5: "underfitting"},
        "list": lambda: [1],
    },
    "option": {"unknown": lambda: 1},  # an option the function does not know
    "sizes": {
        "none": lambda: None,
        "negative": lambda: (-1,),
        "zero": lambda: (0,),
        "float": lambda: (2.5,),
        "text": lambda: "4",
    },
    "channel_pair": {
        "none": lambda: None,
        "negative": lambda: (-1, 4),
        "zero": lambda: (0, 4),
        "float": lambda: (2.5, 4),
        "wrong_length": lambda: (4,),
    },
    "image_shape": {
        "none": lambda: None,
        "negative": lambda: (-1, SIDE),
        "zero": lambda: (0, SIDE),
        "float": lambda: (2.5, SIDE),
        "wrong_length": lambda: (SIDE,),
    },
    "kernel_size": {
        "none": lambda: None,
        "even": lambda: 2,
        "zero": lambda: 0,
        "negative": lambda: -1,
        "float": lambda: 3.5,
    },
    "activation": {"name": lambda: "sigmoid", "class": lambda: nn.Sigmoid, "number": lambda: 1},
    "denoise_sets": {
        "none": lambda: None,
        "empty": lambda: {},
        "list": lambda: [_images()],
        "nan": lambda: {"test": _nan(_images())},
    },
    "describable": {"none": lambda: None, "list": lambda: [1, 2], "tensor": lambda: _images()},
    "cancelled": {
        "none": lambda: None,
        "empty": lambda: [],
        "nan": lambda: [math.nan],
        "too_large": lambda: [1.5],
        "negative": lambda: [-0.1],
    },
    "anything": {"none": lambda: None},
    "fraction": {"nan": lambda: math.nan, "zero": lambda: 0.0, "too_large": lambda: 2.0},
    "units": {
        "negative": lambda: [-1],
        "too_large": lambda: [99],
        "float": lambda: [0.5],
        "none": lambda: None,
    },
    "probes": {"none": lambda: None, "empty": lambda: []},
    "path": {"none": lambda: None, "missing": lambda: str(TMP / "missing" / "file")},
    "array": {"none": lambda: None, "float": lambda: _maps().numpy(), "list": lambda: [1, 2]},
    "table": {"none": lambda: None, "tensor": lambda: _maps()},
    "feature_map": {"none": lambda: None, "nan": lambda: {"a": _nan(_scores())}},
    "config_fraction": {
        "nan": lambda: math.nan,
        "negative": lambda: -0.5,
        "too_large": lambda: 2.0,
    },
    "comparison": {"none": lambda: None, "tensor": lambda: _maps()},
    "factor": {"negative": lambda: -1.0, "nan": lambda: math.nan, "none": lambda: None},
}


def _lazy(name):
    module, _, attr = name.rpartition(".")
    return lambda: getattr(importlib.import_module(module), attr)


def _with_mutants(**extra):
    model = _model()
    mutants = _lazy("failure_modes.tracks.error_detection.mutants.make_mutants")()(
        model, validation=(_images(), _labels()), n=2, fraction=0.5, seed=0, progress=False,
        min_accuracy_ratio=0.0,
    )  # fmt: skip
    return dict(model=model, mutants=mutants, inputs=_images(), **extra)


def _comparison():
    return _lazy("failure_modes.explain.comparison.compare_methods")()(
        _model(), _images(), 1, _mask().expand(N, SIDE, SIDE).clone(), ["saliency"],
        progress=False,
    )  # fmt: skip


def _table():
    import pandas as pd

    return pd.DataFrame({"m": ["a", "a", "b"], "label": [1, 2, 1], "drop": [0.1, 0.2, 0.3]})


def _probes():
    probe = _lazy("failure_modes.tracks.mode.layers.Probe")()
    return [probe("a", _labels().numpy(), 0.5), probe("b", _labels().numpy(), 0.6)]


def _idx_file():
    path = TMP / "images.idx"
    if not path.exists():
        _lazy("failure_modes.data.idx.write_idx")()(path, _Mnistish().data.numpy())
    return str(path)


# name: (valid arguments, {parameter: role}); the model is rebuilt for every call.
