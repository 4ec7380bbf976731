//! The command line of `vmcert`, as fixed by the interface contract (shared/spec/interface.md).
//! Parsing only; each subcommand's work lives in its own module.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use vmcert_checks::{Os, Phase, Profile};

use crate::engine::config::RunConfig;
use crate::target::options::{TargetOptions, WinrmAuth};

pub(crate) use crate::engine::runner::FailOn;

/// Certification agent for Azure Marketplace VM images.
#[derive(Debug, Parser)]
#[command(name = "vmcert", version, about, long_about = None, propagate_version = true)]
pub(crate) struct Cli {
    /// More log output on stderr (-v info, -vv debug, -vvv trace); RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    #[command(subcommand)]
    pub command: Command,
}

/// Output format of listing and inspection commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum Format {
    /// Human-readable text.
    #[default]
    Table,
    /// JSON on stdout.
    Json,
    /// Markdown.
    Md,
}

/// OS selector on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OsArg {
    /// Linux.
    Linux,
    /// Windows.
    Windows,
}

impl From<OsArg> for Os {
    fn from(o: OsArg) -> Self {
        match o {
            OsArg::Linux => Self::Linux,
            OsArg::Windows => Self::Windows,
        }
    }
}

/// Role of a disk in an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RoleArg {
    /// The OS disk.
    Os,
    /// A data disk.
    Data,
}

/// WinRM authentication method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub(crate) enum AuthArg {
    /// HTTP Basic (HTTPS only unless --allow-unencrypted).
    Basic,
    /// NTLM (default; message encryption over HTTP).
    #[default]
    Ntlm,
    /// Kerberos (needs the `kerberos` cargo feature).
    Kerberos,
}

/// How to reach the target and authenticate. Secrets are never flag values.
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "Target and login")]
pub(crate) struct TargetArgs {
    /// ssh://USER@HOST[:PORT], winrm://USER@HOST[:PORT] (HTTP) or winrms://USER@HOST[:PORT] (HTTPS).
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "local",
        required_unless_present_any = ["local", "image"]
    )]
    pub target: Option<String>,
    /// Certify this machine itself (inside the VM or an image pipeline); no transport.
    #[arg(long, conflicts_with = "image")]
    pub local: bool,
    /// Certify a disk image before any VM exists: a fixed VHD or raw disk, its blob's SAS URL,
    /// or env:VAR holding either. Read offline, nothing executed or mounted; a pre-check.
    #[arg(long, value_name = "PATH|SAS_URL|env:VAR", conflicts_with = "target")]
    pub image: Option<String>,
    /// With --image: the account VMs of the image are reached with (its SSH keys and password
    /// are not leftovers); default the first regular account (uid 1000 and up), else root.
    #[arg(long, value_name = "NAME")]
    pub login_user: Option<String>,
    /// SSH private key (OpenSSH or PEM; encrypted keys need a passphrase).
    #[arg(long, value_name = "FILE")]
    pub identity: Option<PathBuf>,
    /// Read the key passphrase from this environment variable.
    #[arg(long, value_name = "VAR")]
    pub passphrase_env: Option<String>,
    /// Read the SSH/WinRM password from this environment variable.
    #[arg(long, value_name = "VAR", conflicts_with = "password_stdin")]
    pub password_env: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// Read the sudo password from this environment variable (default: the login password;
    /// key-only logins use `sudo -n`).
    #[arg(long, value_name = "VAR")]
    pub sudo_password_env: Option<String>,
    /// WinRM authentication.
    #[arg(long, value_enum, default_value_t)]
    pub auth: AuthArg,
    /// PEM file of CA certificates trusted for WinRM over HTTPS.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Skip TLS certificate verification for WinRM (dangerous; warned about).
    #[arg(long)]
    pub insecure: bool,
    /// Allow WinRM over HTTP without message encryption (Basic auth over HTTP).
    #[arg(long)]
    pub allow_unencrypted: bool,
    /// known_hosts file (default ~/.ssh/known_hosts).
    #[arg(long, value_name = "FILE")]
    pub known_hosts: Option<PathBuf>,
    /// Pin the expected SSH host key fingerprint (SHA256:...).
    #[arg(long, value_name = "SHA256:...")]
    pub host_key: Option<String>,
    /// Trust an unknown host key on first use and record it in the known-hosts file.
    #[arg(long)]
    pub accept_new_host_key: bool,
    /// Seconds to wait for the TCP connection, and again for the SSH handshake.
    #[arg(long, value_name = "SECS", default_value_t = TargetOptions::DEFAULT_CONNECT_TIMEOUT)]
    pub connect_timeout: u64,
}

