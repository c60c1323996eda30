# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python (failure-modes)
#     language: python
#     name: failure-modes
# ---

# %% [markdown]
# # Debugging a model with MODE: find the weak labels, then fetch the data that fixes them
#
# When a program has a bug, nobody fixes it by typing more random code. Yet when a network is
# weak on some inputs, the usual fix is "more data", drawn at random. MODE treats a weak model
# like buggy software instead: first *locate* the bug (which labels, which layer, which
# features), then *fix* it with training inputs chosen for that bug from a reserved pool.
#
# MODE is described in: Shiqing Ma, Yingqi Liu, Wen-Chuan Lee, Xiangyu Zhang and Ananth Grama,
# "MODE: automated neural network model debugging via state differential analysis and input
# selection", in *Proceedings of ESEC/FSE 2018* (the joint meeting of the European Software
# Engineering Conference and the ACM SIGSOFT Symposium on the Foundations of Software
# Engineering, one of the main software-engineering conferences). The paper reports large
# accuracy gains on its own models and data sets; we quote none of its numbers, because this
# notebook was built from a public Keras replication on MNIST, which compared nine ways of
# measuring similarity for the selection and also ran MODE without its layer search (always
# the last layer). Whether MODE beats random selection here, and by how much, this notebook
# measures for itself.
#
# <div class="alert alert-block alert-info"><b>What you will learn</b>
# <ul>
# <li>to find a model's buggy labels on a validation split and tell underfitting from
# overfitting;</li>
# <li>to pick the layer whose features to compare, with linear probes;</li>
# <li>to read differential heat maps (right answers, false positives, false negatives);</li>
# <li>to rank a pool of new inputs against a label's reference map with nine measures, and
# to pick from it in the direction the diagnosis sets;</li>
# <li>to evaluate a data-selection method honestly: paired tests over seeds, and controls that
# isolate each of its parts.</li>
# </ul>
# <b>Prerequisites</b>: the core notebook (<code>solution.ipynb</code> / <code>exercise.ipynb</code>
# at the top of the repository: training a classifier, per-class accuracy, confusion
# matrices), and PyTorch tensor indexing.<br>
# <b>Time plan</b> (about two and a half hours): Part 1, 20 minutes; Part 2, 10 minutes; Part 3,
# 20 minutes; Part 4, 35 minutes; Part 5, 25 minutes; Part 6 and the wrap-up, 25 minutes;
# Bonus, 15 minutes.</div>
#
# 1. **A weak model and its bugs**: per-label accuracy, buggy labels, under- or overfitting.
# 2. **Which layer to look at**: linear probes on every hidden layer, and where they saturate.
# 3. **Heat maps**: what the model "sees" in a label's right answers, its false positives and
#    its false negatives, and the differences between them.
# 4. **Ranking the pool**: nine measures, the inputs each one likes best and least, and the
#    picks for one buggy label.
# 5. **The fix**: one round by hand, then MODE against random selection over several rounds.
# 6. **What the ranking adds**: nine measures over several seeds, with paired tests; the
#    direction of the ranking, the layer, and a model that underfits.
#
# <div class="alert alert-block alert-danger"><b>Before you start</b>: choose the
# <code>failure-modes</code> kernel (menu Kernel → Change kernel). The whole notebook runs in
# a few minutes on a laptop CPU; Part 5 is the longest cell.</div>

# %%
import copy
from dataclasses import replace

import numpy as np
import pandas as pd
import torch
from IPython.display import display
from scipy import stats

from failure_modes import plotting
from failure_modes.course.checks import mode as checks
from failure_modes.course.record import record
from failure_modes.data import load_mnist, to_tensors
from failure_modes.models.evaluation import predict
from failure_modes.models.training import train_classifier
from failure_modes.tracks import mode
from failure_modes.tracks.mode import CONTROLS, MEASURES

# %% [markdown]
# The experiment's settings. `SEED` picks a block of `N_SEEDS` seeds: Parts 1 to 4 look closely
# at the model of the block's first seed, Parts 5 and 6 repeat everything for every seed of the
# block (the benchmark, `bench/bench_mode.py`, runs five).

# %% tags=["parameters"]
SEED = 0  # block of seeds N_SEEDS * SEED ... N_SEEDS * SEED + N_SEEDS - 1
N_SEEDS = 4  # seeds of the comparison in Parts 5 and 6
N_GOOD_SEEDS = 3  # seeds of the Bonus (the block's first ones)
ALL_MEASURES = True  # Part 6: all nine measures; False runs cosine only (and both controls)
# The data: per-label sizes of the three splits, and the labels starved of training images.
VALIDATION_PER_LABEL, TRAIN_PER_LABEL, POOL_PER_LABEL = 100, 150, 130
STARVED_LABELS, STARVED_COUNT = [2, 5, 8], 10
START_EPOCHS = 20  # training of the weak starting model
# MODE: buggy-label threshold, overfitting gap, probe agreement, and each round of selection.
THRESHOLD, GAP, AGREEMENT = 0.8, 0.1, 0.9
SIZE, MIX, ITERATIONS = 120, 0.25, 3  # pool images per round, random share, rounds
EPOCHS, LR, BATCH_SIZE = 10, 1e-3, 64  # every retraining
GOOD_THRESHOLD = 0.9  # the Bonus
# Part 6, a model that underfits: fewer starved images, far fewer epochs.
UNDERFIT_STARVED_COUNT, UNDERFIT_EPOCHS = 30, 2

# %%
SEEDS = list(range(N_SEEDS * SEED, N_SEEDS * (SEED + 1)))
FIRST_SEED = SEEDS[0]  # the model Parts 1 to 4 look at
SPLIT_OPTIONS = {
    "validation_per_label": VALIDATION_PER_LABEL,
    "train_per_label": TRAIN_PER_LABEL,
    "pool_per_label": POOL_PER_LABEL,
    "starved_labels": STARVED_LABELS,
    "starved_count": STARVED_COUNT,
}
CONFIG = mode.ModeConfig(
    threshold=THRESHOLD, gap=GAP, size=SIZE, mix=MIX, iterations=ITERATIONS, epochs=EPOCHS,
    lr=LR, batch_size=BATCH_SIZE, agreement=AGREEMENT,
)  # fmt: skip
print(f"seeds {SEEDS}; Parts 1 to 4 look at seed {FIRST_SEED}")
print(CONFIG)

# %% [markdown]
# The data: the notebook says which MNIST it found. Offline it is a 5,000-digit sample of MNIST
# (4,000 for training, 1,000 for testing); online the full 60,000 / 10,000. MODE only ever
# looks at the training data; the test set is used once per model, to report.

# %%
train = to_tensors(load_mnist(train=True, report=True))
test = to_tensors(load_mnist(train=False, report=True))

