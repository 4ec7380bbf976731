//! TestID 1.1.11 `Rights Management Services`: the Active Directory Rights Management Services feature (ADRMS) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `rights-management-disabled`: `Get-WindowsFeature ADRMS` is not installed.
pub static RIGHTS_MANAGEMENT_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "rights-management-disabled",
        title: "Rights Management Services role not installed",
        test_id: Some("1.1.11"),
        test_case_name: Some("Rights Management Services"),
        description: "Rights Management Services. The server role isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `Rights Management Services` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7). Its TestID was not published (vmcert numbers it 1.1.11) and the feature name `ADRMS` is vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name ADRMS -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["ADRMS"],
    required: "Active Directory Rights Management Services feature is disabled",
};
