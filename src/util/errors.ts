/** An error caused by the user's input (config, files, flags, peers): the CLI
 * prints its message as one line and exits with code 2, without a stack trace. */
export class UserError extends Error {
  override name = 'UserError';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Collapse a message to one line so logs and stderr stay one event per line. */
export function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
