"""The checks every decoder family's test file runs, written once (test files never import each other).

Each takes models the test has built: the reference's (tiny, often with `parity.varied_weights`) and ours loaded from
its save (`parity.load_ours_from_reference`). The batches are `parity.left_padded_batch` over the model's own
vocabulary; every comparison is within parity's ATOL and RTOL.

- `check_kv_cache`: a prompt, then one token at a time through the cache, gives the full forward pass's logits;
- `check_left_padding_does_not_change_a_row`: a left-padded row's logits are the ones it gets alone;
- `check_generate`: greedy and beam search on left-padded prompts, token for token the reference's;
- `check_sequence_classification`: the head read at each row's last real token, left or right padding, against the
  reference's (logits, loss, last hidden state), checkpoints both ways, then `check_needs_a_pad_token_for_batches`
  (without a pad id: one row at a time, a batch refused);
- `check_text_generation_pipeline`: pipeline("text-generation") over GPT-2's tokenizer, one prompt at a time and
  batched with left padding, gives the reference's greedy continuation;
- `check_training_loss`: the causal LM loss with padding labelled -100, as the reference's.
"""

from __future__ import annotations

import pytest
import torch
from parity import (
    assert_close,
    assert_generate_matches,
    assert_reference_loads_ours,
    generate_position_ids,
    left_padded_batch,
    load_ours_from_reference,
)
from tiny_checkpoints import gpt2_tokenizer_files

import workbench
from workbench.pipelines import pipeline

# The special ids of GPT-2's tokenizer: a reference model built with these runs in check_text_generation_pipeline
GPT2_TOKENIZER_IDS = dict(vocab_size=50257, bos_token_id=50256, eos_token_id=50256)
PROMPTS = ("Hello world", "The quick brown fox jumps over")


def check_kv_cache(ours, prompt_length: int = 4):
    """A left-padded batch (0, 2 and 5 pads) fed through the cache, its first `prompt_length` tokens at once and then
    one token at a time as in generation, gives the full forward pass's logits at each real token. Returns (the full
    pass's logits, the cache)."""
    batch = left_padded_batch(ours.config.vocab_size)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        full = ours(ids, attention_mask=mask).logits
        cache = ours(ids[:, :prompt_length], attention_mask=mask[:, :prompt_length], use_cache=True).past_key_values
        for t in range(prompt_length, ids.shape[1]):
            step = ours(ids[:, t : t + 1], attention_mask=mask[:, : t + 1], past_key_values=cache)
            real = mask[:, t].bool()
            assert_close(step.logits[real, 0], full[real, t], f"step {t}")
    return full, cache


def check_left_padding_does_not_change_a_row(ours) -> None:
    """With the mask alone (no position ids), the row with 5 pads gives the logits it gives unpadded."""
    batch = left_padded_batch(ours.config.vocab_size)
    with torch.no_grad():
        padded = ours(**batch).logits[2, 5:]
        alone = ours(batch["input_ids"][2:, 5:]).logits[0]
    assert_close(padded, alone, "left-padded row")


def check_generate(ref, ours) -> None:
    """Greedy and beam search on left-padded prompts, token for token the reference's. The eos id is a token that
    greedy search emits, so that rows end at different steps."""
    batch = left_padded_batch(ours.config.vocab_size, left_pads=(0, 2, 4), seq=7, seed=3)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    settings = dict(attention_mask=mask, pad_token_id=0, max_new_tokens=8, do_sample=False)
    with torch.no_grad():
        eos = int(ref.generate(ids, **settings, eos_token_id=None)[0, 9])
    assert_generate_matches(ref, ours, ids, **settings, eos_token_id=eos)
    assert_generate_matches(ref, ours, ids, **settings, eos_token_id=eos, num_beams=3, num_return_sequences=2)


def check_sequence_classification(ref, ours_class, tmp_path):
    """`ref` (a reference ForSequenceClassification with pad_token_id 0 and 3 labels) loaded here by the Auto class as
    `ours_class`: logits, loss and last hidden state as the reference's on a left-padded batch (each row read at its
    last token) and on the same batch padded on the right (read before its pads); checkpoints both ways; then, with
    no pad id, one row at a time only. Returns our model."""
    ours, _ = load_ours_from_reference(ref, workbench.AutoModelForSequenceClassification, tmp_path)
    assert type(ours) is ours_class
    labels = torch.tensor([0, 2, 1])
    left = left_padded_batch(ours.config.vocab_size)
    right = {key: value.flip(-1) for key, value in left.items()}
    for batch, position_ids in ((left, generate_position_ids(left["attention_mask"])), (right, None)):
        with torch.no_grad():
            expected = ref(**batch, position_ids=position_ids, labels=labels, output_hidden_states=True)
            got = ours(**batch, labels=labels, output_hidden_states=True)
        assert got.logits.shape == (3, 3)
        assert_close(got.logits, expected.logits, "logits")
        assert_close(got.loss, expected.loss, "loss")
        real = batch["attention_mask"].bool()
        assert_close(got.hidden_states[-1][real], expected.hidden_states[-1][real], "last hidden state")
    assert_reference_loads_ours(ours, ref, tmp_path)
    check_needs_a_pad_token_for_batches(ours)
    return ours


def check_needs_a_pad_token_for_batches(model) -> None:
    """Without config.pad_token_id a sequence classifier reads one row at its last position; a batch, whose rows may
    end in padding, is refused with an error that names the fix."""
    model.config.pad_token_id = None
    ids = torch.tensor([[5, 6, 7], [8, 9, 10]])
    with torch.no_grad():
        assert model(ids[:1]).logits.shape == (1, model.config.num_labels)
    with pytest.raises(ValueError, match="config.pad_token_id"):
        model(ids)


def check_text_generation_pipeline(ref, tmp_path, prompts=PROMPTS):
    """`ref` (a reference causal LM built with GPT2_TOKENIZER_IDS) saved with GPT-2's tokenizer files:
    pipeline("text-generation") loads it as the same architecture and continues each prompt, alone and in a
    left-padded batch, with the reference's greedy tokens; its text starts with the prompt. Returns the pipeline."""
    ref.save_pretrained(tmp_path)
    generator = pipeline("text-generation", model=gpt2_tokenizer_files(tmp_path))
    assert generator.model.architecture_name() == type(ref).__name__  # (a variant runs on its family's classes)
    out = generator(list(prompts), max_new_tokens=5, do_sample=False, return_tensors=True)
    for prompt, result in zip(prompts, out):
        ids = generator.tokenizer(prompt, return_tensors="pt").input_ids
        with torch.no_grad():
            expected = ref.generate(ids, max_new_tokens=5, do_sample=False, pad_token_id=50256)[0]
        assert result == [{"generated_token_ids": expected.tolist()}]
    batched = generator(list(prompts), max_new_tokens=5, do_sample=False, return_tensors=True, batch_size=2)
    assert batched == out  # left-padded
    text = generator(prompts[0], max_new_tokens=5, do_sample=False)[0]["generated_text"]
    assert text.startswith(prompts[0]) and len(text) > len(prompts[0])
    return generator


def check_training_loss(ref, ours) -> dict:
    """The causal LM loss of a batch whose padding is labelled -100, as the reference's. Returns the batch
    (input_ids and labels), for `parity.assert_gradient_checkpointing_matches`."""
    ids = left_padded_batch(ours.config.vocab_size)["input_ids"]
    labels = ids.masked_fill(ids == 0, -100)
    with torch.no_grad():
        assert_close(ours(ids, labels=labels).loss, ref(ids, labels=labels).loss, "loss")
    return {"input_ids": ids, "labels": labels}
