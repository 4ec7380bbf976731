//! The Windows probes answered from the disk: the NTFS system volume read with the `ntfs` crate
//! through the same block-cached [`Window`] as the Linux readers, and the SYSTEM and SOFTWARE
//! registry hives of `Windows\System32\config` read with [`super::hive`]. Each answer has the
//! exact JSON the live PowerShell probe prints (`checks/src/windows/probes.rs`), so the checks
//! read it unchanged: `setup-state` from SysprepStatus, Setup\State and sysprep's logs,
//! `azure-agent-services` and `sql-services` from the services' keys, `rdp-settings` from
//! Terminal Server's keys and the firewall's rule store, `os-info` from CurrentVersion and the
//! session environment. What only a running Windows knows (running services, installed roles,
//! pending updates, drives, BitLocker) comes back as [`Answer::Offline`]. Everything is read up
//! front at open, bounded, so the image is read once and the answers own their data.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use ntfs::indexes::NtfsFileNameIndex;
use ntfs::{Ntfs, NtfsFile};
use serde_json::{Value as Json, json};
use vmcert_checks::ProbeOutput;

use super::disk::Window;
use super::hive::{Hive, HiveError, Key, Value};
use super::layout::{FsKind, Layout};
use super::{Answer, ImageError};
use crate::vhd::partition::SECTOR;

/// Most bytes of one sysprep log scanned.
const LOG_CAP: u64 = 64 << 20;
/// Deepest path looked up on the volume.
const MAX_COMPONENTS: usize = 32;
/// The sysprep logs the live probe reads, as `C:\Windows\...` and as a volume path.
const LOGS: &[(&str, &str)] = &[
    (
        r"C:\Windows\System32\Sysprep\Panther\setupact.log",
        "Windows/System32/Sysprep/Panther/setupact.log",
    ),
    (
        r"C:\Windows\Panther\setupact.log",
        "Windows/Panther/setupact.log",
    ),
];
/// The Remote Desktop firewall group, as rules record it.
const RDP_GROUP: &str = "@FirewallAPI.dll,-28752";
/// The Azure VM Agent's services.
const AGENT_SERVICES: &[&str] = &["RdAgent", "WindowsAzureGuestAgent"];

/// `Read + Seek` over a [`Window`] (the NTFS reader wants a stream).
struct Stream {
    w: Window,
    pos: u64,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.w.len().saturating_sub(self.pos);
        let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        self.w
            .read(self.pos, &mut buf[..n])
            .map_err(|e| io::Error::other(e.to_string()))?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Seek for Stream {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let pos = match to {
            SeekFrom::Start(p) => Some(p),
            SeekFrom::End(d) => self.w.len().checked_add_signed(d),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
        };
        self.pos = pos.ok_or_else(|| io::Error::other("seek before the start"))?;
        Ok(self.pos)
    }
}

/// One probe's answer, owned.
enum Stored {
    Json(String),
    Offline(String),
    Error(String),
}

/// The answers of a Windows image.
pub(crate) struct Windows {
    answers: BTreeMap<&'static str, Stored>,
    /// What was found where, for the run's log.
    pub(crate) notes: Vec<String>,
}

/// The opened system volume.
struct Volume {
    ntfs: Ntfs,
    fs: Stream,
}

/// The file or directory at `/`-separated `path` of the volume, if it exists.
fn find<'n>(ntfs: &'n Ntfs, fs: &mut Stream, path: &str) -> Result<Option<NtfsFile<'n>>, String> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    if parts.len() > MAX_COMPONENTS {
        return Err(format!("{path}: path too deep"));
    }
    let err = |e: ntfs::NtfsError| format!("{path}: {e}");
    let mut file = ntfs.root_directory(fs).map_err(err)?;
    for part in parts {
        if !file.is_directory() {
            return Ok(None);
        }
        let index = file.directory_index(fs).map_err(err)?;
        let mut finder = index.finder();
        let Some(entry) = NtfsFileNameIndex::find(&mut finder, ntfs, fs, part) else {
            return Ok(None);
        };
        let entry = entry.map_err(err)?;
        let next = entry.to_file(ntfs, fs).map_err(err)?;
        drop(finder);
        drop(index);
        file = next;
    }
    Ok(Some(file))
}

impl Volume {
    fn exists(&mut self, path: &str) -> Result<bool, String> {
        Ok(find(&self.ntfs, &mut self.fs, path)?.is_some())
    }

