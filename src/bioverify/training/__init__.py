"""Training: encoders, losses, torch datasets and the trainer (the ``train`` extra).

The labelled data it reads (identity folders, splits, trials) is :mod:`bioverify.datasets`,
which imports without torch.
"""
