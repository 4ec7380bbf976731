//! TestID 1.1.8 `DHCP`: the DHCP Server feature (DHCP) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `dhcp-server-disabled`: `Get-WindowsFeature DHCP` is not installed.
pub static DHCP_SERVER_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "dhcp-server-disabled",
        title: "DHCP Server role not installed",
        test_id: Some("1.1.8"),
        test_case_name: Some("DHCP"),
        description: "Dynamic Host Configuration Protocol Server role isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `DHCP` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7); Azure assigns addresses itself. Its TestID was not published (vmcert numbers it 1.1.8) and the feature name `DHCP` is vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name DHCP -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["DHCP"],
    required: "DHCP Server feature is disabled",
};
