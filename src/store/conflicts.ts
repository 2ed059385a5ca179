import { TesseraError } from "../errors.js";

/**
 * "Already exists" and "not found", as every backend reports them: one code and one
 * message whichever store answers. A backend decides when (a failed UNIQUE constraint, a
 * Map that has the key) and throws these.
 */
export function userExists(): TesseraError {
  return new TesseraError("user_exists", "A user with that name already exists.");
}

export function userNotFound(): TesseraError {
  return new TesseraError("user_not_found", "No such user.");
}

export function clientExists(): TesseraError {
  return new TesseraError("client_exists", "A client with that id already exists.");
}

export function clientNotFound(): TesseraError {
  return new TesseraError("client_not_found", "No such client.");
}