    /// Runs `f` on the unnamed data stream of file `path` (length, stream), if the file exists.
    fn with_data<T>(
        &mut self,
        path: &str,
        f: impl FnOnce(u64, &mut dyn ReadSeek) -> Result<T, String>,
    ) -> Result<Option<T>, String> {
        let Self { ntfs, fs } = self;
        let Some(file) = find(ntfs, fs, path)? else {
            return Ok(None);
        };
        let err = |e: ntfs::NtfsError| format!("{path}: {e}");
        let Some(item) = file.data(fs, "") else {
            return Err(format!("{path} has no data"));
        };
        let item = item.map_err(err)?;
        let attr = item.to_attribute().map_err(err)?;
        let value = attr.value(fs).map_err(err)?;
        let len = value.len();
        let mut attached = value.attach(fs);
        f(len, &mut attached).map(Some)
    }
}

/// What the hive reader and the log scanner read through.
trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

fn str_of(v: Option<Value>) -> Json {
    match v {
        Some(Value::Str(s)) => Json::String(s),
        Some(Value::Int(n)) => Json::String(n.to_string()),
        _ => Json::Null,
    }
}

fn int_of(v: Option<Value>) -> Json {
    match v {
        Some(Value::Int(n)) => json!(n),
        _ => Json::Null,
    }
}

/// `key`'s value `name`, `None` when the key is absent.
fn get<R: Read + Seek>(
    h: &mut Hive<R>,
    key: Option<Key>,
    name: &str,
) -> Result<Option<Value>, HiveError> {
    match key {
        Some(k) => h.value(k, name),
        None => Ok(None),
    }
}

/// What the SYSTEM hive says.
struct SystemFacts {
    sysprep: (Json, Json),
    services: Vec<(String, Option<i64>, Json)>,
    /// Services named MSSQL*: name, DisplayName, Start.
    sql: Vec<(String, Json, Option<i64>)>,
    deny: Json,
    port: Json,
    rules: Vec<Json>,
    arch: Option<String>,
    computer: Json,
    hostname: Json,
}

fn read_system<R: Read + Seek>(h: &mut Hive<R>) -> Result<SystemFacts, HiveError> {
    let select = h.path("Select")?;
    let current = match get(h, select, "Current")? {
        Some(Value::Int(n)) if (1..=999).contains(&n) => n,
        _ => 1,
    };
    let cs = format!("ControlSet{current:03}");
    let k = h.path(r"Setup\Status\SysprepStatus")?;
    let sysprep = (
        int_of(get(h, k, "GeneralizationState")?),
        int_of(get(h, k, "CleanupState")?),
    );
    let mut services = Vec::new();
    for name in AGENT_SERVICES {
        if let Some(k) = h.path(&format!(r"{cs}\Services\{name}"))? {
            let start = match h.value(k, "Start")? {
                Some(Value::Int(n)) => Some(n),
                _ => None,
            };
            services.push(((*name).to_string(), start, str_of(h.value(k, "ImagePath")?)));
        }
    }
    let mut sql = Vec::new();
    if let Some(all) = h.path(&format!(r"{cs}\Services"))? {
        for (name, k) in h.subkey_names(all)? {
            if name.to_ascii_uppercase().starts_with("MSSQL") {
                let start = match h.value(k, "Start")? {
                    Some(Value::Int(n)) => Some(n),
                    _ => None,
                };
                sql.push((name, str_of(h.value(k, "DisplayName")?), start));
            }
        }
    }
    let ts = h.path(&format!(r"{cs}\Control\Terminal Server"))?;
    let deny = int_of(get(h, ts, "fDenyTSConnections")?);
    let tcp = h.path(&format!(
        r"{cs}\Control\Terminal Server\WinStations\RDP-Tcp"
    ))?;
    let port = int_of(get(h, tcp, "PortNumber")?);
    let mut rules = Vec::new();
    if let Some(k) = h.path(&format!(
        r"{cs}\Services\SharedAccess\Parameters\FirewallPolicy\FirewallRules"
    ))? {
        for (name, v) in h.values(k)? {
            if let Value::Str(s) = v
                && let Some(rule) = firewall_rule(&name, &s)
            {
                rules.push(rule);
            }
        }
    }
    let env = h.path(&format!(r"{cs}\Control\Session Manager\Environment"))?;
    let arch = match get(h, env, "PROCESSOR_ARCHITECTURE")? {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    };
    let cn = h.path(&format!(r"{cs}\Control\ComputerName\ComputerName"))?;
    let computer = str_of(get(h, cn, "ComputerName")?);
    let tcpip = h.path(&format!(r"{cs}\Services\Tcpip\Parameters"))?;
    let hostname = str_of(get(h, tcpip, "Hostname")?);
    Ok(SystemFacts {
        sysprep,
        services,
        sql,
        deny,
        port,
        rules,
        arch,
        computer,
        hostname,
    })
}

