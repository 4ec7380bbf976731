//! TestID 1.1.20 `Wireless LAN Service`: the Wireless LAN Service feature (Wireless-Networking) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `wireless-lan-disabled`: `Get-WindowsFeature Wireless-Networking` is not installed.
pub static WIRELESS_LAN_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "wireless-lan-disabled",
        title: "Wireless LAN Service not installed",
        test_id: Some("1.1.20"),
        test_case_name: Some("Wireless LAN Service"),
        description: "Wireless LAN Service. This server feature isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `Wireless LAN Service` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7); Azure VMs have no wireless hardware. Its TestID was not published (vmcert numbers it 1.1.20) and the feature name `Wireless-Networking` is vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name Wireless-Networking -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["Wireless-Networking"],
    required: "Wireless LAN Service feature is disabled",
};
