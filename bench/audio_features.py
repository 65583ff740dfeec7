"""Audio feature extraction speed: workbench's extractors vs the reference's, same process, same inputs.

    .venv/bin/python bench/audio_features.py                 # median of 5 rounds
    .venv/bin/python bench/audio_features.py --threads 1     # one thread (a busy machine: compare this)

Inputs: real speech, the spoken digits resampled here to 16 kHz (0.3-0.9 s each), and a 30-second clip
assembled from them. Cases: Whisper's log-mel features of one digit (the speech pipeline's call: padded to 30
s), of a batch of 16 digits, and of the 30-second clip; Wav2Vec2's normalized samples of a batch of 16, padded.
Outputs must agree (Whisper within 1e-5, Wav2Vec2 exactly). Ratios are reference time over workbench time
(> 1: workbench is faster). The reference's Whisper extractor computes every frame of the 30-second window;
workbench skips the frames that see only the padding's silence (zeros either way), which is most of them for a
short recording.
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


def speech(count: int) -> list[np.ndarray]:
    from workbench import data
    from workbench.processing.audio_utils import load_audio

    files = sorted(data.path("fsdd", "recordings").glob("*.wav"))[:: 3000 // count][:count]
    return [load_audio(file, sampling_rate=16000) for file in files]


def median_seconds(call, repeats: int) -> float:
    call()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    import transformers

    from workbench.processing.feature_extraction import Wav2Vec2FeatureExtractor, WhisperFeatureExtractor

    transformers.logging.set_verbosity_error()
    digits = speech(16)
    clip = np.concatenate(digits * 4)[: 30 * 16000]
    cases = {
        "whisper, one digit": (WhisperFeatureExtractor, digits[0], {}),
        "whisper, 16 digits": (WhisperFeatureExtractor, digits, {}),
        "whisper, 30 s of speech": (WhisperFeatureExtractor, clip, {}),
        "wav2vec2, 16 digits padded": (
            Wav2Vec2FeatureExtractor,
            digits,
            {"padding": True, "return_attention_mask": True},
        ),
    }
    print(f"torch {torch.__version__}, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'case':<28} {'workbench ms':>13} {'reference ms':>13} {'ratio':>7}")
    for name, (ours_class, inputs, options) in cases.items():
        ours, reference = ours_class(), getattr(transformers, ours_class.__name__)()
        key = ours.model_input_names[0]

        def run_ours():
            return ours(inputs, sampling_rate=16000, return_tensors="pt", **options)[key]

        def run_reference():
            return reference(inputs, sampling_rate=16000, return_tensors="pt", **options)[key]

        torch.testing.assert_close(run_ours(), run_reference(), atol=1e-5, rtol=0)
        ours_s, reference_s = median_seconds(run_ours, args.repeats), median_seconds(run_reference, args.repeats)
        print(f"{name:<28} {ours_s * 1e3:13.1f} {reference_s * 1e3:13.1f} {reference_s / ours_s:7.2f}")


if __name__ == "__main__":
    main()
