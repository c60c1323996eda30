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
# # A Clever Hans zoo: which shortcuts does a model take, and which explanations reveal them?
#
# Clever Hans was a horse that seemed to count, but in fact read tiny cues in his questioner's
# posture. Networks do the same whenever something other than the object gives the label away
# in the training data: a photographer's watermark, a time stamp, the lighting of one studio.
#
# In this exercise you plant four such give-aways ("artifacts") on four MNIST classes at once,
# train a small dense network, and then play detective:
#
# 1. **The zoo**: an obvious square, a time stamp, a faint watermark and a lightness ramp.
# 2. **Training**: how well does a model trained on the tainted data seem to do?
# 3. **Behaviour**: move the artifact around. Does the prediction follow it?
# 4. **Explanations**: where do eight attribution methods say the model looked?
# 5. **A sanity check**: do those maps change when the model's weights are scrambled?
# 6. **Removing the cue**: a preprocessing step against regularisation.
# 7. **A visibility sweep**: how faint can a watermark get before we stop seeing that the model
#    uses it?
#
# <div class="alert alert-block alert-danger"><b>Before you start</b>: choose the
# <code>failure-modes</code> kernel (menu Kernel → Change kernel). Every part runs in seconds
# on a laptop CPU.</div>

# %%
import copy as copy_module
import warnings

import matplotlib.pyplot as plt
import pandas as pd
import torch
from IPython.display import display

from failure_modes.course.checks import clever_hans as checks
from failure_modes.course.record import record
from failure_modes.data import load_mnist
from failure_modes.data.taint import taint_dataset
from failure_modes.data.tensors import black_baseline
from failure_modes.explain.attribution import (
    METHODS,
    artifact_mass,
    compare_methods,
    parameter_layers,
)
from failure_modes.models import DenseModel
from failure_modes.models.evaluation import accuracy, predict
from failure_modes.models.training import train_classifier
from failure_modes.plotting import plot_attributions, plot_images
from failure_modes.tracks.clever_hans import (
    augment,
    behavioural_test,
    compare_models,
    explain_inputs,
    explain_local,
    randomization_check,
    shortcut_report,
    train_dense,
    visibility_sweep,
    wide,
    zoo,
)
from failure_modes.tracks.clever_hans.explanations import MASS_FACTOR
from failure_modes.utils.seeding import seed_everything, seeded

# Captum reminds us on every call that it sets requires_grad and hooks ReLUs; we know.
warnings.filterwarnings("ignore", module="captum")
pd.set_option("display.precision", 3)

# %% [markdown]
# The settings of the whole experiment, in one place: change one and run the notebook again.

# %% tags=["parameters"]
SEED = 0  # fixes the taint, every model's initial weights and batches, the random layers
EPOCHS = 5  # training epochs of every model (4,000 offline digits: seconds on a CPU)
N_EXPLAIN = 64  # tainted test images per class explained with every attribution method
N_RANDOMIZED = 32  # tainted 1s whose maps the sanity check of Part 5 compares
WEIGHT_DECAY = 1e-3  # the L2 penalty of the regularised model in Part 6
AUGMENT_COPIES = 2  # randomly lightened copies of the training set in the bonus of Part 6
AUGMENT_EPOCHS = 3  # epochs over those copies
SWEEP_LABEL = 5  # the class that carries the watermark in the visibility sweep of Part 7
ALPHAS = [0.6, 0.3, 0.15, 0.08, 0.04]  # its opacities, from plain to nearly invisible

# %%
# Seeds the notebook's own random draws (GradientShap's and SmoothGrad's noise), so that a
# second run of the notebook prints the same numbers; library helpers never reseed it.
_ = seed_everything(SEED)

# %% [markdown]
# The data: the notebook says which MNIST it found. Offline it is a 5,000-digit sample of
# MNIST (4,000 for training, 1,000 for testing); online the full 60,000 / 10,000.

# %%
train = load_mnist(train=True, report=True)
test = load_mnist(train=False, report=True)

# %% [markdown]
# ## Part 1: the zoo
#
# Each of four classes gets its own artifact, on every one of its images:
#
# | class | artifact | kind |
# |---|---|---|
# | 1 | a white 4×4 square in the top-left corner | obvious, local |
# | 3 | a time stamp "12:07" in the top-right corner | obvious, local |
# | 5 | a large copyright sign blended in at 30 % opacity | faint, global |
# | 8 | a lightness ramp from the top-left to the bottom-right corner | global |
#
# Every artifact is a small object from `failure_modes.data.taint`: calling it on a batch of uint8
# images returns a new, tainted batch, and `.mask(h, w)` says which pixels it touches.

