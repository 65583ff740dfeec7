"""Trains a tiny BERT with the Trainer; run by tests/test_trainer.py both under
``torchrun --nproc_per_node 2`` (per-device batch 4) and as one process (batch 8).

    python tests/ddp_train_script.py OUTPUT_DIR PER_DEVICE_BATCH_SIZE [every_rank | rank_zero]

Dropout is off and every row has the same length, so both runs see the same global batches and
must end with the same weights (up to float summation order). The last argument says who calls
``trainer.save_model()`` at the end: every rank (the default), or rank 0 alone, inside the common
``if trainer.is_world_process_zero():``.
"""

import sys

import torch

from workbench import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments


def main(output_dir: str, batch_size: int, save_on: str = "every_rank") -> None:
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    rows = [
        {"input_ids": [2] + torch.randint(10, 100, (8,), generator=g).tolist() + [3], "label": i % 2} for i in range(24)
    ]
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=100,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=37,
        max_position_embeddings=64,
        num_labels=2,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    model = BertForSequenceClassification(config)
    args = TrainingArguments(
        output_dir,
        num_train_epochs=2,
        per_device_train_batch_size=batch_size,
        learning_rate=1e-3,
        logging_steps=1,
        save_steps=100,
        report_to="none",
        disable_tqdm=True,
    )
    trainer = Trainer(model=model, args=args, train_dataset=rows)
    trainer.train()
    if save_on == "every_rank" or trainer.is_world_process_zero():
        trainer.save_model(f"{output_dir}/final")
    if trainer.is_world_process_zero():
        print("world size", args.world_size, "steps", trainer.state.global_step)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), *sys.argv[3:])
