/** Oldest first: the order keys and clients are listed in. */
export function byCreation<T extends { createdAt: number }>(a: T, b: T): number {
  return a.createdAt - b.createdAt;
}
