// A clone that cannot be done for a reason the user can act on (a missing commit, a
// refused fetch, unusable credentials): the agent ends with AGENT_EXIT.cloneFailed and
// this message. The message never holds a credential.

export class CloneError extends Error {}
