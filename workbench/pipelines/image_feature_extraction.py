"""image-feature-extraction: what a vision model without a head makes of an image.

``pipe("photo.jpg")`` -> the model's first output (its last hidden state) as a nested list with a batch
dimension of one, as the reference's pipeline returns it: ``[1][patches + 1][hidden]`` for a ViT or DINOv2,
``[1][channels][height][width]`` for a ConvNeXT or ResNet. ``pool=True`` gives the model's ``pooler_output``
instead (``[1][hidden]``: ViT's tanh-projected [CLS], DINOv2's normalised [CLS], the average over the patches
or the feature map of BEiT, ConvNeXT and Swin; ResNet's is ``[1][channels][1][1]``). ``return_tensors=True``
gives a tensor instead of lists. ``image_processor_kwargs`` override the image processor's settings for the
call (``{"size": {"height": 100, "width": 100}}``).

The reference v4.37 has no such task (it arrived in v4.38); this follows the later reference's pipeline, which
has not changed since: same outputs, same ``pool`` semantics.
"""

from __future__ import annotations

from typing import Any

from .base import ImagePipeline


class ImageFeatureExtractionPipeline(ImagePipeline):
    task = "image-feature-extraction"

    def _check_model(self) -> None:
        name = type(self.model).__name__
        if "For" in name:
            raise ValueError(
                f"The {self.task} pipeline returns a base model's features, but the model is a {name} (a task head, "
                "whose first output is not features). Load it with AutoModel.from_pretrained(...)."
            )

    def _sanitize_parameters(
        self,
        image_processor_kwargs: dict | None = None,
        return_tensors: bool | None = None,
        pool: bool | None = None,
        timeout: float | None = None,
    ) -> tuple[dict, dict, dict]:
        pre = dict(image_processor_kwargs or {})
        if "return_tensors" in pre:
            raise ValueError("image_processor_kwargs must not set return_tensors; the pipeline batches the pixels.")
        if timeout is not None:
            pre["timeout"] = timeout
        post: dict[str, Any] = {}
        if return_tensors is not None:
            post["return_tensors"] = return_tensors
        if pool is not None:
            post["pool"] = pool
        return pre, {}, post

    def forward_outputs(self, output: Any, batch: dict) -> dict:
        features = {"features": output[0]}  # the first output: last_hidden_state
        if output.get("pooler_output") is not None:
            features["pooler_output"] = output["pooler_output"]
        return features

    def postprocess(self, chunks: list[dict], pool: bool = False, return_tensors: bool = False) -> Any:
        if pool and "pooler_output" not in chunks[0]:
            raise ValueError(
                f"pool=True needs the model's pooler_output, but this {type(self.model).__name__} returns none (it was "
                "built without a pooling layer, e.g. add_pooling_layer=False). Pool the features yourself: "
                "pipe(image, return_tensors=True)[:, 0] is the [CLS] vector, .mean(1) the mean of the tokens."
            )
        output = chunks[0]["pooler_output" if pool else "features"].unsqueeze(0)  # a batch of one, as the reference
        return output if return_tensors else output.tolist()