impl TargetArgs {
    /// The target as the engine and the targets take it (`--local` is the locator `local`).
    pub(crate) fn options(&self) -> TargetOptions {
        TargetOptions {
            locator: match (&self.target, &self.image) {
                (Some(t), _) => t.clone(),
                (None, Some(image)) => format!("image:{image}"),
                (None, None) => TargetOptions::LOCAL.to_string(),
            },
            identity: self.identity.clone(),
            passphrase_env: self.passphrase_env.clone(),
            password_env: self.password_env.clone(),
            password_stdin: self.password_stdin,
            sudo_password_env: self.sudo_password_env.clone(),
            auth: match self.auth {
                AuthArg::Basic => WinrmAuth::Basic,
                AuthArg::Ntlm => WinrmAuth::Ntlm,
                AuthArg::Kerberos => WinrmAuth::Kerberos,
            },
            ca_file: self.ca_file.clone(),
            insecure: self.insecure,
            allow_unencrypted: self.allow_unencrypted,
            known_hosts: self.known_hosts.clone(),
            host_key: self.host_key.clone(),
            accept_new_host_key: self.accept_new_host_key,
            connect_timeout: self.connect_timeout,
            no_prompt: false,
            login_user: self.login_user.clone(),
        }
    }
}

/// `--fail-on`: the levels of [`FailOn`] with what each does, listed in `--help`.
fn fail_on_parser() -> impl clap::builder::TypedValueParser<Value = FailOn> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new(FailOn::ALL.map(|f| PossibleValue::new(f.as_str()).help(f.help())))
        .try_map(|name| name.parse::<FailOn>())
}

/// `--profile`: the names of [`Profile`], listed in `--help`.
fn profile_parser() -> impl clap::builder::TypedValueParser<Value = Profile> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(Profile::ALL.map(Profile::as_str))
        .try_map(|name| name.parse::<Profile>())
}

/// `--phase`: the names of [`Phase`] with what each means, listed in `--help`.
fn phase_parser() -> impl clap::builder::TypedValueParser<Value = Phase> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser as _};
    PossibleValuesParser::new(Phase::ALL.map(|p| PossibleValue::new(p.as_str()).help(p.help())))
        .try_map(|name| name.parse::<Phase>())
}