# %%
ZOO = zoo()
for label, artifact in ZOO.items():
    print(label, artifact)

# %%
examples = torch.stack([test.data[test.targets == label][0] for label in ZOO])
stamped = torch.stack([artifact(examples[i : i + 1])[0] for i, artifact in enumerate(ZOO.values())])
masks = torch.stack([artifact.mask(28, 28) for artifact in ZOO.values()])
names = [type(artifact).__name__ for artifact in ZOO.values()]
figure = plot_images(
    torch.cat([examples, stamped, masks.to(torch.uint8) * 160]),  # grey: visible on white paper
    ncols=4,
    titles=[f"clean {label}" for label in ZOO] + names + [f"mask of {n}" for n in names],
)

# %% [markdown]
# How visible is each one? Two numbers per artifact: the share of the image its mask covers, and
# the largest change it makes to a pixel of the example above (0..255).

# %%
visibility = pd.DataFrame(
    {
        "label": list(ZOO),
        "artifact": names,
        "mask_share": masks.float().mean(dim=(1, 2)).tolist(),
        "largest_change": (stamped.int() - examples.int()).abs().amax(dim=(1, 2)).tolist(),
    }
)
record("visibility", visibility.to_dict("records"))
display(visibility)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 1.2</b> (about 10 minutes): An artifact is
# just a function of the pixels. Write the lightness ramp of the 8s yourself: `lighten(images,
# artifact)` takes uint8 images `[N, H, W]` and a `Gradient`, adds `artifact.ramp(h, w)` (the
# float brightness added at each pixel) and returns a *new* uint8 batch, the input unchanged.
# The check compares it with the library's corruption, `artifact(images)`.
#
# <details><summary>Hint</summary>uint8 arithmetic wraps around (250 + 10 = 4): add in float
# (`images.float() + ramp`), then `.round()`, `.clamp(0, 255)` and `.to(torch.uint8)`.</details>
# </div>


# %% tags=["task"]
def lighten(images, artifact):
    """``images`` (uint8 [N, H, W]) with ``artifact``'s ramp added: a new uint8 batch."""
    ramp = artifact.ramp(*images.shape[-2:])  # noqa: F841 (float [H, W], 0 at the ramp's start corner)
    return ...


# %% tags=["solution"]
def lighten(images, artifact):  # noqa: F811 (the task's version)
    """``images`` (uint8 [N, H, W]) with ``artifact``'s ramp added: a new uint8 batch."""
    ramp = artifact.ramp(*images.shape[-2:])  # float [H, W], 0 at the ramp's start corner
    return (images.float() + ramp).round().clamp(0, 255).to(torch.uint8)


# %%
lighten = checks.lighten(lighten)
differ = (lighten(examples, ZOO[8]) != ZOO[8](examples)).sum().item()
print(f"pixels where your ramp differs from the library's on the four examples: {differ}")

# %% [markdown]
# Now taint the training and the test set. `taint_dataset` returns new datasets (the clean ones
# are untouched) and marks the changed images in `.tainted`.

# %%
tainted_train = taint_dataset(train, ZOO, seed=SEED)
tainted_test = taint_dataset(test, ZOO)
print(f"tainted training images: {int(tainted_train.tainted.sum())} of {len(tainted_train)}")

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 1.1</b>: Look at the pictures. Which
# artifacts would a person reviewing the data notice? Which do you expect the model to use?
# Write down your guess; we check it in Part 3.</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 1.1 (model answer)</b>: The square and the
# time stamp jump out; the ramp is easy to miss when images are looked at one by one; the
# watermark changes no pixel by more than the number printed in the table above, so a person
# skimming the data may not see it at all. A network has no notion of "visible": any pattern that
# is present in every image of a class, and absent elsewhere, is a cheap way to lower the loss.
# Which ones it actually takes is what the rest of the notebook measures.</div>

# %% [markdown]
# ## Part 2: training on the tainted data
#
# A dense network (the `DenseModel` of the core exercise). These three lines are all
# `train_dense(dataset, seed=...)` does; we use it for the other models below, so every model
# starts from the same weights and sees its batches in the same order. `seeded(SEED)` fixes
# the initial weights and leaves the notebook's own random stream where it was.

