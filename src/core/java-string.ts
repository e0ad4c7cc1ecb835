/**
 * java.lang.String's rules, wherever DDMQ's answer depends on them (docs/ddmq/validation.md). JavaScript strings are UTF-16
 * like Java's, so lengths and hashes count the same code units; blankness and regex anchors differ
 * and are spelled out here.
 */

/** Java's String.length(): UTF-16 code units (a character outside the BMP counts 2), as JS's length. */
export function javaLength(s: string): number {
  return s.length;
}

/**
 * Whether Java's `s.trim().isEmpty()` holds: String.trim() strips the characters <= U+0020 (the C0
 * controls, U+0000 included, and the space) and nothing else. JavaScript's trim() strips Unicode
 * whitespace instead (U+00A0, U+2028, U+3000, U+FEFF, ...) and keeps U+0001-U+0008, U+000E-U+001F.
 */
export function isEmptyAfterJavaTrim(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x20) return false;
  return true;
}

/** java.lang.String#hashCode over UTF-16 code units, as a signed 32-bit integer. */
export function javaStringHashCode(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(31, h) + s.charCodeAt(i)) | 0;
  return h;
}

/**
 * A pattern matching the whole of a string and nothing else, as Java's Matcher.matches() does.
 * Built as `^(?:body)$` without flags: with the `m` flag JavaScript's `$` would match before any line
 * terminator, and Java's `$` in find() matches before a final one; here neither is matched.
 */
export function wholeStringPattern(body: string): RegExp {
  return new RegExp(`^(?:${body})$`);
}
