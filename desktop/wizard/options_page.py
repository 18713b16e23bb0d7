"""Page 3: architecture and training options with sensible defaults, and an estimate of the training time
from throughput measured on this machine (a few real training steps of the chosen model on a worker)."""
from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QLabel, QSpinBox, QVBoxLayout,
                               QWizardPage)

from desktop.wizard.banner import warning_banner
from desktop.wizard.context import TrainingChoices, WizardContext, format_duration
from desktop.wizard.jobs import estimate_seconds, measure_throughput, split_warnings
from desktop.workers import Job
from inference.vocabulary import ARCHITECTURE_INFO, DEVICE_CHOICES
IMBALANCE_TITLES = {"weighted_loss": "Weight the loss by class frequency", "sampler": "Oversample the rare class",
                    "none": "None"}
LUNG_FOCUS_WEIGHT = 1.0  # the bundled chest model's recipe (training/recipes/chest-xray-pneumonia.toml)
MEASURE_DELAY_MS = 400  # wait for the user to stop changing options before timing the model


class OptionsPage(QWizardPage):
    def __init__(self, context: WizardContext, parent=None):
        super().__init__(parent)
        self.context = context
        self.job: Job | None = None
        self.throughput = None
        self.setTitle("Model and options")
        self.setSubTitle("The defaults suit chest radiographs; the estimate below is measured on this computer.")
        layout = QVBoxLayout(self)
        form = QFormLayout()
        layout.addLayout(form)

        self.arch_combo = QComboBox()
        self.arch_combo.setAccessibleName("Architecture")
        for info in ARCHITECTURE_INFO.values():  # the recommended one first
            self.arch_combo.addItem(info.title, info.name)
        form.addRow("Architecture:", self.arch_combo)
        self.pretrained_check = QCheckBox("Start from ImageNet weights (installed with XRayView, never downloaded)")
        self.pretrained_check.setAccessibleName("Start from pretrained weights")
        self.pretrained_check.setChecked(True)
        form.addRow("", self.pretrained_check)
        self.epochs_spin = self._spin(1, 500, 10, "Epochs")
        form.addRow("Epochs:", self.epochs_spin)
        self.img_size_spin = self._spin(32, 1024, 224, "Image size", step=32, suffix=" px")
        form.addRow("Input size:", self.img_size_spin)
        self.batch_spin = self._spin(2, 512, 32, "Batch size")
        form.addRow("Batch size:", self.batch_spin)
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setAccessibleName("Learning rate")
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(0.00001, 1.0)
        self.lr_spin.setSingleStep(0.0001)
        self.lr_spin.setValue(0.001)
        form.addRow("Learning rate:", self.lr_spin)
        self.imbalance_combo = QComboBox()
        self.imbalance_combo.setAccessibleName("Class imbalance handling")
        for key, title in IMBALANCE_TITLES.items():
            self.imbalance_combo.addItem(title, key)
        form.addRow("Class imbalance:", self.imbalance_combo)
        self.augment_check = QCheckBox("Augment (small rotations, shifts, zoom, shear, brightness/contrast, "
                                       "horizontal flip; never vertical)")
        self.augment_check.setAccessibleName("Augmentation")
        self.augment_check.setChecked(True)
        form.addRow("", self.augment_check)
        self.lung_focus_check = QCheckBox("Keep the heatmap on the lungs (frontal chest X-rays only)")
        self.lung_focus_check.setAccessibleName("Lung-focus objective")
        self.lung_focus_check.setToolTip(
            "Adds a training penalty on Grad-CAM mass outside a lung-field atlas outlined on your normal images, "
            "so heatmaps point at the lungs rather than at markers or borders. Needs frontal chest films.")
        form.addRow("", self.lung_focus_check)
        self.patience_spin = self._spin(0, 100, 5, "Early stopping patience", suffix=" epochs")
        self.patience_spin.setSpecialValueText("off")
        form.addRow("Stop early after:", self.patience_spin)
        self.target_check = QCheckBox("Choose the threshold for a target sensitivity (else Youden's J)")
        self.target_check.setAccessibleName("Use a target sensitivity")
        self.target_spin = QDoubleSpinBox()
        self.target_spin.setAccessibleName("Target sensitivity")
        self.target_spin.setRange(0.5, 0.999)
        self.target_spin.setDecimals(3)
        self.target_spin.setSingleStep(0.01)
        self.target_spin.setValue(0.95)
        self.target_spin.setEnabled(False)
        self.target_check.toggled.connect(self.target_spin.setEnabled)
        form.addRow(self.target_check, self.target_spin)
        self.device_combo = QComboBox()
        self.device_combo.setAccessibleName("Device")
        for device in DEVICE_CHOICES:
            self.device_combo.addItem(device, device)
        self.device_combo.setCurrentIndex(max(0, self.device_combo.findData(context.settings.device)))
        form.addRow("Device:", self.device_combo)
        self.seed_spin = self._spin(0, 2**31 - 1, 0, "Random seed")
        form.addRow("Seed:", self.seed_spin)

        self.estimate_label = QLabel("")
        self.estimate_label.setAccessibleName("Estimated training time")
        self.estimate_label.setWordWrap(True)
        layout.addWidget(self.estimate_label)
        self.split_warning_label = warning_banner("splitWarning", "Split size warning")
        layout.addWidget(self.split_warning_label)
        layout.addStretch(1)

        self._measure_timer = QTimer(self)
        self._measure_timer.setSingleShot(True)
        self._measure_timer.setInterval(MEASURE_DELAY_MS)
        self._measure_timer.timeout.connect(self._measure)
        for signal in (self.arch_combo.currentIndexChanged, self.img_size_spin.valueChanged,
                       self.batch_spin.valueChanged, self.device_combo.currentIndexChanged,
                       self.pretrained_check.toggled):
            signal.connect(self._options_changed)
        self.epochs_spin.valueChanged.connect(self._show_estimate)
        self.arch_combo.currentIndexChanged.connect(self._arch_changed)
        self._arch_changed()

    def _spin(self, low: int, high: int, value: int, name: str, step: int = 1, suffix: str = "") -> QSpinBox:
        spin = QSpinBox()
        spin.setAccessibleName(name)
        spin.setRange(low, high)
        spin.setSingleStep(step)
        spin.setValue(value)
        spin.setSuffix(suffix)
        return spin

    # -- options ------------------------------------------------------------------------------------------------
    def arch(self) -> str:
        return str(self.arch_combo.currentData())

    def set_arch(self, arch: str) -> None:
        self.arch_combo.setCurrentIndex(self.arch_combo.findData(arch))

    def _arch_changed(self) -> None:
        info = ARCHITECTURE_INFO.get(self.arch())
        supports = info is not None and info.pretrained_weights
        self.pretrained_check.setEnabled(supports)
        self.pretrained_check.setChecked(supports)

    def choices(self) -> TrainingChoices:
        """The page's options as recipe keys (what the run's recipe file will say)."""
        recipe = {"arch": self.arch(), "epochs": self.epochs_spin.value(), "batch-size": self.batch_spin.value(),
                  "lr": self.lr_spin.value(), "imbalance": str(self.imbalance_combo.currentData()),
                  "patience": self.patience_spin.value(), "seed": self.seed_spin.value(),
                  "pretrained": self.pretrained_check.isEnabled() and self.pretrained_check.isChecked(),
                  "no-augment": not self.augment_check.isChecked(),
                  "lung-focus": LUNG_FOCUS_WEIGHT if self.lung_focus_check.isChecked() else 0.0,
                  "img-size": self.img_size_spin.value(),
                  "target-sensitivity": self.target_spin.value() if self.target_check.isChecked() else None}
        return TrainingChoices(recipe=recipe, device=str(self.device_combo.currentData()))

    # -- estimate -----------------------------------------------------------------------------------------------
    def initializePage(self) -> None:  # noqa: N802
        scan = self.context.scan
        warnings = split_warnings(scan.report.counts) if scan is not None else []
        self.split_warning_label.setText("\n".join(f"⚠ {w}" for w in warnings))
        self.split_warning_label.setVisible(bool(warnings))
        self._options_changed()

    def cleanupPage(self) -> None:  # noqa: N802
        self.stop()

    def stop(self) -> None:
        self._measure_timer.stop()
        if self.job is not None:
            self.job.cancel()
            self.job = None

    def _options_changed(self) -> None:
        self.throughput = None
        if self.job is not None:
            self.job.cancel()
            self.job = None
        self.estimate_label.setText("Measuring the training speed of this model on this computer…")
        self._measure_timer.start()

    def _measure(self) -> None:
        choices = self.choices()
        num_classes = len(self.context.scan.classes) if self.context.scan is not None else 2
        job = Job(measure_throughput, choices.config.arch, choices.img_size, choices.config.batch_size,
                  choices.config.pretrained, choices.device, num_classes, name="measure training speed")
        job.finished.connect(lambda result, j=job: self._on_measured(j, result))
        job.failed.connect(lambda error, j=job: self._on_measure_failed(j, error))
        self.job = job
        job.start()

    def _on_measured(self, job: Job, throughput) -> None:
        if job is not self.job:
            return
        self.job = None
        self.throughput = throughput
        self._show_estimate()
        self.completeChanged.emit()

    def _on_measure_failed(self, job: Job, error: BaseException) -> None:
        if job is not self.job:
            return
        self.job = None
        from desktop.wizard.report_page import describe_failure

        self.estimate_label.setText(f"This model cannot be trained with these options here: "
                                    f"{describe_failure(error)}")

    def estimated_seconds(self) -> float | None:
        if self.throughput is None or self.context.scan is None:
            return None
        return estimate_seconds(self.context.scan, self.throughput, self.epochs_spin.value())

    def _show_estimate(self) -> None:
        seconds = self.estimated_seconds()
        if seconds is None:
            return
        t = self.throughput
        self.estimate_label.setText(
            f"Estimated time: about {format_duration(seconds)} for {self.epochs_spin.value()} epoch(s) "
            f"(measured {t.images_per_s:.1f} training images/s for {t.arch} at {t.img_size} px on {t.device}; "
            "early stopping can make it shorter).")

    def validatePage(self) -> bool:  # noqa: N802
        self.stop()
        self.context.choices = self.choices()
        return True