# %%
with seeded(SEED):
    model = DenseModel()
losses = train_classifier(model, tainted_train, epochs=EPOCHS, seed=SEED)

# %%
clean_model = train_dense(train, seed=SEED, epochs=EPOCHS)
accuracies = pd.DataFrame(
    [
        {
            "model": name,
            "tainted train": accuracy(*predict(net, tainted_train)),
            "tainted test": accuracy(*predict(net, tainted_test)),
            "clean test": accuracy(*predict(net, test)),
        }
        for name, net in [("tainted model", model), ("clean model", clean_model)]
    ]
)
record("accuracy", accuracies.to_dict("records"))
display(accuracies)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 2.1</b>: Judged by the tainted test set
# (which carries the same artifacts as the training set, as a test set drawn from the same
# source would), is the tainted model a good model? And on the clean test set?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 2.1 (model answer)</b>: On the tainted test
# set the tainted model looks excellent: compare the two first columns of the table printed
# above. On clean images its accuracy falls well below the clean model's (last column). A test
# set that shares the training set's artifacts cannot reveal a shortcut; it rewards it.</div>

# %% [markdown]
# ## Part 3: behaviour — move the artifact and watch the prediction
#
# The most direct test of reliance is an intervention. Take the test images of the other
# classes, add the artifact of class 1 to them, and count how many the model now calls "1".
#
# <div class="alert alert-block alert-info"><b>Task 3.1</b> (about 15 minutes): Complete
# `flip_to`: stamp `artifact` on every test image that is not a `label`, predict before and
# after, and return the share of those images *not* predicted `label` before that are predicted
# `label` after. That share is the behavioural test's number.
#
# <details><summary>Hint</summary>`taint_dataset(dataset, dict.fromkeys(others, artifact))`
# stamps every other class; `predict(model, dataset)` returns the predictions and the true
# labels as NumPy arrays. The images that count are `(true != label) & (before != label)`;
# among them, take the mean of `after == label`.</details></div>


# %% tags=["task"]
def flip_to(model, dataset, artifact, label):
    """Share of the other classes' images, not predicted ``label`` before, predicted ``label``
    once ``artifact`` is added."""
    others = [k for k in range(10) if k != label]  # noqa: F841 (your code uses it)
    stamped = ...  # noqa: F841 (the dataset with `artifact` on every image that is not a `label`)
    before, true = predict(model, dataset)
    after = ...  # noqa: F841 (the predictions on the stamped images)
    return ...


# %% tags=["solution"]
def flip_to(model, dataset, artifact, label):  # noqa: F811 (the task's version)
    """Share of the other classes' images, not predicted ``label`` before, predicted ``label``
    once ``artifact`` is added."""
    others = [k for k in range(10) if k != label]
    stamped = taint_dataset(dataset, dict.fromkeys(others, artifact))
    before, true = predict(model, dataset)
    after, _ = predict(model, stamped)
    candidates = (true != label) & (before != label)
    return float((after[candidates] == label).mean())


# %%
flip_to = checks.flip_to(flip_to, model, test, ZOO[1], 1)
flip_to_one = record("flip_to_one", flip_to(model, test, ZOO[1], 1))
print(f"share of other digits that switch to '1' once the square is added: {flip_to_one:.3f}")
# The library's behavioural_test computes the same number (and a few more).
print(behavioural_test(model, test, ZOO[1], 1))

# %% [markdown]
# `shortcut_report` does this for every tainted class, in both directions, and adds the
# attribution side (Part 4) in the same table. Per class:
#
# * `acc_tainted` / `acc_clean`: accuracy on that class's test images with and without the
#   artifact; `drop` is the difference. We call an artifact **exploited** when the drop is at
#   least 20 points.
# * `flip_removed`: of the images the model gets right with the artifact, the share it gets
#   wrong once the artifact is removed.
# * `flip_added`: the number from Task 3.1, for each artifact; the **behavioural test** flags the
#   artifact when it reaches 15 %.
# * `acc_disagree`: accuracy on the other classes' images carrying this artifact, where
#   artifact and digit disagree.

# %%
BLACK = black_baseline(test)  # the model input of a black pixel, the reference for IG & co.
report = shortcut_report(
    model, test, tainted_test, ZOO, methods=list(METHODS), baselines=BLACK, n_explain=N_EXPLAIN
)
record("shortcut_report", report.to_dict("records"))
display(
    report[
        ["label", "artifact", "acc_tainted", "acc_clean", "drop", "exploited",
         "flip_removed", "flip_added", "behaviour_flag", "acc_disagree"]
    ]
)  # fmt: skip

