//! Windows probe commands: PowerShell fragments run once per target inside the single PowerShell
//! script the WinRM transport sends over stdin.
//!
//! The fragments are written for Windows PowerShell 5.1 on Windows Server 2012 R2 to 2025 and
//! follow these conventions, which the checks ([`crate::windows::outputs`]) rely on:
//! - a fragment prints exactly one JSON document through `ConvertTo-Json -Depth 4 -Compress`,
//!   never a formatted table, so evaluation parses data instead of layout;
//! - "list" probes pipe their rows into `ConvertTo-Json`: Windows PowerShell 5.1 then prints
//!   nothing for no row, a bare object for one row and an array for several; the parser accepts
//!   all three (and 5.1's `{"value":[...],"Count":n}` wrapping of arrays);
//! - enums are turned into their names with `.ToString()` (5.1's `ConvertTo-Json` would print
//!   their numbers), dates stay dates (5.1 prints `"\/Date(1573776000000)\/"`);
//! - absence is data, not an error: a missing registry value is `null`, a missing service is no
//!   row, a missing file is `"Exists":false`;
//! - every real failure is terminating (`-ErrorAction Stop`, also the probe script's
//!   `$ErrorActionPreference`), so the probe script records it as a failed probe (non-zero exit,
//!   the error record on stderr) and the check reports Error instead of a verdict; the script
//!   takes rc from a terminating error or the error stream, never from `HadErrors`, which
//!   Windows PowerShell also sets for suppressed and caught errors (PowerShell#4613);
//! - an expected absence is asked for without an error (`Get-Module -ListAvailable`), or caught
//!   by its category (`ObjectNotFound`); an error is never silenced without `-ErrorVariable`
//!   keeping it, and one bad item (a scheduled task that cannot be read) is reported beside the
//!   others instead of sinking the probe (a test enforces the first two, and that no fragment
//!   reads `[Console]::In`);
//! - fragments do not call `exit`, do not write to the host, and assume `Set-StrictMode` is off
//!   (reading a property of `$null` gives `$null`).

use crate::meta::Os;
use crate::probe::{Probe, ProbeId};

/// Probes that fill the report header: OSName, OSVersion and build from Win32_OperatingSystem,
/// and the host name (`os-info` carries both); what the account's token can do (`current-user`:
/// an elevated, a UAC-filtered or no administrator), which explains at once every check in
/// Error for want of an administrator.
pub const FACTS: &[ProbeId] = &["os-info", "current-user"];

/// Probes that must not run while another one runs, as `(probe, the probe it waits for)`: the
/// probe script starts the first only once the second has ended (or did not run), and keeps
/// every other probe parallel. `Get-WindowsFeature` and the Windows Update search both go
/// through the servicing stack (TrustedInstaller); on a fresh VM the first search holds it for
/// minutes, and a feature query beside it is slowed or times out
/// (/work/shared/research/windows-real.md, `windows-features`).
pub const RUNS_AFTER: &[(ProbeId, ProbeId)] = &[("windows-features", "pending-updates")];

/// The `Get-WindowsFeature` names the unsupported-feature checks read, in the order of the
/// `windows-features` command (a test keeps the two in step).
pub const FEATURE_NAMES: &[&str] = &[
    "Failover-Clustering",
    "DHCP",
    "Hyper-V",
    "RemoteAccess",
    "DirectAccess-VPN",
    "Routing",
    "ADRMS",
    "WDS",
    "ISNS",
    "Multipath-IO",
    "NLB",
    "PNRP",
    "SNMP-Service",
    "WINS",
    "Wireless-Networking",
];

const fn p(
    id: ProbeId,
    needs_root: bool,
    description: &'static str,
    command: &'static str,
) -> Probe {
    Probe {
        id,
        os: Os::Windows,
        command,
        needs_root,
        description,
    }
}

