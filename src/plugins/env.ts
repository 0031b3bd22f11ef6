/** What a plugin host's environment may carry: what Node and ordinary libraries need
 * to run (paths, locale, time zone, temp dir), and nothing of the daemon's: no
 * COCASTER_* (the config dir, log settings), no OBS_PASSWORD or TWITCH_TOKEN, no
 * XDG_CONFIG_HOME (it points at the config dir). */
const ALLOWED = /^(PATH|PATHEXT|HOME|USER|USERNAME|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR|TMP|TEMP|SYSTEMROOT|SystemRoot|WINDIR|windir|COMSPEC|ComSpec|NODE_ENV)$/;
/** Belt and braces: even an allowed name never passes with a secret-looking value name. */
const SECRET = /TOKEN|PASSWORD|SECRET|KEY|COCASTER/i;

export function pluginEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(env)) {
    if (value !== undefined && ALLOWED.test(name) && !SECRET.test(name)) out[name] = value;
  }
  return out;
}
