//! Which distribution family a target belongs to, from its os-release `ID` and `ID_LIKE`.
//!
//! LISA's rules differ per distribution (repositories, network files, DHCP options, the KVP
//! daemon), and so do the files vmcert reads. Every check that needs the family asks here, so
//! Debian/Ubuntu, RHEL and its rebuilds, SUSE and Azure Linux are told apart the same way
//! everywhere, through the one os-release parser ([`OsRelease`]).

use crate::Unevaluable;
use crate::evidence::Evidence;
use crate::linux::os_release::OsRelease;

/// A distribution as the LISA-parity checks tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Distro {
    /// `ID=ubuntu`.
    Ubuntu,
    /// `ID=debian`.
    Debian,
    /// Another distribution whose `ID_LIKE` names debian or ubuntu.
    DebianLike,
    /// `ID=rhel`.
    Rhel,
    /// `ID=almalinux`.
    Alma,
    /// `ID=rocky`.
    Rocky,
    /// `ID=ol` (Oracle Linux).
    Oracle,
    /// `ID=centos`.
    CentOs,
    /// `ID=fedora`.
    Fedora,
    /// Another distribution whose `ID_LIKE` names rhel, centos or fedora.
    RhelLike,
    /// `ID=sles`/`sles_sap`/`sled`.
    Sles,
    /// openSUSE, or another distribution whose `ID_LIKE` names suse.
    SuseLike,
    /// `ID=azurelinux` (Azure Linux 3 and later).
    AzureLinux,
    /// `ID=mariner` (CBL-Mariner 1 and 2, Azure Linux's former name).
    Mariner,
    /// Anything else.
    Other,
}

/// The target's distribution and its major version (`VERSION_ID` up to the first dot).
#[derive(Debug, Clone)]
pub(crate) struct Family {
    /// Which distribution.
    pub(crate) distro: Distro,
    /// `VERSION_ID`'s first number, when it has one.
    pub(crate) major: Option<u32>,
    /// `PRETTY_NAME`, for messages.
    pub(crate) pretty: String,
}

impl Family {
    /// Classifies parsed os-release fields.
    pub(crate) fn from_os_release(os: &OsRelease) -> Self {
        let id = os.id();
        let like = os.id_like();
        let likes = |w: &str| like.iter().any(|l| l == w);
        let distro = match id.as_str() {
            "ubuntu" => Distro::Ubuntu,
            "debian" => Distro::Debian,
            "rhel" => Distro::Rhel,
            "almalinux" => Distro::Alma,
            "rocky" => Distro::Rocky,
            "ol" => Distro::Oracle,
            "centos" => Distro::CentOs,
            "fedora" => Distro::Fedora,
            "sles" | "sles_sap" | "sled" => Distro::Sles,
            "azurelinux" => Distro::AzureLinux,
            "mariner" => Distro::Mariner,
            i if i.starts_with("opensuse") => Distro::SuseLike,
            _ if likes("suse") || likes("sles") || likes("opensuse") => Distro::SuseLike,
            _ if likes("rhel") || likes("centos") || likes("fedora") => Distro::RhelLike,
            _ if likes("debian") || likes("ubuntu") => Distro::DebianLike,
            _ => Distro::Other,
        };
        let major = os
            .version_id()
            .and_then(|v| v.split('.').next())
            .and_then(|m| m.parse().ok());
        Self {
            distro,
            major,
            pretty: os.pretty_name().to_string(),
        }
    }

    /// Reads the `os-release` probe.
    pub(crate) fn from_evidence(ev: &Evidence) -> Result<Self, Unevaluable> {
        Ok(Self::from_os_release(&OsRelease::parse(
            &ev.stdout("os-release")?,
        )))
    }

    /// Debian, Ubuntu and their derivatives.
    pub(crate) fn is_debian(&self) -> bool {
        matches!(
            self.distro,
            Distro::Debian | Distro::Ubuntu | Distro::DebianLike
        )
    }

    /// RHEL, its rebuilds, CentOS, Fedora and their derivatives (LISA's `Fedora` class).
    pub(crate) fn is_rhel(&self) -> bool {
        matches!(
            self.distro,
            Distro::Rhel
                | Distro::Alma
                | Distro::Rocky
                | Distro::Oracle
                | Distro::CentOs
                | Distro::Fedora
                | Distro::RhelLike
        )
    }

    /// SLES, openSUSE and their derivatives.
    pub(crate) fn is_suse(&self) -> bool {
        matches!(self.distro, Distro::Sles | Distro::SuseLike)
    }

    /// Azure Linux under either name.
    pub(crate) fn is_azure_linux(&self) -> bool {
        matches!(self.distro, Distro::AzureLinux | Distro::Mariner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(text: &str) -> Family {
        Family::from_os_release(&OsRelease::parse(text))
    }

    #[test]
    fn ids_and_id_like() {
        let f = family(
            "ID=\"rhel\"\nVERSION_ID=\"9.4\"\nPRETTY_NAME=\"Red Hat Enterprise Linux 9.4 (Plow)\"\n",
        );
        assert_eq!(f.distro, Distro::Rhel);
        assert_eq!(f.major, Some(9));
        assert!(f.is_rhel());
        let f = family("ID=\"sles\"\nID_LIKE=\"suse\"\nVERSION_ID=\"15.5\"\n");
        assert_eq!(f.distro, Distro::Sles);
        assert_eq!(f.major, Some(15));
        assert_eq!(
            family("ID=opensuse-leap\nID_LIKE=\"suse opensuse\"\n").distro,
            Distro::SuseLike
        );
        assert_eq!(
            family("ID=linuxmint\nID_LIKE=\"ubuntu debian\"\n").distro,
            Distro::DebianLike
        );
        assert_eq!(
            family("ID=\"cloudlinux\"\nID_LIKE=\"rhel fedora centos\"\n").distro,
            Distro::RhelLike
        );
        assert_eq!(family("ID=azurelinux\nVERSION_ID=\"3.0\"\n").major, Some(3));
        assert_eq!(family("ID=arch\n").distro, Distro::Other);
        assert_eq!(family("ID=debian\n").major, None);
    }
}
