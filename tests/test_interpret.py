"""workbench.interpret.attention_distance: how far a vision transformer's heads look, in pixels."""

import pytest
import torch

from workbench.interpret import attention_distance


def attention_of(patch_weights: torch.Tensor, prefix_weight: float = 0.0) -> torch.Tensor:
    """One layer's attention (1, 1, 1 + patches, 1 + patches) from the patches' weights on the patches, with
    ``prefix_weight`` of every row on [CLS] (the rows still sum to one)."""
    patches = patch_weights.shape[-1]
    attention = torch.zeros(1, 1, 1 + patches, 1 + patches)
    attention[..., 0, 0] = 1.0
    attention[..., 1:, 0] = prefix_weight
    attention[..., 1:, 1:] = (1 - prefix_weight) * patch_weights
    return attention


def test_a_head_that_reads_only_its_own_patch_looks_zero_pixels_away():
    attention = attention_of(torch.eye(6), prefix_weight=0.5)  # half on [CLS], which does not count
    assert attention_distance(attention, (2, 3), patch_size=16).item() == 0.0


def test_distances_are_weighted_by_the_attention_and_scaled_by_the_patch_size():
    # a 1 x 2 grid: each patch gives half its weight to itself, half to the other patch one step away
    attention = attention_of(torch.full((2, 2), 0.5))
    assert attention_distance(attention, (1, 2), patch_size=14).item() == pytest.approx(7.0)
    # a 2 x 2 grid, every patch reading only the patch diagonally across: sqrt(2) patches away
    across = torch.tensor([[0, 0, 0, 1], [0, 0, 1, 0], [0, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.float)
    assert attention_distance(attention_of(across), (2, 2)).item() == pytest.approx(2**0.5)


def test_one_value_per_image_and_head():
    attention = torch.softmax(torch.randn(3, 4, 1 + 16, 1 + 16), dim=-1)
    distances = attention_distance(attention, (4, 4), patch_size=16)
    assert distances.shape == (3, 4)
    assert bool(((distances > 0) & (distances < 16 * 3 * 2**0.5)).all())


def test_a_grid_too_big_for_the_tokens_is_an_error():
    with pytest.raises(ValueError, match="cannot hold a 5x5 grid"):
        attention_distance(torch.softmax(torch.randn(1, 2, 17, 17), dim=-1), (5, 5))