/// Options of `vmcert run`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Questionnaire answers (TOML, see `vmcert questionnaire template`), read and checked before
    /// connecting.
    #[arg(long, value_name = "FILE", help_heading = "Questionnaire")]
    pub answers: Option<PathBuf>,
    /// Report zip to write (default `<name>_<yyyyMMdd-HHmmss>.zip` in the current directory).
    #[arg(long, value_name = "PATH", help_heading = "Report")]
    pub out: Option<PathBuf>,
    /// Name of the run (default: the host name).
    #[arg(long, help_heading = "Report")]
    pub name: Option<String>,
    /// Threshold profile.
    #[arg(long, default_value_t, value_parser = profile_parser(), help_heading = "Checks")]
    pub profile: Profile,
    /// When the run happens: `final` on a VM deployed from the finished image, or `build` inside
    /// the build VM (e.g. a Packer provisioner) before deprovisioning, a pre-check that is never
    /// certified.
    #[arg(long, default_value_t, value_parser = phase_parser(), help_heading = "Checks")]
    pub phase: Phase,
    /// Run only these checks (comma-separated ids).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "ID,..",
        help_heading = "Checks"
    )]
    pub checks: Vec<String>,
    /// Skip these checks (comma-separated ids).
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "ID,..",
        help_heading = "Checks"
    )]
    pub skip: Vec<String>,
    /// User-defined checks: a TOML file or a directory of them (repeatable).
    #[arg(long, value_name = "FILE_OR_DIR", help_heading = "Checks")]
    pub check_pack: Vec<PathBuf>,
    /// Accepted exceptions (TOML: check id, justification, expiry date).
    #[arg(long, value_name = "FILE", help_heading = "Checks")]
    pub waivers: Option<PathBuf>,
    /// Timeout of each probe, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = RunConfig::DEFAULT_TIMEOUT, help_heading = "Checks")]
    pub timeout: u64,
    /// Timeout of the Windows Update search (Windows targets), in seconds: on a fresh VM the
    /// first online scan takes minutes. Started first, beside the other probes.
    #[arg(long, value_name = "SECS", default_value_t = crate::engine::runner::UPDATE_SEARCH_TIMEOUT)]
    pub update_search_timeout: u64,
    /// MiB of probe output (stdout and stderr of all probes together) the run keeps: output past
    /// it is dropped and the checks reading it are Error, so a target printing without end
    /// cannot make a report too large to verify or upload (at most 128). Each probe is also
    /// capped at 8 MiB of stdout and of stderr.
    #[arg(long, value_name = "MIB", default_value_t = crate::engine::budget::DEFAULT_OUTPUT_BUDGET >> 20,
          value_parser = clap::value_parser!(u64).range(1..=crate::engine::budget::MAX_OUTPUT_BUDGET >> 20), help_heading = "Checks")]
    pub output_budget: u64,
    /// Upload the report zip to this Azure Blob container (SAS URL, or env:VAR to read it from an
    /// environment variable, which keeps the signature out of the process list).
    #[arg(long, value_name = "CONTAINER_SAS_URL", help_heading = "Report")]
    pub upload: Option<String>,
    /// Never prompt (no password, no questionnaire); missing answers are an error before
    /// connecting unless --allow-unanswered.
    #[arg(long, help_heading = "Questionnaire")]
    pub non_interactive: bool,
    /// Save the answers given at the terminal to FILE after each one (the answers file format,
    /// with the ones from --answers), so Ctrl-C loses none; pass it back with --answers.
    #[arg(long, value_name = "FILE", help_heading = "Questionnaire")]
    pub save_answers: Option<PathBuf>,
    /// Record unanswered questions as unanswered (Warning) instead of failing.
    #[arg(long, help_heading = "Questionnaire")]
    pub allow_unanswered: bool,
    /// Save the raw probe outputs into DIR as a fixture case (for the checks' unit tests).
    #[arg(long, value_name = "DIR", help_heading = "Checks")]
    pub record: Option<PathBuf>,
    /// Sign the report with this ed25519 private key (unencrypted PKCS#8 PEM, as
    /// `openssl genpkey -algorithm ed25519` writes it); see `vmcert report sign`.
    #[arg(long, value_name = "FILE", help_heading = "Report")]
    pub sign_key: Option<PathBuf>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t, help_heading = "Report")]
    pub format: Format,
    /// The lowest status that makes the exit status non-zero: warning, fail (default) or error.
    #[arg(
        long,
        default_value_t,
        value_parser = fail_on_parser(),
        help_heading = "CI and exit status"
    )]
    pub fail_on: FailOn,
    #[command(flatten)]
    pub ci: CiOutputs,
}

