"""Page 5: how the trained model does on the held-out test split: confusion matrix, ROC curve and the
metrics at a threshold the user can move (from the test logits the training run computed the card's numbers
from), each with its 95% confidence interval and the films it is counted on (desktop.wizard.metric_intervals); a
test split too small to judge the model by says so."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QFormLayout, QHBoxLayout, QLabel, QPushButton, QSlider, QVBoxLayout,
                               QWidget, QWizardPage)

from desktop.wizard.banner import warning_banner
from desktop.wizard.confusion_table import ConfusionTable
from desktop.wizard.context import WizardContext
from desktop.wizard.curve_plot import CurvePlot
from desktop.wizard.jobs import MIN_TEST_PER_CLASS, small_test_split

SLIDER_STEPS = 1000
METRIC_TITLES = {"auc": "ROC AUC", "accuracy": "Accuracy", "sensitivity": "Sensitivity (recall)",
                 "specificity": "Specificity", "precision": "Precision (PPV)", "f1": "F1 score",
                 "kappa": "Cohen's kappa", "ece": "Calibration error (ECE)"}


class EvaluationPage(QWizardPage):
    metrics_changed = Signal(dict)

    def __init__(self, context: WizardContext, parent=None):
        super().__init__(parent)
        self.context = context
        self.current_metrics: dict = {}
        self.current_measured: dict = {}  # metric -> desktop.wizard.metric_intervals.Measured
        self.threshold: float | None = None
        self.setTitle("Evaluation on the test split")
        self.setSubTitle("Images the model never saw during training or threshold selection.")
        layout = QVBoxLayout(self)
        self.summary_label = QLabel("")
        self.summary_label.setAccessibleName("Evaluation summary")
        self.summary_label.setWordWrap(True)
        layout.addWidget(self.summary_label)
        self.small_test_label = warning_banner("smallTestSplit", "Test split too small")
        layout.addWidget(self.small_test_label)

        self.threshold_row = QWidget()
        row = QHBoxLayout(self.threshold_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Threshold:"))
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setAccessibleName("Decision threshold")
        self.slider.setRange(0, SLIDER_STEPS)
        self.slider.valueChanged.connect(self._slider_moved)
        row.addWidget(self.slider, 1)
        self.threshold_label = QLabel("")
        self.threshold_label.setAccessibleName("Threshold value")
        self.threshold_label.setMinimumWidth(60)
        row.addWidget(self.threshold_label)
        self.reset_button = QPushButton("Back to the chosen threshold")
        self.reset_button.clicked.connect(self.reset_threshold)
        row.addWidget(self.reset_button)
        layout.addWidget(self.threshold_row)

        body = QHBoxLayout()
        left = QVBoxLayout()
        metrics_form = QFormLayout()
        self.metric_labels: dict[str, QLabel] = {}
        for key, title in METRIC_TITLES.items():
            label = QLabel("")
            label.setAccessibleName(title)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            metrics_form.addRow(title + ":", label)
            self.metric_labels[key] = label
        left.addLayout(metrics_form)
        self.confusion = ConfusionTable()
        left.addWidget(self.confusion, 1)
        body.addLayout(left, 1)
        self.roc_plot = CurvePlot("ROC on the test split", "1 - specificity", "sensitivity", x_range=(0.0, 1.0),
                                  y_range=(0.0, 1.0), diagonal=True)
        body.addWidget(self.roc_plot, 1)
        layout.addLayout(body, 1)
        self.note_label = QLabel("")
        self.note_label.setWordWrap(True)
        layout.addWidget(self.note_label)
        self.keep_threshold_check = QCheckBox("Save the model with this threshold")
        self.keep_threshold_check.setAccessibleName("Save the model with the threshold chosen here")
        self.keep_threshold_check.setToolTip("The card then says the threshold was chosen on the test split, "
                                             "so its test numbers at that threshold are optimistic.")
        self.keep_threshold_check.toggled.connect(self._keep_threshold_toggled)
        layout.addWidget(self.keep_threshold_check)

    def initializePage(self) -> None:  # noqa: N802
        trained = self.context.trained
        test = trained.test
        self._probs = None
        self.roc_plot.clear()
        binary = test.positive_index is not None
        self.threshold_row.setVisible(binary)
        self.roc_plot.setVisible(binary)
        n = len(test.labels)
        counts = ", ".join(f"{count} {name}" for name, count in test.class_counts().items())
        method = test.threshold_method or "argmax"
        self._show_small_test_warning(test.class_counts())
        if binary:
            from training.metrics import roc_points

            self._probs = test.positive_probabilities()
            is_positive = (test.labels == test.positive_index).astype(int)
            roc = roc_points(is_positive, self._probs)
            self.roc_plot.set_series("ROC curve", list(zip(roc["fpr"], roc["tpr"])), "#1f77b4")
            self.summary_label.setText(
                f"Test split: {n} images ({counts}). Positive class: {test.classes[test.positive_index]}. "
                f"The threshold {test.threshold:.3f} was chosen on the validation split ({method}); the "
                "probabilities are temperature-calibrated.")
            self.note_label.setText(
                "Moving the threshold explores the trade-off: the saved model keeps the threshold chosen on "
                "validation unless you tick the box below (the viewer's settings can override it).")
            self.keep_threshold_check.setVisible(True)
            self.keep_threshold_check.setChecked(False)
            self.reset_threshold()
        else:
            self.summary_label.setText(f"Test split: {n} images ({counts}); the class with the highest "
                                       "probability is the call.")
            self.note_label.setText("")
            self.keep_threshold_check.setVisible(False)
            self.keep_threshold_check.setChecked(False)
            self._show_metrics(test.metrics_at(None))

    def _show_small_test_warning(self, counts: dict[str, int]) -> None:
        small = small_test_split(counts)
        self.small_test_label.setVisible(bool(small))
        if small:
            listed = ", ".join(f"{n} {label}" for label, n in counts.items())
            self.small_test_label.setText(
                f"Only {sum(counts.values())} test films ({listed}), fewer than {MIN_TEST_PER_CLASS} per class: "
                "these numbers are too uncertain to judge the model by. Read each with its 95% confidence "
                "interval; on so few films even a perfect score is compatible with a much weaker model.")

    def reset_threshold(self) -> None:
        test = self.context.trained.test
        self.set_threshold(test.threshold if test.threshold is not None else 0.5)

    def set_threshold(self, threshold: float) -> None:
        """Moves the slider (to the nearest step) and shows the metrics at exactly `threshold`."""
        self.threshold = float(threshold)
        self.slider.blockSignals(True)
        self.slider.setValue(int(round(self.threshold * SLIDER_STEPS)))
        self.slider.blockSignals(False)
        self._update_threshold()

    def _slider_moved(self, value: int) -> None:
        self.threshold = value / SLIDER_STEPS
        self._update_threshold()

    def _keep_threshold_toggled(self, on: bool) -> None:
        self.context.chosen_threshold = self.threshold if on else None

    def _update_threshold(self) -> None:
        if self.keep_threshold_check.isChecked():
            self.context.chosen_threshold = self.threshold
        self.threshold_label.setText(f"{self.threshold:.3f}")
        metrics = self.context.trained.test.metrics_at(self.threshold)
        self._show_metrics(metrics)
        self.roc_plot.set_marker((1.0 - metrics["specificity"], metrics["sensitivity"]))

    def _show_metrics(self, metrics: dict) -> None:
        self.current_metrics = metrics
        self.current_measured = self.context.trained.test.measured(metrics)
        for key, label in self.metric_labels.items():
            label.setText(self.current_measured[key].text())
        self.confusion.set_matrix(metrics["confusion_matrix"], self.context.trained.test.classes)
        self.metrics_changed.emit(metrics)
