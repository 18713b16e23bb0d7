# pyjpegls (JPEG-LS) wraps CharLS in the `_CharLS` extension next to the `jpeg_ls` package.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("jpeg_ls") + ["_CharLS"]
datas = copy_metadata("pyjpegls")
