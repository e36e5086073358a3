"""Margin and triplet losses (pytorch-metric-learning behind build_loss) and P×K batches."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from bioverify.errors import InvalidInput
from bioverify.training.losses import build_loss, identity_batches, loss_defaults


def _unit(rows: int, dim: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return F.normalize(torch.randn(rows, dim, generator=generator), dim=1)


def _margin_oracle(
    embeddings: torch.Tensor, weights: torch.Tensor, labels: torch.Tensor, target_logit, scale
) -> torch.Tensor:
    """Softmax cross-entropy of scale × cosine, the target class's cosine replaced."""
    cosine = F.normalize(embeddings, dim=1) @ F.normalize(weights, dim=0)
    logits = cosine.clone()
    rows = torch.arange(labels.numel())
    logits[rows, labels] = target_logit(cosine[rows, labels])
    return F.cross_entropy(scale * logits, labels)


def test_arcface_margin_is_in_radians() -> None:
    loss = build_loss("arcface", 8, 5, margin=0.3, scale=16.0)
    embeddings, labels = _unit(10, 8, 0), torch.arange(10) % 5
    expected = _margin_oracle(
        embeddings, loss.criterion.W, labels, lambda c: torch.cos(torch.acos(c) + 0.3), 16.0
    )
    assert loss(embeddings, labels).item() == pytest.approx(expected.item(), rel=1e-5)


def test_cosface_subtracts_the_margin_from_the_target_cosine() -> None:
    loss = build_loss("cosface", 8, 5, margin=0.2, scale=30.0)
    embeddings, labels = _unit(10, 8, 1), torch.arange(10) % 5
    expected = _margin_oracle(embeddings, loss.criterion.W, labels, lambda c: c - 0.2, 30.0)
    assert loss(embeddings, labels).item() == pytest.approx(expected.item(), rel=1e-5)


def test_classifier_weights_are_parameters_of_the_loss() -> None:
    arcface = build_loss("arcface", 16, 7)
    subcenter = build_loss("subcenter_arcface", 16, 7, sub_centers=3)
    assert [tuple(p.shape) for p in arcface.parameters()] == [(16, 7)]
    assert [tuple(p.shape) for p in subcenter.parameters()] == [(16, 21)]
    assert list(build_loss("triplet", 16, 7).parameters()) == []
    assert "criterion.W" in arcface.state_dict()
    assert arcface.kwargs == {"margin": 0.5, "scale": 64.0} == loss_defaults("arcface")


@pytest.mark.parametrize("name", ["arcface", "cosface", "subcenter_arcface"])
def test_margin_loss_decreases_on_a_separable_problem(name: str) -> None:
    torch.manual_seed(0)
    classes, dim = 6, 16
    centres = 3.0 * torch.randn(classes, 32)
    labels = torch.arange(48) % classes
    inputs = centres[labels] + torch.randn(48, 32)
    encoder = torch.nn.Linear(32, dim)
    loss = build_loss(name, dim, classes)
    optimizer = torch.optim.SGD([*encoder.parameters(), *loss.parameters()], lr=0.05, momentum=0.9)
    values = []
    for _ in range(15):
        value = loss(F.normalize(encoder(inputs), dim=1), labels)
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
        values.append(value.item())
    assert values[-1] < 0.1 * values[0]


def test_batch_hard_triplet_matches_hand_computed_hardest_pairs() -> None:
    embeddings = _unit(12, 8, 2).requires_grad_()
    labels = torch.arange(12) % 3
    loss = build_loss("triplet", 8, 0, margin=0.2, mining="batch_hard")
    value = loss(embeddings, labels)
    distance = torch.cdist(embeddings.detach(), embeddings.detach())
    same = labels[:, None] == labels[None, :]
    hardest_positive = distance.masked_fill(~same, -1.0).max(dim=1).values
    hardest_negative = distance.masked_fill(same, 9.0).min(dim=1).values
    per_anchor = F.relu(hardest_positive - hardest_negative + 0.2)
    expected = per_anchor[per_anchor > 0].mean()
    assert value.item() == pytest.approx(float(expected), rel=1e-4)
    value.backward()
    assert embeddings.grad is not None and float(embeddings.grad.abs().sum()) > 0


def test_semihard_triplet_gives_a_finite_loss_and_gradients() -> None:
    encoder = torch.nn.Linear(8, 8)
    torch.manual_seed(3)
    inputs, labels = torch.randn(16, 8), torch.arange(16) % 4
    loss = build_loss("triplet", 8, 0, mining="semihard")
    value = loss(F.normalize(encoder(inputs), dim=1), labels)
    value.backward()
    assert math.isfinite(value.item()) and value.item() > 0
    assert encoder.weight.grad is not None and float(encoder.weight.grad.abs().sum()) > 0
    assert loss.needs_identity_batches and not build_loss("arcface", 8, 4).needs_identity_batches


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("arcface", {"margin": 28.6}, "radians"),
        ("arcface", {"m": 0.5}, "does not take"),
        ("cosface", {"scale": -1}, "scale must be positive"),
        ("triplet", {"mining": "all"}, "mining must be one of"),
        ("subcenter_arcface", {"sub_centers": 0}, "sub_centers"),
        ("softmax", {}, "loss must be one of"),
    ],
)
def test_bad_loss_settings_are_refused(name: str, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_loss(name, 8, 4, **kwargs)


def test_identity_batches_hold_p_identities_times_k_samples() -> None:
    labels = [i % 5 for i in range(37)]
    state = np.random.get_state()[1].copy()
    batches = identity_batches(labels, samples_per_identity=3, batch_size=6, length=37, seed=7)
    assert np.array_equal(np.random.get_state()[1], state)  # global generator untouched
    assert len(batches) == 6
    for batch in batches:
        counts = Counter(labels[i] for i in batch)
        assert len(batch) == 6 and sorted(counts.values()) == [3, 3]
    assert batches == identity_batches(labels, 3, 6, 37, seed=7)
    assert batches != identity_batches(labels, 3, 6, 37, seed=8)


def test_identity_batches_refuse_impossible_shapes() -> None:
    with pytest.raises(InvalidInput, match="multiple of samples per identity"):
        identity_batches([0, 1, 2, 3], 3, 4, 4, seed=0)
    with pytest.raises(InvalidInput, match="only 2 identities"):
        identity_batches([0, 0, 1, 1], 2, 6, 4, seed=0)
