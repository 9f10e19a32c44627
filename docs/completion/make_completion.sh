#!/bin/bash
# Writes the bash completion of one tm tool from its own --help (the Boost option table) and the
# modality names tm_info lists:
#   make_completion.sh TOOL_EXECUTABLE TM_INFO_EXECUTABLE OUTPUT_FILE
# Options whose help shows "arg" take a value. Values completed: --input MODALITY=PATH,
# --to a comma-separated list of targets, --modality/--as a modality, --out-dir a folder, a few
# fixed choices (--format, --of, --blend, --device), numbers (an "(=N)" default) nothing, anything
# else a file name.
set -euo pipefail
tool_exe=$1 info_exe=$2 out=$3
tool=$(basename "$tool_exe")
func=_${tool//[^A-Za-z0-9_]/_}

help=$("$tool_exe" --help)
listing=$("$info_exe")

# "  -i [ --input ] arg    ..." / "  --window arg (=224)  ..." / "  --greedy   ..."
# Tools with commands (tm_mosaic) list "<command> options:" sections: their options are merged.
table=$(awk '/^([a-z]+ )?options:$/ { on = 1; next } on && /^  -/ {
    s = $0; sub(/^  /, "", s)
    short = ""; long = ""
    if (match(s, /^-[A-Za-z0-9] \[ --[A-Za-z0-9_-]+ \]/)) {
      short = substr(s, 1, 2); long = substr(s, 6, RLENGTH - 7); s = substr(s, RLENGTH + 1)
    } else if (match(s, /^--[A-Za-z0-9_-]+/)) {
      long = substr(s, 1, RLENGTH); s = substr(s, RLENGTH + 1)
    } else next
    kind = "flag"
    if (s ~ /^ arg \(=-?[0-9][0-9.]*\)/) kind = "number"
    else if (s ~ /^ arg/) kind = "value"
    if (!seen[long]++) print long, (short == "" ? "-" : short), kind }' <<<"$help")
[ -n "$table" ] || { echo "$tool: no options found in --help" >&2; exit 1; }

# Raster modalities (pixel and image-token kinds) and those the model can generate.
raster='NR > 1 && NF == 0 { exit } NR > 1 && ($2 == "pixel" || $2 == "image-token")'
modalities=$(awk "$raster"' { printf "%s ", $1 }' <<<"$listing")
targets=$(awk "$raster"' && $5 == "yes" { printf "%s ", $1 }' <<<"$listing")
[ -n "$modalities" ] || { echo "$tool: no modalities in the tm_info listing" >&2; exit 1; }

longs=$(awk '{ printf "%s ", $1 }' <<<"$table")
with_value=$(awk '$3 != "flag" { printf "%s ", $1 }' <<<"$table")
numbers=$(awk '$3 == "number" { printf "%s ", $1 }' <<<"$table")
shorts=$(awk '$2 != "-" { printf "        %s) opt=%s ;;\n", $2, $1 }' <<<"$table")
subcommands=""
if [ "$tool" = tm_tokenize ]; then subcommands="encode decode"; fi
if [ "$tool" = tm_models ]; then subcommands="list fetch path verify"; fi
if [ "$tool" = tm_train ]; then subcommands="terramind tokenizer"; fi
if [ "$tool" = tm_shards ]; then subcommands="build inspect verify"; fi
if [ "$tool" = tm_eval ]; then subcommands="generation water fewshot"; fi

tmp=$out.tmp
cat >"$tmp" <<TEMPLATE
# bash completion for $tool, generated from \`$tool --help\` by docs/completion/make_completion.sh.
# Installed as <prefix>/share/bash-completion/completions/$tool (loaded on first use).

$func()
{
    local options="${longs% }"
    local with_value=" $with_value"
    local numbers=" $numbers"
    local modalities="${modalities% }"
    local targets="${targets% }"
    local subcommands="$subcommands"

    # Words split at blanks only (bash also splits at = and :), up to the cursor.
    local line=\${COMP_LINE:0:COMP_POINT}
    local -a words
    read -r -a words <<<"\$line"
    local cur="" prev=""
    if [[ -z \$line || \$line == *[[:space:]] ]]; then
        prev=\${words[\${#words[@]}-1]:-}
    else
        cur=\${words[\${#words[@]}-1]}
        prev=\${words[\${#words[@]}-2]:-}
    fi

    # The option whose value is being typed: "--opt value" or "--opt=value".
    local opt="" value=\$cur
    if [[ \$cur == --*=* ]]; then
        opt=\${cur%%=*}
        value=\${cur#*=}
    elif [[ \$prev == -* ]]; then
        opt=\$prev
    fi
    case \$opt in
$shorts
    esac
    # bash completes the part of the word after its last "=" (COMP_WORDBREAKS).
    local word=\$value
    [[ \$COMP_WORDBREAKS == *=* ]] && word=\${value##*=}

    COMPREPLY=()
    if [[ -n \$opt && \$with_value == *" \$opt "* ]]; then
        case \$opt in
            --input)
                if [[ \$value == *=* ]]; then
                    compopt -o filenames 2>/dev/null
                    COMPREPLY=(\$(compgen -f -- "\$word"))
                else
                    compopt -o nospace 2>/dev/null
                    COMPREPLY=(\$(compgen -W "\$modalities" -S = -- "\${value^^}"))
                fi ;;
            --to)
                local done_part="" last=\$value
                if [[ \$value == *,* ]]; then done_part=\${value%,*},; last=\${value##*,}; fi
                COMPREPLY=(\$(compgen -W "\$targets" -P "\$done_part" -- "\${last^^}")) ;;
            --modality|--as) COMPREPLY=(\$(compgen -W "\$modalities" -- "\${value^^}")) ;;
            --out-dir)
                compopt -o filenames 2>/dev/null
                COMPREPLY=(\$(compgen -d -- "\$word")) ;;
            --format) COMPREPLY=(\$(compgen -W "cog gtiff" -- "\$word")) ;;
            --of) COMPREPLY=(\$(compgen -W "COG GTiff" -- "\$word")) ;;
            --blend) COMPREPLY=(\$(compgen -W "taper mean" -- "\$word")) ;;
            --device) COMPREPLY=(\$(compgen -W "cpu cuda" -- "\$word")) ;;
            *)
                if [[ \$numbers != *" \$opt "* ]]; then
                    compopt -o filenames 2>/dev/null
                    COMPREPLY=(\$(compgen -f -- "\$word"))
                fi ;;
        esac
        return 0
    fi

    if [[ \$cur == -* ]]; then
        COMPREPLY=(\$(compgen -W "\$options" -- "\$cur"))
        return 0
    fi

    # A positional argument: the subcommand first (tm_tokenize), then files.
    if [[ -n \$subcommands ]]; then
        local w have=""
        for w in "\${words[@]:1}"; do [[ " \$subcommands " == *" \$w "* ]] && have=1; done
        if [[ -z \$have ]]; then
            COMPREPLY=(\$(compgen -W "\$subcommands" -- "\$cur"))
            return 0
        fi
    fi
    compopt -o filenames 2>/dev/null
    COMPREPLY=(\$(compgen -f -- "\$word"))
    return 0
}
complete -F $func $tool
TEMPLATE
mv "$tmp" "$out"
