"""Help > About (version, licences of XRayView and of what it is built on, data attribution as CC BY 4.0 asks,
the active model's card) and Help > Tools and Keyboard Shortcuts (F1). Licences are read from the installed
packages' own metadata, so the list is what is really installed."""
from __future__ import annotations

import html
import re
from importlib import metadata

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QTabWidget, QTextBrowser, QVBoxLayout

from desktop.paths import resources_dir
from inference.model_card import ModelCard

DISTRIBUTION = "xrayview"
NOT_FOR_DIAGNOSIS = ("Research and education only — not for diagnostic use. "
                     "The bundled models are not medical devices.")


def app_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "unknown (not installed as a package)"


# Licence texts recognised by their wording, for packages whose metadata names none (first match wins).
LICENCE_TEXTS = (
    ("Apache-2.0", re.compile(r"Apache (Software )?License,?( Version)? 2\.0", re.I)),
    ("MIT", re.compile(r"Permission is hereby granted, free of charge|^\s*MIT License", re.I | re.M)),
    ("BSD-3-Clause", re.compile(r"Redistribution and use in source and binary forms.*Neither the name", re.I | re.S)),
    ("BSD-2-Clause", re.compile(r"Redistribution and use in source and binary forms", re.I)),
    ("GPL-3.0", re.compile(r"GNU GENERAL PUBLIC LICENSE\s+Version 3", re.I)),
    ("LGPL-3.0", re.compile(r"GNU LESSER GENERAL PUBLIC LICENSE\s+Version 3", re.I)),
    ("MPL-2.0", re.compile(r"Mozilla Public License,? (Version|v\.?) ?2\.0", re.I)),
)
LICENCE_FILE = re.compile(r"^(LICEN[CS]E|COPYING)([._-].*)?$", re.I)


def licence_of(dist: metadata.Distribution) -> str:
    """What the package declares: its metadata's licence expression, licence field or classifiers, else the
    licence its own licence file words (said so), else where it comes from."""
    meta = dist.metadata
    expression = meta.get("License-Expression")
    if expression:
        return expression
    text = (meta.get("License") or "").strip()
    if text and "\n" not in text and len(text) <= 80 and text.upper() != "UNKNOWN":
        return text
    classifiers = [c.split("::")[-1].strip() for c in meta.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        return "; ".join(classifiers)
    from_file = licence_from_files(dist)
    if from_file:
        return f"{from_file[0]} (stated in the package's {from_file[1]} file; its metadata names none)"
    home = meta.get("Home-page") or next((url.split(",", 1)[-1].strip() for url in meta.get_all("Project-URL") or []),
                                         "")
    return "not stated by the package (neither its metadata nor a licence file)" + (f"; source: {home}" if home
                                                                                        else "")


def licence_from_files(dist: metadata.Distribution) -> tuple[str, str] | None:
    """(licence, file name) from a licence file the package installed, recognised by its wording."""
    texts = [(path.name, path.read_text) for path in dist.files or [] if LICENCE_FILE.match(path.name)]
    for name in dist.metadata.get_all("License-File") or []:  # in .dist-info/licenses/ (metadata 2.4) or beside
        texts.append((name, lambda name=name: dist.read_text(f"licenses/{name}") or dist.read_text(name)))
    for name, read in texts:
        try:
            text = read() or ""
        except (OSError, UnicodeDecodeError):
            continue
        for licence, wording in LICENCE_TEXTS:
            if wording.search(text):
                return licence, name.rsplit("/", 1)[-1]
    return None


def dependency_licences() -> list[tuple[str, str, str]]:
    """(name, version, licence) of XRayView's direct dependencies, as installed."""
    try:
        requirements = metadata.requires(DISTRIBUTION) or []
    except metadata.PackageNotFoundError:
        return []
    rows = []
    seen = set()
    for requirement in requirements:
        if "extra ==" in requirement:
            continue
        name = re.split(r"[ ;<>=!~\[]", requirement, maxsplit=1)[0]
        if name.lower() in seen:
            continue
        seen.add(name.lower())
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            rows.append((name, "not installed", ""))
            continue
        rows.append((dist.metadata.get("Name", name), dist.version, licence_of(dist)))
    return sorted(rows, key=lambda row: row[0].lower())


def app_licence() -> str:
    try:
        return licence_of(metadata.distribution(DISTRIBUTION))
    except metadata.PackageNotFoundError:
        return "Apache-2.0"


def attribution_text() -> str:
    path = resources_dir() / "samples" / "ATTRIBUTION.md"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def markdown_html(text: str) -> str:
    """Markdown (the attribution file) as HTML for a text browser page: rendered by Qt, headings, lists and code
    as such, not the raw marks."""
    from PySide6.QtGui import QTextDocument

    document = QTextDocument()
    document.setMarkdown(text)
    rendered = document.toHtml()
    body = re.search(r"<body[^>]*>(.*)</body>", rendered, re.S)
    return body.group(1) if body else rendered


def about_html(card: ModelCard | None) -> dict[str, str]:
    esc = html.escape
    pages = {}
    pages["About"] = (f"<h2>XRayView {esc(app_version())}</h2><p>Offline radiograph viewer with on-device AI.</p>"
                      f"<p><b>{esc(NOT_FOR_DIAGNOSIS)}</b></p><p>XRayView licence: {esc(app_licence())}.</p>")
    rows = "".join(f"<tr><td>{esc(name)}</td><td>{esc(version)}</td><td>{esc(licence)}</td></tr>"
                   for name, version, licence in dependency_licences())
    pages["Licences"] = ("<h3>Built on</h3><p>Direct dependencies as installed, with the licence each package "
                         "declares (their own dependencies carry their own licences).</p>"
                         "<table border='1' cellpadding='3'><tr><th>Package</th><th>Version</th><th>Licence</th>"
                         f"</tr>{rows or '<tr><td colspan=3>package metadata not available</td></tr>'}</table>")
    attribution = markdown_html(attribution_text())
    data = ""
    for item in card.training_data if card is not None else []:
        data += f"<li>{esc(item.name)}: licence {esc(item.licence)}; {esc(item.attribution)}</li>"
    pages["Data"] = (("<h3>Training data of the active model</h3><ul>" + data + "</ul>" if data else "")
                     + attribution)
    if card is not None:
        from desktop.model_card_dialog import card_html

        pages["Active model"] = card_html(card)
    else:
        pages["Active model"] = "<p>No AI model is loaded.</p>"
    return pages


class AboutDialog(QDialog):
    def __init__(self, card: ModelCard | None, parent=None):
        super().__init__(parent)
        self.setWindowTitle("About XRayView")
        self.resize(680, 620)
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget()
        self.pages: dict[str, QTextBrowser] = {}
        for title, text in about_html(card).items():
            browser = QTextBrowser()
            browser.setAccessibleName(f"About: {title}")
            browser.setOpenExternalLinks(False)
            browser.setHtml(text)
            self.tabs.addTab(browser, title)
            self.pages[title] = browser
        layout.addWidget(self.tabs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        if card is not None:
            self.setWindowTitle(f"About XRayView — model {card.title}")


class ShortcutsDialog(QDialog):
    def __init__(self, parent=None):
        from desktop.shortcuts import shortcuts_html

        super().__init__(parent)
        self.setWindowTitle("Tools and keyboard shortcuts")
        self.resize(620, 700)
        layout = QVBoxLayout(self)
        self.browser = QTextBrowser()
        self.browser.setAccessibleName("Tools and keyboard shortcuts")
        self.browser.setHtml(shortcuts_html())
        layout.addWidget(self.browser)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