/// The Windows catalogue.
pub static PROBES: &[Probe] = &[
    p(
        "os-info",
        false,
        "Win32_OperatingSystem Caption, Version, BuildNumber, OSArchitecture, CSName, and the DNS host name (JSON object)",
        r"$os = Get-CimInstance -ClassName Win32_OperatingSystem -ErrorAction Stop
[pscustomobject]@{
  Caption = $os.Caption
  Version = $os.Version
  BuildNumber = $os.BuildNumber
  OSArchitecture = $os.OSArchitecture
  CSName = $os.CSName
  Hostname = [System.Net.Dns]::GetHostName()
} | ConvertTo-Json -Depth 4 -Compress",
    ),
    p(
        "windows-features",
        true,
        "Get-WindowsFeature rows (Name, DisplayName, InstallState as text) of the unsupported roles and features; unknown names give no row (JSON rows)",
        r"Get-WindowsFeature -Name 'Failover-Clustering', 'DHCP', 'Hyper-V', 'RemoteAccess', 'DirectAccess-VPN', 'Routing', 'ADRMS', 'WDS', 'ISNS', 'Multipath-IO', 'NLB', 'PNRP', 'SNMP-Service', 'WINS', 'Wireless-Networking' -ErrorAction Stop |
  Select-Object Name, DisplayName, @{n='InstallState';e={$_.InstallState.ToString()}} |
  ConvertTo-Json -Depth 4 -Compress",
    ),
    p(
        "current-user",
        false,
        "the account the WinRM session runs as: DOMAIN\\name, SID, whether its token holds the Administrators role (elevated), whether it holds Administrators only as a deny-only SID (a UAC-filtered administrator), whether it is the built-in Administrator (RID 500), and LocalAccountTokenFilterPolicy (JSON object)",
        r"$id = [System.Security.Principal.WindowsIdentity]::GetCurrent()
$principal = New-Object -TypeName System.Security.Principal.WindowsPrincipal -ArgumentList $id
$denyOnly = @($id.Claims | Where-Object { $_.Type -eq 'http://schemas.microsoft.com/ws/2008/06/identity/claims/denyonlysid' -and $_.Value -eq 'S-1-5-32-544' })
$policyKey = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System'
$policy = if (Test-Path -LiteralPath $policyKey) { Get-ItemProperty -LiteralPath $policyKey -ErrorAction Stop } else { $null }
[pscustomobject]@{
  Name = $id.Name
  Sid = $id.User.Value
  IsAdministrator = $principal.IsInRole([System.Security.Principal.WindowsBuiltInRole]::Administrator)
  AdministratorsDenyOnly = $denyOnly.Count -gt 0
  BuiltinAdministrator = $id.User.Value -match '^S-1-5-21-.*-500$'
  LocalAccountTokenFilterPolicy = $policy.LocalAccountTokenFilterPolicy
} | ConvertTo-Json -Depth 4 -Compress",
    ),
    p(
        "ipv6-addresses",
        false,
        "Get-NetIPAddress -AddressFamily IPv6 rows: InterfaceAlias, IPAddress, PrefixLength, PrefixOrigin, SuffixOrigin, AddressState (JSON rows; nothing = no IPv6 address)",
        r"# No IPv6 address at all is an ObjectNotFound error of the CIM cmdlet: an answer, not a failure.
$rows = try { @(Get-NetIPAddress -AddressFamily IPv6 -ErrorAction Stop) } catch { if ($_.CategoryInfo.Category.ToString() -ne 'ObjectNotFound') { throw }; @() }
$rows |
  Select-Object InterfaceAlias, IPAddress, PrefixLength, @{n='PrefixOrigin';e={$_.PrefixOrigin.ToString()}}, @{n='SuffixOrigin';e={$_.SuffixOrigin.ToString()}}, @{n='AddressState';e={$_.AddressState.ToString()}} |
  ConvertTo-Json -Depth 4 -Compress",
    ),
    p(
        "bitlocker-os-volume",
        true,
        "Get-BitLockerVolume of the system drive (VolumeType, VolumeStatus, ProtectionStatus, EncryptionPercentage), or BitLockerAvailable false when the BitLocker module is not installed (JSON object)",
        r"$mount = $env:SystemDrive
# On Windows Server the BitLocker module exists only with the BitLocker feature: absent is an
# answer. Get-Module -ListAvailable writes no error when nothing matches.
if (@(Get-Module -ListAvailable -Name BitLocker).Count -gt 0) {
  Get-BitLockerVolume -MountPoint $mount -ErrorAction Stop |
    Select-Object MountPoint, @{n='BitLockerAvailable';e={$true}}, @{n='VolumeType';e={$_.VolumeType.ToString()}}, @{n='VolumeStatus';e={$_.VolumeStatus.ToString()}}, @{n='ProtectionStatus';e={$_.ProtectionStatus.ToString()}}, EncryptionPercentage |
    ConvertTo-Json -Depth 4 -Compress
} else {
  [pscustomobject]@{ MountPoint = $mount; BitLockerAvailable = $false } | ConvertTo-Json -Depth 4 -Compress
}",
    ),
    p(
        "setup-state",
        true,
        "sysprep evidence: SysprepStatus GeneralizationState/CleanupState, Setup\\State ImageState, Sysprep_succeeded.tag, and the last 20 lines matching `generaliz` of each setupact.log (JSON object)",
        r"$sysprepKey = 'HKLM:\SYSTEM\Setup\Status\SysprepStatus'
$stateKey = 'HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Setup\State'
$sysprep = if (Test-Path -LiteralPath $sysprepKey) { Get-ItemProperty -LiteralPath $sysprepKey -ErrorAction Stop } else { $null }
$state = if (Test-Path -LiteralPath $stateKey) { Get-ItemProperty -LiteralPath $stateKey -ErrorAction Stop } else { $null }
$logs = foreach ($path in (Join-Path $env:windir 'System32\Sysprep\Panther\setupact.log'), (Join-Path $env:windir 'Panther\setupact.log')) {
  $exists = Test-Path -LiteralPath $path -PathType Leaf
  $hits = if ($exists) { @(Select-String -LiteralPath $path -Pattern 'generaliz' -ErrorAction Stop) } else { @() }
  [pscustomobject]@{
    Path = $path
    Exists = $exists
    GeneralizeLineCount = $hits.Count
    GeneralizeLines = @($hits | Select-Object -Last 20 | ForEach-Object { $_.Line })
  }
}
[pscustomobject]@{
  GeneralizationState = $sysprep.GeneralizationState
  CleanupState = $sysprep.CleanupState
  ImageState = $state.ImageState
  SysprepSucceededTag = Test-Path -LiteralPath (Join-Path $env:windir 'System32\Sysprep\Sysprep_succeeded.tag')
  Logs = @($logs)
} | ConvertTo-Json -Depth 4 -Compress",
    ),
    p(
        "pending-updates",
        true,
        "Windows Update Agent search IsInstalled=0 and Type='Software' and IsHidden=0 (Title, MsrcSeverity, KBArticleIDs); when the search fails, its error and the newest Get-HotFix (JSON object)",
        r#"try {
  $session = New-Object -ComObject Microsoft.Update.Session
  $result = $session.CreateUpdateSearcher().Search("IsInstalled=0 and Type='Software' and IsHidden=0")
  $updates = @(foreach ($u in $result.Updates) {
    [pscustomobject]@{
      Title = $u.Title
      MsrcSeverity = $u.MsrcSeverity
      KBArticleIDs = @($u.KBArticleIDs)
    }
  })
  $out = [pscustomobject]@{ SearchSucceeded = $true; ResultCode = [int]$result.ResultCode; Updates = $updates }
} catch {
  $reason = $_.Exception.Message
  $newest = Get-HotFix -ErrorAction Stop | Where-Object { $_.InstalledOn } | Sort-Object -Property InstalledOn -Descending | Select-Object -First 1
  $out = [pscustomobject]@{
    SearchSucceeded = $false
    SearchError = $reason
    NewestHotFixID = $newest.HotFixID
    NewestHotFixInstalledOn = $newest.InstalledOn
  }
}
$out | ConvertTo-Json -Depth 4 -Compress"#,
    ),
    p(
        "drives-and-references",
        true,
        "Win32_LogicalDisk letters and DriveType, plus every service PathName and scheduled-task action that contains a drive-letter path, the scheduled tasks that could not be read (each on its own, so one bad task does not sink the rest), and the machine PATH (JSON object)",
        r"$drives = @(Get-CimInstance -ClassName Win32_LogicalDisk -ErrorAction Stop | ForEach-Object {
  [pscustomobject]@{ DeviceID = $_.DeviceID; DriveType = $_.DriveType; VolumeName = $_.VolumeName }
})
$services = @(Get-CimInstance -ClassName Win32_Service -ErrorAction Stop | Where-Object { $_.PathName -match '[A-Za-z]:[\\/]' } | ForEach-Object {
  [pscustomobject]@{ Name = $_.Name; PathName = $_.PathName }
})
# A task whose definition cannot be read is reported by name; it must not sink the others.
$taskErrors = @()
$tasks = @(Get-ScheduledTask -ErrorAction SilentlyContinue -ErrorVariable +taskErrors)
$unreadable = @($taskErrors | ForEach-Object { $_.Exception.Message })
$actions = @(foreach ($task in $tasks) {
  try {
    foreach ($a in $task.Actions) {
      if (('{0} {1} {2}' -f $a.Execute, $a.Arguments, $a.WorkingDirectory) -match '[A-Za-z]:[\\/]') {
        [pscustomobject]@{ TaskPath = $task.TaskPath; TaskName = $task.TaskName; Execute = $a.Execute; Arguments = $a.Arguments; WorkingDirectory = $a.WorkingDirectory }
      }
    }
  } catch {
    $unreadable += ('{0}{1}: {2}' -f $task.TaskPath, $task.TaskName, $_.Exception.Message)
  }
})
[pscustomobject]@{
  Drives = $drives
  Services = $services
  TaskActions = $actions
  UnreadableTasks = $unreadable
  SystemPath = [System.Environment]::GetEnvironmentVariable('Path', 'Machine')
} | ConvertTo-Json -Depth 4 -Compress",
    ),
    p(
        "azure-agent-services",
        false,
        "Win32_Service rows (Name, State, StartMode, PathName) of WindowsAzureGuestAgent and RdAgent (JSON rows; a missing service has no row)",
        r#"Get-CimInstance -ClassName Win32_Service -Filter "Name='WindowsAzureGuestAgent' OR Name='RdAgent'" -ErrorAction Stop |
  Select-Object Name, State, StartMode, PathName |
  ConvertTo-Json -Depth 4 -Compress"#,
    ),
    p(
        "rdp-settings",
        false,
        "fDenyTSConnections (local and policy), RDP-Tcp PortNumber, and the Remote Desktop firewall rules: those of the group @FirewallAPI.dll,-28752 and every rule named RemoteDesktop-* (the Remote Desktop (WebSocket) group's RemoteDesktop-In-TCP-WS/WSS included), each with its group (JSON object)",
        r"$ts = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server' -ErrorAction Stop
$tcp = Get-ItemProperty -LiteralPath 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp' -ErrorAction Stop
$policyKey = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services'
$policy = if (Test-Path -LiteralPath $policyKey) { Get-ItemProperty -LiteralPath $policyKey -ErrorAction Stop } else { $null }
$rules = @(Get-NetFirewallRule -ErrorAction Stop | Where-Object { $_.Group -eq '@FirewallAPI.dll,-28752' -or $_.Name -like 'RemoteDesktop-*' } | ForEach-Object {
  [pscustomobject]@{ Name = $_.Name; DisplayName = $_.DisplayName; Group = $_.Group; DisplayGroup = $_.DisplayGroup; Enabled = $_.Enabled.ToString(); Direction = $_.Direction.ToString() }
})
[pscustomobject]@{
  fDenyTSConnections = $ts.fDenyTSConnections
  PolicyDenyTSConnections = $policy.fDenyTSConnections
  PortNumber = $tcp.PortNumber
  FirewallRules = $rules
} | ConvertTo-Json -Depth 4 -Compress",
    ),
    p(
        "os-disk",
        true,
        "the disk holding the system drive's partition (Get-Partition -DriveLetter C | Get-Disk, not disk 0): Number, FriendlyName, Size in bytes, IsBoot, IsSystem (JSON object)",
        r"Get-Partition -DriveLetter ($env:SystemDrive.Substring(0, 1)) -ErrorAction Stop |
  Get-Disk -ErrorAction Stop |
  Select-Object Number, FriendlyName, Size, IsBoot, IsSystem |
  ConvertTo-Json -Depth 4 -Compress",
    ),
    p(
        "srv-sys-versions",
        false,
        "file versions of %windir%\\System32\\drivers\\srv.sys and srv2.sys (string and binary) and the OS version (JSON object)",
        r"$os = Get-CimInstance -ClassName Win32_OperatingSystem -ErrorAction Stop
$files = foreach ($name in 'srv.sys', 'srv2.sys') {
  $path = Join-Path $env:windir ('System32\drivers\' + $name)
  if (Test-Path -LiteralPath $path -PathType Leaf) {
    $v = (Get-Item -LiteralPath $path -ErrorAction Stop).VersionInfo
    [pscustomobject]@{ Name = $name; Exists = $true; FileVersion = $v.FileVersion; Version = ('{0}.{1}.{2}.{3}' -f $v.FileMajorPart, $v.FileMinorPart, $v.FileBuildPart, $v.FilePrivatePart) }
  } else {
    [pscustomobject]@{ Name = $name; Exists = $false; FileVersion = $null; Version = $null }
  }
}
[pscustomobject]@{
  OSVersion = $os.Version
  Caption = $os.Caption
  Files = @($files)
} | ConvertTo-Json -Depth 4 -Compress",
    ),
    p(
        "sql-services",
        false,
        "Win32_Service rows (Name, DisplayName, State, StartMode) whose name starts with MSSQL (JSON rows; nothing = none)",
        r#"Get-CimInstance -ClassName Win32_Service -Filter "Name LIKE 'MSSQL%'" -ErrorAction Stop |
  Select-Object Name, DisplayName, State, StartMode |
  ConvertTo-Json -Depth 4 -Compress"#,
    ),
    p(
        "auto-update-policy",
        false,
        "HKLM:\\SOFTWARE\\Policies\\Microsoft\\Windows\\WindowsUpdate\\AU NoAutoUpdate and AUOptions (null when not set), and whether Azure's WindowsPatchExtension (installed by patch mode AutomaticByPlatform) is on the VM (JSON object)",
        r"$key = 'HKLM:\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU'
$au = if (Test-Path -LiteralPath $key) { Get-ItemProperty -LiteralPath $key -ErrorAction Stop } else { $null }
[pscustomobject]@{
  KeyExists = $null -ne $au
  NoAutoUpdate = $au.NoAutoUpdate
  AUOptions = $au.AUOptions
  PatchExtension = Test-Path -LiteralPath (Join-Path $env:SystemDrive 'Packages\Plugins\Microsoft.CPlat.Core.WindowsPatchExtension')
} | ConvertTo-Json -Depth 4 -Compress",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn command(id: &str) -> &'static str {
        PROBES
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.command)
            .unwrap()
    }

    #[test]
    fn every_ordering_names_two_different_catalogue_probes() {
        for (probe, waits_for) in RUNS_AFTER {
            assert_ne!(probe, waits_for);
            for id in [probe, waits_for] {
                assert!(PROBES.iter().any(|p| p.id == *id), "{id} is not a probe");
            }
        }
    }

    #[test]
    fn feature_probe_asks_for_exactly_the_feature_names() {
        let quoted: Vec<String> = FEATURE_NAMES.iter().map(|n| format!("'{n}'")).collect();
        let list = quoted.join(", ");
        assert!(
            command("windows-features").contains(&format!("-Name {list} -ErrorAction Stop")),
            "windows-features must query exactly FEATURE_NAMES"
        );
    }

    /// What Windows PowerShell 5.1 really does, that a fragment must not trip over: the console
    /// host of `-Command -` has already buffered stdin, so `[Console]::In` reads the wrong part
    /// of it; `HadErrors` is set by suppressed and caught errors too (PowerShell#4613); and an
    /// error silenced without `-ErrorVariable` is an answer lost, not handled.
    #[test]
    fn fragments_avoid_what_misleads_on_windows_powershell_5_1() {
        for p in PROBES {
            assert!(
                !p.command.contains("[Console]::In"),
                "{}: reads [Console]::In",
                p.id
            );
            assert!(
                !p.command.contains("HadErrors"),
                "{}: reads HadErrors",
                p.id
            );
            for line in p.command.lines() {
                let silenced = [
                    "SilentlyContinue",
                    "-ErrorAction Ignore",
                    "-EA Ignore",
                    "-EA 0",
                ]
                .iter()
                .any(|s| line.contains(s));
                assert!(
                    !silenced || line.contains("-ErrorVariable"),
                    "{}: an error silenced without -ErrorVariable: {line}",
                    p.id
                );
            }
        }
    }

    #[test]
    fn the_fresh_vm_probes_ask_windows_the_robust_way() {
        assert!(command("os-disk").starts_with("Get-Partition -DriveLetter"));
        assert!(!command("os-disk").contains("-Number 0"));
        assert!(command("ipv6-addresses").contains("Get-NetIPAddress -AddressFamily IPv6"));
        assert!(!command("ipv6-addresses").contains("AddressFamily.ToString()"));
        assert!(command("rdp-settings").contains("-like 'RemoteDesktop-*'"));
        assert!(
            command("bitlocker-os-volume").contains("Get-Module -ListAvailable -Name BitLocker")
        );
        assert!(command("drives-and-references").contains("UnreadableTasks"));
        assert!(command("auto-update-policy").contains("WindowsPatchExtension"));
        assert!(command("current-user").contains("denyonlysid"));
    }

    #[test]
    fn every_probe_prints_compressed_json_and_fails_loudly() {
        for p in PROBES {
            assert!(
                p.command.contains("ConvertTo-Json -Depth 4 -Compress"),
                "{} does not print JSON",
                p.id
            );
            assert!(
                !p.command.contains("Format-") && !p.command.contains("Write-Host"),
                "{} formats for the console",
                p.id
            );
            assert!(
                !p.command
                    .lines()
                    .any(|l| l.trim_start().starts_with("exit")),
                "{} calls exit, which would end the whole probe script",
                p.id
            );
            assert!(
                p.description.contains("JSON"),
                "{}: say the output is JSON",
                p.id
            );
        }
    }
}
