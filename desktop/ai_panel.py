"""The AI panel: model identity, the result (call, probability bars, time, device), the operating threshold with
the model card's sensitivity/specificity nearby, and the heatmap controls. A view only: it emits what the user
asked for and main_window wires it."""
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
from inference.results import Call, Prediction
from inference.vocabulary import CAM_METHOD_TITLES
SLIDER_STEPS = 1000
TABLE_COLUMNS = (("Threshold", "threshold"), ("Sensitivity", "sensitivity"), ("Specificity", "specificity"),
                 ("Measured on", "set"))


class AiPanel(QWidget):
    run_requested = Signal()
    auto_run_toggled = Signal(bool)
    threshold_changed = Signal(float)
    heatmap_toggled = Signal(bool)
    opacity_changed = Signal(float)
    colormap_changed = Signal(str)
    cam_method_changed = Signal(str)
    model_card_requested = Signal()

    def __init__(self, colormaps: list[str], parent=None):
        super().__init__(parent)
        self.setAccessibleName("AI panel")
        self.setMinimumWidth(280)
        self._card: dict = {}
        self._probs: dict[str, float] = {}
        self._prediction: Prediction | None = None
        self._show_anyway = False  # the expert setting: the call even when the OOD guard warns, marked as such
        self._positive: str | None = None
        self._card_threshold: float | None = None
        self._threshold: float | None = None
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
        self.ood_label = QLabel("")
        self.ood_label.setObjectName("oodWarning")
        self.ood_label.setWordWrap(True)
        self.ood_label.setStyleSheet("QLabel#oodWarning { color: #ffffff; background: #b00020; padding: 4px;"
                                     " font-weight: bold; }")
        self.ood_label.setAccessibleName("Out-of-distribution warning")
        self.ood_label.hide()
        result_layout.addWidget(self.ood_label)
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
        self.threshold_table.setHorizontalHeaderLabels([title for title, _ in TABLE_COLUMNS])
        self.threshold_table.verticalHeader().setVisible(False)
        self.threshold_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.threshold_table.horizontalHeader().setStretchLastSection(True)
        self.threshold_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.threshold_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.threshold_table.setAccessibleName("Sensitivity and specificity near the threshold")
        self.threshold_table.setMaximumHeight(150)
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

    def set_show_call_anyway(self, on: bool) -> None:
        """The expert setting (AppSettings.show_call_when_ood); the result on screen is redrawn with it."""
        self._show_anyway = bool(on)
        if self._prediction is not None:
            self._show_call()

    # -- model --------------------------------------------------------------------------------------------------
    def set_model_loading(self, name: str) -> None:
        self.model_label.setText(f"Loading {name}…")
        self.card_button.setEnabled(False)
        self.run_button.setEnabled(False)

    def set_model_failed(self, message: str) -> None:
        self.model_label.setText("Model could not be loaded")
        self.status_label.setText(message)
        self.run_button.setEnabled(False)

    def set_model(self, card: dict | None, device: str = "", threshold_override: float | None = None) -> None:
        self._card = card or {}
        self.clear_result()
        if not card:
            self.calibration_label.hide()
            self.validation_label.setText("")
            self.model_label.setText("No AI model installed. Add a model bundle in Settings.")
            self.device_label.setText("—")
            self.card_button.setEnabled(False)
            self.run_button.setEnabled(False)
            self._set_threshold_enabled(False)
            return
        self.model_label.setText(pa.model_title(card))
        badge = card_facts.site_badge(card)
        self.calibration_label.setVisible(bool(badge))
        self.calibration_label.setText(badge)
        self.calibration_label.setToolTip("\n".join(card_facts.site_calibration_lines(card)))
        self.validation_label.setText("\n".join(card_facts.external_lines(card)
                                                + card_facts.site_calibration_lines(card)[1:]))
        self.device_label.setText(device)
        self.card_button.setEnabled(True)
        self.run_button.setEnabled(True)
        self._positive = card.get("positive_label")
        self._card_threshold = card.get("threshold")
        binary = self._positive is not None and self._card_threshold is not None
        self._set_threshold_enabled(binary)
        if binary:
            self.set_threshold(threshold_override if threshold_override is not None else float(self._card_threshold))
        else:
            self._threshold = None
            self.threshold_value.setText("argmax")
            self.threshold_note.setText("Multi-class model: the call is the most probable label.")

    def _set_threshold_enabled(self, enabled: bool) -> None:
        for widget in (self.threshold_slider, self.threshold_reset, self.threshold_table):
            widget.setEnabled(enabled)

    # -- threshold ------------------------------------------------------------------------------------------------
    @property
    def threshold(self) -> float | None:
        return self._threshold

    def set_threshold(self, value: float) -> None:
        self.threshold_slider.setValue(round(float(value) * SLIDER_STEPS))
        self._apply_threshold(float(value))

    def reset_threshold(self) -> None:
        if self._card_threshold is not None:
            self.set_threshold(float(self._card_threshold))
            self.threshold_changed.emit(float(self._card_threshold))

    def _on_slider(self, value: int) -> None:
        if self._card_threshold is None:
            return
        threshold = value / SLIDER_STEPS
        if self._threshold is not None and abs(threshold - self._threshold) < 0.5 / SLIDER_STEPS:
            return
        self._apply_threshold(threshold)
        self.threshold_changed.emit(threshold)

    def _apply_threshold(self, threshold: float) -> None:
        self._threshold = threshold
        self.threshold_value.setText(f"{threshold:.3f}")
        measured = card_facts.threshold_table_set(self._card)
        rows = [dict(row, set=measured) for row in pa.nearby_thresholds(self._card, threshold)]
        rows += card_facts.external_rows(self._card)
        self.threshold_table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, (_, key) in enumerate(TABLE_COLUMNS):
                text = row["set"].title if key == "set" else pa.number(row[key])
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                ci = row.get(f"{key}_ci95")
                tip = row["set"].description
                if ci:
                    tip = f"95% CI {pa.number(ci[0])}-{pa.number(ci[1])} on {tip}"
                item.setToolTip(tip)
                self.threshold_table.setItem(r, c, item)
        if not rows:
            note = "The model card gives no sensitivity/specificity table."
        else:
            note = card_facts.operating_point_text(self._card, threshold)
        self.threshold_note.setText(note)
        self._show_call()

    # -- result ---------------------------------------------------------------------------------------------------
    def clear_result(self, status: str = "") -> None:
        self._probs = {}
        self._prediction = None
        for bar in self._bars.values():
            bar.setParent(None)
        self._bars.clear()
        self.call_label.setText("—")
        self.call_label.setProperty("call", "none")
        self.call_label.setAccessibleDescription("")
        self.call_label.setToolTip("")
        self._restyle(self.call_label)
        self.time_label.setText("")
        self.ood_label.setText("")
        self.ood_label.setAccessibleDescription("")
        self.ood_label.hide()
        self.status_label.setText(status)

    def set_running(self, text: str = "Analyzing…") -> None:
        self.clear_result(text)

    def set_error(self, message: str) -> None:
        self.clear_result(message)

    def set_prediction(self, prediction: Prediction, device: str = "") -> None:
        self.clear_result()
        self._prediction = prediction
        self._probs = dict(prediction.probabilities)
        self._positive = prediction.positive_label or self._positive
        for label, probability in self._probs.items():
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(probability * 1000))
            bar.setAccessibleName(f"Probability of {label}")
            bar.setProperty("positive", label == self._positive)
            self.bars_layout.addWidget(bar)
            self._bars[label] = bar
        self.time_label.setText(f"{prediction.total_time_ms:.0f} ms on {device or prediction.device}")
        warning = pa.ood_warning_text(prediction)
        if warning:
            self.ood_label.setText(f"⚠ {warning}")
            self.ood_label.setAccessibleDescription(warning)
            self.ood_label.show()
        self._show_call()

    def current_call(self) -> Call | None:
        """The call on screen: the one rule (inference.results.decide_call) at the slider's threshold, with the
        prediction's OOD verdict and the expert setting; None without a result."""
        if self._prediction is None:
            return None
        return self._prediction.call(self._threshold, show_anyway=self._show_anyway)

    def _show_call(self) -> None:
        call = self.current_call()
        if call is None:
            return
        shown = pa.call_text(call)
        if call.withheld:
            state = "withheld"
            description = pa.NO_CALL_EXPLANATION
        else:
            state = "positive" if self._positive is not None and call.label == self._positive else "negative"
            description = pa.SHOWN_ANYWAY_EXPLANATION if call.shown_anyway else ""
        self.call_label.setText(shown)
        self.call_label.setProperty("call", state)
        self.call_label.setAccessibleDescription(description)
        self.call_label.setToolTip(description)
        self._restyle(self.call_label)
        applicable = not call.withheld
        for label, bar in self._bars.items():
            probability = self._probs[label]
            text = f"{label}  {probability * 100:.1f}%"
            bar.setFormat(text if applicable else f"{text} — not applicable")
            bar.setProperty("applicable", applicable)
            bar.setEnabled(applicable)
            bar.setAccessibleDescription("" if applicable else pa.NOT_APPLICABLE_EXPLANATION)
            self._restyle(bar)

    @staticmethod
    def _restyle(widget: QWidget) -> None:
        widget.style().unpolish(widget)
        widget.style().polish(widget)
