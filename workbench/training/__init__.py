"""Training: the Trainer and everything it is built from.

arguments.py      TrainingArguments
callbacks.py      TrainerState, TrainerControl, TrainerCallback and the built-in callbacks
optimization.py   the optimizer (weight decay groups, fused AdamW), learning-rate schedules, get_scheduler
samplers.py       the order of the examples (group_by_length, ranks, resuming) and the DataLoader of an epoch
trainer_utils.py  EvalPrediction and the outputs, set_seed, checkpoint folders, batch helpers
trainer.py        the Trainer
seq2seq.py        Seq2SeqTrainer and Seq2SeqTrainingArguments (evaluation by generate())
data_collator.py  the data collators: examples -> padded batches
"""

from .arguments import TrainingArguments
from .callbacks import (
    CallbackHandler,
    DefaultFlowCallback,
    EarlyStoppingCallback,
    NotebookProgressCallback,
    PrinterCallback,
    ProgressCallback,
    TrainerCallback,
    TrainerControl,
    TrainerState,
)
from .data_collator import (
    DataCollatorForLanguageModeling,
    DataCollatorForMultipleChoice,
    DataCollatorForSeq2Seq,
    DataCollatorForTokenClassification,
    DataCollatorWithPadding,
    DefaultDataCollator,
    default_data_collator,
)
from .optimization import get_scheduler
from .samplers import length_grouped_indices
from .seq2seq import Seq2SeqTrainer, Seq2SeqTrainingArguments
from .trainer import Trainer, TrainingDivergedError
from .trainer_utils import EvalLoopOutput, EvalPrediction, PredictionOutput, TrainOutput, get_last_checkpoint, set_seed

__all__ = [
    "CallbackHandler",
    "DataCollatorForLanguageModeling",
    "DataCollatorForMultipleChoice",
    "DataCollatorForSeq2Seq",
    "DataCollatorForTokenClassification",
    "DataCollatorWithPadding",
    "DefaultDataCollator",
    "DefaultFlowCallback",
    "EarlyStoppingCallback",
    "EvalLoopOutput",
    "EvalPrediction",
    "NotebookProgressCallback",
    "PredictionOutput",
    "PrinterCallback",
    "ProgressCallback",
    "Seq2SeqTrainer",
    "Seq2SeqTrainingArguments",
    "TrainOutput",
    "Trainer",
    "TrainerCallback",
    "TrainerControl",
    "TrainerState",
    "TrainingArguments",
    "TrainingDivergedError",
    "default_data_collator",
    "get_last_checkpoint",
    "get_scheduler",
    "length_grouped_indices",
    "set_seed",
]
