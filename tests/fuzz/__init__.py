"""A seeded, bounded fuzzer for XRayView's DICOM loader: `python -m tests.fuzz [--count N] [--seed S]`.

Mutates the project's sample DICOMs (resources/samples, plus 16-bit RLE / JPEG-LS / JPEG 2000 seeds derived from
the same pixels) with byte flips, truncations, element edits (sizes, bit depths, photometric, window, rescale,
spacing, transfer syntax; NaN/Inf/huge/negative/garbage values; removals), codestream edits per transfer syntax
(RLE header and segments, JPEG / JPEG-LS marker segments, JPEG 2000 SIZ/COD/QCD/SOT fields) and trailing padding,
then runs `inference.image_io.load_image(path).render()` on each file in worker processes with a memory cap and a
per-file timeout. Prints the outcome counts as one JSON object; exits 1 when any file gave an untyped exception, a
non-finite or out-of-range rendering, a hang or a crash of the loading process. Typed `ImageLoadError`s (including
contained decoder crashes and timeouts) are the expected outcome for damaged files.

    python -m tests.fuzz --count 300 --seed 17          # the small run `make test` includes (tests/test_fuzz.py)
    nice python -m tests.fuzz --count 10000 --seed 1     # the long run (docs/architecture.md)
"""
