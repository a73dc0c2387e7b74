#!/usr/bin/env python3
"""Reference MFCCs for test/pipelines/audio-mfcc.test.ts.

An independent, deliberately plain implementation with numpy (its own FFT,
dense matrices, textbook formulas) of the front end described in
pipelines/audio/mfcc.ts: HTK mel scale and triangular filters linear in mel
(S. Young et al., "The HTK Book", ch. 5), orthonormal DCT-II, regression
deltas with replicated edge frames, per-utterance mean and variance
normalisation. It writes test/fixtures/mfcc/reference.json.

The input is a deterministic synthetic signal (tones, a chirp, an envelope and
LCG noise) that the test regenerates with the same formula, rounded to float32
on both sides.

Usage: python3 scripts/make-mfcc-fixture.py
"""
import json
import math
import os

import numpy as np

LOG_FLOOR = 1e-10
STD_FLOOR = 1e-8


def synthetic_signal(sample_rate, samples):
    """The test signal: sum of tones, a linear chirp, an envelope and uniform LCG noise."""
    state = 12345
    x = np.zeros(samples)
    for n in range(samples):
        state = (state * 1664525 + 1013904223) % 4294967296
        noise = state / 4294967296 * 2 - 1
        t = n / sample_rate
        envelope = 0.2 + 0.8 * math.sin(math.pi * n / samples)
        chirp_hz = 300 + 1200 * n / samples
        v = (
            0.5 * math.sin(2 * math.pi * 440 * t)
            + 0.25 * math.sin(2 * math.pi * chirp_hz * t)
            + 0.1 * math.sin(2 * math.pi * 2900 * t + 0.7)
        )
        x[n] = envelope * v + 0.05 * noise
    return x.astype(np.float32).astype(np.float64)


def hz_to_mel(hz):
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_filterbank(sample_rate, nfft, filters, low_hz, high_hz):
    edges = np.linspace(hz_to_mel(low_hz), hz_to_mel(high_hz), filters + 2)
    bin_mel = hz_to_mel(np.arange(nfft // 2 + 1) * sample_rate / nfft)
    weights = np.zeros((filters, nfft // 2 + 1))
    for m in range(filters):
        left, centre, right = edges[m], edges[m + 1], edges[m + 2]
        for k, mel in enumerate(bin_mel):
            if left < mel <= centre:
                weights[m, k] = (mel - left) / (centre - left)
            elif centre < mel < right:
                weights[m, k] = (right - mel) / (right - centre)
    return weights


def dct_matrix(coefficients, filters):
    d = np.zeros((coefficients, filters))
    for k in range(coefficients):
        scale = math.sqrt((1.0 if k == 0 else 2.0) / filters)
        for m in range(filters):
            d[k, m] = scale * math.cos(math.pi * k * (m + 0.5) / filters)
    return d


def regression_deltas(c, window):
    frames = c.shape[0]
    denominator = 2 * sum(n * n for n in range(1, window + 1))
    d = np.zeros_like(c)
    for t in range(frames):
        for n in range(1, window + 1):
            d[t] += n * (c[min(t + n, frames - 1)] - c[max(t - n, 0)])
    return d / denominator


def front_end(x, sample_rate, spec):
    win = round(sample_rate * spec["windowMs"] / 1000)
    hop = round(sample_rate * spec["hopMs"] / 1000)
    nfft = spec["fftSize"] or 2 ** math.ceil(math.log2(win))
    high = spec["highHz"] or sample_rate / 2
    a = spec["preEmphasis"]
    y = np.concatenate([[x[0]], x[1:] - a * x[:-1]])
    frames = 1 + (len(x) - win) // hop
    hamming = np.array([0.54 - 0.46 * math.cos(2 * math.pi * n / (win - 1)) for n in range(win)])
    framed = np.stack([y[t * hop:t * hop + win] * hamming for t in range(frames)])
    power = np.abs(np.fft.rfft(framed, n=nfft, axis=1)) ** 2
    energies = power @ mel_filterbank(sample_rate, nfft, spec["melFilters"], spec["lowHz"], high).T
    log_mel = np.log(np.maximum(energies, LOG_FLOOR))
    cepstra = log_mel @ dct_matrix(spec["coefficients"], spec["melFilters"]).T
    features = cepstra
    if spec["deltas"]:
        d1 = regression_deltas(cepstra, spec["deltaWindow"])
        d2 = regression_deltas(d1, spec["deltaWindow"])
        features = np.concatenate([cepstra, d1, d2], axis=1)
    if spec["normalize"]:
        mean = features.mean(axis=0)
        std = features.std(axis=0)
        features = (features - mean) / np.where(std > STD_FLOOR, std, 1.0)
    return log_mel, cepstra, features


def rows(matrix):
    return [[float(f"{v:.7g}") for v in row] for row in matrix]


CASES = [
    {
        "name": "default-8k",
        "signal": {"sampleRate": 8000, "samples": 2400},
        "spec": {"sampleRate": 8000, "preEmphasis": 0.97, "windowMs": 25, "hopMs": 10, "fftSize": 512, "melFilters": 26,
                 "coefficients": 13, "lowHz": 20, "highHz": 0, "deltas": True, "deltaWindow": 2, "normalize": True},
    },
    {
        "name": "wideband-16k",
        "signal": {"sampleRate": 16000, "samples": 4000},
        "spec": {"sampleRate": 16000, "preEmphasis": 0.95, "windowMs": 20, "hopMs": 10, "fftSize": 0, "melFilters": 40,
                 "coefficients": 13, "lowHz": 0, "highHz": 7600, "deltas": True, "deltaWindow": 3, "normalize": True},
    },
]


def main():
    out = {"description": "Reference MFCCs made by scripts/make-mfcc-fixture.py (numpy " + np.__version__ + ")", "cases": []}
    for case in CASES:
        x = synthetic_signal(case["signal"]["sampleRate"], case["signal"]["samples"])
        log_mel, cepstra, features = front_end(x, case["signal"]["sampleRate"], case["spec"])
        out["cases"].append({
            **case,
            "frames": features.shape[0],
            "logMel": rows(log_mel),
            "cepstra": rows(cepstra),
            "features": rows(features),
        })
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "test", "fixtures", "mfcc", "reference.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {[c['frames'] for c in out['cases']]} frames")


if __name__ == "__main__":
    main()