/// A Remote Desktop rule of the firewall's store (`v2.30|Action=Allow|Active=TRUE|Dir=In|...`)
/// as `Get-NetFirewallRule` rows show it; other rules `None`. DisplayName and DisplayGroup are
/// resource references a running system resolves; offline they stay as recorded.
fn firewall_rule(name: &str, data: &str) -> Option<Json> {
    let fields: BTreeMap<&str, &str> = data.split('|').filter_map(|f| f.split_once('=')).collect();
    let group = fields.get("EmbedCtxt").copied();
    if group != Some(RDP_GROUP) && !name.to_ascii_lowercase().starts_with("remotedesktop-") {
        return None;
    }
    let display = fields.get("Name").copied().unwrap_or(name);
    Some(json!({
        "Name": name,
        "DisplayName": display,
        "Group": group,
        "DisplayGroup": group,
        "Enabled": if fields.get("Active").is_some_and(|a| a.eq_ignore_ascii_case("TRUE")) { "True" } else { "False" },
        "Direction": if fields.get("Dir").is_some_and(|d| d.eq_ignore_ascii_case("Out")) { "Outbound" } else { "Inbound" },
    }))
}

/// What the SOFTWARE hive says.
struct SoftwareFacts {
    image_state: Json,
    policy_deny: Json,
    product: Option<String>,
    build: Json,
    version: Option<String>,
}

fn read_software<R: Read + Seek>(h: &mut Hive<R>) -> Result<SoftwareFacts, HiveError> {
    let k = h.path(r"Microsoft\Windows\CurrentVersion\Setup\State")?;
    let image_state = str_of(get(h, k, "ImageState")?);
    let k = h.path(r"Policies\Microsoft\Windows NT\Terminal Services")?;
    let policy_deny = int_of(get(h, k, "fDenyTSConnections")?);
    let cv = h.path(r"Microsoft\Windows NT\CurrentVersion")?;
    let product = match get(h, cv, "ProductName")? {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    };
    let build = str_of(get(h, cv, "CurrentBuild")?);
    let major = get(h, cv, "CurrentMajorVersionNumber")?;
    let minor = get(h, cv, "CurrentMinorVersionNumber")?;
    let version = match (major, minor, &build) {
        (Some(Value::Int(a)), Some(Value::Int(b)), Json::String(c)) => Some(format!("{a}.{b}.{c}")),
        _ => match (get(h, cv, "CurrentVersion")?, &build) {
            (Some(Value::Str(v)), Json::String(c)) => Some(format!("{v}.{c}")),
            _ => None,
        },
    };
    Ok(SoftwareFacts {
        image_state,
        policy_deny,
        product,
        build,
        version,
    })
}

/// A hive file's facts, or why not.
fn hive_facts<T>(
    vol: &mut Volume,
    path: &str,
    read: impl FnOnce(&mut Hive<&mut dyn ReadSeek>) -> Result<T, HiveError>,
) -> Result<T, String> {
    vol.with_data(path, |len, r| {
        let mut hive = Hive::open(r, len).map_err(|e| e.to_string())?;
        read(&mut hive).map_err(|e| e.to_string())
    })?
    .ok_or_else(|| format!("{path} is not on the image"))
    .map_err(|e| format!("C:\\{}: {e}", path.replace('/', "\\")))
}

/// A sysprep log's row of `setup-state`: lines matching `generaliz` case-insensitively, as
/// `Select-String` finds them, the last 20 kept.
fn log_row(vol: &mut Volume, shown: &str, path: &str) -> Result<Json, String> {
    let found = vol.with_data(path, |_, r| {
        let mut count = 0u64;
        let mut last: std::collections::VecDeque<String> = std::collections::VecDeque::new();
        let mut reader = BufReader::new(r.take(LOG_CAP));
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader
                .by_ref()
                .take(64 << 10)
                .read_until(b'\n', &mut line)
                .map_err(|e| format!("{path}: {e}"))?;
            if n == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            if text.to_ascii_lowercase().contains("generaliz") {
                count += 1;
                if last.len() == 20 {
                    last.pop_front();
                }
                last.push_back(text.to_string());
            }
        }
        Ok((count, last))
    })?;
    let (exists, count, lines) = match found {
        Some((c, l)) => (true, c, l.into_iter().collect::<Vec<_>>()),
        None => (false, 0, Vec::new()),
    };
    Ok(json!({
        "Path": shown,
        "Exists": exists,
        "GeneralizeLineCount": count,
        "GeneralizeLines": lines,
    }))
}