# %% [markdown]
# ## Part 1: a weak model and its bugs
#
# MODE needs bugs to fix, so we make a model with some. The training data is cut three ways:
#
# * a **training set** that was "collected badly": 150 images of most digits, but only 10 of
#   the digits 2, 5 and 8;
# * a **bug-fixing pool** held in reserve, 130 images of every digit, from which MODE (and the
#   random control) may draw;
# * a **validation split**, 100 images of every digit, on which every decision is made.
#
# The model is told none of this: it has to find the bugs itself.

# %%
splits = mode.make_splits(train, seed=FIRST_SEED, **SPLIT_OPTIONS)
display(
    pd.DataFrame(
        {
            name: getattr(splits, name)[1].bincount(minlength=10)
            for name in ("train", "pool", "validation")
        }
    ).rename_axis("label")
)

# %%
model = mode.train_starting_model(splits.train, seed=FIRST_SEED, epochs=START_EPOCHS)
val_accuracy = mode.label_accuracy(model, splits.validation)
train_accuracy = mode.label_accuracy(model, splits.train)
pred, true = predict(model, splits.validation)
print(f"starting model, validation accuracy: {(pred == true).mean():.3f}")
accuracy_table = pd.DataFrame({"train": train_accuracy, "validation": val_accuracy})
accuracy_table.index.name = "label"
display(accuracy_table.round(3))

# %%
figure = plotting.plot_label_bars(
    accuracy_table, title="Accuracy of the starting model on each label",
    threshold=CONFIG.threshold,
)  # fmt: skip

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 1.1</b> (about 10 minutes): A label is
# <i>buggy</i> when its validation accuracy is under <code>CONFIG.threshold</code>. Write
# <code>find_buggy_labels(pred, true, threshold)</code>: from the predicted and the true labels
# of the validation split (NumPy arrays of shape [N]), return the accuracy of each of the 10
# labels (an array of shape [10]) and the list of buggy labels. The next cell checks it and
# compares it with the library's <code>mode.label_accuracy</code> and
# <code>mode.buggy_labels</code>.
#
# <details><summary>Hint 1: the idea</summary>A label's accuracy is the share of the inputs
# that <i>truly</i> have that label which the model gets right: group by the true label, not
# by the prediction. Buggy means strictly under the threshold.</details>
#
# <details><summary>Hint 2: the code</summary>For one label <code>k</code>, the predictions of
# its inputs are <code>pred[true == k]</code>; compare them with <code>k</code> and take the
# mean. Do it for <code>k</code> in <code>range(10)</code>, then keep the labels with
# <code>accuracy[k] &lt; threshold</code>.</details></div>


# %% tags=["task"]
def find_buggy_labels(
    pred: np.ndarray, true: np.ndarray, threshold: float
) -> tuple[np.ndarray, list[int]]:
    """Accuracy of each label ([10]) and the labels whose accuracy is under threshold."""
    return ...


# %% tags=["solution"]
def find_buggy_labels(  # noqa: F811
    pred: np.ndarray, true: np.ndarray, threshold: float
) -> tuple[np.ndarray, list[int]]:
    """Accuracy of each label ([10]) and the labels whose accuracy is under threshold."""
    accuracy = np.array([(pred[true == label] == label).mean() for label in range(10)])
    return accuracy, [label for label in range(10) if accuracy[label] < threshold]


# %% [markdown]
# The check, then MODE's diagnosis of each buggy label: `mode.diagnose` calls it underfitting
# or overfitting from the gap between its training and validation accuracy (more than
# `CONFIG.gap` is overfitting).

