/**
 * Who may follow the revocation feed, in the words both sides use. Tessera answers every
 * refusal of `GET /events/revocations` with 401 `invalid_client` (docs/revocation-feed.md);
 * the `error_description` of the one for an authenticated client that is not registered
 * with `--introspect` is this constant, so the guard can tell "not allowed" apart from "wrong
 * credentials" (and say which `ready()` failed on) without a second status code.
 */
export const NOT_A_FEED_FOLLOWER = "This client may not follow revocations.";
