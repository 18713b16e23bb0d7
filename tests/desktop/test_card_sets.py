"""Issue 13.1/13.3 in the viewer: the AI panel's threshold table, the model card dialog (and the PDF, see
test_pdf_report) say which set each number comes from (internal test split, external set, site calibration set),
show external numbers with their CIs, and show that an operating point is site-calibrated."""
from __future__ import annotations

import copy

from desktop import card_facts
from desktop.model_card_dialog import card_html
from inference.model_card import ModelCard

RATE = lambda value, low, high, k, n: {"value": value, "ci95": [low, high], "k": k, "n": n}  # noqa: E731

CARD = {
    "name": "chest", "version": "2.0", "labels": ["NORMAL", "PNEUMONIA"], "positive_label": "PNEUMONIA",
    "threshold": 0.303138,
    "threshold_table": [{"threshold": 0.303138, "sensitivity": 0.98196, "specificity": 0.97761, "name": "operating point"},
                        {"threshold": 0.2, "sensitivity": 0.9845, "specificity": 0.9627},
                        {"threshold": 0.5, "sensitivity": 0.97, "specificity": 0.985}],
    "metrics": [{"name": "auc", "value": 0.997019, "dataset": "Kermany et al. 2018", "n": 522,
                 "split": "test (patient-grouped hold-out carved from the training folder)", "ci95": [0.992, 0.999]}],
    "external_validation": [{
        "dataset": "external-a", "set_sha256": "cd" * 32, "n": 312, "counts": {"NORMAL": 117, "PNEUMONIA": 195},
        "threshold": 0.303138, "temperature": 1.2, "measured_utc": "2026-11-30T10:00:00Z", "metrics": [
            {"name": "sensitivity", "value": 0.99487, "dataset": "external-a", "split": "external validation",
             "threshold": 0.303138, "n": 312, "ci95": [0.97165, 0.99909]},
            {"name": "specificity", "value": 0.69231, "dataset": "external-a", "split": "external validation",
             "threshold": 0.303138, "n": 312, "ci95": [0.60369, 0.76858]}]}],
}
SITE = {"dataset": "site-x", "folder": "site-x", "set_sha256": "ef" * 32, "n": 60, "counts": {"NORMAL": 20,
        "PNEUMONIA": 40}, "measured_utc": "2026-12-01T08:00:00Z", "target_sensitivity": 0.95, "temperature": 1.4,
        "threshold": 0.62,
        "in_sample": {"sensitivity": RATE(0.95, 0.835, 0.986, 38, 40), "specificity": RATE(0.9, 0.699, 0.972, 18, 20),
                      "accuracy": RATE(0.933, 0.841, 0.974, 56, 60)},
        "cross_validated": {"sensitivity": RATE(0.925, 0.801, 0.974, 37, 40),
                            "specificity": RATE(0.85, 0.64, 0.948, 17, 20),
                            "accuracy": RATE(0.9, 0.799, 0.953, 54, 60), "folds": 5},
        "warnings": ["only 20 NORMAL film(s) in the site set (fewer than 50): the specificity measured on it has a "
                     "wide confidence interval"],
        "previous": {"version": "2.0", "threshold": 0.303138, "temperature": 1.2}}


def _table(panel) -> list[list[str]]:
    table = panel.threshold_table
    return [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]


def test_panel_names_the_set_of_every_row_and_shows_external_numbers(qtbot):
    from desktop.ai_panel import AiPanel

    panel = AiPanel(["jet"])
    qtbot.addWidget(panel)
    panel.set_model(ModelCard(CARD), "cpu")
    rows = _table(panel)
    assert ["0.303", "0.982", "0.978", "internal test"] in rows
    assert ["0.303", "0.995", "0.692", "external: external-a"] in rows
    external_row = rows.index(["0.303", "0.995", "0.692", "external: external-a"])
    assert "95% CI 0.972-0.999" in panel.threshold_table.item(external_row, 1).toolTip()
    assert "patient-grouped hold-out" in panel.threshold_note.text()
    assert "sensitivity 0.995 (95% CI 0.972-0.999)" in panel.validation_label.text()
    assert panel.calibration_label.isHidden()


def test_panel_and_card_dialog_show_a_site_calibrated_operating_point(qtbot):
    from desktop.ai_panel import AiPanel

    card = copy.deepcopy(CARD)
    card.update(site_calibration=SITE, threshold=0.62)
    card["threshold_table"][0]["threshold"] = 0.62
    panel = AiPanel(["jet"])
    qtbot.addWidget(panel)
    panel.set_model(ModelCard(card), "cpu")
    assert not panel.calibration_label.isHidden()
    assert panel.calibration_label.text() == "Site-calibrated on site-x (n=60, 2026-12-01)"
    assert panel.threshold_note.text().startswith("Site-calibrated operating point.")
    assert "site calibration set site-x, n=60" in panel.threshold_note.text()
    assert ["0.620", "0.982", "0.978", "site (in-sample)"] in _table(panel)
    validation = panel.validation_label.text()
    assert "Cross-validated (what to expect on new films like them), 5 folds: sensitivity 0.925 " \
           "(95% CI 0.801-0.974; 37/40)" in validation
    assert "Warning: only 20 NORMAL film(s)" in validation

    text = card_html(ModelCard(card))
    for expected in ("<h3>Site calibration</h3>", "In-sample (the fitting films)", "specificity 0.850 (95% CI "
                     "0.640-0.948; 17/20)", "Replaces version 2.0 (threshold 0.303", "<h3>External validation</h3>",
                     "external-a", "0.972-0.999", "Measured on site calibration set site-x", "Measured performance: "
                     "internal test", "0.992-0.999"):
        assert expected in text, expected
    assert card_facts.site_badge(ModelCard(CARD)) == ""