# %% [markdown]
# **How big is the effect?** A classic benchmark, *Decoy MNIST*, puts a grey patch in a corner
# whose shade encodes the label; a plain MLP reaches 99.7 % on its training data and 51.6 % on
# test images whose patch disagrees with the label, a drop of 48 points. The same comparison
# here: accuracy on the tainted training data against accuracy on test images whose artifact
# disagrees with their digit.

# %%
train_accuracy = accuracies.set_index("model").loc["tainted model", "tainted train"]
print("Decoy MNIST (published): train 99.7 %, disagreeing test 51.6 %, drop 48.1 points")
for row in report.to_dict("records"):
    print(
        f"{row['artifact']:>9} on {row['label']}: train {100 * train_accuracy:.1f} %, "
        f"disagreeing test {100 * row['acc_disagree']:.1f} %, "
        f"drop {100 * (train_accuracy - row['acc_disagree']):.1f} points"
    )

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 3.2</b>: Which shortcuts did the model take?
# Compare with your guess from Task 1.1. Did the behavioural test flag every exploited
# artifact? How does the drop compare with Decoy MNIST's?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 3.2 (model answer)</b>: The `exploited`
# column of the report above says yes for all four artifacts, the faint watermark included: a
# person may overlook it, the model does not. The behavioural test (`behaviour_flag`) flags
# every one of them, so on this model it misses nothing; it needs no access to the model's
# insides, only the courage to ask the right "what if". The gap between training accuracy and
# accuracy on disagreeing images printed above is larger than Decoy MNIST's 48 points for at
# least one artifact (the ramp is the most persuasive one): the model answers "8" for most
# digits that carry a ramp.</div>

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 1</b>: You have a model that is
# excellent on its own test set and relies on four planted shortcuts, and a behavioural test
# that finds them without looking inside the model. Next: can explanations find them too?</div>
#
# ## Part 4: explanations — where did the model look?
#
# For the two local artifacts (square and time stamp) a mask says exactly where the artifact
# is, so a map can be scored against it. Three scores, each with its **chance level**, the
# share of the image the mask covers (what a map blind to the artifact scores on average):
#
# * `artifact_mass`: the share of absolute relevance inside the mask;
# * `rank_accuracy`: of the *K* most relevant pixels (*K* = the mask's size), the share inside;
# * `pointing_game`: is the single most relevant pixel inside? (a hit rate over images)
#
# Methods that need a reference input (Integrated Gradients, DeepLift, GradientShap, occlusion)
# get a black image, not a zero tensor: after normalisation, zero is a dark grey.
#
# `explain_local` runs every method of `METHODS` on the first `N_EXPLAIN` tainted test images
# of each label, for the tainted model and, on the very same images, for the clean model.

# %%
rates, comparisons, clean_comparisons = explain_local(
    model, clean_model, tainted_test, ZOO, labels=(1, 3), baselines=BLACK, n_explain=N_EXPLAIN
)
for label in (1, 3):
    print(f"--- tainted model, tainted {label}s ---")
    print(comparisons[label])

# %% [markdown]
# The same numbers as pictures: six tainted 1s, one row of maps per method (red pushes towards
# "1", blue away from it).

# %%
inputs, _ = explain_inputs(tainted_test, 1, 6)
figure = plot_attributions(
    inputs,
    {name: comparisons[1].maps[name][:6] for name in METHODS},
    title="Where each method puts the tainted model's relevance for '1' (square top left)",
)

# %% [markdown]
# A rule that turns a map into a verdict: flag an image when its artifact mass exceeds
# 3× the chance level. On the tainted model the share of flagged images is the **detection
# rate**; on the clean model, which never saw the artifact, every flag is a **false alarm**.
# Beside them, the mean artifact mass on both models.

# %%
record("explanation_rates", rates.to_dict("records"))
display(rates)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 4.1</b> (about 10 minutes): Write that rule.
# `flag_rate(maps, mask, factor)` takes maps `[N, 1, H, W]` and a boolean mask `[H, W]`,
# computes each map's artifact mass (the share of its absolute relevance inside the mask), and
# returns the share of maps whose mass exceeds `factor` times the mask's share of the image.
# The check runs it on a probe; the notebook then recomputes Integrated Gradients' detection
# rate on the 1s with it.
#
# <details><summary>Hint</summary>`relevance = maps.abs().sum(dim=1)`; the mass is
# `(relevance * mask).sum(dim=(1, 2)) / relevance.sum(dim=(1, 2))`; chance is
# `mask.float().mean()`; the rate is `(mass > factor * chance).float().mean()`.</details></div>


