"""failure-modes: course exercises on how deep networks fail and how to catch them at it.

The folders are the layers; each imports only those below it (``pyproject.toml`` states the
contract, ``lint-imports`` checks it):

================  ========================================================================
``utils``         validation, atomic files and hashes, seeding, devices, paths
``data``          MNIST / FashionMNIST from the first source that works, IDX files, taints
``models``        architectures, training loops, evaluation, denoising, reference checkpoint
``explain``       attribution (Captum behind one entry point), contrastive, counterfactual
``tracks``        what one advanced track alone needs: Clever Hans, error detection, MODE
``plotting``      the figures the notebooks show
``course``        notebook build, headless runner, ``record``, command line
================  ========================================================================

The top-level modules ``taint``, ``training``, ``evaluation``, ``denoising``, ``attribution``,
``contrastive``, ``counterfactual``, ``error_detection``, ``similarity`` and ``shortcuts`` are
the names the README gives, kept as aliases of the modules above.

Glossary: one name, one meaning, in every function
--------------------------------------------------
==============  ==========================================================================
``images``      uint8 ``[N, H, W]`` pictures as a dataset's ``.data`` holds them; or, where
                a function says so, float ``[N, 1, H, W]`` in 0..1 (denoising, counterfactuals)
``inputs``      model-ready float ``[N, C, H, W]``, normalised like the dataset's transform
``targets``     ground-truth class labels, int ``[N]``
``target``      the class to explain or to reach: one int, or int ``[N]``, one per input
``label``       one class (``taint_dataset({label: corruption})``, ``buggy labels``)
``predictions`` the classes a model answers, int ``[N]``
``is_error``    bool ``[N]``: the model's answer differs from the target
``seed``        an int fixing every random draw of the call; library functions never reseed
                the caller's random state (:func:`failure_modes.utils.seeding.seeded`)
``device``      where a model is built or trained; functions that only run a model compute
                where the model is
``batch_size``  inputs per forward pass
``progress``    show a tqdm bar; ``True`` by default everywhere (a student sees every long
                loop move), tests pass ``False``
``mask``        bool ``[H, W]`` (or ``[N, H, W]``): the pixels an artifact touches
``attributions``  float maps ``[N, C, H, W]`` (or ``[N, H, W]``), one per input
==============  ==========================================================================
"""

__version__ = "0.1.0"
