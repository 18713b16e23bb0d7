# Builds the offline Windows installer: installer\dist\XRayView-<version>-setup.exe
#
# Run on a Windows 10/11 x64 build machine (not on the clinic PC), from the repository root, in PowerShell:
#   powershell -ExecutionPolicy Bypass -File installer\build-windows.ps1
# Needs: Python 3.11 x64 (py launcher) and Inno Setup 6 (ISCC.exe on PATH or in its default folder).
# The PyPI torch wheel for Windows is the CPU build, so the bundle carries no CUDA libraries.
# Steps: .venv with the app + PyInstaller -> one-folder build (installer\dist\xrayview\xrayview.exe and the
# console tools xrayview-predict/-train/-eval.exe) -> frozen self-test -> Inno Setup installer.
# Not run by this project's CI (Linux only); written to mirror installer/build-linux.sh step by step.
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)
$Root = Get-Location
$Py = Join-Path $Root ".venv\Scripts\python.exe"

if (-not (Test-Path $Py)) {
    py -3.11 -m venv .venv
    & $Py -m pip install --upgrade pip
    & $Py -m pip install -e ".[installer]"
}
& $Py -c "import PyInstaller" 2>$null
if ($LASTEXITCODE -ne 0) { & $Py -m pip install "pyinstaller>=6.10,<7" }
if (-not (Test-Path "resources\models\DEFAULT")) {
    Write-Warning "resources\models\DEFAULT is missing: the bundle holds no model and its self-test will fail"
}

$Dist = Join-Path $Root "installer\dist"
$Work = Join-Path $Root "installer\build"
New-Item -ItemType Directory -Force -Path $Dist, $Work | Out-Null
$timer = [Diagnostics.Stopwatch]::StartNew()
& $Py -m PyInstaller --noconfirm --distpath $Dist --workpath $Work installer\xrayview.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed" }
Write-Host ("built installer\dist\xrayview in {0:N0} s" -f $timer.Elapsed.TotalSeconds)

# xrayview.exe is a windowed program (no console): its self-test writes %TEMP%\xrayview-self-test.txt.
$report = Join-Path $env:TEMP "xrayview-self-test.txt"
Remove-Item $report -ErrorAction SilentlyContinue
$env:QT_QPA_PLATFORM = "offscreen"
$proc = Start-Process -FilePath (Join-Path $Dist "xrayview\xrayview.exe") -ArgumentList "--self-test" `
    -WorkingDirectory $env:TEMP -Wait -PassThru -NoNewWindow
Remove-Item Env:\QT_QPA_PLATFORM
Get-Content $report
if ($proc.ExitCode -ne 0) { throw "frozen self-test failed (exit $($proc.ExitCode))" }

$Iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
if (-not $Iscc) { $Iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
if (-not (Test-Path $Iscc)) { throw "Inno Setup 6 (ISCC.exe) not found: install it from its official installer" }
$Version = & $Py -c "import tomllib; print(tomllib.load(open('pyproject.toml','rb'))['project']['version'])"
& $Iscc "/DAppVersion=$Version" installer\xrayview.iss
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed" }
Write-Host "installer: installer\dist\XRayView-$Version-setup.exe"