/// `Win32_Service.StartMode` of a service key's `Start`.
fn start_mode(start: Option<i64>) -> Json {
    match start {
        Some(0) => "Boot".into(),
        Some(1) => "System".into(),
        Some(2) => "Auto".into(),
        Some(3) => "Manual".into(),
        Some(4) => "Disabled".into(),
        _ => Json::Null,
    }
}

impl Windows {
    /// Opens the image's Windows volume: the first NTFS partition holding
    /// `Windows\System32\config\SYSTEM`, and reads what the probes need.
    ///
    /// # Errors
    /// No such partition: the error names what was found instead.
    pub(crate) fn open(layout: &Layout) -> Result<Self, ImageError> {
        let mut notes = layout.notes.clone();
        let mut found = None;
        for p in layout.parts.iter().filter(|p| p.fs == FsKind::Ntfs) {
            let mut fs = Stream {
                w: layout.window(p),
                pos: 0,
            };
            let opened = Ntfs::new(&mut fs).and_then(|mut n| {
                n.read_upcase_table(&mut fs)?;
                Ok(n)
            });
            match opened {
                Ok(ntfs) => {
                    let mut vol = Volume { ntfs, fs };
                    match vol.exists("Windows/System32/config/SYSTEM") {
                        Ok(true) => {
                            notes.push(format!(
                                "Windows volume: NTFS partition {} at sector {} ({} bytes)",
                                p.number,
                                p.start,
                                p.sectors * SECTOR
                            ));
                            found = Some(vol);
                            break;
                        }
                        Ok(false) => notes.push(format!(
                            "NTFS partition {} has no Windows\\System32\\config\\SYSTEM",
                            p.number
                        )),
                        Err(e) => {
                            notes.push(format!("NTFS partition {} cannot be read: {e}", p.number))
                        }
                    }
                }
                Err(e) => notes.push(format!(
                    "partition {} has an NTFS boot sector but cannot be read: {e}",
                    p.number
                )),
            }
        }
        let Some(mut vol) = found else {
            return Err(ImageError::NoRoot(format!(
                "no NTFS partition holds a readable Windows\\System32\\config\\SYSTEM ({})",
                notes.join("; ")
            )));
        };
        let system = hive_facts(&mut vol, "Windows/System32/config/SYSTEM", |h| {
            read_system(h)
        });
        let software = hive_facts(&mut vol, "Windows/System32/config/SOFTWARE", |h| {
            read_software(h)
        });
        if let Err(e) = &system {
            notes.push(e.clone());
        }
        if let Err(e) = &software {
            notes.push(e.clone());
        }
        let mut answers = BTreeMap::new();
        answers.insert("setup-state", setup_state(&mut vol, &system, &software));
        answers.insert("azure-agent-services", agent_services(&system));
        answers.insert("rdp-settings", rdp_settings(&system, &software));
        answers.insert("os-info", os_info(&system, &software));
        answers.insert("sql-services", sql_services(&system));
        Ok(Self { answers, notes })
    }

    /// Answers probe `id`.
    pub(crate) fn answer(&self, id: &str) -> Answer {
        match self.answers.get(id) {
            Some(Stored::Json(s)) => Answer::Out(ProbeOutput::exited(0, format!("{s}\r\n"))),
            Some(Stored::Offline(why)) => Answer::Offline(why.clone()),
            Some(Stored::Error(e)) => Answer::Error(format!("cannot read the image: {e}")),
            None => Answer::Offline(match id {
                "windows-features" => "installed roles and features are told by the component store of a running Windows".to_string(),
                "pending-updates" => "pending updates are found by a Windows Update search on a running system".to_string(),
                "current-user" => "there is no WinRM session on a disk image".to_string(),
                "ipv6-addresses" => "IP addresses exist on a running VM only".to_string(),
                "os-disk" | "drives-and-references" => "the drives are those a deployed VM is given".to_string(),
                "bitlocker-os-volume" => "BitLocker's state is read from a running system".to_string(),
                "srv-sys-versions" => "srv.sys's file version is read from its version resource on a running system".to_string(),
                "auto-update-policy" => "Azure's patch extension, which the check accepts, is installed on a deployed VM only".to_string(),
                other => format!("vmcert cannot answer probe `{other}` from a Windows disk image"),
            }),
        }
    }
}