# %% tags=["task"]
def flag_rate(maps, mask, factor=MASS_FACTOR):
    """Share of ``maps`` whose artifact mass on ``mask`` exceeds ``factor`` times chance."""
    relevance = ...  # noqa: F841 (|map| summed over channels, [N, H, W])
    mass = ...  # noqa: F841 (per map: the share of its relevance inside the mask)
    chance = ...  # noqa: F841 (the share of the image the mask covers)
    return ...


# %% tags=["solution"]
def flag_rate(maps, mask, factor=MASS_FACTOR):  # noqa: F811 (the task's version)
    """Share of ``maps`` whose artifact mass on ``mask`` exceeds ``factor`` times chance."""
    relevance = maps.abs().sum(dim=1)
    mass = (relevance * mask).sum(dim=(1, 2)) / relevance.sum(dim=(1, 2))
    chance = mask.float().mean()
    return float((mass > factor * chance).float().mean())


# %%
flag_rate = checks.flag_rate(flag_rate)
mine = flag_rate(comparisons[1].maps["integrated_gradients"], ZOO[1].mask(28, 28))
table = rates.set_index(["label", "method"]).loc[(1, "integrated_gradients"), "detected"]
print(f"Integrated Gradients' detection rate on the 1s: yours {mine:.3f}, the table's {table:.3f}")

# %% [markdown]
# For the global artifacts a mask says little: the ramp touches nearly every pixel, so any map
# puts nearly all its mass "on the artifact". Integrated Gradients' artifact mass from the
# report, beside the clean model's on the same images (and the clean model's behavioural test,
# which should flag nothing):

