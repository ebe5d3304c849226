#!/usr/bin/env bash
# deploy/Dockerfile's runtime stage installs what the binaries need to run:
# every shared library weftd and weft load (the dynamic linker's view, `ldd`,
# walked along each object's DT_NEEDED) must come from a Debian package that
# the runtime stage installs or that those packages depend on; every library
# the binaries link directly must come from a package the stage names itself
# (or libc6, which debian:bookworm-slim has). The build stage installs the
# -dev package of every pkg-config module CMake requires. Checked against
# this machine's Debian 12 package database, the release the image uses.
# It needs no container engine; test_deploy_image.sh builds the image with
# podman and runs ldd inside it.
# labels: deploy
# timeout: 300
set -euo pipefail
: "${WEFT_SRC:?}" "${WEFT_BIN:?}"

log() { echo "[$(date +%T)] $*" >&2; }
fail() {
	log "FAIL: $*"
	exit 1
}

dockerfile="$WEFT_SRC/deploy/Dockerfile"
[ -r "$dockerfile" ] || fail "no $dockerfile"
for b in weftd weft; do
	[ -x "$WEFT_BIN/$b" ] || fail "no $WEFT_BIN/$b"
done

declare -A OWNER=()
# owner PATH: the package shipping a file, memoised in OWNER.
owner() {
	local f=$1 real cand out
	if [ -n "${OWNER[$f]:-}" ]; then
		echo "${OWNER[$f]}"
		return 0
	fi
	# Debian 12 merged /lib into /usr/lib; dpkg knows each file under
	# one of the two names.
	real=$(readlink -f "$f")
	for cand in "$f" "$real" "${f#/usr}" "${real#/usr}" "/usr$f" "/usr$real"; do
		out=$(dpkg-query -S "$cand" 2>/dev/null | sed -n 1p) || continue
		if [ -n "$out" ]; then
			OWNER[$f]=${out%%:*}
			echo "${out%%:*}"
			return 0
		fi
	done
	return 1
}

