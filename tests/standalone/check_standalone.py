#!/usr/bin/python3
"""The repository stands alone: no file cites a document that is not in it.

Usage: check_standalone.py SOURCE_DIR

Reads every tracked file (`git ls-files` when SOURCE_DIR is a git checkout; otherwise every file
under it except build and VCS directories) and fails when one cites, by section or path, a
specification or research file kept outside the repository. Rules and their sources are stated
in the repository itself (policies/README.md, policies/SOURCES.md, docs/*.md).

Forbidden:
  - the word S-P-E-C in capitals (a section or file of an outside specification);
  - an outside research note: a section of it (the word research, a blank and a section sign),
    its file name, or a definite "research" (the word after "the"), as if it were a document
    here;
  - a path into the shared folder beside the checkout, except the shared test vectors
    (`shared/` + `testdata` beside the checkout) where the build and the fuzz scripts locate
    them (ALLOWED_TESTDATA).

Prints one `FILE:LINE: text` per finding and exits 1 when there is any, else 0.
"""
import os
import pathlib
import re
import subprocess
import sys

# The patterns are assembled so that this file does not match them itself.
_S = "S" + "PEC"
FORBIDDEN = [
    (re.compile(r"\b" + _S + r"\b"), "cites an outside specification"),
    (re.compile(r"research" + r" §"), "cites a section of an outside research note"),
    (re.compile(r"\b[Tt]he " + r"research\b"), "points at an outside research note"),
    (re.compile(r"residency_law" + r"\.md"), "names an outside research note"),
    (re.compile(r"shared/" + r"research"), "names the outside research folder"),
    (re.compile(r"shared/" + r"testdata"), "names the shared test data"),
]

# The shared test vectors (merkle, wycheproof, yaml-test-suite) live beside the checkout and are
# optional: the build finds them through ${PROJECT_SOURCE_DIR}/.. (a CMake cache variable,
# RESIDENCY_SHARED_TESTDATA, that tests read) and fuzz/run.sh through $here/../.. . Only these
# files may name that folder, and only by that relative path.
ALLOWED_TESTDATA = {
    "tests/CMakeLists.txt",
    "fuzz/CMakeLists.txt",
    "fuzz/policy.cmake",
    "fuzz/replay_main.cc",
    "fuzz/run.sh",
}
RELATIVE_TESTDATA = re.compile(r"(\$\{PROJECT_SOURCE_DIR\}/|\$here/\.\./|(?<![\w/.])|\()\.\./shared/" +
                               "testdata")

SKIP_DIRS = {".git", ".ccache", "__pycache__"}


def tracked_files(src):
    try:
        out = subprocess.run(["git", "-C", str(src), "ls-files", "-z"], check=True,
                             capture_output=True).stdout
        top = subprocess.run(["git", "-C", str(src), "rev-parse", "--show-toplevel"], check=True,
                             capture_output=True, text=True).stdout.strip()
        if pathlib.Path(top).resolve() == pathlib.Path(src).resolve():
            return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        pass
    files = []
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not d.startswith("build") and
                             not (rel == "." and d.startswith("cmake-build")))
        for f in sorted(filenames):
            files.append(os.path.normpath(os.path.join(rel, f)))
    return files


def check_line(path, text):
    """Returns the reasons `text` (one line of `path`) is a finding."""
    reasons = []
    for pattern, why in FORBIDDEN:
        if not pattern.search(text):
            continue
        if why == "names the shared test data" and path in ALLOWED_TESTDATA:
            rest = RELATIVE_TESTDATA.sub("", text)
            if "shared/" + "testdata" not in rest:
                continue
        reasons.append(why)
    return reasons


def self_test():
    bad = [("docs/x.md", "as " + _S + " §4 says"), ("docs/x.md", "see " + _S + ".md"),
           ("a.cc", "// research" + " §16 item 11"), ("p.yaml", "# /work/shared/" + "research/x"),
           ("tests/CMakeLists.txt", "/work/shared/" + "testdata/merkle"),
           ("tests/x.cc", "\"../shared/" + "testdata\""), ("lib/eval/other.cc", "// " + _S),
           ("p.yaml", "# Research: residency_law" + ".md §6"),
           ("docs/x.md", "as the " + "research gives it"),
           ("lib/eval/evaluator.cc", "    t.citation = \"" + _S + " §4 (fail closed)\";")]
    good = [("tests/CMakeLists.txt",
             "set(RESIDENCY_SHARED_TESTDATA \"${PROJECT_SOURCE_DIR}/../shared/" + "testdata\" CACHE"),
            ("fuzz/run.sh", "  if [ -d \"$here/../../shared/" + "testdata/yaml-test-suite\" ]"),
            ("fuzz/replay_main.cc", "// corpora under ../shared/" + "testdata are optional."),
            ("docs/x.md", "the purpose scientific_research"), ("docs/x.md", "a spec section")]
    failed = [f"should fail: {p}: {t}" for p, t in bad if not check_line(p, t)]
    failed += [f"should pass: {p}: {t}" for p, t in good if check_line(p, t)]
    for f in failed:
        print(f"check_standalone self-test: {f}")
    return not failed


def main(argv):
    if len(argv) != 1:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    if not self_test():
        return 1
    src = pathlib.Path(argv[0])
    findings = 0
    files = tracked_files(src)
    for rel in files:
        try:
            data = (src / rel).read_bytes()
        except (IsADirectoryError, FileNotFoundError, PermissionError):
            continue
        if b"\0" in data[:8192]:
            continue  # binary
        for n, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            for why in check_line(rel, line):
                findings += 1
                print(f"{rel}:{n}: {why}: {line.strip()[:160]}")
    print(f"check_standalone: {len(files)} files, {findings} finding(s)")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