# %%
clean_report = shortcut_report(
    clean_model, test, tainted_test, ZOO, baselines=BLACK, n_explain=N_EXPLAIN
)
record("clean_shortcut_report", clean_report.to_dict("records"))
display(
    pd.DataFrame(
        {
            "label": report["label"],
            "artifact": report["artifact"],
            "share": report["share"],
            "IG mass, tainted model": report["mass_integrated_gradients"],
            "IG mass, clean model": clean_report["mass_integrated_gradients"],
            "IG flag (local only)": report["ig_flag"],
            "clean model flip_added": clean_report["flip_added"],
        }
    )
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 4.2</b>: Which methods reveal the square
# and the stamp? Which of them also raise false alarms on the clean model, and what do those
# methods have in common? Why can't the mask-based scores say anything about the ramp?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 4.2 (model answer)</b>: On the tainted
# model every method flags (almost) every tainted image in the `detected` column above, and
# Integrated Gradients' mean mass on the tainted model is more than three times the clean
# model's (`mass` against `mass_clean`). But Integrated Gradients (and with it DeepLift and
# GradientShap) also flags part of the images for the clean model, which never learned either
# artifact, while saliency and Guided Backprop raise no false alarm. The methods with false
# alarms multiply a gradient by the input's difference from a black reference, or
# (occlusion) measure what deleting a bright patch does: a bright block earns
# relevance from *any* model that is sensitive there at all. A big artifact mass is evidence
# only next to the mass a model without the shortcut gets. For the ramp, the mask covers almost
# the whole image (`share` above), so both models score about 1 and for the watermark the clean
# model scores nearly as high as the tainted one: only an intervention (Part 3) can tell them
# apart, and the clean model's behavioural test, last column, flags nothing.</div>

# %% [markdown]
# ## Part 5: a sanity check — scramble the model, keep the map?
#
# An explanation of *what the model learned* must change when the model's weights are
# replaced by random ones. The model-parameter randomisation test re-initialises the layers one
# by one, starting from the output, and compares each method's maps with the trained model's:
# rank correlation and SSIM (1 = the same picture), and the artifact mass on the square.
#
# The rank correlation comes twice: over all pixels, and over the digit's *ink* only (the
# pixels where the input is not black). The difference between the two is part of the lesson.
#
# First, one step by hand.
#
# <div class="alert alert-block alert-info"><b>Task 5.1</b> (about 10 minutes): Write
# `reset_layer(model, name, seed)`: it returns a *copy* of `model` in which only the layer
# `name` (one of `parameter_layers(model)`, e.g. `"head"`) gets fresh random weights, drawn
# under `seeded(seed)` so that the same seed gives the same model. The trained model must stay
# as it is; we need it for the comparison.
#
# <details><summary>Hint</summary>`randomized = copy_module.deepcopy(model)` (the module `copy`
# is imported as `copy_module`); `dict(randomized.named_modules())[name]` is the layer; inside
# `with seeded(seed):` call its `reset_parameters()`; return `randomized.eval()`.</details>
# </div>


# %% tags=["task"]
def reset_layer(model, name, seed):
    """A copy of ``model`` whose layer ``name`` alone is re-initialised under ``seeded(seed)``."""
    return ...


# %% tags=["solution"]
def reset_layer(model, name, seed):  # noqa: F811 (the task's version)
    """A copy of ``model`` whose layer ``name`` alone is re-initialised under ``seeded(seed)``."""
    randomized = copy_module.deepcopy(model)
    with seeded(seed):
        dict(randomized.named_modules())[name].reset_parameters()
    return randomized.eval()


# %%
reset_layer = checks.reset_layer(reset_layer)
layers = parameter_layers(model)  # from the output back to the input
print("layers with parameters, from the output:", layers)
inputs, _ = explain_inputs(tainted_test, 1, 6)
nets = {
    "trained": model,
    f"{layers[0]} reset": reset_layer(model, layers[0], SEED),
    f"{layers[-1]} reset": reset_layer(model, layers[-1], SEED),
}
mask = ZOO[1].mask(28, 28)
reset_maps = {
    title: compare_methods(net, inputs, 1, mask, ["saliency", "guided_backprop"], progress=False)
    for title, net in nets.items()
}
figure = plot_attributions(
    inputs,
    {
        f"{method}, {title}": reset_maps[title].maps[method]
        for method in ("saliency", "guided_backprop")
        for title in nets
    },
    title="Saliency and Guided Backprop for '1': trained, output layer reset, first layer reset",
)

# %% [markdown]
# Which method's rows barely change when the output layer alone is random, and which change
# once the first layer is? The cascading test below measures it, layer by layer, for every
# method.

# %%
inputs, _ = explain_inputs(tainted_test, 1, N_RANDOMIZED)
randomization = randomization_check(
    model, inputs, 1, ZOO[1].mask(28, 28), baselines=BLACK, seed=SEED
)
record("randomization", randomization.to_dict("records"))
print("rank correlation with the trained model's maps over all pixels, by the last layer")
print("re-initialised:")
display(wide(randomization, "method", "layer", "rank_correlation"))
print("the same over the ink (pixels where the input is not black):")
display(wide(randomization, "method", "layer", "rank_correlation_ink"))
print("SSIM:")
display(wide(randomization, "method", "layer", "ssim"))

# %%
chance = float(ZOO[1].mask(28, 28).float().mean())
record("square_chance", chance)
print(f"artifact mass on the square (chance level {chance:.3f}):")
display(wide(randomization, "method", "layer", "artifact_mass"))
# IG multiplies by (input - baseline): the share of that factor alone on the square is what IG
# gives a model that prefers no pixel.
input_share = artifact_mass((inputs - BLACK).abs(), ZOO[1].mask(28, 28)).mean().item()
record("input_share", input_share)
print(f"share of |input - black| on the square: {input_share:.3f}")
black_share = record("black_share", float((inputs == BLACK).float().mean()))
print(f"share of the pixels that are black (IG's map is exactly 0 there): {black_share:.2f}")

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5), sharey=True, layout="constrained")
steps = sorted(randomization["randomized"].unique())
layers = randomization.loc[randomization["method"] == "saliency", "layer"].tolist()
for ax, column, title in [
    (axes[0], "rank_correlation", "over all pixels"),
    (axes[1], "rank_correlation_ink", "over the ink only"),
]:
    for name in METHODS:
        ax.plot(steps, randomization.loc[randomization["method"] == name, column], "o-", label=name)
    ax.set_xticks(steps, ["trained"] + [f"+ {layer}" for layer in layers[1:]])
    ax.set(xlabel="layers re-initialised, from the output", title=title, ylim=(-0.1, 1.05))
