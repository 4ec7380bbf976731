//! SQL Server is not installed by the publisher: an image with SQL Server must be built on one of
//! Microsoft's SQL Server images, which carry the licensing.

use crate::evidence::Evidence;
use crate::meta::{Meta, Os, Severity};
use crate::probe::ProbeId;
use crate::verdict::{Status, Verdict};
use crate::windows::outputs::{self, Service};
use crate::{Check, Unevaluable};

/// No MSSQL* service, or a Warning naming them.
#[derive(Debug)]
pub struct SqlServerNotSelfInstalled;

static META: Meta = Meta {
    id: "sql-server-not-self-installed",
    title: "No self-installed SQL Server",
    test_id: None,
    test_case_name: None,
    description: "SQL Server in the image comes from an approved SQL Server base image, not from \
                  the publisher's own installation.",
    rationale: "Software compliance: a publisher may not install SQL Server into a Windows image \
                itself; images that need it must start from an Azure-approved SQL Server image \
                (research/cert-cases.md section 3.2, S7/S9). vmcert cannot see which base image \
                was used, so MSSQL* services (MSSQLSERVER, MSSQL$INSTANCE, ...) give a Warning \
                for the reviewer rather than a Fail.",
    remediation: "Rebuild the image on a Microsoft SQL Server on Windows Server Marketplace image, \
                  or uninstall SQL Server.",
    os: Os::Windows,
    severity: Severity::Medium,
    since: "0.1.0",
    inferred: false,
    outcomes: &[Status::Pass, Status::Warning, Status::Error],
    knobs: &[],
};

const REQUIRED: &str = "No MSSQL* service unless built from an approved SQL Server image";

impl Check for SqlServerNotSelfInstalled {
    fn meta(&self) -> &Meta {
        &META
    }

    fn probes(&self) -> &[ProbeId] {
        &["sql-services"]
    }

    fn required(&self, _: &Evidence) -> String {
        REQUIRED.to_string()
    }

    fn try_evaluate(&self, ev: &Evidence) -> Result<Verdict, Unevaluable> {
        evaluate(ev)
    }
}

fn evaluate(ev: &Evidence) -> Result<Verdict, Unevaluable> {
    let services: Vec<Service> = outputs::rows(ev, "sql-services")?;
    if services.is_empty() {
        return Ok(Verdict::new(
            Status::Pass,
            "No MSSQL service",
            REQUIRED,
            "SQL Server is not installed.",
        ));
    }
    let names: Vec<String> = services
        .iter()
        .map(|s| format!("{} ({})", s.name, s.state))
        .collect();
    Ok(Verdict::new(
        Status::Warning,
        names.join(", "),
        REQUIRED,
        "SQL Server is installed: the image must be built on an approved SQL Server base image, \
         not on a self-installed SQL Server.",
    ))
}
