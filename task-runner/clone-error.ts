// A clone that cannot be done for a reason the user can act on (a missing commit, a
// refused fetch, unusable credentials): the agent ends with AGENT_EXIT.cloneFailed and
// this message. The message never holds a credential.

export class CloneError extends Error {
  constructor(
    message: string,
    /** git's own exit code when a git command failed: what Drone's clone step would show. */
    readonly gitExitCode?: number,
  ) {
    super(message);
  }
}
