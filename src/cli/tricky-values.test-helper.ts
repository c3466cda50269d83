/** Values that break naive dotenv writers: quotes of every kind, line breaks, #, =, unicode, empty. */
export const TRICKY_VALUES = {
  DOUBLE: 'say "hi"',
  SINGLE: "it's",
  BACKTICK: "run `ls`",
  TWO_QUOTES: `a'b"c`,
  ALL_QUOTES: `a'b"c\`d`,
  NEWLINE: "line1\nline2",
  CRLF: "a\r\nb",
  NEWLINE_QUOTES: "it's\nmulti\"line",
  HASH: "a # not a comment",
  HASH_START: "#start",
  EQUALS: "a=b=c",
  UNICODE: "ünïcødé ✓ 🎉",
  EMPTY: "",
  SPACES: "  padded  ",
  BACKSLASH: "back\\slash\\",
  LITERAL_BACKSLASH_N: "not\\na newline",
  JSON_LIKE: '"x"',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} that must not be expanded
  DOLLAR: "$HOME ${PATH}",
  TAB: "a\tb",
  "dotted.key-name": "v",
};

/**
 * Values a shell must not misread or run, keyed by environment names (what `set -a; . file`
 * needs): each quote kind alone and mixed, backticks, `$`, `$(...)`, `${...}`, backslashes,
 * newlines and CR, `#` with and without spaces, leading and trailing spaces, `=`, non-ASCII, the
 * empty string. The `touch PWNED` ones create a file named PWNED in the shell's working folder
 * if a writer lets them run.
 */
export const SHELL_TRICKY: Readonly<Record<string, string>> = {
  SINGLE: "it's",
  SINGLE_ONLY: "'",
  SINGLE_TWO: "''",
  DOUBLE: 'say "hi"',
  DOUBLE_ONLY: '"',
  BACKTICK: "run `ls`",
  SINGLE_DOUBLE: `a'b"c`,
  ALL_QUOTES: `a'b"c\`d`,
  QUOTE_INJECTION: "x'; touch PWNED; echo '",
  DOUBLE_INJECTION: 'x"; touch PWNED; echo "',
  BACKTICK_INJECTION: "`touch PWNED`",
  SUBSTITUTION_INJECTION: "$(touch PWNED)",
  SEMICOLON_INJECTION: "a; touch PWNED",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${...} that must not be expanded
  BRACE_EXPANSION: "${HOME}",
  DOLLAR_NAME: "$HOME",
  DOLLAR_ALONE: "cost $5 and $",
  BACKSLASH: "back\\slash\\",
  BACKSLASH_QUOTE: "a\\'b",
  BACKSLASH_DOUBLE_QUOTE: 'a\\"b',
  LITERAL_BACKSLASH_N: "not\\na newline",
  NEWLINE: "line1\nline2",
  TRAILING_NEWLINE: "x\n",
  CR: "a\rb",
  CRLF: "a\r\nb",
  NEWLINE_QUOTES: "it's\nmulti\"line",
  HASH_SPACED: "a # not a comment",
  HASH_START: "#start",
  HASH_INSIDE: "abc#def",
  LEADING_SPACES: "  lead",
  TRAILING_SPACES: "trail  ",
  TAB: "a\tb",
  EQUALS: "a=b=c",
  UNICODE: "ünïcødé ✓ 🎉",
  EMPTY: "",
  GLOB: "*",
  TILDE: "~/x",
  BANG: "!! !$",
  PIPES: "a | b && c > d < e &",
  JSON_LIKE: '{"a": [1, "b"]}',
};