/// Copies of the report's CI-readable files written outside the zip.
#[derive(Debug, Clone, Args, Default)]
#[command(next_help_heading = "CI and exit status")]
pub(crate) struct CiOutputs {
    /// Also write the JUnit XML here (one testsuite per target).
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Also write a SARIF 2.1.0 log here (one run per target; for code-scanning uploads).
    #[arg(long, value_name = "PATH")]
    pub sarif: Option<PathBuf>,
    /// Also write report.html here.
    #[arg(long, value_name = "PATH")]
    pub html: Option<PathBuf>,
    /// Also write report.md here.
    #[arg(long, value_name = "PATH")]
    pub md: Option<PathBuf>,
}

/// Options of `vmcert fleet`.
#[derive(Debug, Clone, Args)]
pub(crate) struct FleetArgs {
    /// The targets and their settings (TOML: `[defaults]`, then one `[[target]]` each).
    #[arg(long, value_name = "FILE")]
    pub inventory: PathBuf,
    /// Targets certified at the same time.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub jobs: usize,
    /// Where the report zips (`<name>.zip`) and fleet-summary.{json,html} go (default: here).
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
    /// Summary format on stdout.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
    /// The lowest status that makes a target's exit status non-zero: warning, fail (default)
    /// or error. The fleet exits with the worst target's.
    #[arg(long, default_value_t, value_parser = fail_on_parser())]
    pub fail_on: FailOn,
    /// Also write every target's JUnit results here, one testsuite per target.
    #[arg(long, value_name = "PATH")]
    pub junit: Option<PathBuf>,
    /// Also write a SARIF 2.1.0 log here, one run per target.
    #[arg(long, value_name = "PATH")]
    pub sarif: Option<PathBuf>,
}

