"""What the window does right after it is first shown, on a worker thread: the image libraries and the colormap
module are imported (so neither start-up nor the first image open pays for them on the GUI thread), then the
model starts loading."""
from __future__ import annotations

from typing import Callable

from desktop import error_reporting
from desktop.workers import Job


def prepare_libraries(*, progress, cancel) -> list[str]:
    """Worker thread: numpy, the image readers and the colormap tables; returns the colormap names."""
    import desktop.image_adapter  # noqa: F401 - numpy, inference.windowing
    import desktop.qimage_convert  # noqa: F401
    from desktop import libraries

    libraries.image_stack()  # pydicom, Pillow, decoders
    from desktop.heatmap_layer import colormap_names, warm_colormaps

    warm_colormaps()  # matplotlib (1.5 s to import on 2 cores) here, not when the colour bar is first drawn
    return colormap_names()


def prepare_in_background(on_colormaps: Callable[[list[str]], None],
                          then: Callable[[], None] | None = None) -> Job:
    """Starts prepare_libraries; `on_colormaps(names)` when it is done, then `then()` (also after a failure)."""
    job = Job(prepare_libraries, name="prepare libraries")
    job.finished.connect(on_colormaps)
    job.failed.connect(lambda error: error_reporting.report_unexpected(error, "preparing libraries"))
    if then is not None:
        job.done.connect(then)
    return job.start()
