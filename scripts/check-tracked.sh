#!/usr/bin/env bash
# check-tracked.sh [DIR] fails, naming each file, when the git repository at
# DIR (default: the current directory) tracks a file larger than 1 MB or an
# executable binary: ELF, Mach-O or PE by their magic bytes, or any file
# tracked as executable that holds a NUL byte. Built binaries belong in the
# ignored ./bin, not in history.
#
# Sizes are those of the staged blobs; contents are read from the work tree
# with shell builtins, so the check stays fast on a large tree.
set -euo pipefail
export LC_ALL=C

max_bytes=$((1024 * 1024))
cd "${1:-.}"

# binary_kind sets kind to the executable format a file's first bytes
# announce, or to nothing. No magic number below holds a NUL byte, so read
# sees it whole. (A variable, not output: a subshell per file is slow.)
binary_kind() {
	local magic=''
	kind=''
	IFS= read -r -d '' -n 4 magic <"$1" || true
	case "$magic" in
	$'\x7fELF') kind=ELF ;;
	$'\xfe\xed\xfa\xce' | $'\xfe\xed\xfa\xcf' | $'\xce\xfa\xed\xfe' | $'\xcf\xfa\xed\xfe') kind=Mach-O ;;
	$'\xca\xfe\xba\xbe' | $'\xbe\xba\xfe\xca') kind="Mach-O universal" ;;
	MZ*) if has_nul "$1"; then kind=PE; fi ;; # "MZ" alone could start a text file
	esac
}

# has_nul reports whether the first 8000 bytes of a file hold a NUL byte,
# git's own test for binary content: read stops early at the first NUL.
has_nul() {
	local chunk=''
	IFS= read -r -d '' -n 8000 chunk <"$1" && [ "${#chunk}" -lt 8000 ]
}

modes=() names=() files=()
while IFS= read -r -d '' entry; do
	meta=${entry%%$'\t'*}
	modes+=("${meta%% *}")
	meta=${meta#* }
	names+=("${meta%% *}")
	files+=("${entry#*$'\t'}")
done < <(git ls-files -s -z)
sizes=()
if [ "${#names[@]}" -gt 0 ]; then
	mapfile -t sizes < <(printf '%s\n' "${names[@]}" | git cat-file --batch-check='%(objectsize)')
fi

bad=0
for i in "${!files[@]}"; do
	mode=${modes[$i]} file=${files[$i]} size=${sizes[$i]}
	if [ "$mode" = 120000 ] || [ "$mode" = 160000 ]; then
		continue # symlinks and submodules
	fi
	if [ "$size" -gt "$max_bytes" ]; then
		echo "check-tracked: $file: $size bytes, larger than 1 MB" >&2
		bad=1
	fi
	[ -f "$file" ] || continue # deleted in the work tree
	binary_kind "$file"
	if [ -z "$kind" ] && [ "$mode" = 100755 ] && has_nul "$file"; then
		kind="binary tracked as executable"
	fi
	if [ -n "$kind" ]; then
		echo "check-tracked: $file: executable binary ($kind)" >&2
		bad=1
	fi
done

if [ "$bad" -ne 0 ]; then
	echo "check-tracked: untrack these with git rm --cached and ignore them in .gitignore" >&2
	exit 1
fi
