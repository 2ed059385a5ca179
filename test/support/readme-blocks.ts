/**
 * The fenced code blocks of a Markdown file, with their info string: a language, then
 * attributes (`key=value` or `key="a value"`) that say how the README test runs the block:
 *
 * - `norun="why"`: not run; the test lists it with its reason.
 * - `server=NAME` (ts/js): a program that listens on port 3000; the test starts it and runs
 *   every `against=server` block against it, then stops it.
 * - `against=server` (sh): run once against each server block, while it runs.
 * - `output=comments` (sh): the block's comment lines (`# …`) are its expected output.
 * - `contains='text'` (sh): the block's output must contain the text.
 * - `file=NAME`: the file the block is written to (its extension decides ESM or CommonJS).
 *
 * Only fences at the start of a line count (this README indents none).
 */
export interface CodeBlock {
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  attrs: Record<string, string>;
  code: string;
}

const ATTR = /([A-Za-z][\w-]*)(?:=(?:"([^"]*)"|'([^']*)'|(\S+)))?/g;

export function parseInfo(info: string): { lang: string; attrs: Record<string, string> } {
  const trimmed = info.trim();
  const space = trimmed.search(/\s/);
  const lang = space === -1 ? trimmed : trimmed.slice(0, space);
  const rest = space === -1 ? "" : trimmed.slice(space);
  const attrs: Record<string, string> = {};
  for (const m of rest.matchAll(ATTR)) {
    attrs[m[1] as string] = m[2] ?? m[3] ?? m[4] ?? "";
  }
  return { lang, attrs };
}

export function codeBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split("\n");
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(`{3,}|~{3,})(.*)$/.exec(lines[i] as string);
    if (open === null) continue;
    const fence = open[1] as string;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !(lines[j] as string).startsWith(fence)) {
      body.push(lines[j] as string);
      j++;
    }
    if (j === lines.length) throw new Error(`unclosed code block at line ${i + 1}`);
    blocks.push({ line: i + 1, ...parseInfo(open[2] as string), code: `${body.join("\n")}\n` });
    i = j;
  }
  return blocks;
}

/** The expected output of an `output=comments` block: its `# ` comment lines, in order. */
export function expectedOutput(code: string): string[] {
  return code
    .split("\n")
    .filter((l) => l.startsWith("# "))
    .map((l) => l.slice(2));
}
