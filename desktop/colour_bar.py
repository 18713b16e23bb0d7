"""The heatmap colour bar: the colormap from low (left) to high (right) attention, with its end labels."""
from __future__ import annotations

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor, QPainter, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget



class ColourBar(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAccessibleName("Heatmap colour bar")
        self.setMinimumHeight(34)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._lut = None
        self._pixmap: QPixmap | None = None

    def set_lut(self, lut_rgb) -> None:
        """lut_rgb: 256x3 uint8 numpy array, index 0 = no attention."""
        import numpy as np

        from desktop.qimage_convert import rgba8_to_qimage

        self._lut = np.asarray(lut_rgb, dtype=np.uint8)[:, :3]
        strip = np.repeat(self._lut[np.newaxis, :, :], 2, axis=0)
        self._pixmap = QPixmap.fromImage(rgba8_to_qimage(strip))
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        bar = QRect(4, 2, self.width() - 8, 14)
        if self._pixmap is not None:
            painter.drawPixmap(bar, self._pixmap)
        painter.setPen(QColor(self.palette().text().color()))
        painter.drawRect(bar.adjusted(0, 0, -1, -1))
        text_rect = QRect(4, 18, self.width() - 8, self.height() - 18)
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, "low")
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, "model attention")
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, "high")
