"""DICOM helpers that every package may import (annotations, inference, training, desktop): date and time text,
and the header a derived object (GSPS, Secondary Capture, SR, Encapsulated PDF) takes from its source image.

Imports only the standard library and pydicom: no Qt, torch or numpy, and none of the project's other packages
(import-linter contract in pyproject.toml)."""
