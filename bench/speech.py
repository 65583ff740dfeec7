"""Speech recognition speed: Whisper tiny.en transcribing 60 s of speech, workbench vs the reference, same process.

    .venv/bin/python bench/speech.py                  # median of 3 rounds
    .venv/bin/python bench/speech.py --repeats 1      # quick run
    .venv/bin/python bench/speech.py --threads 1      # one thread (a busy machine: compare this)

Weights: the packaged whisper-tiny.en (`openai/whisper-tiny.en`, converted offline from its CTranslate2 copy), the
same folder loaded by both libraries, fp32. Audio: spoken digits from data/fsdd (8 kHz recordings, resampled to
16 kHz here), one after another with a quarter of a second of silence between them, cut to exactly 60 s.

Rows (greedy decoding, as the pipeline's default):

    generate, window by window   the 60 s as two 30-second windows of log-mel features (the reference's extractor
                                 computes them once; both models get the same tensor), generate() on each in turn
    generate, batch of 2         the same two windows in one generate() call
    pipeline, chunk_length_s=30  audio in, text out: each library's pipeline, its own feature extractor, windows of
                                 30 s with the default 5-second strides (three windows), batch_size=2 on both

The text tokens of the generate rows (everything but the special tokens) must be identical; a difference stops the
run. The pipeline row is not like for like (workbench's pipeline follows v4.37's, the installed reference's joins the
windows its own way), so its texts may differ: the row shows each library's own pipeline time.
Columns: each library's median wall time, the ratio (reference time / workbench time: above 1, workbench is faster),
the same ratio of process CPU time (trust it when the machine is shared), and workbench's real-time factor (its
seconds of computing per second of audio: below 1 is faster than real time).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import torch  # noqa: E402

RATE = 16000
SECONDS = 60
CHECKPOINT = "openai/whisper-tiny.en"


def sixty_seconds_of_digits() -> np.ndarray:
    """fsdd recordings in a seeded random order (digits and speakers mixed: repeating one digit makes Whisper loop)
    at 16 kHz, with 0.25 s pauses."""
    from workbench import data
    from workbench.processing.audio_utils import load_audio

    pause = np.zeros(RATE // 4, dtype=np.float32)
    files = sorted(data.path("fsdd", "recordings").glob("*.wav"))
    pieces, total = [], 0
    for index in np.random.default_rng(0).permutation(len(files)):
        file = files[index]
        pieces += [load_audio(file, sampling_rate=RATE), pause]
        total += len(pieces[-2]) + len(pause)
        if total >= SECONDS * RATE:
            break
    return np.concatenate(pieces)[: SECONDS * RATE]


def timed(call, repeats: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeats`` calls after one warm-up, and the last call's result."""
    result = call()
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus), result


def text_tokens(sequences, eos_token_id: int) -> list[list[int]]:
    """Each row's tokens below <|endoftext|>: the text, without start, timestamp and padding tokens."""
    return [[token for token in row if token < eos_token_id] for row in torch.as_tensor(sequences).tolist()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import transformers

    import workbench
    from workbench import hub

    transformers.logging.set_verbosity_error()
    folder = str(Path(hub.resolve_file(CHECKPOINT, "config.json")).parent)
    ours = workbench.AutoModelForSpeechSeq2Seq.from_pretrained(folder).eval()
    reference = transformers.WhisperForConditionalGeneration.from_pretrained(folder).eval()
    eos = ours.generation_config.eos_token_id

    speech = sixty_seconds_of_digits()
    extractor = transformers.WhisperFeatureExtractor.from_pretrained(folder)
    windows = [speech[start : start + 30 * RATE] for start in range(0, len(speech), 30 * RATE)]
    features = extractor(windows, sampling_rate=RATE, return_tensors="pt").input_features  # (2, 80, 3000)

    def one_by_one(model):
        def call():
            with torch.no_grad():
                return sum((text_tokens(model.generate(window[None]), eos) for window in features), [])

        return call

    def batched(model):
        def call():
            with torch.no_grad():
                return text_tokens(model.generate(features), eos)

        return call

    def pipeline_of(library):
        pipe = library.pipeline("automatic-speech-recognition", model=folder)

        def call():
            return pipe(speech, chunk_length_s=30, batch_size=2)["text"]

        return call

    rows = {
        "generate, window by window": (one_by_one(ours), one_by_one(reference)),
        "generate, batch of 2": (batched(ours), batched(reference)),
        "pipeline, chunk_length_s=30": (pipeline_of(workbench), pipeline_of(transformers)),
    }
    print(
        f"torch {torch.__version__}, transformers {transformers.__version__}, {args.threads} thread(s), "
        f"median of {args.repeats}; {len(speech) / RATE:.0f} s of speech, {CHECKPOINT} fp32"
    )
    print(f"{'case':<29} {'workbench s':>11} {'reference s':>11} {'ratio':>6} {'CPU ratio':>9} {'RTF':>6}  same")
    for name, (run_ours, run_reference) in rows.items():
        ours_wall, ours_cpu, ours_out = timed(run_ours, args.repeats)
        reference_wall, reference_cpu, reference_out = timed(run_reference, args.repeats)
        same = ours_out == reference_out
        print(
            f"{name:<29} {ours_wall:11.2f} {reference_wall:11.2f} {reference_wall / ours_wall:6.2f} "
            f"{reference_cpu / ours_cpu:9.2f} {ours_wall / SECONDS:6.3f}  {same}"
        )
        if not same and not name.startswith("pipeline"):
            raise SystemExit(f"{name}: the outputs differ.\n  workbench: {ours_out}\n  reference: {reference_out}")
    print(
        "The pipeline row is not like for like: workbench's pipeline joins the windows as v4.37's does (its answers "
        "equal v4.37's, tests/test_audio_pipelines.py); the installed reference's pipeline joins them its own way, so "
        "on this audio (a list of digits, where Whisper tends to loop) the texts differ. Read its ratio as the time of "
        "each library's own pipeline, not as a speed-up of the same work."
    )
    tokens = sum(len(row) for row in batched(ours)())
    print(f"text tokens of the 60 s: {tokens}; text: {pipeline_of(workbench)()[:160]!r}...")


if __name__ == "__main__":
    main()
