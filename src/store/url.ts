/** The URL's user name and password (if any), to scrub from messages that echo input. */
export function credentialsOf(url: string): string[] {
  try {
    const u = new URL(url);
    const out: string[] = [];
    for (const part of [u.username, u.password]) {
      if (part !== "") out.push(part, decodeURIComponent(part));
    }
    return out;
  } catch {
    return [];
  }
}

/** `text` with every one of `secrets` replaced by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret !== "") out = out.split(secret).join("***");
  return out;
}
