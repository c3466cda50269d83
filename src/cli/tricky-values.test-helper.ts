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
