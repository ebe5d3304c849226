# shellcheck shell=bash
# Builds deploy/Dockerfile, unchanged, with podman, on a base image made here
# from Debian's packages (no registry): mmdebstrap's minbase of the release
# the Dockerfile's FROM names, imported under that name.
#
#   source "$WEFT_SRC/tests/integration/image_common.sh"
#   img_usable || exit 77     # prints why podman cannot run here
#   img_build                 # sets IMG_REF; the image is in the cache store
#   img_pm ARGS...            # podman on the cache store
#
# The cache (WEFT_IMAGE_CACHE, /var/cache/weft-test) is one podman store,
# shared by the tests and by later runs on the machine under a lock: the
# base is made again only when the FROM line, mmdebstrap or the Release
# files of the suites the base uses change (a point release or a security
# update), and podman's layer cache skips the build stage's package
# installation while the base stays the same.

IMG_CACHE=${WEFT_IMAGE_CACHE:-/var/cache/weft-test}
IMG_REF=localhost/weft:test
IMG_MIRRORS=("http://deb.debian.org/debian" "http://deb.debian.org/debian-security")

# Like Debian's -slim images: no manuals, documentation or translations,
# now or from later apt-get installs (dpkg keeps these options in the base),
# and apt keeps neither its binary caches nor the packages it downloaded
# (its clean step no longer knows the caches' names: removed here).
IMG_SLIM=(--dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*'
	--dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*'
	--dpkgopt='path-exclude=/usr/share/info/*'
	--customize-hook='printf "%s\n" "Dir::Cache::pkgcache \"\";" "Dir::Cache::srcpkgcache \"\";" \
		"APT::Keep-Downloaded-Packages \"false\";" >"$1/etc/apt/apt.conf.d/90slim" &&
		rm -f "$1"/var/cache/apt/*.bin')

img_log() { echo "[$(date +%T.%3N)] $*" >&2; }

# img_conf: podman's config for the cache store, replaced by rename (a
# test running alongside may be reading it).
img_conf() {
	mkdir -p "$IMG_CACHE/tmp" "$IMG_CACHE/net.d"
	cat >"$IMG_CACHE/containers.conf.$$" <<EOC
[containers]
default_ulimits = ["nofile=4096:4096", "nproc=4096:4096"]
netns = "host"
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$IMG_CACHE/events.log"
tmp_dir = "$IMG_CACHE/tmp"
runtime = "runc"
[network]
# Not the machine's /etc/cni/net.d: podman leaves a lock file there.
network_config_dir = "$IMG_CACHE/net.d"
EOC
	cat >"$IMG_CACHE/storage.conf.$$" <<EOC
[storage]
driver = "overlay"
graphroot = "$IMG_CACHE/store"
runroot = "$IMG_CACHE/run"
EOC
	mv -f "$IMG_CACHE/containers.conf.$$" "$IMG_CACHE/containers.conf" &&
		mv -f "$IMG_CACHE/storage.conf.$$" "$IMG_CACHE/storage.conf"
}

img_pm() {
	CONTAINERS_CONF="$IMG_CACHE/containers.conf" CONTAINERS_STORAGE_CONF="$IMG_CACHE/storage.conf" \
		podman --cgroup-manager cgroupfs "$@"
}

# img_usable: true when podman, runc and mmdebstrap are here and podman
# answers on the cache store; otherwise prints the reason.
img_usable() {
	local t
	for t in podman runc mmdebstrap; do
		command -v "$t" >/dev/null || {
			echo "SKIP: $t is not installed" >&2
			return 1
		}
	done
	mkdir -p "$IMG_CACHE" 2>/dev/null || {
		echo "SKIP: cannot create $IMG_CACHE" >&2
		return 1
	}
	img_conf
	if ! img_pm info >"$IMG_CACHE/info.log" 2>&1; then
		echo "SKIP: podman does not run here: $(tail -1 "$IMG_CACHE/info.log")" >&2
		return 1
	fi
}

# img_from: the base image every stage of the Dockerfile starts from.
img_from() {
	local froms
	froms=$(awk 'toupper($1) == "FROM" { print $2 }' "$WEFT_SRC/deploy/Dockerfile" | sort -u)
	[ "$(wc -l <<<"$froms")" -eq 1 ] || {
		img_log "stages start from different bases: $froms"
		return 1
	}
	echo "$froms"
}

# img_base_key FROM: names the base made now: the FROM line, mmdebstrap's
# version and options, and the Date of each suite's Release file.
img_base_key() {
	local from=$1 suite=${1#*:} s dates=""
	suite=${suite%%-*}
	for s in "${IMG_MIRRORS[0]} $suite" "${IMG_MIRRORS[0]} $suite-updates" "${IMG_MIRRORS[1]} $suite-security"; do
		set -- $s
		dates+=$(curl -sf -m 20 "$1/dists/$2/InRelease" | sed -n 's/^Date: //p') || return 1
		dates+=";"
	done
	printf '%s %s %s %s' "$from" "$(dpkg-query -W -f='${Version}' mmdebstrap)" "${IMG_SLIM[*]}" "$dates" |
		sha256sum | cut -c1-16
}

# img_bases: the bases in the cache, newest first.
img_bases() {
	img_pm images --sort created --format '{{.Repository}}:{{.Tag}}' | grep '^localhost/weft-base:'
}

# img_base FROM: makes the base unless the cache has it for today's key.
img_base() {
	local from=$1 suite key tag t0
	suite=${from#*:}
	suite=${suite%%-*}
	case $from in
	debian:*) ;;
	*) img_log "FROM $from: only debian:<release>[-slim] bases are made here"; return 1 ;;
	esac
	if ! key=$(img_base_key "$from"); then
		# Offline: the newest base made earlier still builds the recipe.
		tag=$(img_bases | head -1)
		[ -n "$tag" ] || { img_log "Debian's mirror unreachable and no cached base"; return 1; }
		img_log "Debian's mirror unreachable: using the cached base $tag"
	else
		tag=localhost/weft-base:$key
		if img_pm image exists "$tag"; then
			img_log "base $from: cached as $tag"
		else
			t0=$(date +%s)
			img_log "base $from: mmdebstrap --variant=minbase $suite (new key $key)"
			mmdebstrap --variant=minbase --quiet "${IMG_SLIM[@]}" "$suite" "$IMG_CACHE/base.tar" ||
				{ rm -f "$IMG_CACHE/base.tar"; return 1; }
			img_pm import "$IMG_CACHE/base.tar" "$tag" >/dev/null 2>&1 || return 1
			rm -f "$IMG_CACHE/base.tar"
			img_log "base made in $(($(date +%s) - t0)) s"
		fi
	fi
	# The short name as podman resolves it, so the Dockerfile finds it with
	# no pull.
	img_pm tag "$tag" "docker.io/library/$from" || return 1
	IMG_BASE=$tag
}

# img_build: the image of this source tree as IMG_REF in the cache store.
img_build() {
	local from t0 rc old
	from=$(img_from) || return 1
	exec 8>"$IMG_CACHE/.lock"
	flock -w 1500 8 || { img_log "cache lock not obtained"; return 1; }
	# Every changed source leaves its build layers; past a few GB the store
	# starts over (a new base, minutes) rather than grow without bound.
	if [ "$(du -sm "$IMG_CACHE/store" 2>/dev/null | cut -f1)" -gt 4000 ] 2>/dev/null; then
		img_log "cache store over 4000 MB: emptied"
		img_pm system reset -f >/dev/null 2>&1
		img_conf
	fi
	img_base "$from" || { flock -u 8; return 1; }
	# Old bases and what was built on them: their layers are no use now.
	old=$(img_bases | grep -vxF "$IMG_BASE")
	if [ -n "$old" ]; then
		img_log "removing old bases and their layers: $old"
		# shellcheck disable=SC2086 # one name per word
		img_pm rmi -f $old >/dev/null 2>&1
		img_pm image prune -f >/dev/null 2>&1
	fi
	t0=$(date +%s)
	# Host network for the build's apt-get: no bridge, no namespace of its own.
	img_pm build --network host --pull=never -f "$WEFT_SRC/deploy/Dockerfile" -t "$IMG_REF" \
		"$WEFT_SRC" >"$IMG_CACHE/build.log" 2>&1
	rc=$?
	flock -u 8
	[ $rc -eq 0 ] || { tail -30 "$IMG_CACHE/build.log" >&2; img_log "podman build failed"; return 1; }
	IMG_BUILD_SECONDS=$(($(date +%s) - t0))
	img_log "podman build: $IMG_BUILD_SECONDS s"
}
