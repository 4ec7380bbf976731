//! TestID 1.1.10 `Remote access`: the Remote Access feature (RemoteAccess, DirectAccess-VPN, Routing) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `remote-access-disabled`: `Get-WindowsFeature RemoteAccess, DirectAccess-VPN, Routing` is not installed.
pub static REMOTE_ACCESS_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "remote-access-disabled",
        title: "Remote Access role not installed",
        test_id: Some("1.1.10"),
        test_case_name: Some("Remote access"),
        description: "Remote Access (Direct Access) Server role isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `Remote access` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7). Its TestID was not published (vmcert numbers it 1.1.10); the feature names RemoteAccess, DirectAccess-VPN and Routing (the role and its DirectAccess/VPN and routing services) are vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name RemoteAccess,DirectAccess-VPN,Routing -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["RemoteAccess", "DirectAccess-VPN", "Routing"],
    required: "Remote Access feature is disabled",
};