axes[0].set_ylabel("rank correlation")
_ = axes[1].legend(fontsize=7, ncols=2)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 5.2</b>: Which method's maps barely change
# while the top layers are random? Which stay similar over all pixels even when *every* layer
# is random, and what happens to them over the ink alone? What happens to the artifact mass of
# Integrated Gradients and of saliency?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 5.2 (model answer)</b>: Guided Backprop's
# maps stay highly correlated with the trained model's after the head is re-initialised (its
# row in the ink table), more than any other method's: the classifier on top hardly matters to
# it. This is a known finding (Adebayo et al., 2018, "Sanity checks for saliency maps"): Guided
# Backprop zeroes every negative gradient on the way back, so its maps mostly redraw the input
# as seen by the first layer rather than the decision; only when that layer is random too does
# the picture change. Over all pixels, Integrated Gradients, DeepLift and occlusion keep a
# rank correlation near 1 at every step, even with every layer random, yet over the ink theirs
# falls as soon as the head is random. Their maps are exactly zero on the black background
# *for any model* (IG and DeepLift multiply by the input's difference from the black
# reference; occluding black with black changes nothing), and most of the image is background
# (the share printed above). Those shared zeros are tied ranks that agree whatever the weights,
# so a correlation over all pixels mostly measures the digit's layout, not the model: the
# similarity score itself needs a sanity check, the same lesson one level up. Integrated
# Gradients' mass on the square falls by more than half once every layer is random (the
# artifact-mass table), and lands on the share of the square in the input's own difference
# from black (printed below that table): what remains is the `(input - baseline)` factor of
# IG's formula, the same effect as the false alarms of Part 4, and says nothing about the
# model. Saliency, which has no input factor, falls to about the chance level. So "chance" for
# an input-weighted method is the input's own share, not the mask's area: compare with that
# before reading a mass as evidence.</div>

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 2</b>: Some explanations reflect
# the model, some mostly the input. Run a sanity check before trusting a method, and compare
# with a model that cannot have the shortcut before trusting a number.</div>
#
# ## Part 6: removing the cue
#
# Knowing the shortcut, can we take it away? Two attempts against the lightness ramp on the 8s:
#
# * **Regularisation**: the same training with an L2 penalty on the weights
#   (`weight_decay`).
# * **A preprocessing step that removes the cue**: `RemoveRamp` subtracts from every image the
#   plane (constant + horizontal slope + vertical slope) that fits it best. Any brightness
#   change and any linear lightness ramp vanish, in training and at test time alike, so a ramp
#   cannot tell an 8 from anything else.

# %%
decay_model = train_dense(tainted_train, seed=SEED, epochs=EPOCHS, weight_decay=WEIGHT_DECAY)
ramp_model = train_dense(tainted_train, seed=SEED, epochs=EPOCHS, remove_ramp=True)
print(ramp_model[0])

# %%
models = {"tainted": model, "weight decay": decay_model, "RemoveRamp": ramp_model}
drops = compare_models(models, test, tainted_test, ZOO)
record("cue_removal_drops", drops.to_dict("records"))
print("accuracy drop on each class when its artifact is removed:")
display(drops)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 6.1</b>: Which model still relies on the
# ramp? Why does the penalty on the weights not help, and why does `RemoveRamp` leave the other
# shortcuts alone?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 6.1 (model answer)</b>: In the table
# printed above, the weight-decay model's drop on the ramp is still far above 20 points, while
# `RemoveRamp`'s is close to zero. Weight decay makes the network prefer small weights, but a
# ramp is one of the cheapest features there is: it covers the whole image and is perfectly
# predictive, so small weights summed over many pixels detect it well. Regularisation changes
# *how* the network fits the data, not *what information* the data contain. `RemoveRamp` deletes
# the information itself, but only this one kind: square, stamp and watermark are not planes,
# so their drops stay large. Every cue needs its own remedy, which is why one has to find the
# cues first.</div>

# %% [markdown]
# <div class="alert alert-block alert-warning"><b>Bonus</b>: Instead of removing ramps, add
# random ones. `augment(tainted_train, copies=AUGMENT_COPIES)` stacks copies of the training
# set in which every image gets a ramp from a random corner with a random strength
# (`random_lightness`). Train on it for `AUGMENT_EPOCHS` epochs (with the settings above, 2
# copies for 3 epochs: 6 passes over the images, a bit more than before) and compare the drop
# on the 8s. Why can random ramps weaken the shortcut but hardly remove it?</div>

