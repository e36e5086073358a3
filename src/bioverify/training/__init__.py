"""Training: datasets and identity-disjoint splits, encoders, losses and the trainer.

``bioverify.training.data`` and ``bioverify.training.splits`` import without torch (the
``bioverify split`` command uses them); the other modules need the ``train`` extra.
"""