# owner_prefill PATH...: fills OWNER for many files with one pass over
# dpkg's file lists (dpkg-query -S per file is slow on a busy machine).
owner_prefill() {
	local f real cand pkg hit
	declare -A cands=()
	for f in "$@"; do
		real=$(readlink -f "$f")
		for cand in "$f" "$real" "${f#/usr}" "${real#/usr}" "/usr$f" "/usr$real"; do
			cands[$cand]+=" $f"
		done
	done
	# Lines are "/var/lib/dpkg/info/NAME[:ARCH].list:PATH".
	# shellcheck disable=SC2062 # the glob names files, not a pattern
	while IFS= read -r hit; do
		pkg=${hit%%.list:*}
		pkg=${pkg##*/}
		pkg=${pkg%%:*}
		hit=${hit#*.list:}
		for f in ${cands[$hit]:-}; do
			[ -n "${OWNER[$f]:-}" ] || OWNER[$f]=$pkg
		done
	done < <(printf '%s\n' "${!cands[@]}" | grep -H -x -F -f - -- /var/lib/dpkg/info/*.list)
}
libs=()
for b in weftd weft; do
	while read -r name arrow path _; do
		[[ $name == /* ]] && libs+=("$name")
		[ "$arrow" = "=>" ] && [[ $path == /* ]] && libs+=("$path")
	done < <(ldd "$WEFT_BIN/$b")
done
for m in $(pkg-config --list-all 2>/dev/null | awk '{print $1}' | grep -xE 'libmnl|libnftnl|libcurl|jansson|libmicrohttpd|libsystemd|libcrypto|cmocka'); do
	libs+=("$(pkg-config --variable=pcfiledir "$m")/$m.pc")
done
# Transitive dependencies resolve to the same directory; one level of
# DT_NEEDED from each library covers the rest.
owner_prefill "${libs[@]}"

# check DOCKERFILE: exits non-zero on the first problem (in a subshell for
# the broken copies). Sets VICTIM to the package of weftd's first direct
# library dependency other than libc6.
check() {
	local dockerfile=$1
	# Stages: both start from debian:bookworm-slim; the last one is the image.
	mapfile -t froms < <(grep -iE '^FROM[[:space:]]' "$dockerfile")
	[ "${#froms[@]}" -ge 2 ] || fail "expected a multi-stage build, found ${#froms[@]} FROM lines"
	for f in "${froms[@]}"; do
		read -r _ image _ <<<"$f"
		[ "$image" = debian:bookworm-slim ] || fail "stage from '$image', expected debian:bookworm-slim"
	done

	# The runtime stage, continuation lines joined, "apt-get install" arguments
	# that are not options.
	final=$(awk 'toupper($1) == "FROM" { buf = "" } { buf = buf $0 "\n" } END { printf "%s", buf }' \
		"$dockerfile" | sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
	mapfile -t runtime < <(grep -E '^RUN' <<<"$final" | tr -s ' \t' '\n\n' |
		awk '$0 == "install" && prev == "apt-get" { on = 1; next }
		     on && ($0 == "&&" || $0 == ";") { on = 0 }
		     on && $0 !~ /^-/ { print }
		     { prev = $0 }')
	[ "${#runtime[@]}" -gt 0 ] || fail "no apt-get install in the runtime stage"
	log "runtime stage installs: ${runtime[*]}"
	grep -qE '^COPY --from=[^ ]+ +[^ ]*/weftd ' <<<"$final" || fail "runtime stage does not copy weftd"
	grep -qE '^COPY --from=[^ ]+ +[^ ]*/weft ' <<<"$final" || fail "runtime stage does not copy weft"

	# The build stage installs the development package of every pkg-config
	# module the top-level CMakeLists.txt requires (tests are off there).
	build=$(awk 'toupper($1) == "FROM" { n++ } n == 1' "$dockerfile" |
		sed -e ':a' -e '/\\$/N; s/\\\n//; ta')
	mapfile -t buildpkgs < <(grep -E '^RUN' <<<"$build" | tr -s ' \t' '\n\n' |
		awk '$0 == "install" && prev == "apt-get" { on = 1; next }
		     on && ($0 == "&&" || $0 == ";") { on = 0 }
		     on && $0 !~ /^-/ { print }
		     { prev = $0 }')
	for p in cmake pkg-config build-essential; do
		grep -qx -- "$p" <<<"$(printf '%s\n' "${buildpkgs[@]}")" || fail "build stage does not install $p"
	done
	mapfile -t modules < <(awk '/^if\(WEFT_TESTS\)/ { skip = 1 } /^endif\(\)/ { skip = 0 }
		!skip && /pkg_check_modules\(.*REQUIRED/ { gsub(/\)/, ""); print $NF }' \
		"$WEFT_SRC/CMakeLists.txt")
	[ "${#modules[@]}" -gt 0 ] || fail "no pkg_check_modules in CMakeLists.txt"
	for m in "${modules[@]}"; do
		pc="$(pkg-config --variable=pcfiledir "$m" 2>/dev/null)/$m.pc"
		owner "$pc" >/dev/null || fail "no Debian package ships $m.pc"
		grep -qx -- "${OWNER[$pc]}" <<<"$(printf '%s\n' "${buildpkgs[@]}")" ||
			fail "build stage lacks ${OWNER[$pc]} (pkg-config $m)"
	done
	log "build stage covers pkg-config modules: ${modules[*]}"

	# Only runtime library packages: installed here (so the name exists in this
	# release), in section libs, no development packages.
	for p in "${runtime[@]}"; do
		[[ $p != *-dev ]] || fail "runtime package $p is a development package"
		section=$(dpkg-query -W -f='${Section}' "$p" 2>/dev/null) ||
			fail "runtime package $p is not a Debian 12 package installed here"
		[ "$section" = libs ] || fail "runtime package $p is in section '$section', not libs"
	done

	# The dependency closure of the runtime packages plus the base image's libc6,
	# from the installed packages' Pre-Depends and Depends (any installed
	# alternative counts, virtual packages through Provides).
	closure=$(dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Provides}\t${Pre-Depends}, ${Depends}\n' |
		awk -F'\t' -v roots="libc6 ${runtime[*]}" '
		function bare(s) { gsub(/\(.*\)|:[a-z0-9]+|[[:space:]]/, "", s); return s }
		$1 ~ /^ii/ {
			inst[$2] = 1; deps[$2] = $4
			n = split($3, pv, ",")
			for (i = 1; i <= n; i++) { v = bare(pv[i]); if (v != "") prov[v] = prov[v] " " $2 }
		}
		END {
			n = split(roots, q, " ")
			for (i = 1; i <= n; i++) seen[q[i]] = 1
			while (n > 0) {
				p = q[n--]
				m = split(deps[p], d, ",")
				for (j = 1; j <= m; j++) {
					k = split(d[j], alt, "|")
					for (a = 1; a <= k; a++) {
						c = bare(alt[a])
						if (c == "") continue
						if (c in inst) { if (!(c in seen)) { seen[c] = 1; q[++n] = c } }
						else if (c in prov) {
							split(prov[c], pp, " ")
							for (x in pp) if (!(pp[x] in seen)) { seen[pp[x]] = 1; q[++n] = pp[x] }
						}
					}
				}
			}
			for (p in seen) print p
		}')
	in_closure() { grep -qx -- "$1" <<<"$closure"; }
	for p in libc6 "${runtime[@]}"; do
		in_closure "$p" || fail "closure is missing its own root $p"
	done
	log "runtime closure: $(wc -l <<<"$closure") packages"

	# The sanitizer build (tests/run.sh runs the suite on it) links libasan and
	# libubsan, which the release image does not have: they, and what only they
	# pull in (libstdc++, ...), are left out of the walk.
	sanitizer() { [[ $1 == libasan.so.* || $1 == libubsan.so.* ]]; }

	checked=0
	for b in weftd weft; do
		bin="$WEFT_BIN/$b"
		# Where the dynamic linker resolves each soname for this binary.
		declare -A where=()
		while read -r name arrow path _; do
			# The dynamic linker itself is listed by path only.
			if [[ $name == /* ]]; then
				where[${name##*/}]=$name
				continue
			fi
			[ "$arrow" = "=>" ] || continue
			[ "$path" = "not" ] && fail "$b: $name is not found by the dynamic linker"
			where[$name]=$path
		done < <(ldd "$bin")
		direct=$(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
		[ -n "$direct" ] || fail "$b: no DT_NEEDED entries"
		declare -A visited=()
		queue=()
		for lib in $direct; do
			sanitizer "$lib" && continue
			path=${where[$lib]:-}
			[ -n "$path" ] || fail "$b: ldd does not resolve its direct dependency $lib"
			owner "$path" >/dev/null || fail "$b: no Debian package ships $path"
			pkg=${OWNER[$path]}
			if [ "$b" = weftd ] && [ "$pkg" != libc6 ] && [ -z "${VICTIM:-}" ]; then
				VICTIM=$pkg
			fi
			if [ "$pkg" != libc6 ] && ! grep -qx -- "$pkg" <<<"$(printf '%s\n' "${runtime[@]}")"; then
				fail "$b links $lib from $pkg, which the runtime stage does not install"
			fi
			queue+=("$lib")
		done
		while [ "${#queue[@]}" -gt 0 ]; do
			lib=${queue[0]}
			queue=("${queue[@]:1}")
			[ -n "${visited[$lib]:-}" ] && continue
			visited[$lib]=1
			path=${where[$lib]:-}
			[ -n "$path" ] || fail "$b: ldd does not resolve $lib"
			owner "$path" >/dev/null || fail "$b: no Debian package ships $path ($lib)"
		pkg=${OWNER[$path]}
			in_closure "$pkg" || fail "$b needs $lib from $pkg, which the runtime packages do not pull in"
			checked=$((checked + 1))
			for dep in $(readelf -d "$path" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
				sanitizer "$dep" || queue+=("$dep")
			done
		done
		log "$b: ${#visited[@]} libraries, all provided: $(printf '%s ' "${!visited[@]}")"
		unset where visited
	done
	log "$checked library checks passed for ${dockerfile#$WEFT_SRC/}"
}

check "$dockerfile"
[ -n "${VICTIM:-}" ] || fail "weftd links no library besides libc"

# The check must be able to fail: broken copies of the recipe are rejected.
tmp=$(mktemp -d /tmp/weft-image-libs.XXXX)
trap 'rm -rf "$tmp"' EXIT
# expect_reject NAME EXPECTED-SUBSTRING SED-SCRIPT
expect_reject() {
	local name=$1 want=$2 copy="$tmp/$1.Dockerfile"
	sed -e "$3" "$dockerfile" >"$copy"
	cmp -s "$copy" "$dockerfile" && fail "$name: the edit changed nothing"
	if ( check "$copy" ) 2>"$tmp/$name.log"; then
		fail "$name: a broken recipe passed"
	fi
	grep -qF -- "$want" "$tmp/$name.log" || fail "$name: expected '$want' in: $(tail -3 "$tmp/$name.log")"
	log "rejected $name: $(grep -F -- "$want" "$tmp/$name.log" | head -1 | sed 's/.*FAIL: //')"
}
expect_reject "no-$VICTIM" "from $VICTIM, which the runtime stage does not install" "/^\t\t$VICTIM \\\\\$/d"
expect_reject dev-package "is a development package" 's/^\t\tlibmnl0 \\$/\t\tlibmnl-dev libmnl0 \\/'
expect_reject not-a-library "is in section" 's/^\t\tlibmnl0 \\$/\t\tcurl libmnl0 \\/'
expect_reject unknown-package "is not a Debian 12 package installed here" 's/^\t\tlibmnl0 \\$/\t\tlibmnl9 libmnl0 \\/'
expect_reject no-build-dep "build stage lacks libnftnl-dev (pkg-config libnftnl)" 's/ libnftnl-dev / /'
expect_reject fat-base "expected debian:bookworm-slim" 's/^FROM debian:bookworm-slim$/FROM debian:bookworm/'
expect_reject single-stage "expected a multi-stage build" '/AS build$/,/^FROM debian:bookworm-slim$/{/^FROM debian:bookworm-slim$/!d}'
log "PASS"
