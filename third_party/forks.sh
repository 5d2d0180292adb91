#!/usr/bin/env bash
# Keeps the forks under third_party/ honest: each one must equal its upstream
# module (from the Go module cache) plus third_party/DIR.patch, exactly.
#
#   third_party/forks.sh check   verify every fork (CI runs this)
#   third_party/forks.sh regen   rewrite every DIR.patch from the fork's tree
#   third_party/forks.sh test    run every fork's own tests with -race
#
# Upgrading a fork: change the version in FORKS, run `check` (the patch must
# still apply), review, fix, `regen`.
set -euo pipefail
cd "$(dirname "$0")"
mode=${1:-check}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
while read -r dir mod ver; do
	case "$dir" in ''|'#'*) continue ;; esac
	if [ "$mode" = test ]; then
		echo "== fork tests: $dir"
		(cd "$dir" && go test -race ./...) || status=1
		continue
	fi
	up=$(cd "$tmp" && GOFLAGS=-mod=mod go mod download -json "$mod@$ver" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	[ -n "$up" ] || { echo "forks: cannot download $mod@$ver"; exit 1; }
	case "$mode" in
	regen)
		# diff exits 1 when the trees differ, which is the point of a fork.
		(cd "$tmp" && cp -r "$up" a && chmod -R u+w a && cp -r "$OLDPWD/$dir" b &&
			{ LC_ALL=C diff -ruN a b >patch || [ $? -eq 1 ]; } &&
			sed -E 's/^((---|\+\+\+) [^\t]+)\t.*/\1/' patch >"$OLDPWD/$dir.patch" && rm -rf a b patch)
		echo "wrote $dir.patch ($(grep -c '^+++ ' "$dir.patch") files)"
		;;
	check)
		rm -rf "$tmp/a" && cp -r "$up" "$tmp/a" && chmod -R u+w "$tmp/a"
		if ! (cd "$tmp/a" && patch -s -p1 --no-backup-if-mismatch <"$OLDPWD/$dir.patch"); then
			echo "forks: $dir.patch does not apply to $mod@$ver"; status=1; continue
		fi
		if ! diff -r "$tmp/a" "$dir" >"$tmp/diff"; then
			echo "forks: $dir differs from $mod@$ver + $dir.patch (run third_party/forks.sh regen and review):"
			head -40 "$tmp/diff"; status=1; continue
		fi
		echo "forks: $dir = $mod@$ver + $dir.patch ($(grep -c '^+++ ' "$dir.patch") files)"
		;;
	*) echo "usage: forks.sh check|regen|test"; exit 2 ;;
	esac
done <FORKS
exit $status
