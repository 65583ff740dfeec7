"""Model configurations: the contents of a checkpoint's ``config.json``.

A config is a bag of hyper-parameters with the Hub's key names. Each family subclasses
``PretrainedConfig`` and lists its own fields with their defaults; keys a family does not know
(written by a newer library, or by another project) are kept as attributes and written back on
save, so a round trip never loses information.
"""

from __future__ import annotations

import copy
import json
import os
from typing import Any

from . import hub

CONFIG_NAME = "config.json"

# The reference writes this into every config.json; we write it too so that files we save look
# like the Hub's, and say which library wrote them.
WORKBENCH_VERSION = "0.1.0"


class PretrainedConfig:
    """Base class of all configs.

    Holds the keys every model understands (labels, output switches, special token ids, tying) and
    the machinery to read and write ``config.json``. Subclasses set ``model_type`` and take their
    own fields as keyword arguments.
    """

    model_type: str = ""
    # Alternative names accepted for attributes, e.g. DistilBERT's ``dim`` is its ``hidden_size``.
    attribute_map: dict[str, str] = {}

    def __init__(
        self,
        *,
        num_labels: int | None = None,
        id2label: dict | None = None,
        label2id: dict | None = None,
        problem_type: str | None = None,
        output_attentions: bool = False,
        output_hidden_states: bool = False,
        return_dict: bool = True,
        dtype: str | None = None,
        torch_dtype: str | None = None,
        architectures: list[str] | None = None,
        pad_token_id: int | None = None,
        bos_token_id: int | None = None,
        eos_token_id: int | None = None,
        tie_word_embeddings: bool = True,
        is_encoder_decoder: bool = False,
        **unknown_keys: Any,
    ):
        if id2label is not None:
            id2label = {int(i): str(label) for i, label in id2label.items()}
            if num_labels is not None and num_labels != len(id2label):
                raise ValueError(
                    f"num_labels={num_labels} disagrees with id2label, which has {len(id2label)} "
                    "entries; pass one or the other."
                )
        else:
            id2label = {i: f"LABEL_{i}" for i in range(2 if num_labels is None else num_labels)}
        self.id2label = id2label
        self.label2id = (
            {str(k): int(v) for k, v in label2id.items()}
            if label2id is not None and len(label2id) == len(id2label)
            else {label: i for i, label in id2label.items()}
        )
        if problem_type not in (None, "regression", "single_label_classification", "multi_label_classification"):
            raise ValueError(
                f"problem_type={problem_type!r} is not one of 'regression', "
                "'single_label_classification', 'multi_label_classification'."
            )
        self.problem_type = problem_type
        self.output_attentions = output_attentions
        self.output_hidden_states = output_hidden_states
        self.return_dict = return_dict
        # The reference renamed ``torch_dtype`` to ``dtype`` (v5); read either, write ``dtype``.
        self.dtype = dtype if dtype is not None else torch_dtype
        self.architectures = architectures
        self.pad_token_id = pad_token_id
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        self.tie_word_embeddings = tie_word_embeddings
        self.is_encoder_decoder = is_encoder_decoder
        self._name_or_path = unknown_keys.pop("_name_or_path", "")
        unknown_keys.pop("model_type", None)
        unknown_keys.pop("transformers_version", None)
        unknown_keys.pop("workbench_version", None)
        for key, value in unknown_keys.items():
            setattr(self, key, value)

    # -- attribute aliases ------------------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        name = type(self).attribute_map.get(name, name)
        super().__setattr__(name, value)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: resolve aliases such as ``hidden_size`` -> ``dim``.
        attribute_map = type(self).attribute_map
        if name in attribute_map:
            return getattr(self, attribute_map[name])
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    # -- labels -----------------------------------------------------------------------------------

    @property
    def num_labels(self) -> int:
        return len(self.id2label)

    @num_labels.setter
    def num_labels(self, num_labels: int) -> None:
        if self.id2label is None or len(self.id2label) != num_labels:
            self.id2label = {i: f"LABEL_{i}" for i in range(num_labels)}
            self.label2id = {label: i for i, label in self.id2label.items()}

    # -- dict and JSON ----------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """All keys, as they go into config.json (label ids become strings, as JSON requires)."""
        out = {k: copy.deepcopy(v) for k, v in self.__dict__.items()}
        out["model_type"] = self.model_type
        out["id2label"] = {str(i): label for i, label in self.id2label.items()}
        out["transformers_version"] = WORKBENCH_VERSION
        return out

    def to_json_string(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **overrides: Any) -> "PretrainedConfig":
        merged = {**config_dict, **overrides}
        if "num_labels" in overrides and "id2label" not in overrides:
            # ``num_labels=3`` on a checkpoint saved with 2 labels: the new head gets fresh names.
            merged.pop("id2label", None)
            merged.pop("label2id", None)
        return cls(**merged)

    def __repr__(self) -> str:
        return f"{type(self).__name__} {self.to_json_string()}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PretrainedConfig) and self.to_dict() == other.to_dict()

    # -- files ------------------------------------------------------------------------------------

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        os.makedirs(save_directory, exist_ok=True)
        hub.atomic_write_text(os.path.join(save_directory, CONFIG_NAME), self.to_json_string())

    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike, **kwargs: Any) -> "PretrainedConfig":
        """Read ``config.json`` from a folder or a Hub id, or a config file itself (``"folder/config.json"``);
        extra keyword arguments override keys."""
        hub_kwargs = hub.pop_hub_kwargs(kwargs)
        config_dict = load_config_dict(name_or_path, **hub_kwargs)
        model_type = config_dict.get("model_type")
        if cls.model_type and model_type and model_type != cls.model_type:
            # The reference warns and goes on; a BERT config read as RoBERTa's is usually a mistake
            # that still works, so we do the same, silently.
            pass
        config = cls.from_dict(config_dict, **kwargs)
        config._name_or_path = str(name_or_path)
        return config


def load_config_dict(name_or_path: str | os.PathLike, **hub_kwargs: Any) -> dict[str, Any]:
    """The keys of a checkpoint's config.json: a folder's, a Hub id's, or a JSON file's given by its path."""
    if os.path.isfile(name_or_path):
        path = os.fspath(name_or_path)
    else:
        path = hub.resolve_file(name_or_path, CONFIG_NAME, **hub_kwargs)
    try:
        with open(path, encoding="utf-8") as f:
            config_dict = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(
            f"{path} is not a JSON config file ({e}). Pass a checkpoint's folder or Hub id, or the path of its "
            "config.json."
        ) from e
    if not isinstance(config_dict, dict):
        raise ValueError(f"{path} holds a JSON {type(config_dict).__name__}, not a config (a JSON object of keys).")
    return config_dict
