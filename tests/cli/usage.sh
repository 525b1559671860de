#!/bin/bash
# The CLI's help, version, exit statuses and error messages.
# usage: usage.sh PLUGVM SOURCE_DIR BUILD_DIR
set -u
plugvm=$1 src=$2
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

out=$("$plugvm" --help) || fail "--help exited $?"
grep -q "usage: plugvm" <<<"$out" || fail "--help: no usage line"
grep -q "run FILE" <<<"$out" || fail "--help does not list run"
out=$("$plugvm" run --help) || fail "run --help exited $?"
grep -q -- "--timeout SECONDS" <<<"$out" || fail "run --help lacks --timeout"
out=$("$plugvm" --version) || fail "--version exited $?"
grep -Eq "^plugvm [0-9]+\.[0-9]+\.[0-9]+ \(plugin ABI 1\.[0-9]+\)$" <<<"$out" || fail "--version: '$out'"

"$plugvm" frobnicate 2>"$tmp/err"; [ $? -eq 2 ] || fail "unknown command: status not 2"
grep -q "unknown command 'frobnicate'" "$tmp/err" || fail "unknown command: no message"
"$plugvm" run 2>/dev/null; [ $? -eq 2 ] || fail "run without FILE: status not 2"
"$plugvm" run --timeout abc x.cfg 2>"$tmp/err"; [ $? -eq 2 ] || fail "bad --timeout: status not 2"
grep -q "expected a number of seconds" "$tmp/err" || fail "bad --timeout: no message"

# A config mistake stops plugvm before anything starts, naming file and line.
printf 'vm = {\n  memory_mib = 64;\n  vcpus = 1000;\n  kernel = "hello.elf";\n};\n' >"$tmp/bad.cfg"
"$plugvm" run "$tmp/bad.cfg" 2>"$tmp/err"; [ $? -eq 1 ] || fail "bad config: status not 1"
grep -q "$tmp/bad.cfg:3: setting 'vm.vcpus' = 1000 is out of range" "$tmp/err" ||
    fail "bad config message: $(cat "$tmp/err")"

# A missing backend plugin is named.
printf 'vm = { backend = "nosuch"; memory_mib = 64; kernel = "hello.elf"; };\n' >"$tmp/nb.cfg"
"$plugvm" run "$tmp/nb.cfg" 2>"$tmp/err"; [ $? -eq 1 ] || fail "missing backend: status not 1"
grep -q "plugin 'nosuch' not found" "$tmp/err" || fail "missing backend: $(cat "$tmp/err")"

# A corrupt kernel is refused with its name, never a crash.
head -c 700 /dev/urandom >"$tmp/junk"
printf 'vm = { memory_mib = 64; kernel = "junk"; };\n' >"$tmp/junk.cfg"
"$plugvm" run "$tmp/junk.cfg" 2>"$tmp/err"; [ $? -eq 1 ] || fail "junk kernel: status not 1"
grep -q "$tmp/junk" "$tmp/err" || fail "junk kernel: $(cat "$tmp/err")"

out=$("$plugvm" plugins) || fail "plugins exited $?"
grep -Eq "^kvm +backend +[0-9.]+ +.*plugvm-kvm\.so$" <<<"$out" || fail "plugins does not list kvm: $out"
echo "ok: cli"