/// Both hives' facts, or the error of the first that could not be read (as the probe's output).
fn both<'a>(
    system: &'a Result<SystemFacts, String>,
    software: &'a Result<SoftwareFacts, String>,
) -> Result<(&'a SystemFacts, &'a SoftwareFacts), Stored> {
    match (system, software) {
        (Ok(a), Ok(b)) => Ok((a, b)),
        (Err(e), _) | (_, Err(e)) => Err(Stored::Error(e.clone())),
    }
}

fn setup_state(
    vol: &mut Volume,
    system: &Result<SystemFacts, String>,
    software: &Result<SoftwareFacts, String>,
) -> Stored {
    let (sys, soft) = match both(system, software) {
        Ok(pair) => pair,
        Err(e) => return e,
    };
    let tag = match vol.exists("Windows/System32/Sysprep/Sysprep_succeeded.tag") {
        Ok(t) => t,
        Err(e) => return Stored::Error(e),
    };
    let mut logs = Vec::new();
    for (shown, path) in LOGS {
        match log_row(vol, shown, path) {
            Ok(row) => logs.push(row),
            Err(e) => return Stored::Error(e),
        }
    }
    Stored::Json(
        json!({
            "GeneralizationState": sys.sysprep.0,
            "CleanupState": sys.sysprep.1,
            "ImageState": soft.image_state,
            "SysprepSucceededTag": tag,
            "Logs": logs,
        })
        .to_string(),
    )
}

/// The agent's services: a missing or disabled one decides the check offline (rows with the
/// services' state on a disk, Stopped); both installed and starting, only a running VM tells
/// whether they run.
fn agent_services(system: &Result<SystemFacts, String>) -> Stored {
    let sys = match system {
        Ok(s) => s,
        Err(e) => return Stored::Error(e.clone()),
    };
    let decided = sys.services.len() < AGENT_SERVICES.len()
        || sys.services.iter().any(|(_, start, _)| *start == Some(4));
    if !decided {
        let modes: Vec<String> = sys
            .services
            .iter()
            .map(|(n, s, _)| format!("{n} {}", start_mode(*s).as_str().unwrap_or("unknown")))
            .collect();
        return Stored::Offline(format!(
            "both Azure VM Agent services are installed ({}); whether they run is known on a running VM",
            modes.join(", ")
        ));
    }
    let rows: Vec<Json> = sys
        .services
        .iter()
        .map(|(name, start, path)| {
            json!({ "Name": name, "State": "Stopped", "StartMode": start_mode(*start), "PathName": path })
        })
        .collect();
    Stored::Json(if rows.is_empty() {
        String::new()
    } else {
        Json::Array(rows).to_string()
    })
}

/// The MSSQL* services installed: nothing runs on a disk, so their state is Stopped.
fn sql_services(system: &Result<SystemFacts, String>) -> Stored {
    let sys = match system {
        Ok(s) => s,
        Err(e) => return Stored::Error(e.clone()),
    };
    let rows: Vec<Json> = sys
        .sql
        .iter()
        .map(|(name, display, start)| {
            json!({ "Name": name, "DisplayName": display, "State": "Stopped", "StartMode": start_mode(*start) })
        })
        .collect();
    Stored::Json(if rows.is_empty() {
        String::new()
    } else {
        Json::Array(rows).to_string()
    })
}

fn rdp_settings(
    system: &Result<SystemFacts, String>,
    software: &Result<SoftwareFacts, String>,
) -> Stored {
    let (sys, soft) = match both(system, software) {
        Ok(pair) => pair,
        Err(e) => return e,
    };
    Stored::Json(
        json!({
            "fDenyTSConnections": sys.deny,
            "PolicyDenyTSConnections": soft.policy_deny,
            "PortNumber": sys.port,
            "FirewallRules": sys.rules,
        })
        .to_string(),
    )
}

