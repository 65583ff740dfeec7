"""Reading a vision transformer's attention: one token's attention as a map over the image, and attention rollout.

    outputs = model(pixel_values, output_attentions=True)     # attentions: layers x (batch, heads, tokens, tokens)
    grid = patch_grid(model.config, pixel_values)             # (rows, cols) of patches, e.g. (16, 16)
    heads = token_attention_maps(outputs.attentions[-1], grid)  # (batch, heads, rows, cols): what [CLS] reads
    rollout = attention_rollout(outputs.attentions)            # (batch, tokens, tokens)
    flow = patch_map(rollout[:, 0], grid)                      # (batch, rows, cols): [CLS]'s rollout on the patches
    picture = pixel_values_to_image(pixel_values[0], image_processor)  # the model's view as an RGB uint8 array
    reach = attention_distance(outputs.attentions[0], grid, patch_size=16)  # (batch, heads): how far each head looks

A ViT's tokens are a few "prefix" tokens ([CLS], DeiT's distillation token) followed by the patches, row by
row; the prefix count is whatever is left when the patches are counted, so every variant works unasked.

Attention rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers"). One layer's attention
says how much each token reads from each token of the layer below; but every block also adds its input back
(the residual), so a token mostly stays itself. Rollout models that: per layer, average the heads, add the
identity for the residual, A' = 0.5 A + 0.5 I, normalise the rows to sum to one, then multiply the layers,
R = A'_L ... A'_2 A'_1. Row i of R says how much of the input tokens flows into token i at the top. It is a
heuristic (it ignores the values and the MLPs), good at showing where the evidence sits, not why.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

HEAD_FUSIONS = ("mean", "max", "min")


def patch_grid(config, pixel_values: torch.Tensor) -> tuple[int, int]:
    """(rows, cols): how many patches of ``config.patch_size`` pixels cover ``pixel_values`` (..., height, width)."""
    height, width = pixel_values.shape[-2:]
    patch = config.patch_size
    patch_h, patch_w = (patch, patch) if isinstance(patch, int) else patch
    return height // patch_h, width // patch_w


def patch_map(scores: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """One score per token (..., tokens) -> the patches' scores as an image grid (..., rows, cols).

    The prefix tokens ([CLS], DeiT's distillation token) come first and are dropped."""
    rows, cols = grid
    if scores.shape[-1] < rows * cols:
        raise ValueError(
            f"{scores.shape[-1]} tokens cannot hold a {rows}x{cols} grid of patches: pass the grid of the image the "
            "attentions came from (patch_grid(model.config, pixel_values))."
        )
    patches = scores[..., scores.shape[-1] - rows * cols :]  # (..., rows * cols)
    return patches.reshape(*scores.shape[:-1], rows, cols)  # (..., rows, cols)


def token_attention_maps(attention: torch.Tensor, grid: tuple[int, int], token: int = 0) -> torch.Tensor:
    """What one token reads from the patches, per head: one layer's attention (batch, heads, tokens, tokens)
    -> (batch, heads, rows, cols). ``token`` 0 is [CLS]; a patch at (row, col) is token
    ``prefix + row * cols + col``."""
    if attention.dim() != 4:
        raise ValueError(
            f"Expected one layer's attention of shape (batch, heads, tokens, tokens), got {tuple(attention.shape)}: "
            "pick a layer, e.g. outputs.attentions[-1]."
        )
    return patch_map(attention[:, :, token, :], grid)  # (batch, heads, rows, cols)


def attention_rollout(
    attentions: Sequence[torch.Tensor], head_fusion: str = "mean", residual: bool = True
) -> torch.Tensor:
    """Attention rollout through all the layers given: layers x (batch, heads, tokens, tokens) -> (batch, tokens,
    tokens), each row a distribution over the input tokens (see the module docstring).

    ``head_fusion`` merges the heads of a layer: "mean" (the paper's), "max" or "min". ``residual=False`` skips
    the identity (plain product of the attention matrices; the top layers then wash everything out)."""
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"head_fusion must be one of {HEAD_FUSIONS}, got {head_fusion!r}.")
    if attentions is None or len(attentions) == 0:
        raise ValueError("No attentions given: run the model with output_attentions=True and pass outputs.attentions.")
    rollout = None
    for attention in attentions:
        attention = attention.float()
        fused = getattr(attention, head_fusion)(dim=1)  # (batch, tokens, tokens)
        fused = fused if head_fusion == "mean" else fused.values
        if residual:
            identity = torch.eye(fused.shape[-1], dtype=fused.dtype, device=fused.device)
            fused = 0.5 * fused + 0.5 * identity
        fused = fused / fused.sum(dim=-1, keepdim=True)  # rows sum to one again
        rollout = fused if rollout is None else fused @ rollout  # the new layer reads what the layers below hold
    return rollout


def pixel_values_to_image(pixel_values: torch.Tensor, image_processor=None) -> np.ndarray:
    """One image's ``pixel_values`` (channels, height, width) back to what the model saw: an RGB uint8 array
    (height, width, 3), undoing the processor's normalisation and rescaling (its ``image_mean``, ``image_std``
    and ``rescale_factor``; without a processor the values are taken to be in [0, 1])."""
    if pixel_values.dim() != 3:
        raise ValueError(
            f"Expected one image's pixel_values of shape (channels, height, width), got {tuple(pixel_values.shape)}: "
            "index the batch, e.g. pixel_values[0]."
        )
    pixels = pixel_values.detach().float().cpu().numpy().transpose(1, 2, 0)  # (height, width, channels)
    if image_processor is not None:
        if getattr(image_processor, "do_normalize", False):
            pixels = pixels * np.asarray(image_processor.image_std) + np.asarray(image_processor.image_mean)
        if getattr(image_processor, "do_rescale", False):
            pixels = pixels / image_processor.rescale_factor / 255.0  # back to [0, 1]
    return (np.clip(pixels, 0.0, 1.0) * 255.0).round().astype(np.uint8)


def attention_distance(attention: torch.Tensor, grid: tuple[int, int], patch_size: int = 1) -> torch.Tensor:
    """How far each head looks: one layer's attention (batch, heads, tokens, tokens) -> (batch, heads), the
    distance between a query patch and the patches it reads, weighted by the attention and averaged over the
    query patches, in pixels (``patch_size`` pixels per patch; 1 gives patches). The "mean attention distance"
    of the ViT paper (Dosovitskiy et al. 2020, figure 7): the receptive field of a head, like a CNN's.

    Only patch-to-patch attention counts; each query's weights on the patches are renormalised to sum to one (what
    it gives to [CLS] and the other prefix tokens has no place in the picture)."""
    rows, cols = grid
    patches = patch_map(attention, grid).flatten(-2)  # (batch, heads, tokens, rows * cols): the keys that are patches
    patches = patches[..., patches.shape[-2] - rows * cols :, :].float()  # (batch, heads, patches, patches)
    weights = patches / patches.sum(dim=-1, keepdim=True).clamp_min(1e-12)
    row, col = torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij")
    places = torch.stack([row.flatten(), col.flatten()], dim=-1).float()  # (patches, 2): each patch's (row, col)
    distances = torch.cdist(places, places) * patch_size  # (patches, patches) in pixels
    return (weights * distances).sum(dim=-1).mean(dim=-1)  # (batch, heads)
