"""The ranges the numbers of a training config take, in one place, free of torch.

Each is a set of keywords of ``ppgn.io.check_number``: the configs check their fields with them
(``check_fields`` in ``common``), and ``ppgn train`` checks its flags with the same while the
arguments are parsed (``ppgn.cli.options.checked(**EPOCHS)``), before torch is imported. The upper
bounds are far above any run that makes sense; they turn a typo (1e308, 10**30) into a one-line
error instead of an allocation that fails minutes later.
"""

EPOCHS = dict(low=1, high=100_000, integer=True)
BATCH = dict(low=1, high=65_536, integer=True)  # global batch size
SUBSET = dict(low=0, integer=True)  # train_subset: 0 = all; more than the set has = all
SHIFT = dict(low=0, high=64, integer=True)  # augmentation shifts in pixels
UNITS = dict(low=1, high=65_536, integer=True)  # code size, sub-network widths, conditioning features
BLOCKS = dict(low=1, high=1_000, integer=True)  # coupling blocks, per scale too
SIZE = dict(low=1, high=4_096, integer=True)  # image side (the data says which it can make)
CHANNELS = dict(low=1, high=3, integer=True)
WORKERS = dict(low=0, high=64, integer=True)  # processes decoding images
MULTIPLIER = dict(low=0, low_open=True, high=64)  # network width multipliers (G ×4 as shipped)
LR = dict(low=0, low_open=True, high=1_000)
CLAMP = dict(low=0, low_open=True, high=100)  # soft clamp of log-scales, gradient-norm clip
NOISE = dict(low=0, high=100)  # σ in per-unit stds of h or pixel units; 0 = off
NEEDED_NOISE = NOISE | dict(low_open=True)  # σ a recipe cannot do without (a DAE, a smoothed density)
PIXEL_NOISE = dict(low=0, low_open=True, high=1)  # σ of dequantisation, on pixels in [0, 1]
WEIGHT = dict(low=0, high=10_000)  # loss weights (λ, β)
DECAY = dict(low=0, high=1)  # weight decay
FRACTION = dict(low=0, high=1, high_open=True)  # label smoothing
SEED = dict(low=0, high=2**63 - 1, integer=True)  # as ppgn.io.check_seed
# The diffusion recipe's own (ppgn train diffusion).
MINUTES = dict(low=0, high=1_000_000)  # a training budget in minutes; 0 = none (all the epochs)
TIMESTEPS = dict(low=2, high=100_000, integer=True)  # noise levels T of a diffusion model
LEVEL = dict(low=1, high=64, integer=True)  # a UNet level's width as a multiple of the base width
PATCH = dict(low=1, high=16, integer=True)  # pixels folded into channels (the side must divide by it)
PROBABILITY = dict(low=0, high=1)  # p_uncond: how often the label is dropped
WARMUP = dict(low=0, high=10_000_000, integer=True)  # learning-rate warm-up steps
