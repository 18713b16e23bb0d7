"""numpy arrays <-> QImage. QImage (unlike QPixmap) may be built on a worker thread."""
from __future__ import annotations

import numpy as np
from PySide6.QtGui import QImage


def gray01_to_qimage(display01: np.ndarray) -> QImage:
    """float [0,1] HxW (1.0 = white) -> 8-bit grayscale QImage (owns a copy of the data)."""
    gray = np.ascontiguousarray(np.clip(display01 * 255.0 + 0.5, 0, 255).astype(np.uint8))
    return gray8_to_qimage(gray)


def gray8_to_qimage(gray: np.ndarray) -> QImage:
    gray = np.ascontiguousarray(gray, dtype=np.uint8)
    height, width = gray.shape
    image = QImage(gray.data, width, height, gray.strides[0], QImage.Format.Format_Grayscale8)
    return image.copy()  # detach from the numpy buffer, which Python may free


def rgba8_to_qimage(rgba: np.ndarray) -> QImage:
    rgba = np.ascontiguousarray(rgba, dtype=np.uint8)
    height, width, channels = rgba.shape
    if channels == 3:
        image = QImage(rgba.data, width, height, rgba.strides[0], QImage.Format.Format_RGB888)
    else:
        image = QImage(rgba.data, width, height, rgba.strides[0], QImage.Format.Format_RGBA8888)
    return image.copy()


def qimage_to_rgb_array(image: QImage) -> np.ndarray:
    """QImage -> HxWx3 uint8 (for tests and exports)."""
    converted = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = converted.width(), converted.height()
    buffer = np.frombuffer(converted.constBits(), dtype=np.uint8, count=converted.sizeInBytes())
    rows = buffer.reshape(height, converted.bytesPerLine())
    return rows[:, : width * 3].reshape(height, width, 3).copy()
