"""Auto classes: pick the config and model class from a checkpoint's ``model_type``.

``AutoModelForSequenceClassification.from_pretrained("some/bert")`` reads config.json, finds
``"model_type": "bert"`` below, imports ``workbench.models.bert`` and calls
``BertForSequenceClassification.from_pretrained``. Family modules are imported only when used.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, NamedTuple

from .. import hub
from ..configuration import PretrainedConfig, load_config_dict


class Family(NamedTuple):
    """What workbench knows about one ``model_type``: where its code is and what it can do."""

    module: str  # the file in workbench/models that implements it (variants share one file)
    config: str  # its config class
    tasks: dict[str, str]  # task -> model class; the Auto classes and pipelines read this
    processor: str = "tokenizer"  # what turns raw inputs into model inputs: "tokenizer", "image_processor", ...
    exports: tuple[str, ...] = ()  # other public names of the module, importable from workbench
    # task -> other classes of that task, chosen when config.json's "architectures" names one of them
    # (a distilled DeiT checkpoint is a DeiTForImageClassificationWithTeacher)
    alternatives: dict[str, tuple[str, ...]] = {}


def _encoder(prefix: str) -> dict[str, str]:
    """The task heads of a BERT-style encoder named ``prefix``."""
    return {
        "base": f"{prefix}Model",
        "masked-lm": f"{prefix}ForMaskedLM",
        "sequence-classification": f"{prefix}ForSequenceClassification",
        "token-classification": f"{prefix}ForTokenClassification",
        "question-answering": f"{prefix}ForQuestionAnswering",
        "multiple-choice": f"{prefix}ForMultipleChoice",
    }


def _decoder(prefix: str) -> dict[str, str]:
    return {"base": f"{prefix}Model", "causal-lm": f"{prefix}ForCausalLM"}


def _seq2seq(prefix: str, lm: str | None = None, **extra: str) -> dict[str, str]:
    return {"base": f"{prefix}Model", "seq2seq-lm": lm or f"{prefix}ForConditionalGeneration", **extra}


def _speech_encoder(prefix: str) -> dict[str, str]:
    """The task heads of a Wav2Vec2-style speech encoder named ``prefix``."""
    return {
        "base": f"{prefix}Model",
        "ctc": f"{prefix}ForCTC",
        "audio-classification": f"{prefix}ForSequenceClassification",
    }


def _image_classifier(prefix: str, **extra: str) -> dict[str, str]:
    return {"base": f"{prefix}Model", "image-classification": f"{prefix}ForImageClassification", **extra}


# model_type -> Family. THE registry: the Auto classes, pipelines, the model picker and the lazy exports of
# ``import workbench`` are all derived from it. Adding a family = one file in this folder + one entry here.
# Variants of one architecture share a module and differ only by config; their Hub class names are
# aliases of the family's classes (XLMRobertaForMaskedLM is RobertaForMaskedLM), defined in the module.
MODEL_TYPES: dict[str, Family] = {
    # encoders
    "bert": Family("bert", "BertConfig", _encoder("Bert")),
    "roberta": Family("roberta", "RobertaConfig", _encoder("Roberta")),
    "xlm-roberta": Family("roberta", "XLMRobertaConfig", _encoder("XLMRoberta")),
    "camembert": Family("roberta", "CamembertConfig", _encoder("Camembert")),
    "data2vec-text": Family("roberta", "Data2VecTextConfig", _encoder("Data2VecText")),
    "distilbert": Family("distilbert", "DistilBertConfig", _encoder("DistilBert")),
    "albert": Family("albert", "AlbertConfig", {**_encoder("Albert"), "pretraining": "AlbertForPreTraining"}),
    "electra": Family("electra", "ElectraConfig", {**_encoder("Electra"), "pretraining": "ElectraForPreTraining"}),
    # decoders
    "gpt2": Family("gpt2", "GPT2Config", {"base": "GPT2Model", "causal-lm": "GPT2LMHeadModel"}),
    "llama": Family(
        "llama", "LlamaConfig", {**_decoder("Llama"), "sequence-classification": "LlamaForSequenceClassification"}
    ),
    "mistral": Family(
        "llama", "MistralConfig", {**_decoder("Mistral"), "sequence-classification": "MistralForSequenceClassification"}
    ),
    "mixtral": Family(
        "llama", "MixtralConfig", {**_decoder("Mixtral"), "sequence-classification": "MixtralForSequenceClassification"}
    ),
    "qwen2": Family(
        "llama", "Qwen2Config", {**_decoder("Qwen2"), "sequence-classification": "Qwen2ForSequenceClassification"}
    ),
    "qwen2_moe": Family(
        "llama",
        "Qwen2MoeConfig",
        {**_decoder("Qwen2Moe"), "sequence-classification": "Qwen2MoeForSequenceClassification"},
    ),
    "gemma": Family(
        "gemma", "GemmaConfig", {**_decoder("Gemma"), "sequence-classification": "GemmaForSequenceClassification"}
    ),
    "gemma2": Family(
        "gemma", "Gemma2Config", {**_decoder("Gemma2"), "sequence-classification": "Gemma2ForSequenceClassification"}
    ),
    "gpt_neox": Family(
        "gpt_neox",
        "GPTNeoXConfig",
        {**_decoder("GPTNeoX"), "sequence-classification": "GPTNeoXForSequenceClassification"},
    ),
    "gpt_neox_japanese": Family("gpt_neox", "GPTNeoXJapaneseConfig", _decoder("GPTNeoXJapanese")),
    "persimmon": Family(
        "persimmon",
        "PersimmonConfig",
        {**_decoder("Persimmon"), "sequence-classification": "PersimmonForSequenceClassification"},
    ),
    "stablelm": Family(
        "stablelm",
        "StableLmConfig",
        {**_decoder("StableLm"), "sequence-classification": "StableLmForSequenceClassification"},
    ),
    "phi": Family("phi", "PhiConfig", {**_decoder("Phi"), "sequence-classification": "PhiForSequenceClassification"}),
    "phi3": Family(
        "phi3", "Phi3Config", {**_decoder("Phi3"), "sequence-classification": "Phi3ForSequenceClassification"}
    ),
    "bloom": Family(
        "bloom", "BloomConfig", {**_decoder("Bloom"), "sequence-classification": "BloomForSequenceClassification"}
    ),
    "falcon": Family(
        "falcon", "FalconConfig", {**_decoder("Falcon"), "sequence-classification": "FalconForSequenceClassification"}
    ),
    "mpt": Family("mpt", "MptConfig", {**_decoder("Mpt"), "sequence-classification": "MptForSequenceClassification"}),
    "gpt_neo": Family(
        "gpt_neo", "GPTNeoConfig", {**_decoder("GPTNeo"), "sequence-classification": "GPTNeoForSequenceClassification"}
    ),
    "gptj": Family(
        "gptj", "GPTJConfig", {**_decoder("GPTJ"), "sequence-classification": "GPTJForSequenceClassification"}
    ),
    "codegen": Family("gptj", "CodeGenConfig", _decoder("CodeGen")),
    "gpt_bigcode": Family(
        "gpt_bigcode",
        "GPTBigCodeConfig",
        {**_decoder("GPTBigCode"), "sequence-classification": "GPTBigCodeForSequenceClassification"},
    ),
    "opt": Family(
        "opt",
        "OPTConfig",
        {
            **_decoder("OPT"),
            "sequence-classification": "OPTForSequenceClassification",
            "question-answering": "OPTForQuestionAnswering",
        },
    ),
    "xglm": Family("opt", "XGLMConfig", _decoder("XGLM")),
    "biogpt": Family(
        "opt",
        "BioGptConfig",
        {
            **_decoder("BioGpt"),
            "sequence-classification": "BioGptForSequenceClassification",
            "token-classification": "BioGptForTokenClassification",
        },
    ),
    # encoder-decoders
    "t5": Family("t5", "T5Config", _seq2seq("T5", **{"text-encoding": "T5EncoderModel"})),
    "mt5": Family("t5", "MT5Config", _seq2seq("MT5", **{"text-encoding": "MT5EncoderModel"})),
    "umt5": Family("t5", "UMT5Config", _seq2seq("UMT5", **{"text-encoding": "UMT5EncoderModel"})),
    "bart": Family(
        "bart", "BartConfig", _seq2seq("Bart", **{"sequence-classification": "BartForSequenceClassification"})
    ),
    "mbart": Family(
        "bart", "MBartConfig", _seq2seq("MBart", **{"sequence-classification": "MBartForSequenceClassification"})
    ),
    "marian": Family("bart", "MarianConfig", _seq2seq("Marian", lm="MarianMTModel")),
    "pegasus": Family("bart", "PegasusConfig", _seq2seq("Pegasus")),
    "m2m_100": Family("bart", "M2M100Config", _seq2seq("M2M100")),
    # speech
    "whisper": Family(
        "whisper",
        "WhisperConfig",
        {
            "base": "WhisperModel",
            "speech-seq2seq": "WhisperForConditionalGeneration",
            "audio-classification": "WhisperForAudioClassification",
        },
        processor="processor",
    ),
    # speech encoders reading the raw waveform (CTC transcription, audio classification)
    "wav2vec2": Family(
        "wav2vec2",
        "Wav2Vec2Config",
        _speech_encoder("Wav2Vec2"),
        processor="processor",
        exports=("SpeechEncoderConfig",),
    ),
    "hubert": Family("wav2vec2", "HubertConfig", _speech_encoder("Hubert"), processor="processor"),
    "data2vec-audio": Family(
        "wav2vec2", "Data2VecAudioConfig", _speech_encoder("Data2VecAudio"), processor="feature_extractor"
    ),
    # convolutional vision networks
    "convnext": Family("convnext", "ConvNextConfig", _image_classifier("ConvNext"), processor="image_processor"),
    "convnextv2": Family("convnext", "ConvNextV2Config", _image_classifier("ConvNextV2"), processor="image_processor"),
    "resnet": Family("resnet", "ResNetConfig", _image_classifier("ResNet"), processor="image_processor"),
    # hierarchical vision transformers (shifted windows)
    "swin": Family(
        "swin",
        "SwinConfig",
        _image_classifier("Swin", **{"masked-image-modeling": "SwinForMaskedImageModeling"}),
        processor="image_processor",
    ),
    "swinv2": Family(
        "swin",
        "Swinv2Config",
        _image_classifier("Swinv2", **{"masked-image-modeling": "Swinv2ForMaskedImageModeling"}),
        processor="image_processor",
    ),
    # vision transformers (patches + [CLS]); BEiT's masked image modeling predicts visual tokens, not pixels,
    # so AutoModelForMaskedImageModeling does not load it (as in the reference)
    "vit": Family(
        "vit",
        "ViTConfig",
        _image_classifier("ViT", **{"masked-image-modeling": "ViTForMaskedImageModeling"}),
        processor="image_processor",
    ),
    "deit": Family(
        "vit",
        "DeiTConfig",
        _image_classifier("DeiT", **{"masked-image-modeling": "DeiTForMaskedImageModeling"}),
        processor="image_processor",
        alternatives={"image-classification": ("DeiTForImageClassificationWithTeacher",)},
    ),
    "dinov2": Family("vit", "Dinov2Config", _image_classifier("Dinov2"), processor="image_processor"),
    "beit": Family(
        "vit",
        "BeitConfig",
        _image_classifier("Beit"),
        processor="image_processor",
        exports=("BeitForMaskedImageModeling",),
    ),
    "data2vec-vision": Family(
        "vit", "Data2VecVisionConfig", _image_classifier("Data2VecVision"), processor="image_processor"
    ),
    # image-text towers (contrastive): zero-shot image classification; each tower also loads alone
    "clip": Family(
        "clip",
        "CLIPConfig",
        {
            "base": "CLIPModel",
            "zero-shot-image-classification": "CLIPModel",
            "image-classification": "CLIPForImageClassification",
        },
        processor="processor",
        exports=("CLIPTextModelWithProjection", "CLIPVisionModelWithProjection"),
    ),
    "clip_text_model": Family("clip", "CLIPTextConfig", {"base": "CLIPTextModel"}),
    "clip_vision_model": Family("clip", "CLIPVisionConfig", {"base": "CLIPVisionModel"}, processor="image_processor"),
    "siglip": Family(
        "clip",
        "SiglipConfig",
        {
            "base": "SiglipModel",
            "zero-shot-image-classification": "SiglipModel",
            "image-classification": "SiglipForImageClassification",
        },
        processor="processor",
    ),
    "siglip_text_model": Family("clip", "SiglipTextConfig", {"base": "SiglipTextModel"}),
    "siglip_vision_model": Family(
        "clip", "SiglipVisionConfig", {"base": "SiglipVisionModel"}, processor="image_processor"
    ),
    # any image tower + any text tower of this registry, with CLIP's projections (LiT, CLIP-Italian)
    "vision-text-dual-encoder": Family(
        "vision_text_dual_encoder",
        "VisionTextDualEncoderConfig",
        {"base": "VisionTextDualEncoderModel", "zero-shot-image-classification": "VisionTextDualEncoderModel"},
        processor="processor",
    ),
}

# Auto class -> the task whose head it loads, in the order the model picker lists tasks.
AUTO_MODEL_CLASSES = {
    "AutoModel": "base",
    "AutoModelForMaskedLM": "masked-lm",
    "AutoModelForCausalLM": "causal-lm",
    "AutoModelForSeq2SeqLM": "seq2seq-lm",
    "AutoModelForSequenceClassification": "sequence-classification",
    "AutoModelForTokenClassification": "token-classification",
    "AutoModelForQuestionAnswering": "question-answering",
    "AutoModelForMultipleChoice": "multiple-choice",
    "AutoModelForPreTraining": "pretraining",
    "AutoModelForTextEncoding": "text-encoding",
    "AutoModelForImageClassification": "image-classification",
    "AutoModelForMaskedImageModeling": "masked-image-modeling",
    "AutoModelForZeroShotImageClassification": "zero-shot-image-classification",
    "AutoModelForSpeechSeq2Seq": "speech-seq2seq",
    "AutoModelForAudioClassification": "audio-classification",
    "AutoModelForCTC": "ctc",
}
TASKS = tuple(AUTO_MODEL_CLASSES.values())


def public_names() -> dict[str, str]:
    """Every public class of the model families -> its module (``models.bert``), for ``import workbench``."""
    names = {}
    for family in MODEL_TYPES.values():
        alternatives = [name for names in family.alternatives.values() for name in names]
        for name in (family.config, *family.tasks.values(), *family.exports, *alternatives):
            names[name] = f"models.{family.module}"
    return names


def tiny_config(preset: str, **overrides: Any) -> PretrainedConfig:
    """A tiny config for tests and teaching, from a family's ``TINY_PRESETS`` (seconds to build and run on a CPU):
    ``tiny_config("llama-tiny-random", vocab_size=1000)``. Each preset is config.json-shaped, ``model_type``
    included, so ``AutoConfig.for_model(**preset)`` builds it too."""
    known = []
    for module in dict.fromkeys(family.module for family in MODEL_TYPES.values()):
        presets = getattr(importlib.import_module(f"workbench.models.{module}"), "TINY_PRESETS", {})
        if preset in presets:
            values = {**presets[preset], **overrides}
            return config_class_for(values["model_type"])(**values)
        known += presets
    raise ValueError(f"Unknown preset {preset!r}; the presets are: {', '.join(sorted(known))}.")


def register(model_type: str, module: str, config_class: str, classes: dict[str, str], **options) -> None:
    """Add a family (used by family modules that live outside this package, e.g. in tests)."""
    MODEL_TYPES[model_type] = Family(module, config_class, classes, **options)


def supported_model_types() -> list[str]:
    return sorted(MODEL_TYPES)


def _load(model_type: str, name: str) -> Any:
    module_name = MODEL_TYPES[model_type].module
    module = importlib.import_module(module_name if "." in module_name else f"workbench.models.{module_name}")
    return getattr(module, name)


def _unsupported(model_type: str | None, where: str, config_dict: dict | None = None) -> ValueError:
    remote = ""
    if config_dict and config_dict.get("auto_map"):
        remote = " This checkpoint asks for custom code (auto_map); workbench never runs remote code."
    return ValueError(
        f"{where} has model_type {model_type!r}, which workbench does not implement.{remote} "
        f"Supported model types: {', '.join(supported_model_types())}."
    )


def config_class_for(model_type: str) -> type[PretrainedConfig]:
    if model_type not in MODEL_TYPES:
        raise _unsupported(model_type, "The config")
    return _load(model_type, MODEL_TYPES[model_type].config)


def _refuse_remote_code(kwargs: dict[str, Any]) -> None:
    if kwargs.pop("trust_remote_code", False):
        raise ValueError("trust_remote_code=True is not supported: workbench runs only its own model code.")


class AutoConfig:
    """``AutoConfig.from_pretrained(name_or_path, **overrides)`` and ``AutoConfig.for_model(model_type)``."""

    def __init__(self):
        raise TypeError("Use AutoConfig.from_pretrained(...) or AutoConfig.for_model(...).")

    @staticmethod
    def from_pretrained(name_or_path: str | os.PathLike, **kwargs: Any) -> PretrainedConfig:
        """The config of a checkpoint (folder or Hub id), or of a config file (``"folder/config.json"``)."""
        _refuse_remote_code(kwargs)
        hub_kwargs = hub.pop_hub_kwargs(kwargs)
        config_dict = load_config_dict(name_or_path, **hub_kwargs)
        model_type = config_dict.get("model_type")
        if model_type not in MODEL_TYPES:
            raise _unsupported(model_type, f"The checkpoint {os.fspath(name_or_path)!r}", config_dict)
        config = config_class_for(model_type).from_dict(config_dict, **kwargs)
        config._name_or_path = os.fspath(name_or_path)
        return config

    @staticmethod
    def for_model(model_type: str, **kwargs: Any) -> PretrainedConfig:
        return config_class_for(model_type)(**kwargs)


class _AutoModel:
    task = "base"

    def __init__(self):
        raise TypeError(f"Use {type(self).__name__}.from_pretrained(...) or .from_config(...).")

    @classmethod
    def model_class(cls, config: PretrainedConfig) -> type:
        model_type = config.model_type
        if model_type not in MODEL_TYPES:
            raise _unsupported(model_type, f"{type(config).__name__}")
        classes = MODEL_TYPES[model_type].tasks
        if cls.task not in classes:
            able = sorted(task for task in classes)
            raise ValueError(
                f"{cls.__name__} needs a {cls.task} head, which model_type {model_type!r} does not have "
                f"(it has: {', '.join(able)})."
            )
        named = set(config.architectures or ())
        chosen = next((n for n in MODEL_TYPES[model_type].alternatives.get(cls.task, ()) if n in named), None)
        return _load(model_type, chosen or classes[cls.task])

    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any):
        return cls.model_class(config).from_config(config, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *args: Any, **kwargs: Any):
        """Load a checkpoint (folder or Hub id) with its config, or with ``config=``: a config object, or the
        folder, Hub id or file path of one (``config="other/config.json"``). A PEFT adapter's folder or Hub id
        (adapter_config.json) loads the base model it names, with the adapter."""
        _refuse_remote_code(kwargs)
        if os.path.isfile(pretrained_model_name_or_path):
            folder = os.path.dirname(os.fspath(pretrained_model_name_or_path)) or "."
            raise ValueError(
                f"{cls.__name__}.from_pretrained loads a checkpoint's folder or Hub id, and "
                f"{os.fspath(pretrained_model_name_or_path)!r} is a file. Pass the folder that holds config.json and "
                f"the weights ({folder!r}); a config file of its own goes in config=..., e.g. "
                f"{cls.__name__}.from_pretrained({folder!r}, config='path/to/config.json')."
            )
        config = kwargs.pop("config", None)
        if config is None or isinstance(config, (str, os.PathLike)):
            hub_kwargs = {k: kwargs[k] for k in hub.HUB_KWARGS if k in kwargs}
            loading_options = {
                "torch_dtype",
                "dtype",
                "ignore_mismatched_sizes",
                "output_loading_info",
                "device_map",
                "adapter_name",
                "quantization_config",
            }
            overrides = {k: v for k, v in kwargs.items() if k not in loading_options and k not in hub.HUB_KWARGS}
            name = os.fspath(pretrained_model_name_or_path)
            from ..peft_integration import adapter_base  # peft-free, but kept out of `import workbench`

            source = config or adapter_base(name, hub_kwargs) or name  # an adapter's config is its base model's
            config = AutoConfig.from_pretrained(source, **hub_kwargs, **overrides)
            kwargs = {k: v for k, v in kwargs.items() if k not in overrides}
        return cls.model_class(config).from_pretrained(pretrained_model_name_or_path, *args, config=config, **kwargs)


# The Auto classes themselves: one subclass of _AutoModel per entry of AUTO_MODEL_CLASSES, e.g.
# ``class AutoModelForMaskedLM(_AutoModel): task = "masked-lm"``.
for _name, _task in AUTO_MODEL_CLASSES.items():
    globals()[_name] = type(
        _name,
        (_AutoModel,),
        {"task": _task, "__module__": __name__, "__doc__": f"Loads a checkpoint with its {_task} head."},
    )
del _name, _task
