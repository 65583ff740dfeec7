"""Encoder-decoder generation speed: workbench vs the reference (transformers), same weights, same process.

    .venv/bin/python bench/seq2seq.py                  # t5-small and bart-base shapes, greedy and beam, median of 3
    .venv/bin/python bench/seq2seq.py --quick          # 16 new tokens, 2 rounds (smoke run)
    .venv/bin/python bench/seq2seq.py --models t5-small --threads 1
    python bench/seq2seq.py --device cuda              # on a GPU (synchronised timings)

Models: the shapes of t5-small (60M: 6+6 layers, 512 wide, relative positions, tied head) and bart-base
(140M: 6+6 layers, 768 wide, learned positions), random weights (seed 0), built by the reference, saved,
and loaded by workbench from that folder: identical tensors. Inputs: real English sentences from
``translation/validation.src.txt`` in the data folder (``workbench.data``) tokenized with the t5-small SentencePiece
model (ids above a model's vocabulary are folded into it), right-padded into a batch.

Settings, each as a row: greedy at batch 1, greedy at batch 8 (padded sources), beam search (4 beams) at
batch 4. Exactly N new tokens per row: eos is disabled on both sides so that neither stops early, and both
must produce the same tokens (checked, fp32). Each setting runs once as warm-up, then the two take turns
for --repeats rounds; the table shows median new tokens per second (batch x N / seconds) and the ratio.

What dominates: the encoder runs once; every decoding step runs the decoder over one new token per row,
with self-attention over its own tokens and cross-attention over the encoder's states. Workbench keeps
both in one preallocated cache (the cross-attention keys/values are projected once, at the first step)
and keeps beam reordering to the decoder's own keys/values.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import torch  # noqa: E402

SHAPES = {
    "t5-small": (
        "T5Config",
        "T5ForConditionalGeneration",
        dict(
            vocab_size=32128,
            d_model=512,
            d_kv=64,
            d_ff=2048,
            num_layers=6,
            num_heads=8,
            feed_forward_proj="relu",
            decoder_start_token_id=0,
            pad_token_id=0,
            eos_token_id=1,
        ),
    ),
    "bart-base": (
        "BartConfig",
        "BartForConditionalGeneration",
        dict(
            vocab_size=50265,
            d_model=768,
            encoder_layers=6,
            decoder_layers=6,
            encoder_attention_heads=12,
            decoder_attention_heads=12,
            encoder_ffn_dim=3072,
            decoder_ffn_dim=3072,
            max_position_embeddings=1024,
            pad_token_id=1,
            bos_token_id=0,
            eos_token_id=2,
            decoder_start_token_id=2,
            forced_eos_token_id=None,
        ),
    ),
}
SETTINGS = (("greedy", 1, 1), ("greedy", 8, 1), ("beam", 4, 4))  # (name, batch, beams)


def source_batches(vocab_size: int, max_batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    from workbench import AutoTokenizer
    from workbench.data import data_dir

    data = data_dir()
    tokenizer = AutoTokenizer.from_pretrained(data / "tokenizers" / "t5-small")
    lines = (data / "translation" / "validation.src.txt").read_text(encoding="utf-8").splitlines()[:max_batch]
    enc = tokenizer(lines, padding=True, truncation=True, max_length=64, return_tensors="pt")
    return enc["input_ids"] % vocab_size, enc["attention_mask"]


def build_models(name: str, folder: Path):
    import transformers

    import workbench

    config_name, class_name, values = SHAPES[name]
    torch.manual_seed(0)
    ref = getattr(transformers, class_name)(getattr(transformers, config_name)(**values)).eval()
    ref.save_pretrained(folder)
    ours = workbench.AutoModelForSeq2SeqLM.from_pretrained(folder).eval()
    return ref, ours


def run(model, ids, mask, new_tokens: int, beams: int):
    with torch.inference_mode():
        return model.generate(
            ids,
            attention_mask=mask,
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens,
            num_beams=beams,
            do_sample=False,
            eos_token_id=None,
            forced_eos_token_id=None,
            forced_bos_token_id=None,
            pad_token_id=0,
            no_repeat_ngram_size=0,
            length_penalty=1.0,
            early_stopping=False,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="t5-small,bart-base")
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.new_tokens, args.repeats = 16, 2
    if args.threads:
        torch.set_num_threads(args.threads)

    import transformers

    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, "
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, "
        f"load average {os.getloadavg()[0]:.1f}; device {args.device}; {args.new_tokens} new tokens per row, fp32"
    )
    print(f"\n{'model':<10} {'setting':<16} {'reference tok/s':>16} {'workbench tok/s':>16} {'ratio':>7}   same tokens")
    for name in args.models.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            ref, ours = build_models(name, Path(tmp))
        ref.to(args.device), ours.to(args.device)
        all_ids, all_mask = source_batches(ref.config.vocab_size, max(batch for _, batch, _ in SETTINGS))
        all_ids, all_mask = all_ids.to(args.device), all_mask.to(args.device)
        for setting, batch, beams in SETTINGS:
            ids, mask = all_ids[:batch], all_mask[:batch]
            keep = int(mask.sum(dim=1).max())  # drop columns that are padding in every row of this batch
            ids, mask = ids[:, :keep], mask[:, :keep]
            out_ref, out_ours = (
                run(ref, ids, mask, args.new_tokens, beams),
                run(ours, ids, mask, args.new_tokens, beams),
            )
            same = out_ref.shape == out_ours.shape and torch.equal(out_ref, out_ours)
            times = {"reference": [], "workbench": []}
            for _ in range(args.repeats):
                for side, model in (("reference", ref), ("workbench", ours)):
                    start = time.perf_counter()
                    run(model, ids, mask, args.new_tokens, beams)
                    if ids.is_cuda:
                        torch.cuda.synchronize()
                    times[side].append(time.perf_counter() - start)
            speed = {side: batch * args.new_tokens / statistics.median(t) for side, t in times.items()}
            label = f"{setting} b{batch}" + (f" x{beams}" if beams > 1 else "")
            print(
                f"{name:<10} {label:<16} {speed['reference']:>16.1f} {speed['workbench']:>16.1f} "
                f"{speed['workbench'] / speed['reference']:>6.2f}x   {same}",
                flush=True,
            )


if __name__ == "__main__":
    main()
