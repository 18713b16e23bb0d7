# pylibjpeg discovers its decoders (pylibjpeg-openjpeg: JPEG 2000 / HTJ2K, pylibjpeg-rle: RLE) through package
# entry points, so the plugins' metadata (entry_points.txt) must be collected with their modules; PyInstaller
# cannot see these imports.
from PyInstaller.utils.hooks import collect_submodules, copy_metadata

hiddenimports = collect_submodules("openjpeg") + collect_submodules("rle")
datas = copy_metadata("pylibjpeg") + copy_metadata("pylibjpeg-openjpeg") + copy_metadata("pylibjpeg-rle")
