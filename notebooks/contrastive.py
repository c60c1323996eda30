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
# # Why this and not that? Contrastive explanations and counterfactual inputs
#
# A classifier that is right nine times out of ten is still wrong the tenth time, and the
# interesting question about a mistake is a contrastive one: *why did you say "T-shirt" and not
# "shirt"?* In this exercise you take a real convolutional network with real mistakes and try two
# ways of answering that question.
#
# **Learning objectives.** After this exercise you can
#
# * compute attribution maps for the predicted and for the true class of a mistake, and the map of
#   their logit difference, and say for which attribution methods the last two are the same;
# * write a counterfactual search: the smallest change to an image that makes the model answer
#   the right class, and measure how small and where that change is;
# * judge whether a saliency map and a counterfactual that agree are evidence about the model, and
#   tell an explanatory counterfactual from adversarial noise.
#
# **Prerequisites.** This is an advanced track: it assumes the core notebook (`exercise.ipynb` at
# the top of the repository), where attribution maps and Integrated Gradients are introduced, and
# some PyTorch (tensors, autograd, an optimiser loop).
#
# **Time plan** (about 1 h 50 min):
#
# | part | what | time |
# |---|---|---|
# | 1 | the mistakes: which images does the model get wrong, and how sure is it? | 10 min |
# | 2 | contrastive saliency: maps of the predicted and the true class, and of their difference | 30 min |
# | 3 | counterfactual inputs: the smallest change that makes the model answer correctly | 40 min |
# | 4 | do the two agree? Does the saliency map point where the counterfactual edits? | 10 min |
# | 5 | meaning or noise? The same search with other penalties, and the wrap-up | 20 min |
#
# <div class="alert alert-block alert-danger"><b>Before you start</b>: choose the
# <code>failure-modes</code> kernel (menu Kernel → Change kernel). Everything runs on a laptop
# CPU; the longest cells take tens of seconds.</div>

# %% tags=["parameters"]
SEED = 0  # which of the model's mistakes are studied: any integer draws another selection
N_MISTAKES = 200  # mistakes given a counterfactual in Parts 3 to 5
N_SHOWN = 6  # upper-body confusions shown one by one in Parts 2, 3 and 5
# The counterfactual settings Part 5 compares; Parts 3 and 4 use "sparse".
PRESETS = {
    "sparse": {"distance": "l1", "weight": 0.2, "margin": 2.0, "steps": 200},
    "noise": {"distance": "l2", "weight": 0.05, "margin": 0.5, "steps": 200},
    "too strong": {"distance": "l1", "weight": 1.0, "margin": 2.0, "steps": 200},
}

# %%
import warnings

import numpy as np
import pandas as pd
import torch
from IPython.display import display

from failure_modes.course.checks import contrastive as checks
from failure_modes.course.record import record
from failure_modes.data import describe, normalization, to_tensors
from failure_modes.data.tensors import black_baseline
from failure_modes.explain.contrastive import (
    KINDS,
    LogitContrast,
    contrastive_saliency,
    mass_in_mask,
    misclassified,
)
from failure_modes.explain.counterfactual import (
    counterfactual,
    l1_size,
    nearest_in_class,
    outline_mask,
    total_variation,
)
from failure_modes.models import load_reference_model
from failure_modes.models.reference import reference_metadata, reference_splits
from failure_modes.plotting import plot_attributions
from failure_modes.plotting.contrastive import plot_counterfactuals, plot_mistakes

# Captum reminds us on every call that it sets requires_grad and hooks ReLUs; we know.
warnings.filterwarnings("ignore", module="captum")
pd.set_option("display.precision", 3)  # tables show three digits (tiny values in e-notation)
TOPS = [0, 2, 4, 6]  # T-shirt/top, Pullover, Coat, Shirt: garments for the upper body

# %% [markdown]
# The model is the package's **reference CNN**: a `SmallCNN` (two convolution blocks, one hidden
# dense layer) trained for four epochs on 50,000 FashionMNIST training images. The package
# trains it itself (`python -m failure_modes train-reference`) and ships the checkpoint with a
# SHA-256 hash; `load_reference_model` refuses a file that does not match it. The other 10,000
# training images are a validation split (used in the error-detection track) and the test set
# is FashionMNIST's own.

# %%
splits = reference_splits()
for name, dataset in splits.items():
    print(f"{name:>10}: {describe(dataset)}")
model = load_reference_model()
print("accuracy of the reference model per split:", reference_metadata()["accuracy"])

# %% [markdown]
# ## Part 1: the mistakes
#
# `misclassified` runs the model over a dataset and keeps the items it gets wrong: their index,
# the predicted and the true label, the probability the model gave its answer (`confidence`)
# and the one it gave the right answer (`p(true)`). Everything here is small enough for a CPU,
# so we stay on it.

# %%
test = splits["test"]
names = test.classes
mistakes = misclassified(model, test)
print(mistakes)

# %%
print("most frequent confusions (true label taken for predicted label):")
confusions = mistakes.pairs()[:6]
record(
    "leading_confusions",
    [[true_name, predicted_name] for true_name, predicted_name, _ in confusions],
)
for true_name, predicted_name, count in confusions:
    print(f"  {count:4d}  {true_name} taken for {predicted_name}")