def test_a_selection_set_and_the_calibration_set_are_never_called_independent(qtbot):
    """Issue 25.8: the panel, the card dialog and the PDF (card_facts' lines) said in one place that a set was "not
    used for training, threshold or calibration" while elsewhere the threshold rule was chosen by looking at it,
    and after a site calibration on that very set (same set sha256) they still showed it as independent
    validation and the dialog showed its hash twice."""
    from desktop.ai_panel import AiPanel

    selection = copy.deepcopy(CARD)
    selection["external_validation"][0]["selected_on"] = "the threshold rule among three"
    panel = AiPanel(["jet"])
    qtbot.addWidget(panel)
    panel.set_model(ModelCard(selection), "cpu")
    assert ["0.303", "0.995", "0.692", "selection set: external-a"] in _table(panel)
    assert "Measured on selection set external-a, n=312, measured 2026-11-30 (not an independent estimate: the " \
           "threshold rule among three chosen by looking at it): sensitivity 0.995" in panel.validation_label.text()
    text = card_html(ModelCard(selection))
    assert "<h3>Selection sets (not independent estimates)</h3>" in text and "External validation" not in text
    for lines in (card_facts.external_lines(ModelCard(selection)), [panel.validation_label.text(), text]):
        assert not any("not used for training" in line for line in lines)

    calibrated = copy.deepcopy(CARD)
    calibrated.update(site_calibration={**SITE, "set_sha256": CARD["external_validation"][0]["set_sha256"]},
                      threshold=0.62)
    card = ModelCard(calibrated)
    panel.set_model(card, "cpu")
    assert not any("external-a" in row[3] for row in _table(panel))  # its rates were at the replaced threshold
    assert "the site calibration set" in panel.validation_label.text()
    assert "not used for training" not in panel.validation_label.text()
    text = card_html(card)
    assert "External validation" not in text and text.count("cdcdcdcdcdcd") == 1  # the hash once, under Site
    assert text.index("<h3>Site calibration</h3>") < text.index("<b>external-a</b>: external-a, the site calibration")


def test_the_shipped_cards_stability_is_typed_and_shown_in_the_dialog():
    """Issue 24: the card carries its stability numbers (2.2.0's, as measured by training.cli_stability) and the
    model card dialog shows them with the verdict against the targets."""
    from inference.bundle import load_bundle
    from inference.predictor import default_bundle_dir

    card = ModelCard(load_bundle(default_bundle_dir()).card)
    sets = {entry.dataset: entry for entry in card.stability}
    external = sets["Kermany test half A"]
    assert external.n == 312 and external.meets_targets is False
    assert external.changes["noise_1"].median_abs_dp == 0.00668 and external.changes["noise_1"].calls_flipped == 1
    (fullres,) = [entry for name, entry in sets.items() if name.startswith("full-resolution")]
    assert fullres.n == 20 and fullres.copies.max_abs_dp == 0.07859
    html_text = card_html(card)
    assert "Stability" in html_text and "noise of 1 grey level" in html_text
    assert "<td>0.007</td><td>0.094</td><td>1</td>" in html_text
    assert "full resolution vs its own resized copy" in html_text and "does not meet the targets" in html_text
    assert ModelCard({"name": "x", "labels": ["A", "B"]}).stability == ()
    assert "Stability" not in card_html(ModelCard(CARD))


def test_the_card_dialog_names_an_ensembles_members():
    card = copy.deepcopy(CARD)
    card["architecture"] = "efficientnet_lite0+efficientnet_lite1"
    card["training"] = {"ensemble": [
        {"name": "chest-xray-pneumonia", "version": "2.2.0", "architecture": "efficientnet_lite0",
         "weights_sha256": "b13f32dd" + "0" * 56},
        {"name": "chest-xray-pneumonia", "version": "2.2.0", "architecture": "efficientnet_lite1",
         "weights_sha256": "4c0ffee0" + "1" * 56}]}
    text = card_html(ModelCard(card))
    assert ("<b>Architecture:</b> efficientnet_lite0+efficientnet_lite1<br><b>Mean of the logits of:</b><br>"
            "&nbsp;&nbsp;chest-xray-pneumonia 2.2.0 (efficientnet_lite0, weights b13f32dd0000…)<br>"
            "&nbsp;&nbsp;chest-xray-pneumonia 2.2.0 (efficientnet_lite1, weights 4c0ffee01111…)") in text
    assert "Mean of the logits" not in card_html(ModelCard(CARD))


def test_the_card_dialog_says_what_a_network_with_views_answers():
    card = copy.deepcopy(CARD)
    card["architecture"] = "efficientnet_lite0|views=mirror,shift_1_1"
    card["training"] = {"ensemble": [
        {"name": "chest-xray-pneumonia", "version": "2.2.0", "architecture": "efficientnet_lite0",
         "weights_sha256": "b13f32dd" + "0" * 56}]}
    text = card_html(ModelCard(card))
    assert ("<b>Architecture:</b> efficientnet_lite0|views=mirror,shift_1_1<br><b>Weights from:</b><br>"
            "&nbsp;&nbsp;chest-xray-pneumonia 2.2.0 (efficientnet_lite0, weights b13f32dd0000…)<br>"
            "<b>Answer:</b> the mean of its logits over the film and the film mirrored left to right; the film "
            "shifted one pixel right and one down") in text
