/** Strings from untrusted names and files, shown safely in messages. */

/** Shows a string with everything outside printable ASCII escaped, cut to `max` characters. */
export function printable(s: string, max = 80): string {
  const cut = [...s].length > max ? `${[...s].slice(0, max).join('')}...` : s;
  return `'${[...cut].map((c) => {
    const code = c.codePointAt(0)!;
    if (c === "'" || c === '\\') return `\\${c}`;
    return code >= 0x20 && code < 0x7f ? c : `\\u{${code.toString(16).toUpperCase()}}`;
  }).join('')}'`;
}

/** `U+XXXX` of the first character of `c`. */
export function codePoint(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}
