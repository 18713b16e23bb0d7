; Inno Setup 6 script: wraps the one-folder build (installer\dist\xrayview) into XRayView-<version>-setup.exe.
; Built by installer\build-windows.ps1 (ISCC /DAppVersion=x.y.z installer\xrayview.iss). The installer needs no
; network: everything, the AI model included, is inside it.
#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif

[Setup]
AppId={{6F4B1D2E-5C3A-4E8B-9A71-2D0C8E5B7A13}
AppName=XRayView
AppVersion={#AppVersion}
AppPublisher=XRayView project
AppComments=Offline radiograph viewer with on-device AI. Not for diagnostic use.
DefaultDirName={autopf}\XRayView
DefaultGroupName=XRayView
; per-machine by default (IT installs it once); the dialog lets a user without admin rights install for themselves
PrivilegesRequired=admin
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputDir=dist
OutputBaseFilename=XRayView-{#AppVersion}-setup
SetupIconFile=..\resources\icons\xrayview.ico
UninstallDisplayIcon={app}\xrayview.exe
Compression=lzma2/max
SolidCompression=yes
; the bundle (torch) is large: split into setup.exe + .bin files if it ever passes Inno Setup's single-file limit
DiskSpanning=yes
DiskSliceSize=max
WizardStyle=modern
ChangesAssociations=yes

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"
Name: "dcmassoc"; Description: "Open DICOM files (.dcm) with XRayView"; GroupDescription: "File types:"; Flags: unchecked

[Files]
Source: "dist\xrayview\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\XRayView"; Filename: "{app}\xrayview.exe"
Name: "{group}\XRayView self-test"; Filename: "{app}\xrayview.exe"; Parameters: "--self-test"
Name: "{group}\Uninstall XRayView"; Filename: "{uninstallexe}"
Name: "{autodesktop}\XRayView"; Filename: "{app}\xrayview.exe"; Tasks: desktopicon

[Registry]
Root: HKA; Subkey: "Software\Classes\.dcm\OpenWithProgids"; ValueType: string; ValueName: "XRayView.dcm"; ValueData: ""; Flags: uninsdeletevalue; Tasks: dcmassoc
Root: HKA; Subkey: "Software\Classes\XRayView.dcm"; ValueType: string; ValueName: ""; ValueData: "DICOM image"; Flags: uninsdeletekey; Tasks: dcmassoc
Root: HKA; Subkey: "Software\Classes\XRayView.dcm\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\xrayview.exe,0"; Tasks: dcmassoc
Root: HKA; Subkey: "Software\Classes\XRayView.dcm\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\xrayview.exe"" ""%1"""; Tasks: dcmassoc

[Run]
; the self-test is windowless: it writes %TEMP%\xrayview-self-test.txt, which is then shown
Filename: "{app}\xrayview.exe"; Parameters: "--self-test"; StatusMsg: "Checking the installation (self-test)..."; Flags: runhidden waituntilterminated
Filename: "{%TEMP}\xrayview-self-test.txt"; Description: "Show the self-test result"; Flags: postinstall shellexec skipifsilent unchecked
Filename: "{app}\xrayview.exe"; Description: "{cm:LaunchProgram,XRayView}"; Flags: postinstall nowait skipifsilent
