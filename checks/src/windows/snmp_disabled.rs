//! TestID 1.1.18 `SNMP Services`: the SNMP Service feature (SNMP-Service) must not be installed.

use crate::meta::Meta;
use crate::windows::feature::{FEATURE_META, FeatureNotInstalled};

/// `snmp-disabled`: `Get-WindowsFeature SNMP-Service` is not installed.
pub static SNMP_DISABLED: FeatureNotInstalled = FeatureNotInstalled {
    meta: Meta {
        id: "snmp-disabled",
        title: "SNMP Service not installed",
        test_id: Some("1.1.18"),
        test_case_name: Some("SNMP Services"),
        description: "The Simple Network Management Protocol (SNMP) Services feature isn't yet supported. The application shouldn't be dependent on this feature.",
        rationale: "Test case `SNMP Services` of Microsoft's certification test tool (research/cert-cases.md section 3.1, S7). Its TestID was not published (vmcert numbers it 1.1.18) and the feature name `SNMP-Service` is vmcert's reading.",
        remediation: "Remove it before capturing the image: `Uninstall-WindowsFeature -Name SNMP-Service -Restart`, then generalize again. If the application needs it, ask for a certification exception.",
        ..FEATURE_META
    },
    features: &["SNMP-Service"],
    required: "SNMP Service feature is disabled",
};