/// Options of `vmcert connect`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnectArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    pub format: Format,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Test the connection: host key or TLS, authentication, OS facts, and whether sudo or an
    /// administrator account lets every probe run.
    #[command(
        after_help = "Examples:\n  vmcert connect --target ssh://azureuser@10.0.0.5 --identity ~/.ssh/id_ed25519\n  PASS=... vmcert connect --target ssh://azureuser@10.0.0.5:2222 \\\n      --password-env PASS --accept-new-host-key\n  vmcert connect --target ssh://azureuser@vm1 --format json \\\n      --host-key SHA256:WYY1O0BKP83nMYLkonBFVKIZ2R35xQ2bAkJxb1+MAy8\n  PASS=... vmcert connect --target winrms://azureuser@10.0.0.6 \\\n      --password-env PASS --ca-file winrm-ca.pem\n  vmcert connect --target winrm://azureuser@10.0.0.6 --auth ntlm \\\n      --password-stdin --format json < pw.txt"
    )]
    Connect(Box<ConnectArgs>),
    /// Certify one target: run the checks, collect the questionnaire, write the report zip.
    #[command(
        after_help = "Examples:\n  vmcert run --local --answers answers.toml --non-interactive\n  vmcert run --target ssh://azureuser@10.0.0.5 --identity ~/.ssh/id_ed25519 \\\n      --answers answers.toml\n  PASS=... vmcert run --target winrms://azureuser@10.0.0.6 --password-env PASS \\\n      --ca-file winrm-ca.pem --answers answers.toml\n  vmcert run --local --answers answers.toml --non-interactive \\\n      --sarif vmcert.sarif --junit vmcert.xml --fail-on warning \\\n      --sign-key signing.pem\n\nOutcome (results.json summary.outcome): certified (the whole catalogue ran, no Fail, no Error), failed (a Fail, waived or not), incomplete (an Error, the run interrupted, or --checks/--skip left checks out), pre-check (a disk image, or --phase build: the build VM before deprovisioning).\n\nQuestionnaire: at a terminal (stdin and stderr), the questions --answers leaves open are asked after the checks, with their results on screen, and before the report is written; Esc leaves one unanswered (a Warning in the report). Ctrl-C or SIGTERM at a question writes the report with the answers given, the run marked interrupted (exit 2). With --non-interactive or no terminal, an unanswered question is an error before connecting unless --allow-unanswered.\n\nExit codes: 0 nothing at or above --fail-on (default fail) outside a waiver; 1 an unwaived Fail (or Warning with --fail-on warning); 2 an unwaived Error, the run interrupted, or it could not start (bad input, connection, auth)."
    )]
    Run(Box<RunArgs>),
    /// Certify many targets concurrently from an inventory file: one report zip per target and a
    /// fleet summary. Exit code: the worst over all targets.
    #[command(
        after_help = "Inventory (TOML; paths relative to the file; secrets only as environment variable NAMES):\n  [defaults]\n  identity = \"keys/id_ed25519\"\n  known_hosts = \"known_hosts\"\n  answers = \"answers.toml\"\n  timeout = 60\n\n  [[target]]\n  name = \"web1\"\n  target = \"ssh://azureuser@10.0.0.5\"\n\n  [[target]]\n  name = \"db1\"\n  target = \"ssh://azureuser@10.0.0.6:2222\"\n  password_env = \"DB1_PASSWORD\"\n  skip = [\"omi-version\"]\n\nKeys of [defaults] and [[target]]: identity, password_env, passphrase_env, sudo_password_env,\nknown_hosts, host_key, accept_new_host_key, connect_timeout, answers, allow_unanswered, profile,\nphase, checks, skip, check_packs, waivers, timeout, update_search_timeout; [[target]] also name and target.\n\nExample:\n  vmcert fleet --inventory fleet.toml --jobs 8 --out-dir reports \\\n      --junit fleet.xml --sarif fleet.sarif\n\nExit codes: the worst target's, as for `run` (0, 1, 2); 2 also when a target could not be reached."
    )]
    Fleet(Box<FleetArgs>),
    /// The built-in check catalogue.
    #[command(subcommand)]
    Checks(ChecksCommand),
    /// The certification questionnaire.
    #[command(subcommand)]
    Questionnaire(QuestionnaireCommand),
    /// Read, verify, compare and upload report zips.
    #[command(subcommand)]
    Report(ReportCommand),
    /// Check a VHD (local file or SAS URL) before submission.
    #[command(subcommand)]
    Vhd(VhdCommand),
    /// Check a VHD's SAS URL before submission.
    #[command(subcommand)]
    Sas(SasCommand),
    /// Print the shell completion script for SHELL.
    #[command(
        after_help = "Examples:\n  vmcert completions bash > /etc/bash_completion.d/vmcert\n  vmcert completions zsh > \"${fpath[1]}/_vmcert\"\n  vmcert completions fish > ~/.config/fish/completions/vmcert.fish"
    )]
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page, vmcert(1), in roff.
    #[command(
        after_help = "Example:\n  vmcert man > /usr/local/share/man/man1/vmcert.1 && man vmcert"
    )]
    Man,
}