among_tops = np.isin(mistakes.true, TOPS) & np.isin(mistakes.predicted, TOPS)
tops_share = record("tops_share_of_mistakes", among_tops.mean())
print(f"share of all mistakes that confuse two upper-body garments: {tops_share:.3f}")
median_confidence = record("median_confidence_when_wrong", np.median(mistakes.confidence))
print(f"median confidence of the model in its wrong answers: {median_confidence:.3f}")
confident = record("share_wrong_above_90", (mistakes.confidence > 0.9).mean())
print(f"share of wrong answers given with confidence above 0.9: {confident:.3f}")

# %%
first = mistakes[:16]
figure = plot_mistakes(
    test.data[first.index],
    first.predicted,
    first.true,
    names,
    title="The first 16 mistakes of the test set: predicted label (true label)",
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 1.1</b> (about 5 minutes): Which classes does the model
# confuse? Would a person make the same mistakes on these 28×28 pictures? How sure of itself is
# the model when it is wrong?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 1.1 (model answer)</b>: Most mistakes mix
# up garments for the upper body: the share printed above. Shirts taken for T-shirts lead the
# list, followed by pullovers, coats and shirts confused with each other. At this resolution
# a person hesitates over the same images: a shirt is a T-shirt with a collar and buttons, and
# those are a few pixels wide. But the model does not hesitate as much as it should: its median
# confidence in a wrong answer is the number printed above, and a share of its mistakes (printed
# too) come with more than 90 % confidence. Confidence alone does not flag these errors.</div>

# %% [markdown]
# ## Part 2: contrastive saliency
#
# An attribution map answers "which pixels made the logit of class *c* large?". For a mistake
# there are two classes of interest, the predicted one *p* and the true one *t*, so there are
# two maps — and the contrastive question "why *p* rather than *t*?" is about the logit
# **difference** `logit[p] - logit[t]`. `contrastive_saliency` returns, for each method:
#
# * `predicted`: the map of `logit[p]`; `true`: the map of `logit[t]`;
# * `difference`: `predicted - true`;
# * `contrast`: the map of `logit[p] - logit[t]`, computed directly by wrapping the model in a
#   small module whose one output is that difference.
#
# All maps are **signed**: red pixels raise the explained output, blue ones lower it, so in a
# contrast map red speaks for *p* over *t* and blue for *t* over *p*. Captum's `Saliency` takes
# the absolute value of the gradient unless told not to; a map without signs cannot tell
# evidence for *p* from evidence for *t*. The baseline of Integrated Gradients and
# DeepLift is a black image, the background of every FashionMNIST picture.
#
# The five methods, one line each (the core notebook introduces attribution maps):
#
# * **Saliency** (Simonyan, Vedaldi & Zisserman 2014, "Deep inside convolutional networks", ICLR
#   workshop): the gradient of the output with respect to each pixel, here with its sign.
# * **Input × Gradient** (Shrikumar et al. 2016, arXiv:1605.01713): that gradient times the
#   pixel's value, so black background pixels get nothing.
# * **Integrated Gradients** (Sundararajan, Taly & Yan 2017, "Axiomatic attribution for deep
#   networks", ICML): the gradient averaged along the straight path from the baseline to the
#   image, times the difference image minus baseline.
# * **DeepLift** (Shrikumar, Greenside & Kundaje 2017, "Learning important features through
#   propagating activation differences", ICML): the output's change from baseline to image,
#   shared among the pixels by a rule applied layer by layer (Captum's rescale rule).
# * **Guided Backprop** (Springenberg et al. 2015, "Striving for simplicity: the all
#   convolutional net", ICLR workshop): the gradient, with every negative signal dropped at each
#   ReLU on its way back.
#
# From here on we study `N_MISTAKES` of the mistakes, drawn at random with `SEED` (the
# parameters cell at the top). The maps are computed for every upper-body confusion among them,
# and the first `N_SHOWN` of those are drawn.

# %%
x_test, _ = to_tensors(test)
mean, std = normalization(test)
black = black_baseline(test)  # a black pixel in the model's (normalised) input space
chosen = mistakes.sample(N_MISTAKES, seed=SEED)
tops = chosen[np.isin(chosen.true, TOPS) & np.isin(chosen.predicted, TOPS)]
shown = tops[:N_SHOWN]
images = x_test[shown.index]
titles = [f"{names[p]} (is {names[t]})" for p, t in zip(shown.predicted, shown.true, strict=True)]
maps = contrastive_saliency(model, x_test[tops.index], tops.predicted, tops.true, baselines=black)
shown_maps = {
    method: {kind: m[:N_SHOWN] for kind, m in kinds.items()} for method, kinds in maps.items()
}
print(f"maps of {len(tops)} upper-body confusions (of the {len(chosen)} mistakes drawn)")
print("methods:", list(maps))

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 2.1</b> (about 5 minutes): What does the
# contrast map explain? Write <code>logit_contrast(logits, predicted, true)</code>: for each row
# of an <code>[N, K]</code> tensor of logits, the number whose attribution answers "why
# <i>p</i> rather than <i>t</i>?". The cell after it checks your function, runs it on the six
# mistakes shown below and compares it with the library's <code>LogitContrast</code> wrapper.
#
# <details><summary>Hint 1: the idea</summary>The question compares two classes, so the number
# compares the model's score for <i>p</i> with its score for <i>t</i>: positive should mean "the
# model prefers its (wrong) answer". Use logits, not probabilities: a softmax probability
# depends on all ten classes.</details>
#
# <details><summary>Hint 2: the code</summary>Pick one entry per row with
# <code>logits[torch.arange(len(logits)), predicted]</code>, and the same with
# <code>true</code>.</details></div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 2.1 (model answer)</b>: the contrast is
# the predicted logit minus the true one, positive for every mistake.</div>


# %% tags=["task"]
def logit_contrast(logits: torch.Tensor, predicted: torch.Tensor, true: torch.Tensor):
    """``[N]``: the output whose attribution explains "why predicted and not true?"."""
    return ...


# %% tags=["solution"]
def logit_contrast(logits: torch.Tensor, predicted: torch.Tensor, true: torch.Tensor):  # noqa: F811 (the task's version)
    """``[N]``: the output whose attribution explains "why predicted and not true?"."""
    rows = torch.arange(len(logits))
    return logits[rows, predicted] - logits[rows, true]


# %%
logit_contrast = checks.logit_contrast(logit_contrast)
shown_predicted, shown_true = torch.as_tensor(shown.predicted), torch.as_tensor(shown.true)
with torch.no_grad():
    shown_contrast = logit_contrast(model(images), shown_predicted, shown_true)
    wrapped = LogitContrast(model)(images, shown_predicted, shown_true)[:, 0]
print("logit[predicted] - logit[true] of the mistakes shown:", shown_contrast.numpy().round(2))
print(f"largest gap to the library's LogitContrast: {(shown_contrast - wrapped).abs().max():.2g}")

# %%
figure = plot_attributions(
    images,
    {kind: shown_maps["integrated_gradients"][kind] for kind in KINDS},
    titles=titles,
    title="Integrated Gradients: maps of the predicted class, of the true class, their "
    "difference, and the contrast",
)

# %%
figure = plot_attributions(
    images,
    {method: shown_maps[method]["contrast"] for method in maps},
    titles=titles,
    title="The contrast logit[predicted] - logit[true], one row per method",
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 2.2</b> (about 10 minutes): Is the map of the
# logit difference (<code>contrast</code>) the same as the difference of the two maps? Write
# <code>relative_gap(kinds)</code>: build the difference map from <code>kinds["predicted"]</code>
# and <code>kinds["true"]</code> (one method's maps, <code>[N, 1, 28, 28]</code> each), and return
# the largest absolute gap between it and <code>kinds["contrast"]</code>, relative to the largest
# absolute value of the contrast map: one number for the whole batch. The cell after it fills
# a table per method, together with how alike the maps of the two classes are (the correlation
# of their pixel values, median over all the upper-body confusions drawn).
#
# <details><summary>Hint 1: the idea</summary>The contrast explains <code>logit[p] -
# logit[t]</code>, so the difference map to compare it with is the map of <i>p</i> minus the map
# of <i>t</i>. Divide by the size of the contrast map, so that the gap reads as a fraction of
# it.</details>
#
# <details><summary>Hint 2: the code</summary><code>tensor.abs().max()</code> is the largest
# absolute value over every pixel of every image: use it once for the gap and once for the
# scale.</details></div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 2.2 (model answer)</b>: the gap of each
# method is in the table below.</div>


# %% tags=["task"]
def relative_gap(kinds: dict[str, torch.Tensor]):
    """max |contrast - (predicted - true)| / max |contrast| over the batch: one number."""
    return ...


# %% tags=["solution"]
def relative_gap(kinds: dict[str, torch.Tensor]):  # noqa: F811 (the task's version)
    """max |contrast - (predicted - true)| / max |contrast| over the batch: one number."""
    difference = kinds["predicted"] - kinds["true"]
    return (kinds["contrast"] - difference).abs().max() / kinds["contrast"].abs().max()


# %%
relative_gap = checks.relative_gap(relative_gap)


def correlation(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pearson correlation of two batches of maps, one value per image."""
    a, b = a.flatten(1), b.flatten(1)
    a, b = a - a.mean(dim=1, keepdim=True), b - b.mean(dim=1, keepdim=True)
    return (a * b).sum(dim=1) / (a.norm(dim=1) * b.norm(dim=1))


rows = []
for method, kinds in maps.items():
    gap = float(relative_gap(kinds))
    alike = correlation(kinds["predicted"], kinds["true"]).median()
    rows.append(
        {
            "method": method,
            "relative gap": record(f"relative_gap_{method}", gap),
            "corr(predicted, true)": record(f"correlation_{method}", alike.item()),
        }
    )
gaps = pd.DataFrame(rows).set_index("method")
display(gaps)
linear = gaps.drop(index="guided_backprop")["corr(predicted, true)"]
guided = gaps.loc["guided_backprop", "corr(predicted, true)"]
signs = "of either sign" if linear.min() < 0 < linear.max() else "all of one sign"
print(
    f"median correlation of the two classes' maps over {len(tops)} images: between "
    f"{linear.min():.2f} and {linear.max():.2f} for the four linear methods ({signs}), "
    f"{guided:.2f} for Guided Backprop"
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 2.3</b> (about 10 minutes): For which methods are
# <code>contrast</code> and <code>difference</code> the same, and why? What does the map of the predicted class alone tell you
# about the mistake, and what does the contrast add? Do the contrast maps explain the
# mistakes to you?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 2.3 (model answer)</b>: For Saliency,
# Input × Gradient, Integrated Gradients and DeepLift the relative gap printed above is at the
# level of rounding errors: these methods are linear in the output they explain (a gradient of a
# difference is the difference of gradients; Integrated Gradients and DeepLift's rescale rule
# only add sums and fixed multipliers), so explaining <code>logit[p] - logit[t]</code> and
# subtracting two explanations is the same computation. Guided Backprop is the exception, with a large gap in the
# table: it drops negative gradients at every ReLU on the way back, which is not linear, so its
# "contrast" is a different map from its "difference". Its maps of the two classes are also
# strongly alike (its <code>corr</code> value, printed below the table, is far above the
# others'): Guided Backprop draws the garment's edges whichever class you ask about, so it cannot
# answer a contrastive question at all. For the four linear methods the two maps are hardly
# correlated: the medians printed are close to zero, and their sign depends on the method (and,
# over a handful of images, on which images you look at), so do not read "the classes compete"
# or "they agree" into them. Either way, the map of the predicted class alone does not show where
# the two classes part ways; the contrast does. Do the contrast maps explain the mistakes? Look
# at the figure: red and blue pixels are scattered over the whole garment. They say <i>where</i> the model's
# evidence for one class over the other sits, one pixel at a time, not <i>what</i> that evidence is;
# Parts 3 and 4 put numbers on where it sits.</div>

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 1</b>: Discuss in your group before
# you go on. Which method's contrast map would you show to the person who labelled the images,
# and what would you tell them it means? Which of the five methods would you drop, and
# why?</div>

# %% [markdown]
# ## Part 3: counterfactual inputs
#
# A counterfactual asks the model directly: *what is the smallest change to this image that
# makes you answer correctly?* `counterfactual(model, image, target, ...)` searches for it by
# gradient descent on the change `delta` (in pixel units, 0 = black, 1 = white), for a whole
# batch at once. Each step lowers, per image,
#
# $$\max\big(0,\ \max_{k \ne t} \mathrm{logit}_k - \mathrm{logit}_t + \mathrm{margin}\big)
#   \;+\; \mathrm{weight} \cdot \lVert \delta \rVert_1 ,$$
#
# then clips `delta` so that the image stays a valid picture (every pixel in [0, 1]). The first
# term is zero once the target wins by `margin` logits; the second keeps the change small and,
# handled by a soft-threshold step, **sparse**: a pixel moves only while the gradient of the
# margin at that pixel is larger than `weight`. Once an image reaches its target, the search goes
# on for a few steps (`patience`) to shrink the change, keeps the smallest valid change it has
# seen, and the image leaves the batch.
#
# Two families of counterfactual search appear in the literature and in libraries:
#
# * **Wachter-style** (Wachter, Mittelstadt & Russell, "Counterfactual explanations without
#   opening the black box: automated decisions and the GDPR", Harvard Journal of Law &
#   Technology 31(2), 2018; preprint 2017): minimise a loss that pulls the model's output towards
#   the wanted class plus a distance between the changed and the original input. The search
#   above is one.
# * **Prototype-guided** (Van Looveren & Klaise, "Interpretable counterfactual explanations
#   guided by prototypes", ECML PKDD 2021): add a term that pulls the changed input towards a
#   prototype of the wanted class (a class mean in the latent space of an autoencoder, or of
#   nearest training examples), so that the counterfactual stays close to real examples of that
#   class. Part 5 comes back to why that matters.

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 3.1</b> (about 20 minutes): Write the search
# yourself, in its plainest form: <code>penalised_search(model, pixels, targets, weight,
# normalization, steps, lr)</code> starts from <code>delta = 0</code> (pixel units) and, at each
# step, lowers a loss that pulls each image <b>towards</b> its target class (cross-entropy, or the
# hinge above) plus <code>weight</code> times the L1 size of <code>delta</code>; after each step
# it keeps <code>pixels + delta</code> a valid picture (every pixel in [0, 1]). At the end,
# <code>success</code> says per image whether the model now answers the target for the
# <b>changed</b> image. Return <code>(delta.detach(), success)</code>. The cell after it checks
# your search on a tiny classifier, then runs it on the six mistakes shown in Part 2 and compares
# it with the library's <code>counterfactual</code>. Do not expect the same sizes: the two
# searches optimise different losses. The cross-entropy never reaches zero, so it keeps pushing
# the target's probability up for as long as the search runs, held back only by the L1 penalty;
# the library's hinge is zero once the target wins by <code>margin</code> logits (the decision
# boundary plus a margin), and from then on only the penalty acts, shrinking the change. Which
# change ends up larger depends on the margin, the weight and the number of steps.
#
# <details><summary>Hint 1: the idea</summary>Gradient descent on the change, not on the
# model: the loss is small when the changed image is classified as its target (minimise the
# cross-entropy towards the target, do not maximise the one of the current answer), and the L1
# penalty keeps the change small. The model sees normalised images, the change lives in pixel
# units, so normalise <code>pixels + delta</code> before each call. After each step, clip the
# change so that no pixel leaves [0, 1].</details>
#
# <details><summary>Hint 2: the code</summary>
# <code>torch.nn.functional.cross_entropy(logits, targets, reduction="sum")</code> is the loss
# towards the targets; the L1 size of <code>delta</code> is <code>delta.abs().sum()</code>. One
# step: <code>(delta.grad,) = torch.autograd.grad(loss, delta)</code> (the model's own
# weights collect no gradients), then <code>optimiser.step()</code>; clip with
# <code>torch.no_grad()</code> and <code>delta.copy_(torch.maximum(torch.minimum(delta, 1 -
# pixels), -pixels))</code>. The success test runs the model on
# <code>pixels + delta</code>, normalised.</details></div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 3.1 (model answer)</b>: a plain penalised
# search, compared below with the library's.</div>


# %% tags=["task"]
def penalised_search(model, pixels, targets, weight, normalization, steps=100, lr=0.02):
    """The change ``delta`` (pixel units) that makes ``model`` answer ``targets``.

    Returns ``(change, success)``: ``[N, C, H, W]`` and ``[N]`` bool.
    """
    mean, std = normalization
    delta = torch.zeros_like(pixels, requires_grad=True)
    optimiser = torch.optim.Adam([delta], lr=lr)  # noqa: F841 (your steps use it)
    for _ in range(steps):
        ...  # the loss towards `targets` + weight * L1 size of delta, and one Adam step
        ...  # keep pixels + delta in [0, 1]
    ...  # success: per image, does the model answer its target for pixels + delta?
    return ...


# %% tags=["solution"]
def penalised_search(model, pixels, targets, weight, normalization, steps=100, lr=0.02):  # noqa: F811 (the task's version)
    """The change ``delta`` (pixel units) that makes ``model`` answer ``targets``.

    Returns ``(change, success)``: ``[N, C, H, W]`` and ``[N]`` bool.
    """
    mean, std = normalization
    delta = torch.zeros_like(pixels, requires_grad=True)
    optimiser = torch.optim.Adam([delta], lr=lr)
    for _ in range(steps):
        logits = model((pixels + delta - mean) / std)
        towards = torch.nn.functional.cross_entropy(logits, targets, reduction="sum")
        loss = towards + weight * delta.abs().sum()
        (delta.grad,) = torch.autograd.grad(loss, delta)
        optimiser.step()
        with torch.no_grad():
            delta.copy_(torch.maximum(torch.minimum(delta, 1 - pixels), -pixels))
    with torch.no_grad():
        success = model((pixels + delta - mean) / std).argmax(dim=1) == targets
    return delta.detach(), success


# %%
penalised_search = checks.penalised_search(penalised_search)
shown_pixels = images * std + mean
own_change, own_success = penalised_search(
    model, shown_pixels, shown_true, weight=0.2, normalization=(mean, std)
)
shown_cf = counterfactual(model, images, shown_true, normalization=(mean, std), **PRESETS["sparse"])
print(
    f"your search: {int(own_success.sum())} of {len(own_success)} mistakes corrected, "
    f"median L1 size {l1_size(own_change).median():.2f}"
)
print(
    f"the library's (sparse settings): {int(shown_cf.success.sum())} of {len(shown_cf)} "
    f"corrected, median L1 size {shown_cf.l1.median():.2f}"
)

# %% [markdown]
# The library's search does the same with the hinge, a soft-threshold step for the L1 penalty and
# per-image stopping. Here it computes the counterfactuals of all the mistakes drawn in Part 2
# (`chosen`), towards the **true** label, with the `"sparse"` settings of `PRESETS` (in the
# parameters cell at the top). The images are normalised, so it gets `normalization=(mean, std)`:
# it defines the valid range and the units of the change.

# %%
inputs = x_test[chosen.index]
targets = torch.as_tensor(chosen.true)
print(PRESETS["sparse"])
sparse = counterfactual(model, inputs, targets, normalization=(mean, std), **PRESETS["sparse"])
print(sparse)

# %% [markdown]
# How small is the change? Four numbers per image: **validity** (does the model now answer the
# true label?), the **L1** size of the change (sum of absolute pixel changes), the **L0** size
# (share of pixels whose 8-bit grey value changes) and, for scale, the L1 distance from the
# original image to the **nearest training image of the true class** — the change a
# "show me a real example" explanation would make.

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 3.2</b> (about 5 minutes): Write
# <code>change_size(change, nearest)</code>: for <code>[N, 1, 28, 28]</code> changes (pixel
# units) and the <code>[N]</code> distances to the nearest training image of the true class,
# return <code>(size, ratio)</code>: the L1 size of each change, one number per image, and its
# ratio to that distance. The cell after it measures the counterfactuals with it and compares
# with the library's <code>sparse.l1</code>.
#
# <details><summary>Hint</summary>L1: the sum of the <i>absolute</i> pixel changes (a brightened
# and a darkened pixel must not cancel), per image: <code>.flatten(1)</code> keeps the batch
# dimension apart.</details></div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 3.2 (model answer)</b>: the sizes and
# ratios are printed below.</div>


# %% tags=["task"]
def change_size(change: torch.Tensor, nearest: torch.Tensor):
    """``(size, ratio)``: L1 size of each change, and size / nearest, both ``[N]``."""
    return ...


# %% tags=["solution"]
def change_size(change: torch.Tensor, nearest: torch.Tensor):  # noqa: F811 (the task's version)
    """``(size, ratio)``: L1 size of each change, and size / nearest, both ``[N]``."""
    size = change.abs().flatten(1).sum(dim=1)
    return size, size / nearest


# %%
change_size = checks.change_size(change_size)
x_train, y_train = to_tensors(splits["train"])
pixels = inputs * std + mean
nearest = nearest_in_class(pixels, targets, x_train * std + mean, y_train, distance="l1")
size, ratios = change_size(sparse.change, nearest)
print(f"largest gap to the library's sizes (sparse.l1): {(size - sparse.l1).abs().max():.2g}")
biggest = sparse.change.abs().flatten(1).max(dim=1).values
validity = record("sparse_validity", sparse.success.float().mean().item())
print(f"validity: {validity:.3f}")
print(f"median L1 change: {record('sparse_median_l1', size.median().item()):.2f}")
nearest_l1 = record("nearest_l1_median", nearest.median().item())
print(f"median L1 distance to the nearest training image of the true class: {nearest_l1:.2f}")
ratio = record("sparse_ratio_to_nearest", ratios.median().item())
print(f"median ratio change / nearest distance: {ratio:.3f}")
changed_share = record("sparse_changed_share", sparse.changed_share.median().item())
print(f"median share of pixels changed (L0): {changed_share:.3f}")
largest = record("sparse_largest_pixel_change", biggest.median().item())
print(f"median largest change of a single pixel (0..1 scale): {largest:.3f}")
seconds_per_image, mean_steps = sparse.seconds / len(sparse), sparse.steps.float().mean()
print(f"time per image: {seconds_per_image:.4f} s, {mean_steps:.1f} steps on average")

# %% [markdown]
# Counterfactual libraries commonly search one image at a time. Batching all images into one
# optimisation matters: `bench/bench_counterfactual.py` times this same search both ways, and on
# the 2-core development machine it measured 0.0061 s per image batched against 0.039 s one at
# a time (6.4×, `bench/README.md`, 2026-11-23). Your time per image above depends on your
# machine.
#
# Now look at the mistakes of Part 2: the original, the counterfactual, and the change (red:
# brighter, blue: darker).

# %%
figure = plot_counterfactuals(
    shown_pixels,
    shown_cf.change,
    shown_cf.prediction,
    names,
    titles=titles,
    title="Top: the mistakes; bottom: their sparse counterfactuals (→ new prediction)",
)
figure = plot_attributions(
    images,
    {"change": shown_cf.change},
    titles=titles,
    title="The sparse counterfactual's change (red: brighter, blue: darker)",
)

# %% [markdown]
# Where do the changes go? Two measurements over all the counterfactuals: the share of the
# change that falls on the garment's **outline** (a band one pixel wide on each side of the
# border between garment and background), against the share of the image the outline covers;
# and the share of the change that brightens rather than darkens.

# %%
outline = outline_mask(pixels)
on_outline, outline_area = mass_in_mask(sparse.change, outline)
brightening = sparse.change.clamp_min(0).flatten(1).sum(dim=1) / sparse.l1
outline_share = record("sparse_on_outline", on_outline.nanmedian().item())
print(f"median share of the change on the outline: {outline_share:.3f}")
area = record("outline_area", outline_area.median().item())
print(f"median share of the image the outline covers: {area:.3f}")
brighter = record("sparse_brightening", brightening.median().item())
print(f"median share of the change that brightens pixels: {brighter:.3f}")
shirt_tshirt = torch.as_tensor(np.isin(chosen.true, [0, 6]) & np.isin(chosen.predicted, [0, 6]))
n_shirt_tshirt = record("shirt_tshirt_mistakes", int(shirt_tshirt.sum()))
shirt_outline = record("shirt_tshirt_on_outline", on_outline[shirt_tshirt].nanmedian().item())
shirt_area = record("shirt_tshirt_outline_area", outline_area[shirt_tshirt].median().item())
print(
    f"shirt / T-shirt mistakes ({n_shirt_tshirt}): median share of the change on the "
    f"outline {shirt_outline:.3f}, outline area {shirt_area:.3f}"
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 3.3</b> (about 10 minutes): What did the search have to change?
# Which parts of a shirt make it a T-shirt to this model (and the other way round)? Would a
# person looking at the counterfactual see the garment the model now sees?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 3.3 (model answer)</b>: Every mistake
# or nearly every one can be corrected (the validity printed above), and the change is small:
# its median L1 size is a few percent of the distance to the nearest real image of the true
# class (the ratio printed above), it touches only the share of pixels printed as L0, and even
# the largest single-pixel change (printed) is a fraction of the grey range. The changes are not
# spread at random: over all the counterfactuals, the outline carries a share of the change
# (printed) about twice the share of the image it covers, for the shirt / T-shirt mistakes as for
# all of them, and most of the change brightens pixels (the share printed), adding fabric rather
# than removing it. So to this model the difference between a shirt and a T-shirt lives mostly
# in the silhouette. The six pictures are examples only (another <code>SEED</code> draws another
# six): look at where their edits sit, on the neckline, the shoulders, the sleeve ends, the hem or
# the buttons, and whether they match what the outline share says of all of them. But no person
# would see a different garment in the counterfactuals above: the edits are scattered single
# pixels, a pattern no photograph of clothes would show. The counterfactual explains the
# <i>model</i> (where its decision is fragile), not the <i>clothes</i>; Part 5 shows how quickly this turns
# into plain adversarial noise.</div>

# %% [markdown]
# ## Part 4: do saliency and counterfactual agree?
#
# Two explanations of the same mistake: the contrast map says which pixels carry the evidence
# for *p* over *t*; the counterfactual says which pixels had to change to turn *p* into *t*. If
# they agree, the contrast map should put more of its (absolute) attribution on the changed
# pixels than a map spread evenly would: that is, more than the share of the image that changed.

# %%
contrast = contrastive_saliency(
    model,
    inputs,
    chosen.predicted,
    chosen.true,
    methods=("saliency", "integrated_gradients"),
    baselines=black,
    kinds=("contrast",),
)
rows = []
for method, kinds in contrast.items():
    share, chance = mass_in_mask(kinds["contrast"], sparse.changed)
    above = (share > chance).float().mean().item()
    rows.append(
        {
            "method": method,
            "share of mistakes above chance": record(f"above_chance_{method}", above),
            "median mass on changed pixels": record(
                f"mass_on_changed_{method}", share.nanmedian().item()
            ),
            "median chance": record(f"chance_{method}", chance.median().item()),
        }
    )
agreement = pd.DataFrame(rows).set_index("method")
display(agreement)
for method, row in agreement.iterrows():
    times = row["median mass on changed pixels"] / row["median chance"]
    print(
        f"{method}: above chance for {row['share of mistakes above chance']:.0%} of the "
        f"{len(chosen)} mistakes, median mass on the changed pixels {times:.1f} times chance"
    )

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 4.1</b> (about 5 minutes): Do the two explanations agree? Is
# that agreement independent evidence that they are right?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 4.1 (model answer)</b>: They agree for nearly
# every mistake (the first column of the table printed above), with a median mass on the changed
# pixels a few times the chance level (the ratio printed below the table). But the agreement is not
# independent evidence. The first step of the counterfactual search follows the gradient of the very
# logit difference that Saliency maps, and the L1 step keeps only the pixels where that gradient is
# large; the two methods read the same local slope of the model. Both can be "right about the model"
# and still tell us nothing a person would call a reason.</div>

# %% [markdown]
# ## Part 5: meaning or noise?
#
# The penalty decides what kind of change the search returns. Three settings from `PRESETS`:
#
# * `"sparse"`: the L1 penalty used so far;
# * `"noise"`: a weak penalty on the squared L2 size, which lets every pixel move a little;
# * `"too strong"`: the L1 penalty five times heavier.

# %%
print(PRESETS)
results = {"sparse": sparse}
for preset in ("noise", "too strong"):
    results[preset] = counterfactual(
        model, inputs, targets, normalization=(mean, std), **PRESETS[preset]
    )
nearest_l2 = nearest_in_class(pixels, targets, x_train * std + mean, y_train, distance="l2")
rows = []
for preset, result in results.items():
    on_outline, _ = mass_in_mask(result.change, outline)
    rows.append(
        {
            "preset": preset,
            "validity": result.success.float().mean().item(),
            "median L1": result.l1.median().item(),
            "median L2": result.l2.median().item(),
            "median share changed": result.changed_share.median().item(),
            "median share on outline": on_outline.nanmedian().item(),
            "s / image": result.seconds / len(result),
        }
    )
presets = pd.DataFrame(rows).set_index("preset")
# Everything but the time: seconds depend on the machine, not on the lesson.
record("presets", presets.drop(columns="s / image").to_dict("index"))
display(presets)
nearest_l2_median = record("nearest_l2_median", nearest_l2.median().item())
print(
    f"median L2 distance to the nearest training image of the true class: {nearest_l2_median:.2f}"
)

# %% [markdown]
# The mistakes of Part 2 again, one row per setting, in the order of the table. Each row has its
# own colour scale (its colour bar), so the `"noise"` row looks loud although each of its changes
# is tiny: the table has the sizes.

# %%
changes = {"sparse": shown_cf.change}  # computed in Part 3
for preset in ("noise", "too strong"):
    changes[preset] = counterfactual(
        model, images, torch.as_tensor(shown.true), normalization=(mean, std), **PRESETS[preset]
    ).change
figure = plot_attributions(
    images, changes, titles=titles, title="The change of each counterfactual setting, one per row"
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 5.1</b> (about 10 minutes): Which setting gives adversarial
# noise, and how can you tell from the table? What happens when the penalty is too strong? Which
# counterfactuals would you show to a person as an explanation of the model's mistake?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 5.1 (model answer)</b>: The
# <code>"noise"</code> setting is valid just as often (its <code>validity</code> in the table) but
# changes most of the pixels of every image (its <code>share changed</code>), each by a tiny
# amount: a change whose L2 size is a small fraction of the L2 distance to the nearest real image
# of the true class (printed below the table), spread over background and garment alike: its
# share on the outline is about the outline's area printed in Part 3, what a change spread at
# random would give. That is an adversarial example: it flips the model without changing
# anything a person would call the garment, and it says nothing about why the model was wrong.
# The <code>"too strong"</code> penalty makes the change smaller and sparser still, but the
# search now fails for many images (its <code>validity</code>): where the gradient of the margin
# is weaker than the penalty, no pixel moves at all. The <code>"sparse"</code> setting sits
# between the two: valid for almost all images, few pixels, concentrated on the outline. It is
# the one to show, with the honest caption that it maps where this model's decision is fragile,
# and that the model can be argued out of its answer by changes no person would notice. A
# counterfactual that looks like a <i>different garment</i> needs a constraint that the changed
# image stays a plausible image (a generative model, or the prototype guidance of Part 3 towards
# training examples of the target class); a pixel penalty alone does not give that.</div>

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 2</b>: Discuss in your group. Would
# you trust this model more or less after this exercise, and why? If a colleague showed you one
# counterfactual of the <code>"sparse"</code> row as "the reason for the mistake", what would you
# ask them? How would you tell, without looking, whether a counterfactual is an explanation or
# adversarial noise?</div>
#
# <div class="alert alert-block alert-warning"><b>Bonus</b>: Ask for a confident answer
# (<code>margin=5</code>) and a smooth change (<code>smoothness=0.1</code> adds a penalty on the
# differences between neighbouring pixels of the change) with the sparse L1 penalty, for the six
# mistakes above. Do the changes look more like edits of a garment?</div>

# %% tags=["solution"]
bonus = counterfactual(
    model,
    images,
    torch.as_tensor(shown.true),
    normalization=(mean, std),
    distance="l1",
    weight=0.2,
    margin=5.0,
    smoothness=0.1,
)
print("sparse:          ", shown_cf)
print("margin 5, smooth:", bonus)
record(
    "bonus_median_l1",
    {"sparse": shown_cf.l1.median().item(), "margin 5, smooth": bonus.l1.median().item()},
)


def roughness(change: torch.Tensor) -> float:
    """Median total variation of a change per unit of its L1 size (lower: smoother)."""
    return (total_variation(change) / change.abs().flatten(1).sum(dim=1)).median().item()


rough = record(
    "bonus_roughness",
    {"sparse": roughness(shown_cf.change), "margin 5, smooth": roughness(bonus.change)},
)
print(
    f"roughness: sparse {rough['sparse']:.2f},",
    f"margin 5 + smooth {rough['margin 5, smooth']:.2f}",
)
figure = plot_attributions(
    images,
    {"sparse": shown_cf.change, "margin 5, smooth": bonus.change},
    titles=titles,
    title="The sparse change, and with margin 5 and a smoothness penalty",
)

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-warning"><b>Bonus (model answer)</b>: A larger margin
# makes the change larger (compare the two median L1 values printed above) and the smoothness
# penalty lowers its roughness (printed): neighbouring pixels now change together. It reads a
# little more like an edit of the neckline or the shoulders, but it is still far from a
# different garment.</div>

# %% [markdown]
# ## Wrap-up
#
# What you did in this track:
#
# * **Part 1**: most of the model's mistakes confuse upper-body garments, and many come with high
#   confidence: confidence alone does not flag them.
# * **Part 2**: for the attribution methods that are linear in the output they explain, the map
#   of the logit difference is the difference of the two classes' maps; Guided Backprop is not,
#   and draws nearly the same map for every class. A contrast map says where the evidence for one
#   class over the other sits, not what it is.
# * **Part 3**: a Wachter-style counterfactual search corrects nearly every mistake with a change
#   of a few percent of the distance to a real image of the true class, mostly on the outline.
# * **Part 4**: saliency and counterfactual agree, but they read the same local gradient, so their
#   agreement is not independent evidence.
# * **Part 5**: the penalty decides whether a counterfactual is a sparse map of fragile places or
#   adversarial noise; neither looks like a different garment without a plausibility constraint.
#
# **Which track next?** The error-detection track (`advanced/error_detection/`) takes the
# question of Part 1 further: if confidence does not flag the mistakes, what does? The Clever
# Hans track (`advanced/clever_hans/`) asks when attribution maps can be trusted at all.
