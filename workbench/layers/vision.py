"""Vision pieces shared by the image families: input checks, stochastic depth (drop path), patch embeddings and
their position tables, relative position indices, layer scale."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

# ------------------------------------------------------------------------------------------------
# Vision: input checks, stochastic depth, patches and their positions, layer scale
# ------------------------------------------------------------------------------------------------


def check_pixel_values(pixel_values, num_channels: int, model_name: str, dtype: torch.dtype | None = None) -> None:
    """Validate a vision model's input: a floating point (batch, channels, height, width) tensor with the
    config's number of channels (and, given ``dtype``, the model's dtype). Errors say how to fix the input."""
    if pixel_values is None:
        raise ValueError(f"{model_name} needs pixel_values: run the images through the model's image processor.")
    if not isinstance(pixel_values, torch.Tensor):
        raise TypeError(
            f"{model_name} takes pixel_values as a torch.Tensor, got {type(pixel_values).__name__}; "
            "call the image processor with return_tensors='pt'."
        )
    if pixel_values.dim() != 4:
        raise ValueError(
            f"pixel_values must be (batch, channels, height, width), got shape {tuple(pixel_values.shape)}; "
            "a single image needs a batch dimension: pixel_values[None]."
        )
    if not pixel_values.is_floating_point():
        raise TypeError(
            f"pixel_values must be floating point (rescaled and normalized), got {pixel_values.dtype}; "
            "run the images through the model's image processor."
        )
    if pixel_values.shape[0] == 0:
        raise ValueError(f"{model_name} got an empty batch (pixel_values of shape {tuple(pixel_values.shape)}).")
    if pixel_values.shape[1] != num_channels:
        raise ValueError(
            f"pixel_values have {pixel_values.shape[1]} channels but the config says num_channels={num_channels} "
            f"(shape {tuple(pixel_values.shape)}). Pass (batch, channels, height, width) images with "
            f"{num_channels} channels (the image processor converts grayscale and RGBA to RGB)."
        )
    if dtype is not None and pixel_values.dtype != dtype:
        raise TypeError(
            f"pixel_values are {pixel_values.dtype} but {model_name}'s weights are {dtype}; "
            "pass pixel_values.to(model.dtype)."
        )


def drop_path(hidden: torch.Tensor, drop_prob: float, training: bool) -> torch.Tensor:
    """Stochastic depth (Huang et al. 2016): while training, drop a residual branch for whole samples.

    Each sample of the batch keeps the branch with probability 1 - drop_prob (scaled by 1 / keep, so the
    expected value is unchanged) or loses it entirely; outside training, or with drop_prob 0, the identity.
    One uniform draw per sample, (batch, 1, ..., 1), as the reference draws it (same seed, same samples dropped).
    """
    if drop_prob == 0.0 or not training:
        return hidden
    keep_prob = 1.0 - drop_prob
    shape = (hidden.shape[0],) + (1,) * (hidden.dim() - 1)  # (batch, 1, ..., 1): one draw per sample
    keep = torch.floor(torch.rand(shape, dtype=hidden.dtype, device=hidden.device) + keep_prob)  # 1 = keep, 0 = drop
    return hidden.div(keep_prob) * keep


class DropPath(nn.Module):
    """``drop_path`` as a module (no parameters), so that ``model.train()`` / ``model.eval()`` switch it."""

    def __init__(self, drop_prob: float = 0.0):
        super().__init__()
        self.drop_prob = drop_prob

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return drop_path(hidden, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"p={self.drop_prob}"


def relative_position_index(height: int, width: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Relative position bias inside a (height, width) grid of patches (Swin's windows, BEiT's image):
    (L, L) with L = height * width, the row of a ((2 * height - 1) * (2 * width - 1), heads) bias table that
    holds the bias of query patch i looking at key patch j, i.e. of their offset (dy, dx) = (y_i - y_j, x_i - x_j):
    row (dy + height - 1) * (2 * width - 1) + (dx + width - 1). Patches are numbered row by row."""
    rows, cols = torch.meshgrid(
        torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij"
    )  # (height, width) each
    coords = torch.stack([rows.flatten(), cols.flatten()])  # (2, L): (y, x) of every patch
    offsets = coords[:, :, None] - coords[:, None, :]  # (2, L, L): (dy, dx) from key j to query i
    return (offsets[0] + height - 1) * (2 * width - 1) + (offsets[1] + width - 1)  # (L, L)


def as_pair(size: int | list[int] | tuple[int, int]) -> tuple[int, int]:
    """A config's ``image_size`` or ``patch_size``: an int (square) or (height, width)."""
    return (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))


class PatchEmbeddings(nn.Module):
    """Cut an image into non-overlapping patch_size squares and project each to a vector: one Conv2d whose kernel
    and stride are the patch size (ViT's "16x16 words"). (batch, channels, height, width) -> (batch, patches,
    hidden), patches numbered row by row; pixels beyond the last whole patch are dropped."""

    def __init__(self, num_channels: int, hidden_size: int, patch_size: int | tuple[int, int]):
        super().__init__()
        self.patch_size = as_pair(patch_size)
        self.projection = nn.Conv2d(num_channels, hidden_size, kernel_size=self.patch_size, stride=self.patch_size)

    def grid(self, height: int, width: int) -> tuple[int, int]:
        """How many patches an image of height x width pixels makes: (down, across)."""
        if height < self.patch_size[0] or width < self.patch_size[1]:
            raise ValueError(
                f"An image of {height}x{width} pixels is smaller than one {self.patch_size[0]}x{self.patch_size[1]} "
                "patch; resize it first (the image processor does)."
            )
        return height // self.patch_size[0], width // self.patch_size[1]

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        self.grid(*pixel_values.shape[-2:])
        patches = self.projection(pixel_values)  # (batch, hidden, grid_h, grid_w)
        return patches.flatten(2).transpose(1, 2)  # (batch, grid_h * grid_w, hidden)


def resize_position_table(table: torch.Tensor, old_grid: tuple[int, int], new_grid: tuple[int, int]) -> torch.Tensor:
    """A learned table of patch positions for another patch grid: (1, old_h * old_w, dim) -> (1, new_h * new_w, dim).

    The table is seen as a dim-channel image of old_h x old_w pixels and resized bicubically (align_corners=False,
    no antialiasing, in float32), the current reference's formula for ViT, DeiT, DINOv2 and BEiT. (v4.37 resized
    by a scale factor with a 0.1 offset, which gives other numbers.) The same grid returns the table unchanged.
    """
    if tuple(old_grid) == tuple(new_grid):
        return table
    dim = table.shape[-1]
    image = table.reshape(1, *old_grid, dim).permute(0, 3, 1, 2)  # (1, dim, old_h, old_w)
    resized = F.interpolate(image.float(), size=tuple(new_grid), mode="bicubic", align_corners=False)
    return resized.to(table.dtype).permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], dim)


class LayerScale(nn.Module):
    """A learned per-channel scale on a residual branch (CaiT, Touvron et al. 2021), started small so that a deep
    network begins close to the identity. The parameter is called ``lambda1`` as in DINOv2's checkpoints."""

    def __init__(self, dim: int, init_value: float):
        super().__init__()
        self.lambda1 = nn.Parameter(init_value * torch.ones(dim))

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return hidden * self.lambda1
