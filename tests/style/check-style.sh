#!/bin/bash
# check-style.sh SRCROOT [CLANG_FORMAT]: the mechanical part of STYLE.md, as TAP.
#
#   - every .c/.h in common/ daemon/ ctl/ tests/unit/ tests/fuzz/ is what
#     clang-format (the repo's .clang-format) would write: one point a file
#   - no banned function in common/ daemon/ ctl/: strcpy strcat sprintf
#     vsprintf gets atoi atol atoll strtok alloca (comment lines are skipped)
#   - no line over 100 columns
#   - no XXX or "TODO: stub" marker
#
# Files are found when the check runs, so a new file needs no meson change.

set -u
root=$1
clang_format=${2:-clang-format}
cd "$root" || exit 1
export LC_ALL=C.UTF-8

n=0
failed=0
point()
{
    n=$((n + 1))
    if [ "$1" -eq 0 ]; then
        echo "ok $n - $2"
    else
        echo "not ok $n - $2"
        failed=$((failed + 1))
    fi
}
# diag TEXT: at most 40 lines of detail, on stderr (meson shows a failing
# TAP test's stderr, not its stdout).
diag()
{
    printf '%s\n' "$1" | head -n 40 | sed 's/^/# /' >&2
}

existing()
{
    local d
    for d in "$@"; do
        [ -d "$d" ] && echo "$d"
    done
}
mapfile -t dirs < <(existing common daemon ctl tests/unit tests/fuzz)
mapfile -t prod_dirs < <(existing common daemon ctl)
files=()
[ "${#dirs[@]}" -gt 0 ] &&
    mapfile -t files < <(find "${dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) | sort)
prod=()
[ "${#prod_dirs[@]}" -gt 0 ] &&
    mapfile -t prod < <(find "${prod_dirs[@]}" -type f \( -name '*.c' -o -name '*.h' \) | sort)

for f in "${files[@]}"; do
    if "$clang_format" --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then
        point 0 "clang-format $f"
    else
        want=$("$clang_format" --style=file "$f")
        lines=$(diff "$f" <(printf '%s\n' "$want") | grep -c '^<')
        point 1 "clang-format $f"
        diag "$f: $lines line(s) differ (< as written, > as clang-format wants)"
        diag "$(diff "$f" <(printf '%s\n' "$want") | head -n 20)"
    fi
done

banned='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|strtok|alloca)[[:space:]]*\('
hits=""
[ "${#prod[@]}" -gt 0 ] &&
    hits=$(grep -HnE "$banned" "${prod[@]}" | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(\*|//|/\*)')
point "$([ -z "$hits" ] && echo 0 || echo 1)" "no banned functions in common/ daemon/ ctl/"
[ -n "$hits" ] && diag "$hits"

hits=""
[ "${#files[@]}" -gt 0 ] && hits=$(grep -HnE '^.{101,}' "${files[@]}" | cut -c1-120)
point "$([ -z "$hits" ] && echo 0 || echo 1)" "no line over 100 columns"
[ -n "$hits" ] && diag "$hits"

hits=""
[ "${#files[@]}" -gt 0 ] && hits=$(grep -HnE '\bXXX\b|TODO: stub' "${files[@]}")
point "$([ -z "$hits" ] && echo 0 || echo 1)" "no XXX or 'TODO: stub' markers"
[ -n "$hits" ] && diag "$hits"

echo "1..$n"
[ "$failed" -eq 0 ]
