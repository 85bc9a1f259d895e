// The secret mask of a step's output: a filter in sh, and the same filter in awk for the
// agent's busybox (the fast path). The step wrapper (script.ts) pipes the output through it.

import { STATE_BUSYBOX, STATE_DIR } from './contract.js';
import { SHELL_NAME } from './secret-names.js';
import { shellQuote } from './shell-quote.js';

/** The mask written in place of a secret value. */
export const SECRET_MASK = '********';

/** Shorter parts of a secret are not masked (see maskFunction). */
export const MIN_MASKED = 3;

/** A path under the state directory, relative to it (SLIPWAY_STATE_DIR may move it). */
const relative = (path: string): string => path.slice(STATE_DIR.length);

/**
 * maskFunction's filter in POSIX awk (busybox awk runs it): the same parts, the same order
 * (longest first), the same end line. Values come from ENVIRON, so they pass through no
 * command line; `index` finds them literally (no regular expression); each line is
 * flushed as it is written, so the log stays live.
 */
const AWK_MASK = `BEGIN {
  n = 0
  count = split(slipway_names, names, " ")
  for (i = 1; i <= count; i++) {
    value = ENVIRON[names[i]]
    multi = index(value, "\\n") > 0
    pieces = split(value, piece, "\\n")
    for (j = 1; j <= pieces; j++) {
      p = piece[j]
      gsub(/^[ \\t\\r]+|[ \\t\\r]+$/, "", p)
      if (length(p) < slipway_min) continue
      if (multi && p !~ /[A-Za-z0-9]/) continue
      seen = 0
      for (k = 1; k <= n; k++) if (part[k] == p) seen = 1
      if (seen) continue
      k = n
      while (k >= 1 && length(part[k]) < length(p)) { part[k + 1] = part[k]; k-- }
      part[k + 1] = p
      n++
    }
  }
  endlen = length(slipway_end)
}
{
  line = $0
  last = 0
  if (length(line) >= endlen && substr(line, length(line) - endlen + 1) == slipway_end) {
    line = substr(line, 1, length(line) - endlen)
    last = 1
    if (line == "") exit
  }
  for (i = 1; i <= n; i++) {
    p = part[i]
    out = ""
    while ((k = index(line, p)) > 0) {
      out = out substr(line, 1, k - 1) slipway_mask
      line = substr(line, k + length(p))
    }
    line = out line
  }
  print line
  fflush()
  if (last) exit
}`;

/**
 * The masking filter: reads the output line by line and replaces every occurrence of
 * every secret value with the mask. A secret spanning several lines is masked line by
 * line (output is read a line at a time); the values come from the container's own
 * environment, so they never appear in the task definition or the script.
 *
 * Values are applied longest first, so a secret that contains another (A=abc, B=abcdef)
 * is masked whole rather than leaving its tail (`********def`). Parts too short to be
 * secret on their own (fewer than MIN_MASKED characters), and lines of a multi-line secret
 * with no letter or digit (the `{` and `}` of a JSON key file), are not masked: they would
 * mask every such character in the log while hiding nothing.
 *
 * Reading stops at the end line ($slipway_end) written after the commands end.
 */