# %%
buggy = checks.buggy_labels(find_buggy_labels, pred, true, CONFIG.threshold)
diagnoses = mode.diagnose(train_accuracy, val_accuracy, buggy, gap=CONFIG.gap)
print("buggy labels:", buggy)
print("diagnoses:", diagnoses)
same = set(buggy) == set(STARVED_LABELS)
print(
    f"the buggy labels {'are exactly' if same else 'are not exactly'} the starved labels "
    f"{STARVED_LABELS}; train–validation gap of each buggy label (overfitting above "
    f"{CONFIG.gap}): "
    + ", ".join(f"{k}: {train_accuracy[k] - val_accuracy[k]:+.2f}" for k in buggy)
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 1.2</b>: The buggy labels have few training
# images. Why does MODE call them overfitting rather than underfitting? What would an
# underfitting label look like in the table above?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 1.2 (model answer)</b>: The line printed
# above says whether the buggy labels are the starved digits, and gives each one's
# train–validation gap: far above <code>CONFIG.gap</code>, training accuracy near the top while
# validation accuracy is far below the threshold. The model has memorised its ten examples of
# each instead of learning the digit; a large gap is MODE's definition of overfitting. An
# underfitting label is low in <i>both</i> columns: a model trained too briefly, or too small,
# to learn it at all. Part 6 makes one.</div>

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 1</b>: Discuss in your group:
# which labels are buggy, and is each one under- or overfitting? Why did nothing so far need
# the test set, and what would go wrong if MODE's decisions looked at it?</div>
#
# ## Part 2: which layer to look at
#
# MODE compares what the model "sees" in different groups of inputs, so it must pick a layer.
# Its rule: train a fresh linear classifier (a *probe*) on the frozen output of each hidden
# layer, and take the first layer after which the probes' predictions stop changing. Deeper
# layers add nothing the probes can use; that layer is *saturated*.

# %%
probes = mode.probe_layers(model, splits.train, splits.validation, seed=FIRST_SEED)
layer, agreements = mode.saturation_layer(probes, agreement=CONFIG.agreement)
display(
    pd.DataFrame(
        {
            "probe accuracy": [p.accuracy for p in probes],
            "agrees with next": [*agreements, float("nan")],
        },
        index=pd.Index([p.layer for p in probes], name="layer"),
    ).round(3)
)
print(f"target layer (first agreement >= {CONFIG.agreement}): {layer}")

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 2.1</b>: What does the agreement column
# tell you about this small network? Why probe the hidden layers at all instead of simply
# using the logits?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 2.1 (model answer)</b>: Read the first
# row of the agreement column: when the probe on the first hidden layer already agrees with the
# next one on a share above the saturation threshold (printed under the table), the first layer
# is the target: for a three-layer MLP on digits, the later layers mostly re-encode what the
# first has. The logits only say <i>which</i> label
# the model picks; a hidden layer says which <i>features</i> led there, and those features are
# what MODE compares between right and wrong answers and uses to rank new inputs.</div>

# %% [markdown]
# ## Part 3: heat maps — right answers, false positives, false negatives
#
# For a label $\ell$, MODE averages the features of three groups of validation inputs:
#
# * **correct**: images of $\ell$ predicted as $\ell$ (the replication calls this map DHCI);
# * **false positives**: images of other digits predicted as $\ell$, impostors (its DHMI);
# * **false negatives**: images of $\ell$ predicted as something else, missed (its DHWI).
#
# The *differential* maps, correct minus false positive and correct minus false negative, show
# what the right answers have that the mistakes lack. First in input space, where we can look
# at them: the "features" are the pixels.

# %%
images = splits.validation[0][:, 0]
input_maps = {label: mode.heat_maps(images, pred, true, label) for label in buggy}
counts = pd.DataFrame({label: maps.counts for label, maps in input_maps.items()}).T
display(counts.rename_axis("label"))
record("heat_map_counts", {label: counts.loc[label].to_dict() for label in buggy})
for label in buggy:
    missed, claimed = counts.loc[label, "false_negative"], counts.loc[label, "false_positive"]
    more = "missed than claimed" if missed > claimed else "claimed than missed (or as many)"
    print(f"label {label}: {missed} false negatives, {claimed} false positives: more {more}")

# %%
DIFFERENTIAL = ["correct − false pos.", "correct − false neg."]
figure = plotting.plot_map_grid(
    {
        f"label {label}": {
            "correct (DHCI)": maps.correct,
            "false positive (DHMI)": maps.false_positive,
            "false negative (DHWI)": maps.false_negative,
            DIFFERENTIAL[0]: maps.minus_false_positive,
            DIFFERENTIAL[1]: maps.minus_false_negative,
        }
        for label, maps in input_maps.items()
    },
    title="Mean validation images of each buggy label, by what the model did with them",
    diverging=DIFFERENTIAL,
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 3.1</b> (about 10 minutes): Write
# <code>minus_false_negative(features, pred, true, label)</code>, the differential map of the
# last column: the mean of <code>features</code> ([N, ...], here the images) over the label's
# inputs the model gets right, minus their mean over the label's inputs it predicts as
# something else (its false negatives). The next cell checks it on the first buggy label and
# compares it with the library's map (<code>mode.heat_maps(...).minus_false_negative</code>).
#
# <details><summary>Hint 1: the idea</summary>Both groups are images of the label (the true
# label is <code>label</code>); they differ only in what the model predicted. Select each
# group, average it over the inputs, and subtract.</details>
#
# <details><summary>Hint 2: the code</summary>Two boolean masks of shape [N], built from
# <code>true == label</code> combined (with <code>&amp;</code>) with <code>pred == label</code>
# or <code>pred != label</code>; index the features with each
# (<code>torch.as_tensor(mask)</code>) and average over the first dimension.</details></div>


# %% tags=["task"]
def minus_false_negative(
    features: torch.Tensor, pred: np.ndarray, true: np.ndarray, label: int
) -> torch.Tensor:
    """Mean features of the label's correct inputs minus those of its false negatives."""
    return ...


# %% tags=["solution"]
def minus_false_negative(  # noqa: F811
    features: torch.Tensor, pred: np.ndarray, true: np.ndarray, label: int
) -> torch.Tensor:
    """Mean features of the label's correct inputs minus those of its false negatives."""
    correct = torch.as_tensor((true == label) & (pred == label))
    missed = torch.as_tensor((true == label) & (pred != label))
    return features[correct].mean(dim=0) - features[missed].mean(dim=0)


# %%
my_map = checks.differential_map(minus_false_negative, images, pred, true, buggy[0])
library_map = input_maps[buggy[0]].minus_false_negative
print(f"largest difference from the library's map: {float((my_map - library_map).abs().max()):.2e}")
figure = plotting.plot_map_grid(
    {f"label {buggy[0]}": {"yours": my_map, "library": library_map}},
    title="correct − false neg.",
    diverging=["yours", "library"],
    size=2.2,
)

# %% [markdown]
# An empty panel means an empty group (a label nobody was mistaken for has no false positives).
# In the differential maps, red marks pixels brighter in the correct images, blue pixels
# brighter in the mistakes.
#
# MODE does the same at the target layer. Its units have no position, so the 256 values of
# `relu1` are drawn as a 16 × 16 tile only to fit them on screen. The map that drives the
# selection is `reference`: the correct map minus the mean of the error maps.

# %%
val_features = mode.layer_features(model, layer, splits.validation[0])
layer_maps = {label: mode.heat_maps(val_features, pred, true, label) for label in buggy}
figure = plotting.plot_map_grid(
    {"reference": {f"label {label}": maps.reference for label, maps in layer_maps.items()}},
    title=f"Reference map of each buggy label at {layer} (units tiled in a square)",
    diverging=[f"label {label}" for label in buggy],
    size=2.2,
)
for label in buggy:
    reference = layer_maps[label].reference
    favour_right, favour_mistakes = int((reference > 0).sum()), int((reference < 0).sum())
    print(
        f"label {label}: {favour_right} units favour the right answers, "
        f"{favour_mistakes} the mistakes"
    )

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 3.2</b>: Look at the false-negative column
# and the counts above it. Which group is largest for the starved labels, false positives or
# false negatives? What does that say about how the model treats a digit it has seen only ten
# times?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 3.2 (model answer)</b>: The lines printed
# under the counts table compare the two groups label by label: where a starved label has more
# false negatives than false positives, the model rarely <i>predicts</i> that digit at all and
# sends most of its images to other labels. The red in the
# "correct − false neg." panels marks ink that the recognised images have and the missed ones
# lack: the model accepts the variants that resemble its ten training examples and misses the
# rest. The false-positive maps average very few images (see the counts), so they are noisy.
# </div>

# %% [markdown]
# ## Part 4: ranking the pool with nine measures
#
# For each buggy label, MODE compares every pool image *of that label* with the reference map
# (both at the target layer) and picks the **most similar** ones for an underfitting label,
# the **most dissimilar** ones for an overfitting label. "Similar" can be measured in many
# ways; the replication tried nine, and so do we. For a candidate's features $x$ and the
# reference $r$ (sums run over the units $i$):
#
# | measure | kind | what it computes |
# |---|---|---|
# | `dot` | similarity (larger = more alike) | $\sum_i x_i r_i$: large when both are large on the same units |
# | `cosine` | similarity | the dot product divided by both lengths: the angle between $x$ and $r$, not their size |
# | `l1` | distance (smaller = more alike) | $\sum_i \lvert x_i - r_i\rvert$, the Manhattan distance |
# | `l2` | distance | $\sqrt{\sum_i (x_i - r_i)^2}$, the Euclidean distance |
# | `minkowski3` | distance | $(\sum_i \lvert x_i - r_i\rvert^3)^{1/3}$, between L2 and Chebyshev |
# | `chebyshev` | distance | $\max_i \lvert x_i - r_i\rvert$ (L∞): the single unit that differs most |
# | `wasserstein` | distance | earth mover's distance between the two histograms of values: how far values must move to turn one histogram into the other, whichever unit holds them |
# | `canberra` | distance | $\sum_i \lvert x_i - r_i\rvert / (\lvert x_i\rvert + \lvert r_i\rvert)$: each unit's difference relative to its size, so weak units count as much as strong ones |
# | `bray_curtis` | distance | $\sum_i \lvert x_i - r_i\rvert / \sum_i \lvert x_i + r_i\rvert$: the total difference relative to the total size (Bray–Curtis dissimilarity, from ecology, where it compares species counts) |
#
# Mixing the two kinds up is exactly how a ranking ends up the wrong way round, so
# `mode.MEASURES` stores each measure's kind beside its function.

# %%
display(
    pd.Series({name: m.kind for name, m in MEASURES.items()}, name="kind").rename_axis("measure")
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 4.1</b> (about 5 minutes): Write the
# cosine similarity between each row of <code>candidates</code> ([N, D]) and one
# <code>reference</code> ([D]), without a loop. The next cell checks it and compares it with
# the library's (<code>mode.scores(..., "cosine")</code>) on the pool images of the first buggy
# label.
#
# <details><summary>Hint 1: the idea</summary>Cosine similarity is the dot product of two
# vectors divided by the product of their lengths. Here one of the two is the same for every
# row, and every row has its own length.</details>
#
# <details><summary>Hint 2: the code</summary>A matrix–vector product
# (<code>candidates @ reference</code>) gives all the dot products at once; the row lengths
# are <code>candidates.norm(dim=1)</code> (one per row, note the <code>dim</code>), the
# reference's length <code>reference.norm()</code>.</details></div>


# %% tags=["task"]
def my_cosine(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of each row of candidates with reference: one value per row."""
    return ...


# %% tags=["solution"]
def my_cosine(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:  # noqa: F811
    """Cosine similarity of each row of candidates with reference: one value per row."""
    return (candidates @ reference) / (candidates.norm(dim=1) * reference.norm())


# %%
pool_features = mode.layer_features(model, layer, splits.pool[0])
target = buggy[0]
candidates = pool_features[splits.pool[1] == target].double()
reference = layer_maps[target].reference
my_cosine = checks.cosine(my_cosine, candidates, reference)
gap = (my_cosine(candidates, reference) - mode.scores(candidates, reference, "cosine")).abs().max()
print(f"largest difference from the library's cosine: {float(gap):.2e}")

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 4.2</b> (about 5 minutes): Write
# <code>rank_by_cosine(candidates, reference)</code>: the indices of the rows of
# <code>candidates</code>, ordered by their cosine similarity to <code>reference</code>,
# <b>most similar first</b>. This is the order in which MODE takes the pool images of an
# underfitting label. The next cell checks it and compares it with the library's
# <code>mode.rank(..., "cosine")</code>.
#
# <details><summary>Hint 1: the idea</summary>First a score per row, then the order of the
# rows by that score: you want positions (which row comes first), not the sorted scores, and
# the highest score first.</details>
#
# <details><summary>Hint 2: the code</summary>The scores are your <code>my_cosine</code> (or
# <code>mode.scores(candidates, reference, "cosine")</code>); <code>torch.argsort</code> gives
# positions, and its <code>descending</code> argument the direction.</details></div>


# %% tags=["task"]
def rank_by_cosine(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """Indices of the rows of candidates, most similar to reference (by cosine) first."""
    return ...


# %% tags=["solution"]
def rank_by_cosine(candidates: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:  # noqa: F811
    """Indices of the rows of candidates, most similar to reference (by cosine) first."""
    return torch.argsort(mode.scores(candidates, reference, "cosine"), descending=True)


# %%
order = checks.ranking(rank_by_cosine, candidates, reference)
similarity = mode.scores(candidates, reference, "cosine")
print(f"the five pool images of label {target} most like its reference: {order[:5].tolist()}")
print(f"their cosine similarity: {similarity[order[:5]].numpy().round(3).tolist()}")
print(f"same order as mode.rank: {torch.equal(order, mode.rank(candidates, reference, 'cosine'))}")

# %% [markdown]
# The pool images of the first buggy label that each measure likes most (left, most similar
# first) and least (right, most dissimilar last). An overfitting label takes its picks from
# the right-hand end.

# %%
pool_images = splits.pool[0][splits.pool[1] == target][:, 0]
k = 6
ends = {}
for name in MEASURES:
    order = mode.rank(candidates, reference, name)
    ends[name] = pool_images[torch.cat([order[:k], order[-k:]])]
figure = plotting.plot_ranked_images(
    ends, k=k, title=f"Pool images of label {target}, ranked against its reference by each measure"
)

# %% [markdown]
# Do the measures even disagree? For the label above: the share of each measure's picks (the
# `share` most dissimilar images, as MODE takes them for an overfitting label) that cosine
# picks as well; two random draws of that size would share about `share / available`. And the
# rank correlation of each measure with how strongly an image activates the layer at all (the
# norm of its features).

# %%
share = (CONFIG.size - round(CONFIG.mix * CONFIG.size)) // len(buggy)
norms = candidates.norm(dim=1)
picks = {
    name: set(mode.rank(candidates, reference, name, most_similar=False)[:share].tolist())
    for name in MEASURES
}
print(f"{share} picks of {len(candidates)} pool images of label {target}")
print(f"chance overlap: {share / len(candidates):.2f}")
agreement_table = pd.DataFrame(
    {
        "overlap with cosine": {
            name: len(picks[name] & picks["cosine"]) / share for name in MEASURES
        },
        "correlation with feature norm": {
            name: stats.spearmanr(mode.scores(candidates, reference, name), norms).statistic
            for name in MEASURES
        },
    }
).rename_axis("measure")
display(agreement_table.round(3))
overlap, size_correlation = agreement_table.iloc[:, 0], agreement_table.iloc[:, 1]
chance = share / len(candidates)
print(
    "overlap with cosine of at least 0.5:",
    [n for n in MEASURES if n != "cosine" and overlap[n] >= 0.5],
)
print(
    f"overlap under twice the chance ({2 * chance:.2f}):",
    [n for n in MEASURES if overlap[n] < 2 * chance],
)
print(
    "rank correlation with the feature norm of 0.75 or more:",
    [n for n in MEASURES if size_correlation[n] >= 0.75],
)
record("overlap_with_cosine", agreement_table["overlap with cosine"].to_dict())
record("norm_correlation", agreement_table["correlation with feature norm"].to_dict())

# %%
# Wasserstein compares the histogram of values, not where they sit: shuffling the reference's
# units leaves it at distance zero, while L2 sees a different map.
shuffled = reference[
    torch.randperm(len(reference), generator=torch.Generator().manual_seed(FIRST_SEED))
]
for name in ("wasserstein", "l2"):
    value = float(mode.scores(shuffled[None], reference, name)[0])
    print(f"{name}: reference vs its own shuffled copy = {value:.3f}")

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 4.3</b>: Group the measures by how much they
# agree with cosine. What do the distances that disagree with it actually measure (look at the
# correlation column and at the picture)? Which measure can't tell a map from a shuffled copy
# of itself, and why is that a problem for comparing feature maps?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 4.3 (model answer)</b>: The three lists
# printed under the table give the groups. The measures that share at least half of cosine's
# picks (dot product, which differs from cosine only by the lengths, and usually Bray–Curtis)
# rank by the same thing as cosine. The distances whose overlap with cosine is near the chance
# overlap, and whose rank correlation with the feature norm is 0.75 or more (the third list:
# typically L1, L2, Minkowski and Wasserstein), mostly say how <i>strongly</i> an image
# activates the layer, not <i>which</i> units it activates, so their "most dissimilar" images
# are simply the boldest ones (see the right-hand ends of their rows in the picture). Wasserstein gives the printed zero for a shuffled copy: it only
# compares the two sorted lists of values, so it cannot know which unit is active, and which unit
# fires is the whole point of a feature map.</div>

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 4.4</b> (about 15 minutes): From the
# ranking to MODE's picks. Write <code>pick_for_label(pool_features, pool_targets, label,
# diagnosis, reference, count)</code>: among the pool inputs whose label is <code>label</code>,
# the <code>count</code> that MODE takes, ranked by cosine similarity to
# <code>reference</code>: the <b>most similar first</b> when <code>diagnosis</code> is
# <code>"underfitting"</code>, the <b>most dissimilar first</b> when it is
# <code>"overfitting"</code>. Return their <b>positions in the pool</b> (an integer tensor of
# length <code>count</code>, indices into <code>pool_targets</code>), in ranked order; inputs
# with equal similarity stay in pool order. This is the core of
# <code>mode.select_inputs</code>; the next cell checks your function on a small test pool and
# then on every buggy label of our pool, against <code>mode.select_inputs(...,
# mix=0)</code>.
#
# <details><summary>Hint 1: the idea</summary>Three steps: find the pool positions of the
# label's inputs; rank those inputs (only those) against the reference in the direction the
# diagnosis asks for; keep the first <code>count</code> and translate them from positions
# among the label's inputs back to positions in the pool.</details>
#
# <details><summary>Hint 2: the code</summary><code>torch.nonzero(pool_targets ==
# label).flatten()</code> gives the label's pool positions; <code>mode.rank(features,
# reference, "cosine", most_similar=...)</code> (or a stable <code>torch.sort</code> of your
# cosine) ranks the rows of <code>pool_features</code> at those positions; index the positions
# with the first <code>count</code> of that order.</details></div>


# %% tags=["task"]
def pick_for_label(
    pool_features: torch.Tensor,
    pool_targets: torch.Tensor,
    label: int,
    diagnosis: str,
    reference: torch.Tensor,
    count: int,
) -> torch.Tensor:
    """Pool positions of the ``count`` inputs of ``label`` MODE takes, best first."""
    return ...


# %% tags=["solution"]
def pick_for_label(  # noqa: F811
    pool_features: torch.Tensor,
    pool_targets: torch.Tensor,
    label: int,
    diagnosis: str,
    reference: torch.Tensor,
    count: int,
) -> torch.Tensor:
    """Pool positions of the ``count`` inputs of ``label`` MODE takes, best first."""
    positions = torch.nonzero(pool_targets == label).flatten()
    most_similar = diagnosis == "underfitting"
    order = mode.rank(pool_features[positions], reference, "cosine", most_similar=most_similar)
    return positions[order[:count]]


# %%
references = {label: layer_maps[label].reference for label in buggy}
pick_for_label = checks.picks(
    pick_for_label, pool_features, splits.pool[1], references, diagnoses, share
)
for label in buggy:
    picked = pick_for_label(
        pool_features, splits.pool[1], label, diagnoses[label], references[label], share
    )
    of_label = pool_features[splits.pool[1] == label]
    similarity_all = mode.scores(of_label, references[label], "cosine")
    similarity_picked = mode.scores(pool_features[picked], references[label], "cosine")
    print(
        f"label {label} ({diagnoses[label]}): mean cosine of its {len(picked)} picks "
        f"{float(similarity_picked.mean()):+.3f}, of all its {len(of_label)} pool inputs "
        f"{float(similarity_all.mean()):+.3f}"
    )

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 2</b>: Discuss in your group:
# given a buggy label and its diagnosis, which pool images would you pick, and would the list
# change with another measure? Which measure would you trust, and why?</div>
#
# ## Part 5: the fix — one round by hand, then the loop
#
# One round of MODE: rank the pool images of each buggy label, take the share of the best,
# mix in some random images of the other labels (`CONFIG.mix`, so the fix does not starve them
# in turn), remove the picks from the pool, and train on. Every line is visible here;
# `mode.debug_model` repeats exactly this.

# %%
index = mode.select_inputs(
    splits.pool[1], diagnoses, size=CONFIG.size, measure="cosine", pool_features=pool_features,
    references=references, mix=CONFIG.mix, seed=FIRST_SEED,
)  # fmt: skip
chosen, rest = mode.take(splits.pool, index)
print("picked per label:", np.bincount(chosen[1].numpy(), minlength=10))
print(f"pool: {len(splits.pool[1])} before, {len(rest[1])} after (the pool given is unchanged)")

retrained = copy.deepcopy(model)
train_classifier(
    retrained, (torch.cat([splits.train[0], chosen[0]]), torch.cat([splits.train[1], chosen[1]])),
    epochs=CONFIG.epochs, lr=CONFIG.lr, batch_size=CONFIG.batch_size, seed=FIRST_SEED,
)  # fmt: skip
after = mode.label_accuracy(retrained, splits.validation)
display(
    pd.DataFrame({"before": val_accuracy[buggy], "after one round": after[buggy]}, index=buggy)
    .rename_axis("label")
    .round(3)
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 5.1</b> (about 15 minutes): Was that round
# worth it? Compare it with the plain fix, the same number of pool images drawn at random.
# Write <code>mode_against_random(model, train_data, pool, chosen, validation, retrain, *,
# seed)</code>: retrain a copy of <code>model</code> on <code>train_data</code> plus the pool
# images <code>chosen</code> (MODE's picks), another copy on <code>train_data</code> plus as many
# pool images drawn by <code>mode.random_inputs(pool, len(chosen), seed=seed)</code>, and
# return the gain in validation accuracy of each, <code>{"mode": gain, "random": gain}</code>
# (accuracy after the round minus before). <code>retrain(model, data)</code>, defined below,
# trains a model in place exactly as the round above did. The next cell checks your function
# on a tiny model and a few dozen inputs, then runs it (or the library's
# <code>mode.round_against_random</code>) on ours.
#
# <details><summary>Hint 1: the idea</summary>A fair comparison changes one thing only: both
# retrainings start from the same weights (copies of <code>model</code>, never the model
# itself), see the same training set, the same number of pool images and the same
# <code>retrain</code>. Measure the accuracy once before, and once after each retraining.</details>
#
# <details><summary>Hint 2: the code</summary><code>picked, _ = mode.take(pool, index)</code>
# gives the pool images of an index; <code>copy.deepcopy(model)</code> a copy to retrain;
# <code>pred, true = predict(model, validation)</code> and <code>(pred == true).mean()</code>
# the accuracy. Join two datasets with <code>torch.cat</code>, once on the inputs and once on
# the labels.</details></div>


# %%
def retrain(model: torch.nn.Module, data: tuple[torch.Tensor, torch.Tensor]) -> None:
    """One retraining of ``model`` in place, as every round of MODE and its controls does it."""
    train_classifier(
        model, data, epochs=CONFIG.epochs, lr=CONFIG.lr, batch_size=CONFIG.batch_size,
        seed=FIRST_SEED, progress=False,
    )  # fmt: skip


# %% tags=["task"]
def mode_against_random(model, train_data, pool, chosen, validation, retrain, *, seed):
    """Validation accuracy gains {"mode": ..., "random": ...} of one round on each selection."""
    return ...


# %% tags=["solution"]
def mode_against_random(model, train_data, pool, chosen, validation, retrain, *, seed):  # noqa: F811
    """Validation accuracy gains {"mode": ..., "random": ...} of one round on each selection."""
    pred, true = predict(model, validation)
    before = (pred == true).mean()
    control = mode.random_inputs(pool, len(chosen), seed=seed)
    gains = {}
    for name, index in {"mode": chosen, "random": control}.items():
        picked, _ = mode.take(pool, index)
        new = copy.deepcopy(model)
        retrain(new, (torch.cat([train_data[0], picked[0]]), torch.cat([train_data[1], picked[1]])))
        pred, true = predict(new, validation)
        gains[name] = float((pred == true).mean() - before)
    return gains


# %%
mode_against_random = checks.round_against_random(mode_against_random)
gains = mode_against_random(
    model, splits.train, splits.pool, index, splits.validation, retrain, seed=FIRST_SEED
)
print(f"one round of {len(index)} pool images, validation accuracy gain over all labels:")
print(f"MODE {gains['mode']:+.3f}, random {gains['random']:+.3f}")

# %% [markdown]
# Now the comparison MODE has to win. From the same starting model, three ways to spend the
# same number of pool images per round (`CONFIG.size`, for `CONFIG.iterations` rounds), with
# the same optimiser policy:
#
# * **MODE** with each of the nine measures;
# * **random**: uniform draws from the pool, the plain "more data" fix;
# * **label_random**: MODE's buggy labels and shares, but random images within each label —
#   MODE without its ranking.
#
# All are scored on the test set, which no decision has seen. This cell runs every selection
# for every seed of the block (about two minutes on a laptop CPU), each from that seed's own
# weak model; the first is the model of Parts 1 to 4. The table below shows what Parts 1 and 2
# found on each of them.

# %%
selections = [*(MEASURES if ALL_MEASURES else ["cosine"]), *CONTROLS]
results = mode.run_experiment(
    train, test, seeds=SEEDS, selections=selections, config=CONFIG, split_options=SPLIT_OPTIONS,
    start_epochs=START_EPOCHS,
)  # fmt: skip
first = results[0]
starts = pd.DataFrame(
    {
        "buggy labels": [r.buggy for r in results],
        "diagnoses": [sorted(set(r.start.diagnoses.values())) for r in results],
        "target layer": [r.layer for r in results],
        "first agreement": [r.agreements[0] for r in results],
        # Row 0 of every run is the same starting model, before any pool image.
        "start test accuracy": [next(iter(r.runs.values())).test_overall[0] for r in results],
    },
    index=pd.Index(SEEDS, name="seed"),
)
display(starts.round(3))
for column in starts:
    record(f"seed_{column.replace(' ', '_')}", starts[column].tolist())

# %%
drawn = [n for n in ["cosine", "dot", "wasserstein", *CONTROLS] if n in first.runs]
rounds = pd.Index(np.arange(CONFIG.iterations + 1) * CONFIG.size, name="pool images added")
curves = {
    "test accuracy, buggy labels": pd.DataFrame(
        {name: first.runs[name].test[:, first.buggy].mean(axis=1) for name in drawn}, index=rounds
    ),
    "test accuracy, all labels": pd.DataFrame(
        {name: first.runs[name].test_overall for name in drawn}, index=rounds
    ),
}
display(pd.concat(curves, axis=1).round(3))
figure = plotting.plot_rounds(
    curves, dashed=CONTROLS, title=f"Test accuracy after each round of selection, seed {first.seed}"
)

# %%
label_table = pd.DataFrame(
    {
        "start": first.runs["random"].test[0],
        "random": first.runs["random"].test[-1],
        "cosine": first.runs["cosine"].test[-1],
    }
)
label_table.index.name = "label"
display(label_table.round(3))
figure = plotting.plot_label_bars(
    label_table, title=f"Test accuracy of each label before and after the last round, seed {first.seed}",
    threshold=CONFIG.threshold,
)  # fmt: skip
print("images per label over all rounds, seed", first.seed)
display(
    pd.DataFrame(
        {name: first.runs[name].selected.sum(axis=0) for name in ["cosine", *CONTROLS]}
    ).rename_axis("label")
)
for name in ["cosine", *CONTROLS]:
    picked = first.runs[name].selected.sum(axis=0)
    buggy_share = picked[first.buggy].sum() / picked.sum()
    print(f"{name}: share of its pool images from buggy labels {buggy_share:.2f}")

# %% [markdown]
# ## Part 6: what the ranking adds
#
# One row per selection: accuracy on the buggy labels and overall, at the start and after the
# last round (means over the seeds), and one-sided paired t-tests (`scipy.stats.ttest_rel`,
# pairs share a seed) of each selection against each control on the buggy labels, with the
# number of seeds it won. With four seeds a t-test has little power: even four wins out of
# four can leave p above 0.05 when one seed gains much more than the others. The benchmark
# (`bench/bench_mode.py`, five seeds, in `bench/results/mode.json`) has more.

# %%
summary = mode.summarise(results)
display(mode.summary_table(summary).round(3))
against_random = summary["cosine"]["against"]["random"]
print(
    "cosine against random: wins "
    + ", ".join(f"{key} {against_random[key]['wins']}/{len(SEEDS)}" for key in ("buggy", "overall"))
    + "; p "
    + ", ".join(f"{key} {against_random[key]['pvalue']:.4f}" for key in ("buggy", "overall"))
)
record("seeds", SEEDS)
record(
    "cosine_vs_random",
    {key: {k: against_random[key][k] for k in ("wins", "pvalue")} for key in ("buggy", "overall")},
)

# %%
run_measures = [name for name in MEASURES if name in summary]
for control in CONTROLS:
    beat = [
        name for name in run_measures if summary[name]["against"][control]["buggy"]["pvalue"] < 0.05
    ]
    print(
        f"measures that beat {control} on the buggy labels (p < 0.05, {len(SEEDS)} seeds):",
        beat or "none",
    )
    print(f"measures that do not: {[name for name in run_measures if name not in beat] or 'none'}")
targeted = summary["label_random"]["against"]["random"]["buggy"]
targeting = targeted["mean_difference"]  # label_random - random, seed by seed
ranking = np.mean(summary["cosine"]["buggy"]) - np.mean(summary["label_random"]["buggy"])
print(f"label_random against random on the buggy labels: p {targeted['pvalue']:.4f}")
record("label_random_vs_random_pvalue", targeted["pvalue"])
record("targeting_gain", targeting)
record("ranking_gain", ranking)
print(
    f"gain on the buggy labels from choosing the labels (label_random - random): {targeting:+.3f}"
)
print(f"gain from cosine's ranking on top of that (cosine - label_random):        {ranking:+.3f}")

# %% [markdown]
# **Which way round?** MODE takes the *most dissimilar* images for an overfitting label. What
# if we rank the other way, as one can easily do by mistake (for a distance, "smallest first"
# is the natural sort; for a similarity it is the wrong one)? `direction="similar"` forces the
# most similar images for every buggy label.

# %%
wrong = []
for result in results:  # the same starting models as above
    start = result.start
    run = mode.debug_model(
        start.model,
        start.splits,
        selection="cosine",
        seed=result.seed,
        config=replace(CONFIG, direction="similar"),
        layer=start.layer,
        test=test,
        progress=False,
    )
    wrong.append(float(run.test[-1, start.buggy].mean()))
buggy_end = {name: np.mean(summary[name]["buggy"]) for name in ("cosine", *CONTROLS)}
print(f"cosine, most dissimilar (MODE's rule): buggy-label test accuracy {buggy_end['cosine']:.3f}")
print(f"cosine, most similar (wrong way round): {np.mean(wrong):.3f}")
print(f"label_random: {buggy_end['label_random']:.3f}; random: {buggy_end['random']:.3f}")
right_vs_wrong = mode.paired_test(summary["cosine"]["buggy"], wrong)
print("paired test, right vs wrong way round:", right_vs_wrong)
record("right_vs_wrong_pvalue", right_vs_wrong["pvalue"])
record("buggy_end", {**buggy_end, "wrong_way": float(np.mean(wrong))})

# %% [markdown]
# **Does the layer matter?** The replication also ran MODE without its layer search, always at
# the last hidden layer, which amounts to assuming the probes saturate only there. Here is the
# same cosine selection from the same starting models, with the reference maps and the pool's
# features taken at the last hidden layer instead of the layer the probes chose.

# %%
last_layer = []
for result in results:
    start = result.start
    last = list(mode.probe_points(start.model))[-1]
    run = mode.debug_model(
        start.model, start.splits, selection="cosine", seed=result.seed, config=CONFIG,
        layer=last, test=test, progress=False,
    )  # fmt: skip
    last_layer.append(float(run.test[-1, start.buggy].mean()))
chosen_vs_last = mode.paired_test(summary["cosine"]["buggy"], last_layer)
layer_difference = chosen_vs_last["mean_difference"]
print(
    f"cosine, buggy-label test accuracy after the last round: chosen layer "
    f"({', '.join(sorted({r.layer for r in results}))}) {buggy_end['cosine']:.3f}, last hidden "
    f"layer ({last}) {np.mean(last_layer):.3f}"
)
print(
    f"the chosen layer ends higher in {chosen_vs_last['wins']} of {len(SEEDS)} seeds, mean "
    f"difference {layer_difference:+.3f}, p {chosen_vs_last['pvalue']:.3f}: "
    + (
        "small next to the gain of choosing the labels"
        if abs(layer_difference) < targeting / 4
        else "comparable with the gain of choosing the labels"
    )
    + f" ({targeting:+.3f})"
)
record("layer_choice", {"chosen": summary["cosine"]["buggy"], "last": last_layer})

# %% [markdown]
# **A model that underfits.** Every starting model so far has memorised its ten images of each
# starved digit: its buggy labels overfit, so MODE has only ever taken the most *dissimilar*
# inputs. Its other branch, the most *similar* inputs for an underfitting label, needs a model
# that has not learned a label even on its training set. Here each starved digit gets
# `UNDERFIT_STARVED_COUNT` training images and the model only `UNDERFIT_EPOCHS` epochs. Each
# seed runs one round of cosine selection twice: following the diagnosis (most similar for the
# underfitting labels), and with the most dissimilar inputs forced for every buggy label. The
# overfitting labels get the same picks in both runs, so we score the underfitting labels
# only. One round, because MODE diagnoses again before every round and one retraining of ten
# epochs usually ends the underfitting.

# %%
underfit_options = {**SPLIT_OPTIONS, "starved_count": UNDERFIT_STARVED_COUNT}
underfit_rows = {}
for seed in SEEDS:
    start = mode.setup_seed(
        train, seed=seed, config=CONFIG, split_options=underfit_options,
        start_epochs=UNDERFIT_EPOCHS, progress=False,
    )  # fmt: skip
    under = [label for label, d in start.diagnoses.items() if d == "underfitting"]
    row = {
        "buggy labels": start.buggy,
        "underfitting": under,
        "target layer": start.layer,
    }
    for name, direction in [("diagnosis", "diagnosis"), ("most dissimilar", "dissimilar")]:
        run = mode.debug_model(
            start.model, start.splits, selection="cosine", seed=seed,
            config=replace(CONFIG, iterations=1, direction=direction), layer=start.layer,
            test=test, progress=False,
        )  # fmt: skip
        row["start"] = float(run.test[0, under].mean()) if under else float("nan")
        row[name] = float(run.test[-1, under].mean()) if under else float("nan")
    underfit_rows[seed] = row
underfit = pd.DataFrame.from_dict(underfit_rows, orient="index").rename_axis("seed")
display(underfit.round(3))
with_underfit = underfit[underfit["underfitting"].map(len) > 0]
print(
    f"seeds with an underfitting label: {len(with_underfit)} of {len(SEEDS)}; "
    f"underfitting labels per seed: {underfit['underfitting'].map(len).tolist()}"
)
record("underfitting_labels", underfit["underfitting"].map(len).tolist())
record(
    "underfit_round",
    {
        "start": with_underfit["start"].tolist(),
        "diagnosis": with_underfit["diagnosis"].tolist(),
        "dissimilar": with_underfit["most dissimilar"].tolist(),
    },
)
rule_wins = int((with_underfit["diagnosis"] > with_underfit["most dissimilar"]).sum())
print(
    f"underfitting labels, test accuracy after one round: start "
    f"{with_underfit['start'].mean():.3f}, MODE's rule (most similar) "
    f"{with_underfit['diagnosis'].mean():.3f}, most dissimilar "
    f"{with_underfit['most dissimilar'].mean():.3f}; the rule ends higher in {rule_wins} of "
    f"{len(with_underfit)} seeds, lower in "
    f"{int((with_underfit['diagnosis'] < with_underfit['most dissimilar']).sum())}"
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 6.1</b>: When does targeted data help?
# Use the numbers above: how many buggy-label images did random selection fetch compared with
# MODE, and what did each gain?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 6.1 (model answer)</b>: Targeted data helps
# when the model's errors sit in a few labels that its training data under-represents and the
# pool can supply. The pool here is balanced, so random selection spends only the share printed
# under the images-per-label table on the buggy labels, about three in ten, while MODE spends
# up to three quarters (all but <code>CONFIG.mix</code>), less when a label stops being buggy
# after a round and MODE stops picking it. Both start from the same model; the line "cosine against random"
# under the summary table gives the number of seeds in which MODE (cosine) ended ahead of
# random, on the buggy labels and on all labels. In most blocks of seeds we ran that is every
# seed, but not in all of them: one seed in a block can gain less from MODE than from random
# data, which is why the comparison runs over several seeds with a paired test. The curves of
# the first seed show the gap round by round. When the starting model
# has few weak labels, there is little to target: see the Bonus.</div>

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 6.2</b>: Suppose a replication found MODE
# no better than random selection for most of the nine measures. How can that be reconciled
# with what you measured? What does such a negative result teach about how to evaluate a
# method like this?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 6.2 (model answer)</b>: Four lessons, each
# with its number above. (1) Most of MODE's gain comes from <i>choosing the labels</i>: the
# label_random control, which ranks nothing, already takes most of the gain over random (the
# two "gain" lines printed in Part 6); the ranking adds less on top, and the measures that do
# not beat label_random are listed by name. Several of those rank by feature size rather than
# by which features are active (Task 4.3). (2) The direction of the ranking matters more than
# the choice of measure: compare cosine ranked the wrong way round with label_random and
# random (the "which way round" numbers). A sort order flipped by mistake can make MODE look
# no better than random. (3) With a model that is already good there is little left to fix
# (Bonus). (4) With a handful of seeds a paired test has little power, so read the wins
# beside the p-values in Part 6. An honest evaluation needs controls that isolate each part
# (random, label-only), enough seeds for a paired test, and a starting model that actually has
# bugs.</div>

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 6.3</b>: MODE has two more parts that the
# comparison above never tested: the layer search and the underfitting branch. What did the
# last-layer run and the underfitting model show? Do those parts earn their cost here, and what
# would you change in the experiment to give them a fairer chance?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 6.3 (model answer)</b>: The two lines
# under "Does the layer matter?" compare the chosen layer with the last hidden layer, seed by
# seed, and weigh the difference against the gain of choosing the labels; in the blocks of
# seeds we ran the difference was small, a few points either way, so for this small MLP the
# probes' choice changes little: its hidden layers carry much the same information (Task 2.1).
# The underfitting table shows the branch running: it lists the labels diagnosed as
# underfitting in each seed (every seed we ran had some), and for those MODE took the most
# similar pool images. Whether that beat the most dissimilar images is in the line under the
# table; in the seeds we ran it mostly did not. A plausible reason: the most similar images
# are the typical ones the model has already half-learned, while the dissimilar ones add the
# variety it lacks. A fairer test would use a deeper network, where layers
# differ, and a task where a label is hard rather than rare.</div>

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 3</b>: Discuss in your group:
# which part of MODE did the work here (choosing the labels, the ranking, its direction, the
# layer), and which controls told you so? What would convince you that a new data-selection
# method beats random?</div>
#
# <div class="alert alert-block alert-warning"><b>Bonus</b>: Repeat the comparison from a model
# that is already good: nothing starved (<code>starved_count=150</code>). At the usual
# threshold it has no buggy label at all, so MODE would simply draw at random; raise the
# threshold to 0.9 so that it still finds something to fix. How much does MODE gain over
# random now?</div>

# %% tags=["solution"]
GOOD_CONFIG = replace(CONFIG, threshold=GOOD_THRESHOLD)
good = mode.run_experiment(
    train, test, seeds=SEEDS[:N_GOOD_SEEDS], selections=["cosine", "random"], config=GOOD_CONFIG,
    split_options={**SPLIT_OPTIONS, "starved_count": TRAIN_PER_LABEL}, start_epochs=START_EPOCHS,
)  # fmt: skip
good_summary = mode.summarise(good)
print(f"buggy labels at threshold {GOOD_CONFIG.threshold}:", [r.buggy for r in good])
lowest = [float(r.start.validation_accuracy.min()) for r in good]
print(
    f"lowest validation accuracy of a label, per seed (usual threshold {CONFIG.threshold}):", lowest
)
record("good_buggy_labels", [r.buggy for r in good])
record("good_lowest_validation_accuracy", lowest)
good_start = np.mean(good_summary["random"]["start_overall"])
good_end = {name: np.mean(good_summary[name]["overall"]) for name in ("random", "cosine")}
print(
    f"good model: start {good_start:.3f}, random {good_end['random']:.3f}, "
    f"cosine {good_end['cosine']:.3f}"
)
good_gain = good_end["cosine"] - good_end["random"]
weak_gain = np.mean(summary["cosine"]["overall"]) - np.mean(summary["random"]["overall"])
print(f"MODE's overall gain over random: good model {good_gain:+.3f}, weak model {weak_gain:+.3f}")
record("good_start_accuracy", good_start)
record("good_gain", good_gain)
record("weak_gain", weak_gain)
print("paired test on the good model:", good_summary["cosine"]["against"]["random"]["overall"])

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-warning"><b>Bonus (model answer)</b>: The good models start
# at the accuracy printed above; the lowest per-label accuracy of each (printed) is above the
# usual threshold of 0.8 in the seeds we ran, and even at 0.9 only some of the ten labels count
# as buggy (the lists printed; at most half in the seeds we ran). MODE's overall gain over
# random is smaller than the weak model's (the two gains printed above) in every block of seeds
# we ran, but by how much varies: a fifth of it in one block, almost three quarters in
# another. Read the paired test printed last for how convincing what is left of it is. A
# replication that starts from an already accurate model is in this setting, and a small or
# negative result there is no surprise: MODE can only be as good as the bugs it is
# given.</div>

# %% [markdown]
# ## Wrap-up
#
# <div class="alert alert-block alert-info"><b>What you learned</b>
# <ul>
# <li>A model's "bugs" can be located like a program's: per-label accuracy on a validation
# split finds the weak labels, the train–validation gap tells underfitting from overfitting,
# and linear probes pick the layer whose features to compare.</li>
# <li>Differential heat maps (right answers, false positives, false negatives) show what the
# right answers have that the mistakes lack, and give a reference map to rank new inputs
# against.</li>
# <li>The measure and, above all, the direction of the ranking decide which inputs come
# first; several distances rank mostly by how strongly an input activates the layer.</li>
# <li>Evaluating a selection method needs controls that isolate each of its parts (random,
# label-only, wrong way round, another layer), paired tests over several seeds, and a
# starting model with real bugs. Here most of the gain came from choosing the labels.</li>
# </ul>
# <b>Which track next?</b> MODE asks <i>which data</i> fixes a model. The Clever Hans track
# (<code>advanced/clever_hans</code>) asks <i>what</i> a model has learned from its data, and
# the error-detection track (<code>advanced/error_detection</code>) <i>when</i> to distrust a
# single prediction; the contrastive track (<code>advanced/contrastive</code>) explains a
# single mistake.</div>