/// `vmcert vhd ...`
#[derive(Debug, Subcommand)]
pub(crate) enum VhdCommand {
    /// Read a VHD's footer and partition table and apply Azure's VHD rules. Only the footer,
    /// the first sectors and the partition table are read, so any size costs the same; over a
    /// SAS URL only ranged GETs (and one HEAD) are made. Exit 0 acceptable, 1 a rule violated,
    /// 2 could not read.
    #[command(
        after_help = "Examples:\n  vmcert vhd inspect disk.vhd --role os --os linux\n  vmcert vhd inspect --format json \\\n      'https://acct.blob.core.windows.net/vhds/os.vhd?sv=...&sig=...'"
    )]
    Inspect {
        /// Local file, or the blob's SAS URL (quote it in the shell), or env:VAR to read the URL
        /// from an environment variable.
        target: String,
        /// OS or data disk (--os implies --role os).
        #[arg(long, value_enum)]
        role: Option<RoleArg>,
        /// OS of the OS disk, for the size rule.
        #[arg(long, value_enum)]
        os: Option<OsArg>,
        /// Threshold profile of the OS disk size rule.
        #[arg(long, default_value_t, value_parser = profile_parser())]
        profile: Profile,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Give up (exit 2) when the whole inspection has not finished after this many seconds
        /// (a SAS endpoint that accepts connections and answers slowly or never).
        #[arg(long, value_name = "SECS", default_value_t = crate::cmd::vhd::DEFAULT_DEADLINE,
              value_parser = clap::value_parser!(u64).range(1..=86_400))]
        deadline: u64,
    },
    /// List the VHD rules `vhd inspect` applies: id, title, rule and remedy.
    #[command(after_help = "Example:\n  vmcert vhd rules --format md")]
    Rules {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// `vmcert sas ...`
#[derive(Debug, Subcommand)]
pub(crate) enum SasCommand {
    /// Check a VHD SAS URL against Partner Center's rules, offline: read+list only, start and
    /// expiry, blob name, https, signature present. The signature is never printed. Exit 0
    /// acceptable, 1 a rule violated, 2 not a URL.
    #[command(
        after_help = "Example:\n  vmcert sas check \\\n      'https://acct.blob.core.windows.net/vhds/os.vhd?sp=rl&st=..&se=..&sig=..'"
    )]
    Check {
        /// The SAS URL (quote it in the shell), or env:VAR to read it from an environment variable.
        url: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// List the SAS URL rules `sas check` applies: id, title, rule and remedy.
    #[command(after_help = "Example:\n  vmcert sas rules --format json")]
    Rules {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// `vmcert checks ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ChecksCommand {
    /// List the checks.
    #[command(
        after_help = "Examples:\n  vmcert checks list --os linux\n  vmcert checks list --format json"
    )]
    List {
        /// Only this OS.
        #[arg(long, value_enum)]
        os: Option<OsArg>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// (Benchmarks) the probes a full run of the OS gathers, as JSON, or with --script the probe
    /// script `run` would send (bench/ compares it run by plain `ssh` and by pytest-testinfra).
    #[command(hide = true)]
    Probes {
        /// The OS.
        #[arg(long, value_enum)]
        os: OsArg,
        /// Print the probe script instead of the JSON list.
        #[arg(long)]
        script: bool,
        /// Timeout of each probe, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = RunConfig::DEFAULT_TIMEOUT)]
        timeout: u64,
    },
    /// Show one check: rule, rationale, remediation, probes, thresholds per profile.
    #[command(after_help = "Example:\n  vmcert checks show bash-history-cleared")]
    Show {
        /// Check id.
        id: String,
        /// OS, when the id exists for both.
        #[arg(long, value_enum)]
        os: Option<OsArg>,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
}

/// `vmcert questionnaire ...`
#[derive(Debug, Subcommand)]
pub(crate) enum QuestionnaireCommand {
    /// Print an answers file with every question as a comment.
    #[command(after_help = "Example:\n  vmcert questionnaire template --os linux > answers.toml")]
    Template {
        /// The OS the answers are for.
        #[arg(long, value_enum)]
        os: OsArg,
    },
}

/// `vmcert report ...`
#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// Print a report's outcome, scope and the checks that need attention. Exit 0 certified,
    /// 1 failed, 2 incomplete, a pre-check, a report not matching its manifest, or unreadable.
    #[command(after_help = "Example:\n  vmcert report show myimage_20261121-101500.zip")]
    Show {
        /// Report zip.
        report: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
    },
    /// Verify a report: every file against the manifest (sizes and SHA-256), the contents
    /// against each other, and its signature when it has one. Says exactly what was checked.
    #[command(
        after_help = "Examples:\n  vmcert report verify myimage_20261121-101500.zip\n  vmcert report verify myimage_20261121-101500.zip \\\n      --public-key signing.pub.pem\n\nExit codes: 0 consistent (and, with --public-key, signed by that key), 1 a mismatch, a contradiction or a bad or missing signature, 2 unreadable."
    )]
    Verify {
        /// Report zip.
        report: PathBuf,
        /// Require a valid signature by this ed25519 public key (SPKI PEM, as `openssl pkey -in KEY -pubout` writes it).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Sign a report with an ed25519 private key: adds manifest.sig, a signature over
    /// manifest.json (which lists the SHA-256 of every other file). Refuses a report that does
    /// not match its manifest. Replaces an earlier signature.
    #[command(
        after_help = "Example:\n  openssl genpkey -algorithm ed25519 -out signing.pem\n  openssl pkey -in signing.pem -pubout -out signing.pub.pem\n  vmcert report sign myimage_20261121-101500.zip --key signing.pem\n\nExit codes: 0 signed, 1 the report does not match its manifest, 2 unreadable report or key."
    )]
    Sign {
        /// Report zip (rewritten in place, atomically).
        report: PathBuf,
        /// The ed25519 private key, unencrypted PKCS#8 PEM (`openssl genpkey -algorithm ed25519`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
    },
    /// Upload a report zip into an Azure Blob container (next to the VHDs), verify it, print
    /// the blob URL (without its signature). Never overwrites a different blob of the same name.
    #[command(
        after_help = "Example:\n  vmcert report upload myimage_20261121-101500.zip \\\n      'https://acct.blob.core.windows.net/reports?sv=...&sp=cw&sig=...'"
    )]
    Upload {
        /// Report zip.
        report: PathBuf,
        /// Container SAS URL with Create and Write permission (quote it in the shell), or env:VAR
        /// to read it from an environment variable.
        container_sas_url: String,
        /// Give up (exit 2) when the upload and its check have not finished after this many
        /// seconds (an endpoint that accepts connections and answers slowly or never).
        #[arg(long, value_name = "SECS", default_value_t = crate::upload::DEFAULT_DEADLINE,
              value_parser = clap::value_parser!(u64).range(1..=86_400))]
        deadline: u64,
    },
    /// Compare two reports check by check. Exit 0, or with --exit-code 1 when a check got worse;
    /// 2 when a report cannot be read.
    #[command(
        after_help = "Examples:\n  vmcert report diff old.zip new.zip\n  vmcert report diff --exit-code --format md old.zip new.zip \\\n      >> \"$GITHUB_STEP_SUMMARY\""
    )]
    Diff {
        /// The older report.
        old: PathBuf,
        /// The newer report.
        new: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        format: Format,
        /// Exit 1 when a check got worse (Pass/NotApplicable < Warning < Error < Fail), or a
        /// check added in the new report is in Fail or Error.
        #[arg(long)]
        exit_code: bool,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::Cli;

    /// Every example of every subcommand's help fits an 80-column terminal, so clap never
    /// wraps one mid-command: longer ones continue on the next line after ` \`.
    #[test]
    fn examples_fit_80_columns() {
        fn walk(cmd: &clap::Command, path: &str, long: &mut Vec<String>) {
            if let Some(after) = cmd.get_after_help() {
                let text = after.to_string();
                let mut in_examples = false;
                for line in text.lines() {
                    if line.starts_with("Example") {
                        in_examples = true;
                    } else if !line.starts_with(' ') {
                        in_examples = false;
                    }
                    if in_examples && line.chars().count() > 80 {
                        long.push(format!("{path}: {line}"));
                    }
                }
            }
            for sub in cmd.get_subcommands() {
                walk(sub, &format!("{path} {}", sub.get_name()), long);
            }
        }
        let mut long = Vec::new();
        walk(&Cli::command(), "vmcert", &mut long);
        assert!(
            long.is_empty(),
            "examples wider than 80 columns:\n{}",
            long.join("\n")
        );
    }
}
