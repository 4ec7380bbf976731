//! TestID 1.1.12 `Windows Deployment Services`: the Windows Deployment Services feature (WDS) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `deployment-services-disabled`: `Get-WindowsFeature WDS` is not installed.
pub static DEPLOYMENT_SERVICES_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "deployment-services-disabled",
        title: "Windows Deployment Services role not installed",
        test_id: Some("1.1.12"),
        test_case_name: Some("Windows Deployment Services"),
        description: "Windows Deployment Services. The server role isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `Windows Deployment Services` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7); network boot does not exist in Azure. Its TestID was not published (vmcert numbers it 1.1.12) and the feature name `WDS` is vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name WDS -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["WDS"],
    required: "Windows Deployment Services feature is disabled",
};
