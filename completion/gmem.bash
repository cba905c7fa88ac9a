# bash completion for gmem(1): verbs (from `gmem help`, the daemon's own
# table), snapshot names, region addresses and sizes from maps, register
# names from regs/, keywords. Needs nothing but bash; the mount is -C DIR,
# else $GMEMFS_MOUNT, else the current directory, as for gmem itself.

# The first word of each verb (and alias) `gmem help` lists.
_gmem_verbs()
{
	"$1" help 2>/dev/null |
		sed -e 's/ (or: \([^ )]*\).*/\n\1/' | awk '{ print $1 }' |
		sort -u
}

# _gmem_regions MNT start: each region's start address, as 0x hex;
# _gmem_regions MNT ADDR: the size of the region that starts at ADDR.
_gmem_regions()
{
	local range rest start end

	while read -r range rest; do
		start=$((16#${range%-*}))
		end=$((16#${range#*-})) # 2^64 wraps to 0: the size stays right
		if [ "$2" = start ]; then
			printf '0x%x\n' "$start"
		elif [ "$((start))" = "$(($2))" ] 2>/dev/null; then
			printf '0x%x\n' "$((end - start))"
		fi
	done <"$1/maps" 2>/dev/null
}

_gmem()
{
	local gmem=$1 cur=${COMP_WORDS[COMP_CWORD]} mnt=${GMEMFS_MOUNT:-.}
	local i=1 verb= words=
	local -a args=()

	COMPREPLY=()
	# options before the verb
	while [ "$i" -lt "$COMP_CWORD" ]; do
		case ${COMP_WORDS[i]} in
		-C)
			i=$((i + 1))
			mnt=${COMP_WORDS[i]}
			;;
		-*) ;;
		*) break ;;
		esac
		i=$((i + 1))
	done
	if [ "${COMP_WORDS[COMP_CWORD - 1]}" = -C ]; then
		COMPREPLY=($(compgen -d -- "$cur"))
		return
	fi
	if [ "$i" -eq "$COMP_CWORD" ]; then
		case $cur in
		-*) words="-C -h --help -V --version" ;;
		*) words="$(_gmem_verbs "$gmem") snapshot" ;;
		esac
		COMPREPLY=($(compgen -W "$words" -- "$cur"))
		return
	fi
	verb=${COMP_WORDS[i]}
	args=("${COMP_WORDS[@]:i+1:COMP_CWORD-i-1}")
	mnt=${mnt/#\~/$HOME}

	case $verb in
	help)
		[ ${#args[@]} -eq 0 ] && words=$(_gmem_verbs "$gmem")
		;;
	snapshot)
		if [ ${#args[@]} -eq 0 ]; then
			words="info diff"
		else
			COMPREPLY=($(compgen -f -- "$cur"))
			return
		fi
		;;
	save | restore | drop)
		[ ${#args[@]} -eq 0 ] &&
			words=$(ls -A "$mnt/snapshots" 2>/dev/null)
		;;
	reg)
		[ ${#args[@]} -eq 0 ] && words=$(ls "$mnt/regs" 2>/dev/null)
		;;
	stack)
		[ ${#args[@]} -eq 0 ] && words="push pop read write"
		;;
	load_elf | load_core)
		[ ${#args[@]} -eq 0 ] && COMPREPLY=($(compgen -f -- "$cur"))
		[ ${#args[@]} -eq 0 ] && return
		;;
	map | protect)
		# map ADDR SIZE PERMS, protect ADDR SIZE PERMS
		[ ${#args[@]} -eq 2 ] && words="rwx rw- r-x r-- -wx -w- --x ---"
		;;
	esac
	# An ADDR, then its region's SIZE, from maps.
	case $verb in
	unmap | protect | read | write | read_ptr | write_ptr | string | \
		is_mapped | is_available)
		if [ ${#args[@]} -eq 0 ]; then
			words=$(_gmem_regions "$mnt" start)
		elif [ ${#args[@]} -eq 1 ]; then
			case $verb in
			unmap | protect | read | is_mapped | is_available)
				words=$(_gmem_regions "$mnt" "${args[0]}")
				;;
			esac
		fi
		;;
	esac
	# keywords the verb takes, from its usage line
	if [ -z "$words" ] && [[ $cur != *=* ]]; then
		words=$("$gmem" help "$verb" 2>/dev/null |
			grep -o '\[[a-z_]*=' | tr -d '[' | sort -u)
		compopt -o nospace 2>/dev/null
	fi
	COMPREPLY=($(compgen -W "$words" -- "$cur"))
}

complete -F _gmem gmem
