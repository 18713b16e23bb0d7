"""The AI panel: model identity, the result (call, probability bars, time, device), the operating threshold with
the model card's sensitivity/specificity nearby, and the heatmap controls. A view only: it renders the AI
session's state (desktop.ai_session, through desktop.ai_display) and emits what the user asks for; it decides
no call and keeps no result."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSlider,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QHeaderView,
    QAbstractItemView,
)

from desktop import card_facts
from desktop import prediction_adapter as pa
from desktop.ai_state import OperatingPoint, ViewportAi
from desktop.theme import NEAR_THRESHOLD
from inference.model_card import ModelCard
from inference.vocabulary import CAM_METHOD_TITLES

SLIDER_STEPS = 1000
TABLE_COLUMNS = ("Threshold", "Sens.", "Spec.", "Measured on")  # short: the set's name needs the width
TABLE_COLUMN_TIPS = ("Operating threshold on the positive label's probability", "Sensitivity at that threshold",
                     "Specificity at that threshold", "The set of films the rates were measured on")


OOD_BANNER_STYLE = "color: #ffffff; background: #b00020; padding: 4px; font-weight: bold;"
NOTE_BANNER_STYLE = f"color: #1a1200; background: {NEAR_THRESHOLD}; padding: 4px;"


def _banner(object_name: str, accessible_name: str, style: str) -> QLabel:
    """A hidden, wrapping label shown over the result when something qualifies it."""
    label = QLabel("")
    label.setObjectName(object_name)
    label.setWordWrap(True)
    label.setStyleSheet(f"QLabel#{object_name} {{ {style} }}")
    label.setAccessibleName(accessible_name)
    label.hide()
    return label


class AiPanel(QWidget):
    run_requested = Signal()
    auto_run_toggled = Signal(bool)
    threshold_requested = Signal(float)  # the user moved the threshold
    threshold_reset_requested = Signal()  # back to the model card's threshold
    heatmap_toggled = Signal(bool)
    opacity_changed = Signal(float)
    colormap_changed = Signal(str)
    cam_method_changed = Signal(str)
    model_card_requested = Signal()

    def __init__(self, colormaps: list[str], parent=None):
        super().__init__(parent)
        self.setAccessibleName("AI panel")
        self.setMinimumWidth(280)
        self._card = ModelCard({})
        self._threshold: float | None = None  # the threshold on screen (the session's operating point)
        self._bars: dict[str, QProgressBar] = {}

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)

        # model
        model_box = QGroupBox("Model")
        model_form = QFormLayout(model_box)
        self.model_label = QLabel("No model installed")
        self.model_label.setWordWrap(True)
        self.model_label.setAccessibleName("Model name and version")
        self.device_label = QLabel("—")
        self.device_label.setAccessibleName("Compute device")
        self.card_button = QPushButton("Model card…")
        self.card_button.setAccessibleName("Show model card")
        self.card_button.setEnabled(False)
        self.card_button.clicked.connect(self.model_card_requested)
        self.calibration_label = QLabel("")
        self.calibration_label.setObjectName("siteCalibration")
        self.calibration_label.setWordWrap(True)
        self.calibration_label.setAccessibleName("Site calibration")
        self.calibration_label.hide()
        model_form.addRow("Model", self.model_label)
        model_form.addRow(self.calibration_label)
        model_form.addRow("Device", self.device_label)
        model_form.addRow(self.card_button)
        layout.addWidget(model_box)

        # result
        result_box = QGroupBox("Result")
        result_layout = QVBoxLayout(result_box)
        run_row = QHBoxLayout()
        self.run_button = QPushButton("Analyze")
        self.run_button.setAccessibleName("Run AI analysis on this image")
        self.run_button.clicked.connect(self.run_requested)
        self.auto_run_check = QCheckBox("Auto-run")
        self.auto_run_check.setAccessibleName("Run AI automatically when an image opens")
        self.auto_run_check.toggled.connect(self.auto_run_toggled)
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.auto_run_check)
        result_layout.addLayout(run_row)
        self.call_label = QLabel("—")
        self.call_label.setObjectName("callLabel")
        self.call_label.setAccessibleName("Model call")
        self.call_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.call_label.setWordWrap(True)
        result_layout.addWidget(self.call_label)
        self.ood_label = _banner("oodWarning", "Out-of-distribution warning", OOD_BANNER_STYLE)
        result_layout.addWidget(self.ood_label)
        # the call stands, but the same film re-saved could get the other one
        self.near_label = _banner("nearThreshold", "Call near the threshold", NOTE_BANNER_STYLE)
        result_layout.addWidget(self.near_label)
        # what qualifies the result (prediction.notices), one per line
        self.notices_label = _banner("resultNotices", "Notices about this result", NOTE_BANNER_STYLE)
        result_layout.addWidget(self.notices_label)
        self.bars_layout = QVBoxLayout()
        result_layout.addLayout(self.bars_layout)
        self.status_label = QLabel("")
        self.status_label.setWordWrap(True)
        self.status_label.setAccessibleName("AI status")
        self.status_label.setObjectName("aiStatus")
        result_layout.addWidget(self.status_label)
        self.time_label = QLabel("")
        self.time_label.setAccessibleName("Time taken")
        result_layout.addWidget(self.time_label)
        layout.addWidget(result_box)

        # threshold
        threshold_box = QGroupBox("Operating threshold")
        threshold_layout = QVBoxLayout(threshold_box)
        slider_row = QHBoxLayout()
        self.threshold_slider = QSlider(Qt.Orientation.Horizontal)
        self.threshold_slider.setRange(0, SLIDER_STEPS)
        self.threshold_slider.setAccessibleName("Operating threshold")
        self.threshold_slider.valueChanged.connect(self._on_slider)
        self.threshold_value = QLabel("—")
        self.threshold_value.setMinimumWidth(44)
        self.threshold_reset = QPushButton("Card")
        self.threshold_reset.setToolTip("Back to the model card's operating threshold")
        self.threshold_reset.setAccessibleName("Reset threshold to the model card's value")
        self.threshold_reset.clicked.connect(self.reset_threshold)
        slider_row.addWidget(self.threshold_slider, 1)
        slider_row.addWidget(self.threshold_value)
        slider_row.addWidget(self.threshold_reset)
        threshold_layout.addLayout(slider_row)
        self.threshold_table = QTableWidget(0, len(TABLE_COLUMNS))
        self.threshold_table.setHorizontalHeaderLabels(list(TABLE_COLUMNS))
        for column, tip in enumerate(TABLE_COLUMN_TIPS):
            self.threshold_table.horizontalHeaderItem(column).setToolTip(tip)
        self.threshold_table.verticalHeader().setVisible(False)
        header = self.threshold_table.horizontalHeader()
        # the numbers as wide as they need, the set's name takes the rest and wraps: every column stays in view
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(len(TABLE_COLUMNS) - 1, QHeaderView.ResizeMode.Stretch)
        self.threshold_table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.threshold_table.setWordWrap(True)
        self.threshold_table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.threshold_table.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.threshold_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.threshold_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.threshold_table.setAccessibleName("Sensitivity and specificity near the threshold")
        last = len(TABLE_COLUMNS) - 1
        header.sectionResized.connect(lambda column, _old, _new: column == last and self._fit_table_height())
        threshold_layout.addWidget(self.threshold_table)
        self.threshold_note = QLabel("")
        self.threshold_note.setWordWrap(True)
        self.threshold_note.setAccessibleName("Where the sensitivity and specificity were measured")
        threshold_layout.addWidget(self.threshold_note)
        self.validation_label = QLabel("")
        self.validation_label.setWordWrap(True)
        self.validation_label.setAccessibleName("External validation and site calibration")
        self.validation_label.setObjectName("validation")
        threshold_layout.addWidget(self.validation_label)
        layout.addWidget(threshold_box)

        # heatmap
        heatmap_box = QGroupBox("Heatmap")
        heatmap_form = QFormLayout(heatmap_box)
        self.heatmap_check = QCheckBox("Show heatmap (H)")
        self.heatmap_check.setAccessibleName("Show heatmap overlay")
        self.heatmap_check.toggled.connect(self.heatmap_toggled)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setAccessibleName("Heatmap opacity")
        self.opacity_slider.valueChanged.connect(lambda v: self.opacity_changed.emit(v / 100.0))
        self.colormap_combo = QComboBox()
        self.colormap_combo.setAccessibleName("Heatmap colormap")
        self.colormap_combo.addItems(colormaps)
        self.colormap_combo.currentTextChanged.connect(self.colormap_changed)
        self.cam_combo = QComboBox()
        self.cam_combo.setAccessibleName("Class activation map method")
        for key, title in CAM_METHOD_TITLES.items():
            self.cam_combo.addItem(title, key)
        self.cam_combo.currentIndexChanged.connect(lambda _: self.cam_method_changed.emit(self.cam_method()))
        from desktop.colour_bar import ColourBar

        self.colour_bar = ColourBar()
        heatmap_form.addRow(self.heatmap_check)
        heatmap_form.addRow("Opacity", self.opacity_slider)
        heatmap_form.addRow("Colormap", self.colormap_combo)
        heatmap_form.addRow("Method", self.cam_combo)
        heatmap_form.addRow(self.colour_bar)
        layout.addWidget(heatmap_box)

        self.notice_label = QLabel("Research use only — not for diagnostic use.")
        self.notice_label.setObjectName("notice")
        self.notice_label.setWordWrap(True)
        layout.addWidget(self.notice_label)
        layout.addStretch(1)
        self.set_model(None)

    # -- settings-backed controls --------------------------------------------------------------------------------
    def set_controls(self, *, auto_run: bool, heatmap_visible: bool, opacity: float, colormap: str,
                     cam_method: str) -> None:
        for widget in (self.auto_run_check, self.heatmap_check, self.opacity_slider, self.colormap_combo,
                       self.cam_combo):
            widget.blockSignals(True)
        self.auto_run_check.setChecked(auto_run)
        self.heatmap_check.setChecked(heatmap_visible)
        self.opacity_slider.setValue(round(opacity * 100))
        index = self.colormap_combo.findText(colormap)
        if index >= 0:
            self.colormap_combo.setCurrentIndex(index)
        cam_index = self.cam_combo.findData(cam_method)
        self.cam_combo.setCurrentIndex(max(0, cam_index))
        for widget in (self.auto_run_check, self.heatmap_check, self.opacity_slider, self.colormap_combo,
                       self.cam_combo):
            widget.blockSignals(False)

    def set_colormaps(self, names: list[str], current: str) -> None:
        self.colormap_combo.blockSignals(True)
        self.colormap_combo.clear()
        self.colormap_combo.addItems(names)
        self.colormap_combo.setCurrentIndex(max(0, self.colormap_combo.findText(current)))
        self.colormap_combo.blockSignals(False)

    def cam_method(self) -> str:
        return str(self.cam_combo.currentData())

    def show_heatmap_visible(self, visible: bool) -> None:
        if self.heatmap_check.isChecked() != visible:
            self.heatmap_check.blockSignals(True)
            self.heatmap_check.setChecked(visible)
            self.heatmap_check.blockSignals(False)

    # -- model --------------------------------------------------------------------------------------------------
    def set_model_loading(self, name: str) -> None:
        self.model_label.setText(f"Loading {name}…")
        self.card_button.setEnabled(False)
        self.run_button.setEnabled(False)

    def set_model_failed(self, message: str) -> None:
        self.model_label.setText("Model could not be loaded")
        self.status_label.setText(message)
        self.run_button.setEnabled(False)

    def set_model(self, card: ModelCard | None, device: str = "", threshold: float | None = None) -> None:
        """Shows the model and its threshold table at `threshold` (default: the card's)."""
        self._card = card if card is not None else ModelCard({})
        self.clear_result()
        if card is None:
            self.calibration_label.hide()
            self.validation_label.setText("")
            self.model_label.setText("No AI model installed. Add a model bundle in Settings.")
            self.device_label.setText("—")
            self.card_button.setEnabled(False)
            self.run_button.setEnabled(False)
            self._set_threshold_enabled(False)
            return
        self.model_label.setText(card.title)
        badge = card_facts.site_badge(card)
        self.calibration_label.setVisible(bool(badge))
        self.calibration_label.setText(badge)
        self.calibration_label.setToolTip("\n".join(card_facts.site_calibration_lines(card)))
        self.validation_label.setText("\n".join(card_facts.external_lines(card)
                                                + card_facts.site_calibration_lines(card)[1:]))
        self.device_label.setText(device)
        self.card_button.setEnabled(True)
        self.run_button.setEnabled(True)
        binary = card.positive_label is not None and card.threshold is not None
        self._set_threshold_enabled(binary)
        self.show_threshold((threshold if threshold is not None else card.threshold) if binary else None)

    def _set_threshold_enabled(self, enabled: bool) -> None:
        for widget in (self.threshold_slider, self.threshold_reset, self.threshold_table):
            widget.setEnabled(enabled)

    # -- threshold ------------------------------------------------------------------------------------------------
    @property
    def threshold(self) -> float | None:
        """The threshold on screen."""
        return self._threshold

    def set_threshold(self, value: float) -> None:
        """The user asks for this threshold (as the slider does)."""
        self.threshold_requested.emit(float(value))

    def reset_threshold(self) -> None:
        """The user asks for the model card's threshold."""
        self.threshold_reset_requested.emit()

    def _on_slider(self, value: int) -> None:
        threshold = value / SLIDER_STEPS
        if self._threshold is None or abs(threshold - self._threshold) < 0.5 / SLIDER_STEPS:
            return
        self.threshold_requested.emit(threshold)

    def show_operating_point(self, operating_point: OperatingPoint) -> None:
        self.show_threshold(operating_point.threshold)

    def show_threshold(self, threshold: float | None) -> None:
        """The slider, the value and the card's rates near it (None: a multi-class model's most probable label)."""
        self._threshold = threshold
        if threshold is None:
            self.threshold_value.setText("argmax")
            self.threshold_table.setRowCount(0)
            self._fit_table_height()
            self.threshold_note.setText("Multi-class model: the call is the most probable label.")
            return
        self.threshold_slider.blockSignals(True)
        self.threshold_slider.setValue(round(threshold * SLIDER_STEPS))
        self.threshold_slider.blockSignals(False)
        self.threshold_value.setText(f"{threshold:.3f}")
        rows = card_facts.table_rows(self._card, threshold)
        self.threshold_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            texts = (pa.number(row.threshold), pa.number(row.sensitivity), pa.number(row.specificity),
                     row.measured.title)
            cis = (None, row.sensitivity_ci95, row.specificity_ci95, None)
            for c, text in enumerate(texts):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                tip = row.measured.description
                if cis[c]:
                    tip = f"95% CI {pa.number(cis[c][0])}-{pa.number(cis[c][1])} on {tip}"
                item.setToolTip(tip)
                self.threshold_table.setItem(r, c, item)
        self._fit_table_height()
        if not rows:
            note = "The model card gives no sensitivity/specificity table."
        else:
            note = card_facts.operating_point_text(self._card, threshold)
        self.threshold_note.setText(note)

    def _fit_table_height(self) -> None:
        """Tall enough for every row (the panel scrolls, the table does not); again when the set's column changes
        width, which changes its wrapping."""
        table = self.threshold_table
        table.resizeRowsToContents()
        rows = sum(table.rowHeight(r) for r in range(table.rowCount()))
        table.setFixedHeight(table.horizontalHeader().height() + rows + 2 * table.frameWidth())

    # -- result ---------------------------------------------------------------------------------------------------
    def show_state(self, state: ViewportAi) -> None:
        """The active viewport's AI state: its result, else what it waits for or why it has none."""
        if state.prediction is not None and state.call is not None:
            self._show_result(state)
        else:
            self.clear_result(state.status)

    def clear_result(self, status: str = "") -> None:
        for bar in self._bars.values():
            bar.setParent(None)
        self._bars.clear()
        self.call_label.setText("—")
        self.call_label.setProperty("call", "none")
        self.call_label.setProperty("near", False)
        self.call_label.setAccessibleDescription("")
        self.call_label.setToolTip("")
        self._restyle(self.call_label)
        self.time_label.setText("")
        self.ood_label.setText("")
        self.ood_label.setAccessibleDescription("")
        self.ood_label.hide()
        self.notices_label.setText("")
        self.notices_label.hide()
        self.near_label.setText("")
        self.near_label.hide()
        self.status_label.setText(status)

    def _show_result(self, state: ViewportAi) -> None:
        prediction, call = state.prediction, state.call
        self.clear_result()
        if prediction.notices:
            self.notices_label.setText("\n".join(f"Note: {notice}" for notice in prediction.notices))
            self.notices_label.show()
        positive = prediction.positive_label or self._card.positive_label
        applicable = not call.withheld
        for label, probability in prediction.probabilities.items():
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(probability * 1000))
            bar.setAccessibleName(f"Probability of {label}")
            bar.setProperty("positive", label == positive)
            text = f"{label}  {probability * 100:.1f}%"
            bar.setFormat(text if applicable else f"{text} — not applicable")
            bar.setProperty("applicable", applicable)
            bar.setEnabled(applicable)
            bar.setAccessibleDescription("" if applicable else pa.NOT_APPLICABLE_EXPLANATION)
            self.bars_layout.addWidget(bar)
            self._restyle(bar)
            self._bars[label] = bar
        self.time_label.setText(f"{prediction.total_time_ms:.0f} ms on {prediction.device}")
        warning = pa.ood_warning_text(prediction)
        if warning:
            self.ood_label.setText(f"⚠ {warning}")
            self.ood_label.setAccessibleDescription(warning)
            self.ood_label.show()
        if call.withheld:
            state_name, description = "withheld", pa.NO_CALL_EXPLANATION
        else:
            state_name = "positive" if positive is not None and call.label == positive else "negative"
            description = pa.SHOWN_ANYWAY_EXPLANATION if call.shown_anyway else ""
        near = pa.near_threshold_text(prediction, call, self._threshold)
        if near:
            self.near_label.setText(near)
            self.near_label.show()
            description = " ".join(text for text in (description, near) if text)
        self.call_label.setText(pa.call_text(call))
        self.call_label.setProperty("call", state_name)
        self.call_label.setProperty("near", bool(near))
        self.call_label.setAccessibleDescription(description)
        self.call_label.setToolTip(description)
        self._restyle(self.call_label)

    @staticmethod
    def _restyle(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)