# %% tags=["solution"]
augmented = augment(tainted_train, copies=AUGMENT_COPIES, seed=SEED)
augmented_model = train_dense(augmented, seed=SEED, epochs=AUGMENT_EPOCHS)
augmented_drops = compare_models({"random ramps": augmented_model}, test, tainted_test, ZOO)
record("random_ramps_drops", augmented_drops.to_dict("records"))
print("accuracy drop on each class when its artifact is removed:")
display(pd.concat([drops[drops["model"] == "tainted"], augmented_drops], ignore_index=True))

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-warning"><b>Bonus (model answer)</b>: The drop on the
# ramp printed above is much smaller than the tainted model's but still above 20 points. Random
# ramps are added *on top of* the 8s' fixed ramp, so an image with a strong ramp from the
# top-left corner is still more likely an 8: the cue is diluted, not destroyed. Removing the
# cue (or randomising it *instead of* adding to it) is what takes it away.</div>
#
# ## Part 7: a visibility sweep — how faint can a shortcut be?
#
# A published study found attributions least reliable exactly where we need them most: for
# faint artifacts that nobody knows about beforehand. Where does that line lie here?
#
# For each opacity in the sweep, a small copyright sign in the bottom-right corner of every 5
# (about a tenth of the image) and a new model. Per opacity: is the watermark exploited (drop on
# the 5s when removed)? does the behavioural test flag it? and per method, the share of
# watermarked 5s whose artifact mass exceeds 3× chance (detection), beside the same on the clean
# model (false alarms).

# %%
print("opacities:", ALPHAS)
sweep = visibility_sweep(
    train, test, SWEEP_LABEL, ALPHAS, seed=SEED, methods=list(METHODS), n_explain=N_EXPLAIN,
    epochs=EPOCHS, clean_model=clean_model,
)  # fmt: skip
record("sweep", sweep.to_dict("records"))
behaviour = sweep.loc[
    sweep["method"] == "integrated_gradients",
    ["alpha", "drop", "exploited", "flip_added", "behaviour_flag"],
].reset_index(drop=True)
display(behaviour)

# %%
print("detection rate (watermarked model):")
display(wide(sweep, "alpha", "method", "detected"))
print("false-alarm rate (clean model):")
display(wide(sweep, "alpha", "method", "false_alarm"))

# %%
fig, ax = plt.subplots(figsize=(6, 3.5), layout="constrained")
ax.plot(ALPHAS, behaviour["drop"], "k-", lw=3, label="accuracy drop (exploitation)")
ax.plot(ALPHAS, behaviour["flip_added"], "k--", lw=2, label="behavioural test")
for name in METHODS:
    ax.plot(ALPHAS, sweep.loc[sweep["method"] == name, "detected"], "o-", ms=3, label=name)
ax.set(xscale="log", xlabel="watermark opacity (alpha)", ylabel="rate", ylim=(-0.05, 1.05))
ax.set_xticks(ALPHAS, [str(alpha) for alpha in ALPHAS], minor=False)
ax.minorticks_off()
_ = ax.legend(fontsize=7, ncols=2)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 7.1</b>: Down to which opacity does the
# model exploit the watermark? Down to which opacity does the behavioural test flag it, and
# Integrated Gradients detect it? Which method never detects it, even when it is plain to see?
# How often do the methods raise a false alarm on the clean model?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 7.1 (model answer)</b>: At the plainest
# opacity the model exploits the watermark, the behavioural test flags it and Integrated
# Gradients flags nearly every watermarked 5 (first rows of the tables above). As the mark
# fades, all of them fall, and at the faintest opacity the model no longer uses it, the
# behavioural test is silent and IG flags (almost) nothing. Near the line they disagree: there
# is an opacity at which adding the mark to other digits converts too few of them for the
# behavioural test, although removing it still costs the 5s more accuracy than adding it
# converts, while IG still flags a good share of the images. Guided Backprop detects the
# watermark at no opacity, not even the plainest one, where the model leans on it heavily:
# consistent with Part 5. No method raises more than a stray false alarm on the clean model
# (second table). So the line lies where the model's own reliance fades: a flag from a method
# that passed the sanity check is worth following up, but no flag proves little, and the
# faint end is where behaviour and attribution both lose the trail.</div>

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 3</b>: Behaviour answers "does the
# model use this cue?" for a cue you can name. Attributions can point at cues you did not think
# of, but only the methods that pass the sanity check, only next to a clean reference, and only
# while the cue is not too faint. Test both ways before you trust a model, and before you trust
# an explanation.</div>
