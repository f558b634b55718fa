/**
 * Text from images/ ends up in terminals, CI logs, tags and labels. Control
 * characters (ESC starts terminal escapes) and bidirectional controls (U+202E
 * reverses what a reviewer sees) have no place in any of it: they are refused
 * where they are found and shown escaped wherever a message quotes text.
 */

/** C0 and C1 controls and DEL, the Unicode bidirectional controls, and line/paragraph separators. */
const UNSAFE = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]/u;
const UNSAFE_ALL = /[\p{Cc}\p{Bidi_Control}\u2028\u2029]/gu;

const codePoint = (c: string): string => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;

/** The first unsafe character of `text` as `U+202E`, or undefined when there is none. */
export function unsafeCharacter(text: string): string | undefined {
  const m = UNSAFE.exec(text);
  return m ? codePoint(m[0]) : undefined;
}

/** `text` with every unsafe character written as `\u{202E}`, safe to print. */
export const escapeText = (text: string): string => text.replace(UNSAFE_ALL, (c) => `\\u{${(c.codePointAt(0) ?? 0).toString(16).toUpperCase()}}`);
