//! The `vmcert` binary: the command line of [`vmcert::main`], which the library holds so that the
//! fuzzer (`fuzz/`) can reach the parsers of hostile input.

fn main() -> std::process::ExitCode {
    vmcert::main()
}
