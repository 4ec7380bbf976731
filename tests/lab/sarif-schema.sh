#!/usr/bin/env bash
# The official SARIF 2.1.0 JSON schema (OASIS sarif-2.1.0-rtm.5) for the test that validates
# vmcert's SARIF output (agent/src/report/sarif.rs). Microsoft ships it in the npm package
# @microsoft/jest-sarif (MIT); it is taken from there, pinned, into SCHEMA_DIR, and checked against
# its known SHA-256. Idempotent; needs npm (install-prereqs.sh installs it).
set -euo pipefail
SCHEMA_DIR=/usr/local/share/vmcert-test
FILE=sarif-2.1.0-rtm.5.json
SHA256=2d99159ae54a3eea97f81781cff48780548657c35949f4b7f25e99a2ba4de4f8
PACKAGE=@microsoft/jest-sarif@1.0.0-beta.0
if [ -f "$SCHEMA_DIR/$FILE" ] && echo "$SHA256  $SCHEMA_DIR/$FILE" | sha256sum -c --status; then
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "$PACKAGE" >/dev/null)
tar -xzf "$tmp"/microsoft-jest-sarif-*.tgz -C "$tmp" "package/lib/schemas/$FILE"
echo "$SHA256  $tmp/package/lib/schemas/$FILE" | sha256sum -c --status || {
  echo "sarif-schema.sh: $FILE from $PACKAGE does not have the expected SHA-256" >&2
  exit 1
}
install -D -m 0644 "$tmp/package/lib/schemas/$FILE" "$SCHEMA_DIR/$FILE"
