/** Errors of the accounts module; their messages are safe to show to an operator (CLI, logs). */

/** The account is tombstoned: no login, no token, whatever the upstream says. */
export class AccountDisabledError extends Error {
  override name = 'AccountDisabledError';
  constructor(readonly sub: string) {
    super(`account ${sub} is disabled`);
  }
}

/**
 * The account was marked left and this login's upstream cannot confirm the person is back (e.g.
 * `allowAnyDingTalkUser`, or an oauth2/oidc upstream): the enforcing upstream or an operator must.
 */
export class AccountLeftError extends Error {
  override name = 'AccountLeftError';
  constructor(readonly sub: string) {
    super(`account ${sub} was marked left; only a membership check or an operator brings it back`);
  }
}

/**
 * Under `legacySubject`, two upstreams gave one subject value: the sub already belongs to a
 * person of another link domain, and the two must never share an account. A configuration
 * problem, for an operator to solve.
 */
export class SubjectCollisionError extends Error {
  override name = 'SubjectCollisionError';
  constructor(
    readonly upstream: string,
    readonly sub: string,
    readonly linkDomain: string,
  ) {
    super(
      `upstream ${upstream}: sub ${sub} already belongs to a person of ${linkDomain}; legacySubject needs subjects no other upstream gives`,
    );
  }
}

/** No account has this sub or username. */
export class UnknownAccountError extends Error {
  override name = 'UnknownAccountError';
  constructor(readonly ref: string) {
    super(`no account "${ref}" (give a username or a sub)`);
  }
}

/** A username that breaks the rules (DNS-1123, ≤ 32, not reserved, not pinned to someone else). */
export class InvalidUsernameError extends Error {
  override name = 'InvalidUsernameError';
  constructor(
    readonly username: string,
    reason: string,
  ) {
    super(`invalid username "${username}": ${reason}`);
  }
}

/** The username belongs to another person (now or formerly: names are never reused). */
export class UsernameTakenError extends Error {
  override name = 'UsernameTakenError';
  constructor(readonly username: string) {
    super(`username "${username}" is already taken`);
  }
}

/** `usernames` config that cannot work (bad pin key, invalid or duplicate pinned name). */
export class UsernameConfigError extends Error {
  override name = 'UsernameConfigError';
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
  }
}

/** Another replica holds this account's lock for too long (or the store is stuck). */
export class AccountBusyError extends Error {
  override name = 'AccountBusyError';
  constructor(readonly sub: string) {
    super(`account ${sub} is busy, try again`);
  }
}
