"""Encode every patch of a large image in bounded memory: throughput and peak memory.

    /usr/bin/time -v python benchmarks/bench_encode_large.py              # 4096 x 4096
    python benchmarks/bench_encode_large.py --size 1024 --window 32 --step 8

A square-lattice image of ``--size`` pixels is generated (a tiled 512 px lattice); a
shift-VAE for ``--window`` px patches is trained for one epoch on 2000 patches (the
weights do not change the cost); then all patches on the ``--step`` grid are streamed
through ``iter_patch_batches`` and ``model.encode`` one batch at a time, so memory is one
scaled copy of the image, one batch and the encodings, never all patches (260,000 patches
of 32 x 32 would be 1 GiB).  Prints patches/s and the peak resident memory
(``ru_maxrss``); ``/usr/bin/time -v`` reports the same figure as "Maximum resident set
size".
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

import shiftvae as sv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--step", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tic = time.perf_counter()
    # a 512 px tile with a whole number of 16 px periods, repeated: generating the full
    # size atom by atom would take far longer than encoding it
    tile = sv.synthetic.lattice_image(size=512, period=16.0, seed=0)
    reps = -(-args.size // 512)
    image = np.tile(tile, (reps, reps))[: args.size, : args.size]
    made = time.perf_counter() - tic
    train, _ = sv.synthetic.lattice_patches(n=2000, window=args.window, period=16.0, seed=0)
    model = sv.ShiftVAE((args.window, args.window), seed=0)
    model.fit(train, epochs=1, progress=False)

    tic = time.perf_counter()
    n = 0
    shifts = []
    for _, batch in sv.iter_patch_batches(image, args.window, args.step, args.batch_size):
        enc = model.encode(batch, batch_size=args.batch_size)
        shifts.append(enc.shift_mean.astype(np.float32))
        n += len(batch)
    seconds = time.perf_counter() - tic
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"image {args.size} x {args.size} (generated in {made:.1f} s), window {args.window}, "
        f"step {args.step}: {n} patches"
    )
    print(f"encoded in {seconds:.1f} s: {n / seconds:,.0f} patches/s, {args.threads} threads")
    print(
        f"peak resident memory {peak_mib:,.0f} MiB (all patches at once would be "
        f"{n * args.window**2 * 4 / 2**20:,.0f} MiB)"
    )


if __name__ == "__main__":
    main()