export function maskFunction(secretEnv: string[]): string[] {
  // The loop reads a value by expanding its name, which only a shell name allows; names
  // are never written into the script unquoted. Without busybox, a secret under another
  // name cannot be masked: the output is withheld rather than shown unmasked.
  const shellNames = secretEnv.filter((name) => SHELL_NAME.test(name));
  const otherNames = secretEnv.filter((name) => !SHELL_NAME.test(name));
  const withhold = otherNames.length === 0 ? [] : [
    `  printf '%s\\n' ${shellQuote(`slipway: the output is withheld: ${otherNames.join(', ')} cannot be masked without the agent's busybox (${STATE_BUSYBOX})`)}`,
    '  while IFS= read -r slipway_line; do [ "$slipway_line" = "$slipway_end" ] && break; done',
    '  return',
  ];
  return [
    `slipway_nl='`,
    `'`,
    'slipway_mask() {',
    // A stop signal must not end the mask before the output of the job's clean-up (stopOnSignal).
    "  trap '' TERM INT",
    // The fast path: the same mask in awk, run by the busybox the agent installs (STATE_BUSYBOX),
    // several times faster than the loop below (bench/mask.bench.ts), and linear on long lines.
    // The loop is the fallback for a run without it.
    `  slipway_bb="\${SLIPWAY_STATE_DIR:-${STATE_DIR}}${relative(STATE_BUSYBOX)}"`,
    '  if [ -x "$slipway_bb" ]; then',
    `    "$slipway_bb" awk -v slipway_end="$slipway_end" -v slipway_names=${shellQuote(secretEnv.join(' '))} -v slipway_min=${MIN_MASKED} -v slipway_mask=${shellQuote(SECRET_MASK)} ${shellQuote(AWK_MASK)}`,
    '    return',
    '  fi',
    ...withhold,
    // Collect the parts into $slipway_sorted, one per line, longest first (insertion).
    "  slipway_blank=$(printf ' \\t\\r')",
    '  slipway_sorted=',
    `  for slipway_n in ${shellNames.join(' ')}; do`,
    '    eval "slipway_rest=\\${$slipway_n-}"',
    '    case $slipway_rest in *"$slipway_nl"*) slipway_multi=yes ;; *) slipway_multi=no ;; esac',
    '    while [ -n "$slipway_rest" ]; do',
    '      slipway_p=${slipway_rest%%"$slipway_nl"*}',
    '      case $slipway_rest in',
    '        *"$slipway_nl"*) slipway_rest=${slipway_rest#*"$slipway_nl"} ;;',
    "        *) slipway_rest= ;;",
    '      esac',
    // Without the blanks around it (a value saved with a CRLF or a trailing space), as Drone trims.
    '      slipway_p=${slipway_p#"${slipway_p%%[!"$slipway_blank"]*}"}; slipway_p=${slipway_p%"${slipway_p##*[!"$slipway_blank"]}"}',
    `      if [ "\${#slipway_p}" -lt ${MIN_MASKED} ]; then continue; fi`,
    '      if [ "$slipway_multi" = yes ]; then case $slipway_p in *[A-Za-z0-9]*) ;; *) continue ;; esac; fi',
    '      slipway_left=$slipway_sorted; slipway_new=; slipway_put=no',
    '      while [ -n "$slipway_left" ]; do',
    '        slipway_q=${slipway_left%%"$slipway_nl"*}; slipway_left=${slipway_left#*"$slipway_nl"}',
    '        if [ "$slipway_q" = "$slipway_p" ]; then slipway_put=yes; fi',
    '        if [ "$slipway_put" = no ] && [ "${#slipway_q}" -lt "${#slipway_p}" ]; then slipway_new=$slipway_new$slipway_p$slipway_nl; slipway_put=yes; fi',
    '        slipway_new=$slipway_new$slipway_q$slipway_nl',
    '      done',
    '      if [ "$slipway_put" = no ]; then slipway_new=$slipway_new$slipway_p$slipway_nl; fi',
    '      slipway_sorted=$slipway_new',
    '    done',
    '  done',
    '  set --',
    '  while [ -n "$slipway_sorted" ]; do',
    '    set -- "$@" "${slipway_sorted%%"$slipway_nl"*}"; slipway_sorted=${slipway_sorted#*"$slipway_nl"}',
    '  done',
    '  while IFS= read -r slipway_line || [ -n "$slipway_line" ]; do',
    '    slipway_last=no',
    '    case $slipway_line in *"$slipway_end") slipway_line=${slipway_line%"$slipway_end"}; slipway_last=yes ;; esac',
    '    if [ "$slipway_last" = yes ] && [ -z "$slipway_line" ]; then break; fi',
    '    for slipway_p in "$@"; do',
    '      slipway_out=',
    '      while :; do',
    '        case $slipway_line in',
    `          *"$slipway_p"*) slipway_out=$slipway_out\${slipway_line%%"$slipway_p"*}'${SECRET_MASK}'; slipway_line=\${slipway_line#*"$slipway_p"} ;;`,
    '          *) break ;;',
    '        esac',
    '      done',
    '      slipway_line=$slipway_out$slipway_line',
    '    done',
    `    printf '%s\\n' "$slipway_line"`,
    '    if [ "$slipway_last" = yes ]; then break; fi',
    '  done',
    '}',
  ];
}