fn os_info(
    system: &Result<SystemFacts, String>,
    software: &Result<SoftwareFacts, String>,
) -> Stored {
    let (sys, soft) = match both(system, software) {
        Ok(pair) => pair,
        Err(e) => return e,
    };
    let (Some(product), Some(version), Some(arch)) = (&soft.product, &soft.version, &sys.arch)
    else {
        return Stored::Error(
            "the hives record no ProductName, version or PROCESSOR_ARCHITECTURE".to_string(),
        );
    };
    // Win32_OperatingSystem's Caption is the product name with the vendor in front.
    let caption = if product.starts_with("Microsoft") {
        product.clone()
    } else {
        format!("Microsoft {product}")
    };
    let os_arch = match arch.to_ascii_uppercase().as_str() {
        "AMD64" | "IA64" => "64-bit".to_string(),
        "X86" => "32-bit".to_string(),
        "ARM64" => "ARM 64-bit Processor".to_string(),
        other => other.to_string(),
    };
    // Both are strings in the live output; an image without them (never seen) gives "".
    let computer = sys.computer.as_str().unwrap_or_default();
    let hostname = sys.hostname.as_str().unwrap_or(computer);
    Stored::Json(
        json!({
            "Caption": caption,
            "Version": version,
            "BuildNumber": soft.build,
            "OSArchitecture": os_arch,
            "CSName": computer,
            "Hostname": hostname,
        })
        .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firewall_store_rules_read_as_get_netfirewallrule_rows() {
        let on = firewall_rule(
            "RemoteDesktop-UserMode-In-TCP",
            "v2.30|Action=Allow|Active=TRUE|Dir=In|Protocol=6|LPort=3389|Name=@FirewallAPI.dll,-28775|EmbedCtxt=@FirewallAPI.dll,-28752|",
        )
        .unwrap();
        assert_eq!(on["Enabled"], "True");
        assert_eq!(on["Direction"], "Inbound");
        assert_eq!(on["Group"], RDP_GROUP);
        assert_eq!(on["DisplayName"], "@FirewallAPI.dll,-28775");
        let off = firewall_rule(
            "RemoteDesktop-In-TCP-WS",
            "v2.30|Action=Allow|Active=FALSE|Dir=In|EmbedCtxt=@FirewallAPI.dll,-28782|",
        )
        .unwrap();
        assert_eq!(off["Enabled"], "False");
        assert_eq!(off["Group"], "@FirewallAPI.dll,-28782");
        let out = firewall_rule(
            "RemoteDesktop-Out",
            "v2.30|Active=TRUE|Dir=Out|EmbedCtxt=@FirewallAPI.dll,-28752|",
        )
        .unwrap();
        assert_eq!(out["Direction"], "Outbound");
        assert!(
            firewall_rule(
                "CoreNet-DHCP-In",
                "v2.30|Active=TRUE|Dir=In|EmbedCtxt=@FirewallAPI.dll,-25000|"
            )
            .is_none()
        );
        assert!(firewall_rule("garbage", "no fields at all").is_none());
    }

    #[test]
    fn service_start_values_are_win32_start_modes() {
        assert_eq!(start_mode(Some(2)), "Auto");
        assert_eq!(start_mode(Some(3)), "Manual");
        assert_eq!(start_mode(Some(4)), "Disabled");
        assert_eq!(start_mode(Some(99)), Json::Null);
        assert_eq!(start_mode(None), Json::Null);
    }

    fn facts(services: &[(&str, Option<i64>)]) -> Result<SystemFacts, String> {
        Ok(SystemFacts {
            sysprep: (Json::Null, Json::Null),
            services: services
                .iter()
                .map(|(n, s)| ((*n).to_string(), *s, Json::Null))
                .collect(),
            sql: Vec::new(),
            deny: Json::Null,
            port: Json::Null,
            rules: Vec::new(),
            arch: None,
            computer: Json::Null,
            hostname: Json::Null,
        })
    }

    #[test]
    fn agent_services_decide_offline_only_when_missing_or_disabled() {
        let both = agent_services(&facts(&[
            ("RdAgent", Some(2)),
            ("WindowsAzureGuestAgent", Some(2)),
        ]));
        assert!(
            matches!(&both, Stored::Offline(why) if why.contains("RdAgent Auto, WindowsAzureGuestAgent Auto"))
        );
        let disabled = agent_services(&facts(&[
            ("RdAgent", Some(2)),
            ("WindowsAzureGuestAgent", Some(4)),
        ]));
        let Stored::Json(rows) = disabled else {
            panic!("a disabled agent decides the check");
        };
        assert!(rows.contains(r#""StartMode":"Disabled""#), "{rows}");
        assert!(rows.contains(r#""State":"Stopped""#), "{rows}");
        assert!(matches!(agent_services(&facts(&[])), Stored::Json(s) if s.is_empty()));
        assert!(matches!(
            agent_services(&Err("corrupt".into())),
            Stored::Error(_)
        ));
    }
}
