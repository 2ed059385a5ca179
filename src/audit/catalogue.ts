/**
 * Every security event of the audit trail, declared once: its type, what it means and
 * the type-specific fields it carries. The recorder keeps only the fields declared here,
 * so nothing else — never a password, token, secret, cookie or authorization code — can
 * reach a record, a log line or a query's answer. The README's "Audit trail" section
 * lists these types; `tessera audit --type` accepts exactly them.
 */
export const AUDIT_EVENTS = {
  login_succeeded: {
    doc: "A password was verified (a login, or a password change's check).",
    fields: [],
  },
  login_failed: {
    doc: "A password check failed; reason: unknown_user, bad_password or disabled (never the password or an unknown username).",
    fields: [],
  },
  login_throttled: {
    doc: "Password checks refused without hashing (too many failures from the address or for the account): once per address or account and window, at the first refused attempt.",
    fields: ["retryAfter"],
  },
  session_ended: {
    doc: "Sessions ended; reason: logout, ended (one of the user's sessions, by its id), logout_all, password_changed, password_reset or disabled.",
    fields: ["sessionId", "count"],
  },
  password_changed: {
    doc: "A user's password changed; reason: self (the user) or reset (an administrator).",
    fields: [],
  },
  roles_changed: { doc: "A user's roles were set.", fields: ["roles"] },
  user_added: { doc: "A user was created.", fields: ["username", "roles"] },
  user_disabled: { doc: "A user was disabled (every credential ended).", fields: [] },
  user_enabled: { doc: "A user was enabled again.", fields: [] },
  client_added: {
    doc: "An OAuth client was registered.",
    fields: ["grants", "format", "public"],
  },
  client_changed: { doc: "An OAuth client's registration changed.", fields: ["changed"] },
  client_secret_rotated: { doc: "A client got a new secret; the old one ended.", fields: [] },
  client_removed: { doc: "An OAuth client was removed with everything it was given.", fields: [] },
  key_rotated: {
    doc: "A new signing key was added (published now, signs later).",
    fields: ["kid", "alg", "activatesAt"],
  },
  token_issued: {
    doc: "A token was issued; kind: access (jwt or opaque), refresh or id; the JWT's jti, never the token.",
    fields: ["kind", "format", "grant", "jti", "scope"],
  },
  refresh_reuse_detected: {
    doc: "A consumed refresh token was presented again: its whole family was revoked.",
    fields: [],
  },
  token_revoked: {
    doc: "A client revoked a token (RFC 7009); kind: access or refresh.",
    fields: ["kind", "jti"],
  },
  consent_given: { doc: "A user allowed a client the scopes listed.", fields: ["scopes"] },
  consent_withdrawn: {
    doc: "A user withdrew a client's consent (its grants to the client ended).",
    fields: [],
  },
  fishing_suspected: {
    doc: "A client went over its limit of forged tokens sent to introspection (tarpitted from now on).",
    fields: ["forged"],
  },
} as const satisfies Record<string, { doc: string; fields: readonly string[] }>;

export type AuditType = keyof typeof AUDIT_EVENTS;

/** Every type, in the catalogue's order. */
export const AUDIT_TYPES = Object.keys(AUDIT_EVENTS) as AuditType[];

export function isAuditType(value: string): value is AuditType {
  return Object.hasOwn(AUDIT_EVENTS, value);
}

/** The fields a record of `type` may carry. */
export function auditFields(type: AuditType): readonly string[] {
  return AUDIT_EVENTS[type].fields;
}
