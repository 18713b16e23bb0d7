# python-gdcm: the `gdcm` module loads `_gdcm.gdcmswig` (SWIG) and reads its DICOM dictionaries from
# _gdcm/XML, which it looks for next to gdcm.py (= the frozen app's _internal folder).
from PyInstaller.utils.hooks import collect_data_files, copy_metadata

hiddenimports = ["_gdcm", "_gdcm.gdcmswig"]
datas = collect_data_files("_gdcm", includes=["XML/*.xml"]) + copy_metadata("python-gdcm")
